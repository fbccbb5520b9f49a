//! The host under load: a `switchyard serve` this tool starts on its own topology
//! (port 0 everywhere, addresses read from the `listening` log lines, as the e2e
//! harness does), or one already running that it attaches to.
//!
//! A started host's log is read all the time: the host's logger blocks rather than
//! drop lines, so an unread pipe would stall it. Warnings and errors are kept for
//! the report; everything else is only counted.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::args::Args;
use crate::topology;

/// How long a started host may take to log `serving` (debug build, busy machine).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Warning and error lines kept for the report.
const KEPT_LINES: usize = 20;

/// Where the load goes.
#[derive(Debug)]
pub struct Target {
    pub pid: u32,
    pub admin: SocketAddr,
    pub files: SocketAddr,
    pub bulk: SocketAddr,
    pub tftp: SocketAddr,
    pub chat: SocketAddr,
    /// Storage root of files and tftp; bulk serves `data/incoming`.
    pub data: PathBuf,
    /// Set when this tool started the host.
    pub child: Option<Started>,
}

/// A host this tool started: the process, its temp dir, and what its log said.
#[derive(Debug)]
pub struct Started {
    process: Child,
    pub log: Arc<Mutex<LogSummary>>,
    _dir: tempfile::TempDir,
}

/// Counts of the host's log lines by level, and the first warnings and errors.
#[derive(Debug, Default, Clone)]
pub struct LogSummary {
    pub lines: u64,
    pub warnings: u64,
    /// Warnings the load causes on purpose: the summary line of a resumable bulk
    /// upload it broke off ("... bytes kept for resume"). Not counted in `warnings`.
    pub expected_warnings: u64,
    pub errors: u64,
    pub kept: Vec<String>,
}

impl Target {
    /// Attach to the running host named on the command line.
    pub fn attach(args: &Args) -> Option<Target> {
        Some(Target {
            pid: args.pid?,
            admin: args.admin?,
            files: args.files?,
            bulk: args.bulk?,
            tftp: args.tftp_addr?,
            chat: args.chat?,
            data: args.data.clone()?,
            child: None,
        })
    }

    /// Write the soak topology to a temp dir and serve it with `switchyard`.
    pub fn start(switchyard: &Path) -> Result<Target, String> {
        let dir = tempfile::Builder::new()
            .prefix("switchyard-soak-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let config = dir.path().join("topology.ron");
        std::fs::write(&config, topology::topology(dir.path()))
            .map_err(|e| format!("write topology: {e}"))?;
        let plugin_dir = switchyard.parent().unwrap_or(Path::new("."));
        let mut process = Command::new(switchyard)
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .args(["--log-format", "json", "--log-level", "info"])
            .arg("--plugin-dir")
            .arg(plugin_dir)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", switchyard.display()))?;
        let log = Arc::new(Mutex::new(LogSummary::default()));
        let (tx, rx) = mpsc::channel();
        let stderr = process.stderr.take().expect("piped stderr");
        std::thread::spawn({
            let log = Arc::clone(&log);
            move || read_log(stderr, tx, log)
        });
        let addrs = match wait_serving(&rx) {
            Ok(a) => a,
            Err(e) => {
                let _ = process.kill();
                let _ = process.wait();
                let kept = log.lock().unwrap_or_else(|e| e.into_inner()).kept.clone();
                return Err(format!("{e}; host log:\n{}", kept.join("\n")));
            }
        };
        let find = |name: &str| {
            addrs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, a)| *a)
                .ok_or_else(|| format!("the host logged no listener `{name}`"))
        };
        Ok(Target {
            pid: process.id(),
            admin: find("(admin)")?,
            files: find("files_tcp")?,
            bulk: find("bulk_tcp")?,
            tftp: find("tftp_udp")?,
            chat: find("chat_udp")?,
            data: dir.path().join("data"),
            child: Some(Started {
                process,
                log,
                _dir: dir,
            }),
        })
    }

    /// The started host's log so far (empty when attached).
    pub fn log(&self) -> LogSummary {
        match &self.child {
            Some(s) => s.log.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            None => LogSummary::default(),
        }
    }

    /// SIGTERM a started host and wait for it to drain and exit (bounded); `None`
    /// when attached.
    pub fn stop(&mut self, timeout: Duration) -> Option<Result<ExitStatus, String>> {
        let started = self.child.as_mut()?;
        let sent = Command::new("kill")
            .args(["-TERM", &started.process.id().to_string()])
            .status();
        if !sent.is_ok_and(|s| s.success()) {
            return Some(Err("kill -TERM failed".into()));
        }
        let deadline = Instant::now() + timeout;
        loop {
            match started.process.try_wait() {
                Ok(Some(status)) => return Some(Ok(status)),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    let _ = started.process.kill();
                    let _ = started.process.wait();
                    return Some(Err(format!("did not exit within {timeout:?} of SIGTERM")));
                }
            }
        }
    }
}

impl Drop for Started {
    /// A soak that fails half-way must not leave a server behind.
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Messages from the log reader until the host serves.
enum Startup {
    Listening(String, SocketAddr),
    Serving,
}

fn wait_serving(rx: &mpsc::Receiver<Startup>) -> Result<Vec<(String, SocketAddr)>, String> {
    let deadline = Instant::now() + START_TIMEOUT;
    let mut addrs = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Startup::Listening(name, addr)) => addrs.push((name, addr)),
            Ok(Startup::Serving) => return Ok(addrs),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(format!("the host did not serve within {START_TIMEOUT:?}"));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err("the host exited before serving".into());
            }
        }
    }
}

/// Read the host's stderr to its end: startup lines go to `tx`, then only counts and
/// the first warnings and errors are kept.
fn read_log(stderr: impl std::io::Read, tx: mpsc::Sender<Startup>, log: Arc<Mutex<LogSummary>>) {
    let mut serving = false;
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        let level = level_of(&line);
        let expected = level == Level::Warn && line.contains(" bytes kept for resume");
        {
            let mut s = log.lock().unwrap_or_else(|e| e.into_inner());
            s.lines += 1;
            match level {
                Level::Warn if expected => s.expected_warnings += 1,
                Level::Warn => s.warnings += 1,
                Level::Error => s.errors += 1,
                Level::Other => {}
            }
            if level != Level::Other && !expected && s.kept.len() < KEPT_LINES {
                s.kept.push(line.clone());
            }
        }
        if serving {
            continue;
        }
        let Ok(j) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if j["msg"] == "serving" {
            serving = true;
            let _ = tx.send(Startup::Serving);
        } else if j["msg"] == "listening" {
            let name = j["listener"].as_str().unwrap_or_default().to_owned();
            if let Some(addr) = j["addr"].as_str().and_then(|a| a.parse().ok()) {
                let _ = tx.send(Startup::Listening(name, addr));
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Warn,
    Error,
    Other,
}

/// The host's JSON level names, found without parsing every line (the host logs
/// one line per transfer, thousands a second under load).
fn level_of(line: &str) -> Level {
    if line.contains(r#""level":"warn""#) {
        Level::Warn
    } else if line.contains(r#""level":"error""#) {
        Level::Error
    } else {
        Level::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_from_slog_json_lines() {
        assert_eq!(level_of(r#"{"msg":"x","level":"warn"}"#), Level::Warn);
        assert_eq!(level_of(r#"{"msg":"x","level":"error"}"#), Level::Error);
        assert_eq!(level_of(r#"{"msg":"warn","level":"info"}"#), Level::Other);
    }
}
