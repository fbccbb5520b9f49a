//! A host started the way an operator's service manager starts it: `--log-file`
//! instead of stderr, optionally through a shell line (`ulimit -Sn 256; exec ...`).
//! [`crate::Host`] reads stderr; this one reads the log file, so it can test what
//! happens to that file (rotation, reopening).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{bin_dir, repo_root, switchyard_bin};

/// A running `switchyard serve --log-file FILE`, killed on drop.
#[derive(Debug)]
pub struct LogFileHost {
    child: Child,
    pub log: PathBuf,
    pub config: PathBuf,
}

impl LogFileHost {
    /// Start `switchyard serve` on `config`, logging JSON to `log`, with `extra`
    /// arguments; `shell_prefix` (e.g. `ulimit -Sn 256;`) runs before `exec` in sh.
    pub fn start(config: &Path, log: &Path, extra: &[&str], shell_prefix: &str) -> LogFileHost {
        let mut line = format!(
            "{shell_prefix} exec '{}' serve --config '{}' --log-format json --log-file '{}' --plugin-dir '{}'",
            switchyard_bin().display(),
            config.display(),
            log.display(),
            bin_dir().display()
        );
        for a in extra {
            line.push_str(&format!(" '{a}'"));
        }
        let child = Command::new("sh")
            .arg("-c")
            .arg(&line)
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn sh -c switchyard serve");
        let host = LogFileHost {
            child,
            log: log.to_path_buf(),
            config: config.to_path_buf(),
        };
        host.wait_for(&host.log, "serving", |j| j["msg"] == "serving");
        host
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The JSON records in `file` (every line must be one: panics otherwise).
    pub fn records(file: &Path) -> Vec<Value> {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!("not a JSON line ({e}): {l:?} in {}", file.display())
                })
            })
            .collect()
    }

    /// Wait (20 s at most) for a record in `file` matching `pred`.
    pub fn wait_for(&self, file: &Path, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(j) = Self::records(file).into_iter().find(|j| pred(j)) {
                return j;
            }
            assert!(
                Instant::now() < deadline,
                "no `{what}` record in {}:\n{}",
                file.display(),
                std::fs::read_to_string(file).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The address a `listening` record gave for `listener`.
    pub fn addr(&self, listener: &str) -> std::net::SocketAddr {
        let j = self.wait_for(&self.log, "listening", |j| {
            j["msg"] == "listening" && j["listener"] == listener
        });
        j["addr"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .expect("addr")
    }

    /// Send `signal` (`"USR1"`, `"TERM"`, ...) with kill(1).
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{signal} {}", self.pid());
    }

    /// Whether the host still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Wait (20 s at most) for the host to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s;
            }
            assert!(Instant::now() < deadline, "host did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for LogFileHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
