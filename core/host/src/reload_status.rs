//! The answer to a reload: a small JSON file next to the pid file.
//!
//! `SIGHUP` carries no reply, so `switchyard reload` used to exit 0 whatever the host
//! made of the new file. The host now writes the outcome of every reload (and of its
//! start, as generation 0) to `<pid file>.reload`, atomically (a temp file renamed
//! over it), and `switchyard reload` waits for a generation newer than the one it saw
//! before signalling. A file rather than the admin listener, because the pid file is
//! what `reload` is given, and the admin listener is optional.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What became of one reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The host started (generation 0).
    Started,
    /// The new topology runs.
    Applied,
    /// The running topology is unchanged; `errors` say why.
    Refused,
}

/// The content of the status file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Counts the reloads since the host started (0 = none yet).
    pub generation: u64,
    pub outcome: Outcome,
    pub pid: u32,
    pub at_unix_ms: u64,
    /// One line per error, each starting with `file:line:col` when it has a position.
    pub errors: Vec<String>,
    /// The full report (with carets) of a refused topology, or the summary of an
    /// applied one.
    pub report: String,
}

/// Where the status of the host with pid file `pid_file` is written.
pub fn path_for(pid_file: &Path) -> PathBuf {
    let mut name = pid_file.as_os_str().to_owned();
    name.push(".reload");
    PathBuf::from(name)
}

/// Write `status` to `path` atomically.
pub fn write(path: &Path, status: &Status) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let text = serde_json::to_vec_pretty(status).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Read the status at `path`; `None` when there is none (yet) or it is unreadable.
pub fn read(path: &Path) -> Option<Status> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Milliseconds since the Unix epoch.
pub fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_status_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("s.pid"));
        assert!(path.ends_with("s.pid.reload"));
        assert_eq!(read(&path), None);
        let status = Status {
            generation: 3,
            outcome: Outcome::Refused,
            pid: 42,
            at_unix_ms: 1,
            errors: vec!["t.ron:2:5: unknown field".into()],
            report: "error\n  --> t.ron:2:5".into(),
        };
        write(&path, &status).unwrap();
        assert_eq!(read(&path), Some(status));
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temp file left");
    }
}
