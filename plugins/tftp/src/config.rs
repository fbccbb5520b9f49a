//! The handler's `config: (...)` section: every limit of the server, with safe defaults.
//!
//! Every field is optional. Defaults lean safe: uploads and overwrites are off, a source
//! address gets a bounded request rate (TFTP is a known UDP amplification vector), and a
//! vanished peer is given up after the same 31 s of backoff as tftpd-hpa.

use std::fmt;
use std::ops::RangeInclusive;

use serde::Deserialize;
use serde::de::{Deserializer, SeqAccess, Visitor};

use crate::names::client_root::{ClientDir, UniqueRoot, Unmatched};
use crate::names::remap::RemapRule;
use switchyard_sdk::ConfigError;

/// See `plugins/tftp/README.md` for what each field does. The name fields (`remap`,
/// `client_dirs`) are checked as they are read, so a bad regex or range is reported at
/// its place in the topology.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Accept WRQ (uploads). Off by default.
    pub allow_create: bool,
    /// Let a WRQ replace an existing file. Off by default.
    pub allow_overwrite: bool,
    /// Serve, accept uploads to and name hidden paths (a component starting with `.`).
    /// Off by default: side files (`.NAME.sha256`, kept partials `.partial.<id>`) live
    /// there, beside the files they describe.
    pub serve_hidden: bool,
    /// Largest `blksize` granted (RFC 2348 allows 8..=65464).
    pub max_blksize: u16,
    /// Largest `windowsize` granted (RFC 7440 allows 1..=65535).
    pub max_windowsize: u16,
    /// The socket receive buffer, in KiB, a client is assumed to have: a window is
    /// granted only as large as fits in it, so that a window sent back to back is not
    /// cut short by the client's own buffer (160: what Linux's default 208 KiB safely
    /// holds). 0 grants any window up to `max_windowsize`.
    pub client_buffer_kib: u32,
    /// First retransmission timeout, when the client does not ask for one.
    pub timeout_ms: u64,
    /// Ceiling of the doubling backoff.
    pub max_timeout_ms: u64,
    /// Retransmissions of one packet before the transfer is abandoned.
    pub max_retries: u32,
    /// How long an upload's final ACK is kept to answer a repeated last DATA.
    pub dally_ms: u64,
    /// Largest upload accepted, in bytes (announced `tsize` or received bytes).
    pub max_upload_bytes: u64,
    /// Largest file served in `netascii` mode: its converted length is counted before
    /// the first block, with synchronous reads, so this bounds that work.
    pub max_netascii_bytes: u64,
    /// Free space an upload must leave on the root's file system.
    pub reserve_free_bytes: u64,
    /// Transfers in flight, all clients together.
    pub max_transfers: u32,
    /// Transfers in flight from one client address.
    pub max_transfers_per_client: u32,
    /// Sustained requests per second accepted from one source address.
    pub requests_per_sec: u32,
    /// Requests one source address may send at once before the rate applies.
    pub request_burst: u32,
    /// Source addresses whose request rate is tracked at once, per worker (each worker
    /// tracks the clients sharded to it: the memory bound is per worker).
    pub max_tracked_sources: u32,
    /// A leading `/` names the root (`/pxelinux.0` is `pxelinux.0`), as tftpd-hpa
    /// `--secure` serves it. On by default; off, such a name gets ERROR 2.
    pub leading_slash_is_root: bool,
    /// Every `\` of a requested name becomes `/` (Windows boot). Off by default.
    pub backslash_to_slash: bool,
    /// Rewrite, stop or refuse names by regular expression, in order (tftpd-hpa `-m`).
    pub remap: Vec<RemapRule>,
    /// A download whose name is not found as spelled is looked up ignoring case.
    pub case_insensitive: bool,
    /// Clients by address range, each range's names under a subdirectory: first match.
    pub client_dirs: Vec<ClientDir>,
    /// Each client (no `client_dirs` match) under a subdirectory named by its address.
    pub unique_root: UniqueRoot,
    /// What a client gets that nothing gives a directory: the root, or refused.
    pub unmatched_clients: Unmatched,
    /// Transfer sockets on ports of this range (tftpd-hpa `-R`, dnsmasq
    /// `--tftp-port-range`), for a firewall that lets only those through.
    pub port_range: PortRange,
    /// Every transfer served from the listen socket, told apart by the client's
    /// address and port (dnsmasq `--tftp-single-port`): for a firewall or NAT that
    /// passes only replies from the port asked. See `plugin::ports`.
    pub single_port: bool,
}

/// `port_range`: the ports of transfer sockets, `(lo, hi)` inclusive (also written
/// `Some((lo, hi))`); absent or `None`, an ephemeral port each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PortRange(pub Option<(u16, u16)>);

impl PortRange {
    /// The ports, if a range is set.
    pub fn ports(self) -> Option<RangeInclusive<u16>> {
        self.0.map(|(lo, hi)| lo..=hi)
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PortRange;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port range `(50000, 50100)`")
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<PortRange, E> {
                Ok(PortRange(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<PortRange, D::Error> {
                de.deserialize_any(V)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PortRange, A::Error> {
                let missing = || serde::de::Error::invalid_length(0, &"two ports");
                let lo: u16 = seq.next_element()?.ok_or_else(missing)?;
                let hi: u16 = seq.next_element()?.ok_or_else(missing)?;
                if seq.next_element::<u16>()?.is_some() {
                    return Err(serde::de::Error::invalid_length(3, &"two ports"));
                }
                Ok(PortRange(Some((lo, hi))))
            }
        }
        de.deserialize_any(V)
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            allow_create: false,
            allow_overwrite: false,
            serve_hidden: false,
            max_blksize: 65464,
            max_windowsize: 64,
            client_buffer_kib: 160,
            timeout_ms: 1000,
            max_timeout_ms: 16_000,
            max_retries: 5,
            dally_ms: 3000,
            max_upload_bytes: 4 << 30,
            max_netascii_bytes: 16 << 20,
            reserve_free_bytes: 64 << 20,
            max_transfers: 512,
            max_transfers_per_client: 32,
            requests_per_sec: 50,
            request_burst: 100,
            max_tracked_sources: 65_536,
            leading_slash_is_root: true,
            backslash_to_slash: false,
            remap: Vec::new(),
            case_insensitive: false,
            client_dirs: Vec::new(),
            unique_root: UniqueRoot::Off,
            unmatched_clients: Unmatched::Root,
            port_range: PortRange(None),
            single_port: false,
        }
    }
}

impl Config {
    /// Refuse values that cannot work, with the field named.
    pub fn check(&self) -> Result<(), String> {
        if !(8..=65464).contains(&self.max_blksize) {
            return Err("max_blksize: must be within 8..=65464".into());
        }
        if self.max_windowsize == 0 {
            return Err("max_windowsize: must be at least 1".into());
        }
        if self.client_buffer_kib > 1024 * 1024 {
            return Err("client_buffer_kib: at most 1048576 (1 GiB)".into());
        }
        if !(1..=255_000).contains(&self.timeout_ms) {
            return Err("timeout_ms: must be within 1..=255000".into());
        }
        if self.max_timeout_ms < self.timeout_ms {
            return Err("max_timeout_ms: must be at least timeout_ms".into());
        }
        if self.max_retries == 0 {
            return Err("max_retries: must be at least 1".into());
        }
        if self.max_transfers == 0 || self.max_transfers_per_client == 0 {
            return Err("max_transfers, max_transfers_per_client: must be at least 1".into());
        }
        if self.requests_per_sec == 0 || self.request_burst == 0 {
            return Err("requests_per_sec, request_burst: must be at least 1".into());
        }
        if self.max_tracked_sources == 0 {
            return Err("max_tracked_sources: must be at least 1".into());
        }
        if let Some((lo, hi)) = self.port_range.0 {
            if lo == 0 || lo > hi {
                return Err(ConfigError::field(
                    "port_range",
                    "`(lo, hi)` with 1 <= lo <= hi, e.g. `(50000, 50100)`",
                )
                .into());
            }
            if self.single_port {
                return Err(ConfigError::field(
                    "port_range",
                    "no use with `single_port: true`, where every transfer is on the listen port",
                )
                .into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::parse_config;

    #[test]
    fn empty_config_is_the_safe_default() {
        let c: Config = parse_config("").unwrap();
        assert_eq!(c, Config::default());
        assert!(!c.allow_create && !c.allow_overwrite && !c.serve_hidden);
        c.check().unwrap();
    }

    #[test]
    fn unknown_field_is_refused() {
        let err = parse_config::<Config>("(allow_creat: true)").unwrap_err();
        assert!(err.message.contains("allow_creat"), "{err:?}");
    }

    #[test]
    fn the_readme_examples_are_valid_configs() {
        let readme = include_str!("../README.md");
        let blocks: Vec<&str> = readme
            .split("```ron\n")
            .skip(1)
            .map(|b| b.split("```").next().unwrap())
            .collect();
        assert!(blocks.len() >= 2, "the README shows its config examples");
        for block in blocks {
            let c: Config = parse_config(&format!("({block})")).unwrap();
            c.check().unwrap();
            assert_ne!(c, Config::default(), "{block}");
        }
    }

    #[test]
    fn a_port_range_is_written_bare_or_as_an_option() {
        for (text, want) in [
            ("(port_range: (50000, 50100))", Some((50000, 50100))),
            ("(port_range: Some((50000, 50100)))", Some((50000, 50100))),
            ("(port_range: None)", None),
            ("()", None),
        ] {
            let c: Config = parse_config(text).unwrap();
            assert_eq!(c.port_range, PortRange(want), "{text}");
            c.check().unwrap();
        }
        assert_eq!(PortRange(Some((5, 7))).ports(), Some(5..=7));
        for bad in [
            "(port_range: (1, 2, 3))",
            "(port_range: (1))",
            "(port_range: (1, 70000))",
        ] {
            assert!(parse_config::<Config>(bad).is_err(), "{bad}");
        }
        let err = parse_config::<Config>("(port_range: (50000, 50100), single_port: true)")
            .unwrap()
            .check()
            .unwrap_err();
        assert!(err.starts_with("`port_range`:"), "{err}");
    }

    #[test]
    fn impossible_values_are_refused() {
        for bad in [
            "(max_blksize: 7)",
            "(max_blksize: 65465)",
            "(max_windowsize: 0)",
            "(client_buffer_kib: 1048577)",
            "(timeout_ms: 0)",
            "(timeout_ms: 5000, max_timeout_ms: 1000)",
            "(max_retries: 0)",
            "(max_transfers: 0)",
            "(requests_per_sec: 0)",
            "(port_range: (0, 10))",
            "(port_range: (50100, 50000))",
            "(port_range: (50000, 50100), single_port: true)",
        ] {
            let c: Config = parse_config(bad).unwrap();
            assert!(c.check().is_err(), "{bad}");
        }
    }
}
