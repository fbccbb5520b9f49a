//! Per-client roots: which subdirectory of the handler's root a client's names are
//! taken under, by its address (dnsmasq's `--tftp-unique-root`, tftpd-hpa's remap by
//! `\i`, done without a rule file).
//!
//! Decided from the address alone (pure), except whether a client's own directory
//! (`unique_root: ip`) exists: that takes a `stat`, which the adapter does.
//!
//! A client is taken by its canonical address: an IPv4 client of a dual-stack listener
//! (`::ffff:10.1.2.3`) matches `10.1.0.0/16` and gets the directory `10.1.2.3`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::Deserialize;
use switchyard_sdk::is_hidden_path;

use super::check_path;

/// An address range, `10.1.0.0/16` or `fd00::/8`; a bare address is one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` (already canonical) lies in the range. An IPv4 address never lies
    /// in an IPv6 range, and the other way round.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u128::from(u32::from(ip)), self.prefix, 32) == u128::from(u32::from(net))
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(ip), self.prefix, 128) == u128::from(net)
            }
            _ => false,
        }
    }
}

/// `bits` of an address `width` bits wide, all but the first `prefix` cleared.
fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let keep = u32::from(width - prefix);
    (bits >> keep) << keep
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an address range like \"10.1.0.0/16\""))?;
        let width = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= width => p,
                _ => return Err(format!("{s:?}: the prefix length must be 0..={width}")),
            },
        };
        let bits = match net {
            IpAddr::V4(v4) => u128::from(u32::from(v4)),
            IpAddr::V6(v6) => u128::from(v6),
        };
        let base = masked(bits, prefix, width);
        if base != bits {
            let fixed = match net {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(base as u32)),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(base)),
            };
            return Err(format!(
                "{s:?} has bits set past its prefix: did you mean \"{fixed}/{prefix}\"?"
            ));
        }
        Ok(Cidr { net, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Cidr, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One `client_dirs` entry: clients in `cidr` are served from `dir`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "ClientDirText")]
pub struct ClientDir {
    pub cidr: Cidr,
    pub dir: String,
}

/// [`ClientDir`] as written, before `dir` is checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientDirText {
    cidr: Cidr,
    dir: String,
}

impl TryFrom<ClientDirText> for ClientDir {
    type Error = String;

    /// `dir` is checked like a requested name (relative, no `..`, no backslash), and
    /// may not be hidden: a hidden directory would hide every file in it.
    fn try_from(t: ClientDirText) -> Result<ClientDir, String> {
        check_dir(&t.dir)?;
        Ok(ClientDir {
            cidr: t.cidr,
            dir: t.dir,
        })
    }
}

/// Why `dir` cannot be a client's directory, or `Ok`.
fn check_dir(dir: &str) -> Result<(), String> {
    check_path(dir)
        .map_err(|why| format!("dir {dir:?}: {why} (a subdirectory of the root, like \"lab\")"))?;
    if is_hidden_path(dir) {
        return Err(format!(
            "dir {dir:?}: a hidden directory (one starting with `.`) would hide every file in it"
        ));
    }
    Ok(())
}

/// `unique_root`: whether each client gets a directory named after its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UniqueRoot {
    #[default]
    Off,
    /// The client's address: `10.1.2.3`, or for IPv6 the RFC 5952 text with every `:`
    /// made a `-` (`2001:db8::1` -> `2001-db8--1`).
    Ip,
}

/// `unmatched_clients`: what a client gets that no `client_dirs` entry names and that
/// has no directory of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unmatched {
    /// The root itself (what dnsmasq does when the unique directory is missing).
    #[default]
    Root,
    /// ERROR 2 "no directory for your address".
    Refuse,
}

/// The directory of a client's names, as far as the address decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientRoot {
    /// The handler's root.
    Root,
    /// A `client_dirs` directory: used whether it exists or not (a missing one makes
    /// every name "not found", never the root's files).
    Dir(String),
    /// The client's own directory (`unique_root: ip`), if it is one; otherwise the
    /// root when `or_root`, else the request is refused.
    Own { dir: String, or_root: bool },
}

/// The refusal of a client that no rule gives a directory.
pub const NO_DIRECTORY: &str = "no directory for your address";

/// The handler's per-client roots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientRoots {
    pub dirs: Vec<ClientDir>,
    pub unique: UniqueRoot,
    pub unmatched: Unmatched,
}

impl ClientRoots {
    /// The directory of `client`'s names: the first `client_dirs` match, else its own
    /// directory, else the root (or `Err` when unmatched clients are refused).
    pub fn of(&self, client: IpAddr) -> Result<ClientRoot, &'static str> {
        let ip = client.to_canonical();
        if let Some(d) = self.dirs.iter().find(|d| d.cidr.contains(ip)) {
            return Ok(ClientRoot::Dir(d.dir.clone()));
        }
        let or_root = self.unmatched == Unmatched::Root;
        match self.unique {
            UniqueRoot::Ip => Ok(ClientRoot::Own {
                dir: address_dir(ip),
                or_root,
            }),
            UniqueRoot::Off if or_root => Ok(ClientRoot::Root),
            UniqueRoot::Off => Err(NO_DIRECTORY),
        }
    }
}

/// The directory name of address `ip`: dotted IPv4; IPv6 in its RFC 5952 text with
/// `:` made `-` (a name that is safe on every file system and needs no quoting).
pub fn address_dir(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => v6.to_string().replace(':', "-"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_contain_their_addresses_only() {
        let c: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(c.contains(ip("10.1.0.0")) && c.contains(ip("10.1.255.255")));
        assert!(!c.contains(ip("10.2.0.1")) && !c.contains(ip("::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("192.0.2.1")) && !all.contains(ip("2001:db8::1")));
        let host: Cidr = "127.0.0.7".parse().unwrap();
        assert_eq!(host.to_string(), "127.0.0.7/32");
        assert!(host.contains(ip("127.0.0.7")) && !host.contains(ip("127.0.0.8")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:1::5")) && !v6.contains(ip("2001:db9::1")));
        let every6: Cidr = "::/0".parse().unwrap();
        assert!(every6.contains(ip("fe80::1")));
    }

    #[test]
    fn malformed_ranges_say_what_is_wrong() {
        for (bad, says) in [
            ("10.1.0.0/33", "0..=32"),
            ("10.1.0.0/x", "0..=32"),
            ("fd00::/129", "0..=128"),
            ("lab", "not an address range"),
            ("10.1.2.0/16", "did you mean \"10.1.0.0/16\""),
        ] {
            let err = bad.parse::<Cidr>().unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn first_matching_range_wins_then_own_directory_then_root() {
        let roots = ClientRoots {
            dirs: vec![
                ClientDir {
                    cidr: "10.1.2.0/24".parse().unwrap(),
                    dir: "special".into(),
                },
                ClientDir {
                    cidr: "10.1.0.0/16".parse().unwrap(),
                    dir: "lab".into(),
                },
            ],
            ..ClientRoots::default()
        };
        assert_eq!(
            roots.of(ip("10.1.2.9")),
            Ok(ClientRoot::Dir("special".into()))
        );
        assert_eq!(roots.of(ip("10.1.7.9")), Ok(ClientRoot::Dir("lab".into())));
        // A mapped IPv4 client of a dual-stack listener is taken as its IPv4 address.
        assert_eq!(
            roots.of(ip("::ffff:10.1.7.9")),
            Ok(ClientRoot::Dir("lab".into()))
        );
        assert_eq!(roots.of(ip("10.9.0.1")), Ok(ClientRoot::Root));
        let refusing = ClientRoots {
            unmatched: Unmatched::Refuse,
            ..roots.clone()
        };
        assert_eq!(refusing.of(ip("10.9.0.1")), Err(NO_DIRECTORY));
        let unique = ClientRoots {
            unique: UniqueRoot::Ip,
            ..refusing
        };
        assert_eq!(
            roots_dir(&unique, "10.1.7.9"),
            ClientRoot::Dir("lab".into())
        );
        assert_eq!(
            roots_dir(&unique, "10.9.0.1"),
            ClientRoot::Own {
                dir: "10.9.0.1".into(),
                or_root: false
            }
        );
    }

    fn roots_dir(roots: &ClientRoots, client: &str) -> ClientRoot {
        roots.of(ip(client)).unwrap()
    }

    #[test]
    fn address_directories_are_file_name_safe() {
        assert_eq!(address_dir(ip("192.0.2.169")), "192.0.2.169");
        assert_eq!(address_dir(ip("2001:db8::1")), "2001-db8--1");
        assert_eq!(address_dir(ip("::ffff:192.0.2.1")), "192.0.2.1");
        assert_eq!(address_dir(ip("::1")), "--1");
        for a in ["2001:db8::1", "fe80::1:2", "::"] {
            let d = address_dir(ip(a));
            assert!(check_path(&d).is_ok() && !d.contains(':'), "{d}");
        }
    }

    #[test]
    fn client_dir_entries_are_checked_like_names() {
        let parse = |text: &str| switchyard_sdk::parse_config::<ClientDir>(text);
        let ok = parse(r#"(cidr: "10.1.0.0/16", dir: "boot/lab")"#).unwrap();
        assert_eq!(ok.dir, "boot/lab");
        for (bad, says) in [
            (
                r#"(cidr: "10.1.0.0/16", dir: "../x")"#,
                "dot path component",
            ),
            (r#"(cidr: "10.1.0.0/16", dir: "/srv")"#, "absolute path"),
            (r#"(cidr: "10.1.0.0/16", dir: ".lab")"#, "hidden"),
            (r#"(cidr: "10.1.0.0/16", dir: "")"#, "empty path component"),
            (r#"(cidr: "10.1.0.0/16", dri: "x")"#, "dri"),
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.message.contains(says), "{bad}: {err:?}");
            assert_eq!(err.line, 1, "{bad}: a position: {err:?}");
        }
    }
}
