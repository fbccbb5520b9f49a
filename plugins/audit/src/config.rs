//! The handler's `config: (...)` section.

use serde::Deserialize;

/// Audit configuration, as written in the topology.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Base name under the storage root; segments are `<stem>-<n>.<ext>`
    /// (`transcript-000001.jsonl`), because the storage API cannot append to a file.
    pub file: String,
    /// Longest time a received record stays only in memory before it is committed.
    pub flush_interval_ms: u64,
    /// A segment is closed and the next one started past this size.
    pub max_segment_bytes: usize,
    /// Write the transcript from this stream of the topology's `bus.streams` (the
    /// cluster's transcript, each message once), besides what the `events` port gets.
    pub stream: Option<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            file: "transcript.jsonl".into(),
            flush_interval_ms: 1000,
            max_segment_bytes: 4 << 20,
            stream: None,
        }
    }
}

/// `file` split into directory, stem and extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName {
    /// `""` for the root, else `"dir/sub"`.
    pub dir: String,
    pub stem: String,
    /// Empty or with its dot: `".jsonl"`.
    pub ext: String,
}

impl Config {
    /// Check the values and split `file`.
    pub fn validate(&self) -> Result<FileName, String> {
        if !(10..=3_600_000).contains(&self.flush_interval_ms) {
            return Err("flush_interval_ms: between 10 and 3600000".into());
        }
        if !(1024..=(256 << 20)).contains(&self.max_segment_bytes) {
            return Err("max_segment_bytes: between 1 KiB and 256 MiB".into());
        }
        let bad = self.file.is_empty()
            || self.file.starts_with('/')
            || self.file.contains(['\\', '\0'])
            || self
                .file
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..");
        if bad {
            return Err(format!(
                "file: {:?} must be a relative path inside the storage root",
                self.file
            ));
        }
        if let Some(stream) = &self.stream
            && switchyard_sdk::bus_subject::bucket_problem(stream).is_some()
        {
            return Err(format!(
                "stream: {stream:?} is no stream name (letters, digits, `_` and `-`)"
            ));
        }
        let (dir, name) = match self.file.rsplit_once('/') {
            Some((dir, name)) => (dir.to_string(), name),
            None => (String::new(), self.file.as_str()),
        };
        let (stem, ext) = match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => (stem.to_string(), format!(".{ext}")),
            _ => (name.to_string(), String::new()),
        };
        if stem.starts_with('.') {
            return Err("file: hidden names are reserved for temp files".into());
        }
        Ok(FileName { dir, stem, ext })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::parse_config;

    #[test]
    fn defaults_and_splitting() {
        let c: Config = parse_config("").unwrap();
        assert_eq!(
            c.validate(),
            Ok(FileName {
                dir: String::new(),
                stem: "transcript".into(),
                ext: ".jsonl".into()
            })
        );
        let c = Config {
            file: "logs/chat.v1.jsonl".into(),
            ..Config::default()
        };
        assert_eq!(
            c.validate(),
            Ok(FileName {
                dir: "logs".into(),
                stem: "chat.v1".into(),
                ext: ".jsonl".into()
            })
        );
        let c = Config {
            file: "plain".into(),
            ..Config::default()
        };
        assert_eq!(c.validate().unwrap().ext, "");
    }

    #[test]
    fn bad_values_are_refused() {
        for file in ["", "/abs", "../up", "a//b", "a/./b", ".hidden"] {
            let c = Config {
                file: file.into(),
                ..Config::default()
            };
            assert!(c.validate().is_err(), "{file:?}");
        }
        assert!(
            Config {
                flush_interval_ms: 0,
                ..Config::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            Config {
                max_segment_bytes: 10,
                ..Config::default()
            }
            .validate()
            .is_err()
        );
        assert!(parse_config::<Config>("(fiel: \"x\")").is_err());
    }
}
