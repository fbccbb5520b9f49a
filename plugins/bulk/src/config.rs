//! The handler's `config: (...)` section, with safe defaults.
//!
//! Every field has a default, so `config: ()` serves the seed client and v2 clients
//! at once. Limits are checked before anything is created on disk.

use serde::Deserialize;

/// Bulk configuration, as written in the topology.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory under the handler's root where uploads land and downloads come from.
    /// It must exist (the ABI cannot create directories); `""` is the root itself.
    pub incoming_dir: String,
    /// Largest file accepted (v1 and v2), checked against the declared length before
    /// anything is created.
    pub max_file_bytes: u64,
    /// Free space an upload must leave on the root's file system.
    pub reserve_free_bytes: u64,
    /// The whole request header must arrive within this (slowloris).
    pub header_timeout_secs: u64,
    /// Base allowance of a transfer, and the wait for a v2 trailing digest.
    pub idle_timeout_secs: u64,
    /// Slowest transfer tolerated, in bytes per second: `n` bytes must arrive within
    /// `idle_timeout + n / min_transfer_rate` (the host moves the bytes and reports
    /// only the end, so the plugin bounds the whole transfer).
    pub min_transfer_rate: u64,
    /// Serve the seed's v1 protocol on the same port.
    pub v1: bool,
    /// Serve v2 downloads (`GET`) of files in `incoming_dir`.
    pub downloads: bool,
    /// Keep the received part of a resumable v2 upload when its connection is lost.
    pub resume: bool,
    /// Let a v2 `PUT` with the replace flag (`0x08`, the client's `--force`) commit
    /// over an existing file. Off by default, like the files and TFTP plugins'
    /// `allow_overwrite`: an operator opts in to clients destroying stored files.
    /// Without the flag a taken name is never overwritten (`stem-1.ext`).
    pub allow_overwrite: bool,
    /// Most partial uploads kept; the oldest are deleted beyond this.
    pub max_partials: usize,
    /// A kept partial not continued for this long is deleted (checked when a
    /// resumable upload starts or is lost); 0 keeps partials until `max_partials`
    /// pushes them out. Without it, an abandoned upload holds its disk space forever.
    pub partial_max_age_secs: u64,
    /// Ignored. Resume once copied the kept part in steps of this size; it now
    /// continues the part in place. Still accepted so that older topologies load.
    pub resume_copy_step_bytes: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            incoming_dir: "incoming".into(),
            max_file_bytes: 16 << 30,
            reserve_free_bytes: 64 << 20,
            header_timeout_secs: 10,
            idle_timeout_secs: 30,
            min_transfer_rate: 64 * 1024,
            v1: true,
            downloads: true,
            resume: true,
            allow_overwrite: false,
            max_partials: 64,
            partial_max_age_secs: 7 * 24 * 3600,
            resume_copy_step_bytes: 0,
        }
    }
}

impl Config {
    /// Refuse values that would disable a protection or make the server unusable.
    pub fn validate(&self) -> Result<(), String> {
        let dir = &self.incoming_dir;
        if !dir.is_empty()
            && (dir.starts_with('/')
                || dir.contains('\\')
                || dir
                    .split('/')
                    .any(|c| c.is_empty() || c == "." || c == ".."))
        {
            return Err("incoming_dir: a relative path below the root, like \"incoming\"".into());
        }
        if switchyard_sdk::is_hidden_path(dir) {
            // Hidden names hold side files and partials, and are never served: a
            // hidden directory would make bulk the one plugin serving them.
            return Err("incoming_dir: must not be hidden (no component starting with `.`)".into());
        }
        if self.header_timeout_secs == 0 || self.idle_timeout_secs == 0 {
            return Err("header_timeout_secs and idle_timeout_secs: at least 1".into());
        }
        if self.min_transfer_rate == 0 {
            return Err("min_transfer_rate: at least 1 byte per second".into());
        }
        if self.max_partials == 0 && self.resume {
            return Err("max_partials: at least 1 when resume is on".into());
        }
        Ok(())
    }

    /// `incoming_dir/name` (or `name` when the directory is the root).
    pub fn path_of(&self, name: &str) -> String {
        if self.incoming_dir.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.incoming_dir)
        }
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

    /// Time on top of [`Config::transfer_ms`] for a resumed upload: the host reads
    /// back and hashes the `kept` bytes before it reports the receive, at the disk's
    /// pace, not the network's (without it, a large partial from a cold disk could
    /// time out on every retry).
    pub(crate) fn kept_hash_ms(&self, kept: u64) -> u64 {
        /// A slow disk's sequential read; sha256 itself runs at 1-2 GB/s.
        const KEPT_READ_BYTES_PER_SEC: u64 = 50 << 20;
        kept.saturating_mul(1000) / KEPT_READ_BYTES_PER_SEC
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
        assert_eq!(c.path_of("a.bin"), "incoming/a.bin");
    }

    #[test]
    fn the_retired_resume_copy_step_is_still_accepted() {
        let c: Config = parse_config("(resume_copy_step_bytes: 8388608)").unwrap();
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn typos_are_errors() {
        let e = parse_config::<Config>("(max_file_byte: 1)").unwrap_err();
        assert!(e.message.contains("max_file_byte"), "{e:?}");
    }

    #[test]
    fn unsafe_values_are_refused() {
        for bad in [
            "(idle_timeout_secs: 0)",
            "(header_timeout_secs: 0)",
            "(min_transfer_rate: 0)",
            "(incoming_dir: \"../x\")",
            "(incoming_dir: \"/srv\")",
            "(incoming_dir: \"a//b\")",
            "(incoming_dir: \".incoming\")",
            "(incoming_dir: \"up/.hidden\")",
            "(max_partials: 0)",
        ] {
            let c: Config = parse_config(bad).unwrap();
            assert!(c.validate().is_err(), "{bad}");
        }
        let root: Config = parse_config("(incoming_dir: \"\")").unwrap();
        assert!(root.validate().is_ok());
        assert_eq!(root.path_of("a"), "a");
    }

    #[test]
    fn transfer_budget_grows_with_size_and_saturates() {
        let c = Config {
            idle_timeout_secs: 10,
            min_transfer_rate: 1000,
            ..Config::default()
        };
        assert_eq!(c.transfer_ms(0), 10_000);
        assert_eq!(c.transfer_ms(5000), 15_000);
        assert!(c.transfer_ms(u64::MAX) >= u64::MAX / 1000);
    }
}
