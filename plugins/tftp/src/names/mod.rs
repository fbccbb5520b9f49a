//! From the name a client asked for to the path under the handler's root, the way
//! network-boot fleets need it (compatible in spirit with tftpd-hpa):
//!
//! 1. `backslash_to_slash`: every `\` becomes `/` (Windows boot asks `\boot\x64\...`).
//! 2. The `remap` rules, in order (rewrite, stop, refuse).
//! 3. `leading_slash_is_root`: one leading `/` is dropped, so `/pxelinux.0` is
//!    `pxelinux.0` under the root (tftpd-hpa `--secure`).
//! 4. The containment check ([`check_path`]): `..`, `.` and empty components,
//!    backslashes left, control characters and the host's temp names are refused.
//! 5. The client's root ([`ClientRoots`]): the subdirectory its address picks.
//!
//! All pure (the client's address is an argument): the adapter then finds the file,
//! where `case_insensitive` may fold its spelling ([`find_folded`]), and the host's
//! storage checks containment once more.
//!
//! # Layout
//! - this file: [`Names`] (the steps above) and [`check_path`].
//! - [`remap`]: the rules, compiled at config time.
//! - [`template`]: a rule's replacement, tftpd-hpa escapes.
//! - [`client_root`]: `client_dirs`, `unique_root`, `unmatched_clients`.
//! - [`fold`]: the case-insensitive lookup through the host's `list_dir`.

pub mod client_root;
pub mod fold;
pub mod remap;
pub mod template;

use std::net::IpAddr;

pub use client_root::{ClientRoot, ClientRoots};
pub use fold::{find_folded, join};

use crate::config::Config;
use crate::packet::RequestKind;
use remap::{Refused, RemapRule};

/// Why a file name is refused, or `Ok`. Same rules as the host's storage: relative,
/// `/`-separated, no empty, `.` or `..` component, no backslash, no control character,
/// no component over 255 bytes, no hidden temp name.
pub fn check_path(name: &str) -> Result<(), &'static str> {
    if name.starts_with('/') {
        return Err("absolute path");
    }
    if name.contains('\\') {
        return Err("backslash in path");
    }
    if name.chars().any(char::is_control) {
        return Err("control character in path");
    }
    if name.len() > 1024 {
        return Err("path too long");
    }
    for c in name.split('/') {
        match c {
            "" => return Err("empty path component"),
            "." | ".." => return Err("dot path component"),
            c if c.len() > 255 => return Err("path component too long"),
            c if c.starts_with(".sy-tmp.") => return Err("reserved name"),
            _ => {}
        }
    }
    Ok(())
}

/// A requested name, mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// The name under the client's root: checked, what the client controls.
    pub name: String,
    /// The client's root.
    pub root: ClientRoot,
}

/// The handler's name handling, built from its config.
#[derive(Debug, Clone)]
pub struct Names {
    backslash_to_slash: bool,
    leading_slash_is_root: bool,
    remap: Vec<RemapRule>,
    roots: ClientRoots,
}

impl Names {
    pub fn new(cfg: &Config) -> Names {
        Names {
            backslash_to_slash: cfg.backslash_to_slash,
            leading_slash_is_root: cfg.leading_slash_is_root,
            remap: cfg.remap.clone(),
            roots: ClientRoots {
                dirs: cfg.client_dirs.clone(),
                unique: cfg.unique_root,
                unmatched: cfg.unmatched_clients,
            },
        }
    }

    /// Map the name of a `kind` request from `client`, or the reason to refuse it
    /// (always an access violation, ERROR 2).
    pub fn map(
        &self,
        kind: RequestKind,
        client: IpAddr,
        requested: &str,
    ) -> Result<Mapped, String> {
        let sent;
        let mut name = requested;
        if self.backslash_to_slash && name.contains('\\') {
            sent = name.replace('\\', "/");
            name = &sent;
        }
        let remapped;
        if !self.remap.is_empty() {
            remapped = remap::apply(&self.remap, kind, client, name).map_err(|r| match r {
                Refused::ByRule(n) => format!("access denied (remap rule {n})"),
                Refused::TooLong(n) => format!("name too long after remap rule {n}"),
            })?;
            name = &remapped;
        }
        if self.leading_slash_is_root {
            name = name.strip_prefix('/').unwrap_or(name);
        }
        check_path(name)?;
        let root = self.roots.of(client)?;
        Ok(Mapped {
            name: name.to_owned(),
            root,
        })
    }
}

#[cfg(test)]
mod tests {
    use switchyard_sdk::parse_config;

    use super::*;

    fn names(config: &str) -> Names {
        let cfg: Config = parse_config(config).unwrap();
        Names::new(&cfg)
    }

    fn map(n: &Names, requested: &str) -> Result<String, String> {
        n.map(RequestKind::Read, "10.0.0.1".parse().unwrap(), requested)
            .map(|m| m.name)
    }

    #[test]
    fn a_leading_slash_is_the_root_unless_turned_off() {
        let on = names("");
        assert_eq!(map(&on, "/pxelinux.0").unwrap(), "pxelinux.0");
        assert_eq!(map(&on, "/grub/grub.cfg").unwrap(), "grub/grub.cfg");
        // Only one slash: the rest is checked as always.
        for bad in ["//etc/passwd", "/../etc/passwd", "/", "/./x", "/a//b"] {
            assert!(map(&on, bad).is_err(), "{bad:?}");
        }
        let off = names("(leading_slash_is_root: false)");
        assert_eq!(map(&off, "/pxelinux.0"), Err("absolute path".into()));
    }

    #[test]
    fn backslashes_become_slashes_only_when_asked_and_stay_confined() {
        let off = names("");
        assert_eq!(map(&off, r"boot\x64\a"), Err("backslash in path".into()));
        let on = names("(backslash_to_slash: true)");
        assert_eq!(
            map(&on, r"\boot\x64\wdsnbp.com").unwrap(),
            "boot/x64/wdsnbp.com"
        );
        assert_eq!(map(&on, r"..\secret"), Err("dot path component".into()));
    }

    #[test]
    fn remap_runs_after_backslashes_and_before_the_leading_slash_and_the_checks() {
        let n = names(
            r#"(
                backslash_to_slash: true,
                remap: [
                    (match: "^/Boot/", replace: "/boot/"),
                    (match: "^/tftpboot/", replace: "/"),
                    (match: "escape", replace: "../x"),
                    (match: r"\.bak$", refuse: true),
                ],
            )"#,
        );
        assert_eq!(map(&n, r"\Boot\x").unwrap(), "boot/x");
        assert_eq!(map(&n, "/tftpboot/pxelinux.0").unwrap(), "pxelinux.0");
        // What a rule makes is checked like what a client sends.
        assert_eq!(map(&n, "escape"), Err("dot path component".into()));
        assert_eq!(map(&n, "x.bak"), Err("access denied (remap rule 4)".into()));
    }

    #[test]
    fn the_client_root_comes_with_the_name() {
        let n = names(r#"(client_dirs: [(cidr: "10.0.0.0/8", dir: "lab")])"#);
        let m = n
            .map(RequestKind::Write, "10.0.0.1".parse().unwrap(), "/f")
            .unwrap();
        assert_eq!(
            (m.name.as_str(), m.root),
            ("f", ClientRoot::Dir("lab".into()))
        );
        let strict = names(
            r#"(client_dirs: [(cidr: "10.0.0.0/8", dir: "lab")], unmatched_clients: refuse)"#,
        );
        let other = strict.map(RequestKind::Read, "192.0.2.1".parse().unwrap(), "f");
        assert_eq!(other, Err(client_root::NO_DIRECTORY.into()));
    }
}
