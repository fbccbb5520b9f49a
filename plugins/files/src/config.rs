//! The handler's `config: (...)` section, with safe defaults.
//!
//! Every field has a default, so `config: ()` serves the seed client and v2 clients at
//! once. What could destroy data (overwriting, deleting) is off until configured.

use serde::Deserialize;

/// Files configuration, as written in the topology.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Longest request line (v2) or v1 name/message, LF included. Longer input is an
    /// error: the server never buffers without bound.
    pub max_line_bytes: usize,
    /// Largest upload (v2 declared size, v1 bytes so far).
    pub max_upload_bytes: u64,
    /// Free space an upload must leave on the root's file system.
    pub reserve_free_bytes: u64,
    /// A started request line must be complete within this (slowloris).
    pub header_timeout_secs: u64,
    /// A connection with nothing to do (no request, no v1 upload bytes) is closed after
    /// this; it also ends a v1 upload whose client never closes.
    pub idle_timeout_secs: u64,
    /// The slowest transfer tolerated, in bytes per second: a download or upload of
    /// `n` bytes must end within `idle_timeout + n / min_transfer_rate`. (The host
    /// moves those bytes itself and reports only the end, so the plugin bounds the
    /// whole transfer rather than each read.)
    pub min_transfer_rate: u64,
    /// Serve the seed's v1 protocol (`0:`, `1:`, `2:`) on the same port.
    pub v1: bool,
    /// A v1 name or message without a line end is taken as complete after this much
    /// silence (the seed client sends no terminator and never half-closes).
    pub v1_settle_ms: u64,
    /// Let `PUT ... overwrite` replace an existing file.
    pub allow_overwrite: bool,
    /// Let `DELETE` remove files.
    pub allow_delete: bool,
    /// Serve, list, accept and delete hidden names (a component starting with `.`).
    /// Off by default: digest side files `.NAME.sha256` live there.
    pub serve_hidden: bool,
    /// Most entries one `LIST` returns.
    pub max_list_entries: usize,
    /// Bytes hashed per step of a `HASH`. Each step is a synchronous read on the
    /// host's actor thread (shared with other connections), so it stays small.
    pub hash_step_bytes: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_line_bytes: 4096,
            max_upload_bytes: 4 << 30,
            reserve_free_bytes: 64 << 20,
            header_timeout_secs: 10,
            idle_timeout_secs: 60,
            min_transfer_rate: 16 * 1024,
            v1: true,
            v1_settle_ms: 100,
            allow_overwrite: false,
            allow_delete: false,
            serve_hidden: false,
            max_list_entries: 10_000,
            hash_step_bytes: 1 << 20,
        }
    }
}

impl Config {
    /// Refuse values that would disable a protection or make the server unusable.
    pub fn validate(&self) -> Result<(), String> {
        if !(64..=1 << 20).contains(&self.max_line_bytes) {
            return Err("max_line_bytes: between 64 and 1048576".into());
        }
        if self.header_timeout_secs == 0 || self.idle_timeout_secs == 0 {
            return Err("header_timeout_secs and idle_timeout_secs: at least 1".into());
        }
        if self.min_transfer_rate == 0 {
            return Err("min_transfer_rate: at least 1 byte per second".into());
        }
        if !(1..=10_000).contains(&self.v1_settle_ms) {
            return Err("v1_settle_ms: between 1 and 10000".into());
        }
        if self.max_list_entries == 0 {
            return Err("max_list_entries: at least 1".into());
        }
        if !(4096..=64 << 20).contains(&self.hash_step_bytes) {
            return Err("hash_step_bytes: between 4096 and 67108864".into());
        }
        Ok(())
    }

    pub(crate) fn header_ms(&self) -> u64 {
        self.header_timeout_secs.saturating_mul(1000)
    }

    pub(crate) fn idle_ms(&self) -> u64 {
        self.idle_timeout_secs.saturating_mul(1000)
    }

    /// How long a transfer of `len` bytes may take.
    pub(crate) fn transfer_ms(&self, len: u64) -> u64 {
        self.idle_ms()
            .saturating_add(len.saturating_mul(1000) / self.min_transfer_rate)
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
        assert!(c.validate().is_ok());
        assert!(!c.allow_delete && !c.allow_overwrite);
    }

    #[test]
    fn typos_are_errors() {
        let e = parse_config::<Config>("(alow_delete: true)").unwrap_err();
        assert!(e.message.contains("alow_delete"), "{e:?}");
    }

    #[test]
    fn unsafe_values_are_refused() {
        for bad in [
            "(idle_timeout_secs: 0)",
            "(max_line_bytes: 10)",
            "(min_transfer_rate: 0)",
            "(v1_settle_ms: 0)",
        ] {
            let c: Config = parse_config(bad).unwrap();
            assert!(c.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn transfer_budget_grows_with_size() {
        let c = Config {
            idle_timeout_secs: 10,
            min_transfer_rate: 1000,
            ..Config::default()
        };
        assert_eq!(c.transfer_ms(0), 10_000);
        assert_eq!(c.transfer_ms(5000), 15_000);
        // No overflow for absurd sizes: the budget saturates instead.
        assert!(c.transfer_ms(u64::MAX) >= u64::MAX / 1000);
    }
}
