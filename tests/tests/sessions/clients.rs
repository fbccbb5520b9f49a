//! The real clients, run as an operator's user would, for the session tests: each
//! one's output goes to files (no pipe to keep drained), and its end is timed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use switchyard_e2e::bin_dir;

/// A client process under way.
#[derive(Debug)]
pub struct Running {
    what: String,
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

/// How a client ended.
#[derive(Debug)]
pub struct Done {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// When it was seen to exit.
    pub at: Instant,
}

/// Run `cmd` in `dir`, its output into files there named after `what`.
pub fn spawn(what: &str, mut cmd: Command, dir: &Path) -> Running {
    let out = dir.join(format!("{what}.stdout"));
    let err = dir.join(format!("{what}.stderr"));
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    Running {
        what: what.to_owned(),
        child,
        out,
        err,
    }
}

/// `switchyard-<name>` from the build.
pub fn ours(name: &str) -> Command {
    let exe = bin_dir().join(format!("switchyard-{name}"));
    assert!(
        exe.is_file(),
        "{} missing: cargo build --workspace first",
        exe.display()
    );
    Command::new(exe)
}

impl Running {
    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("wait for a client").is_none()
    }

    /// Wait up to `timeout` for it to exit (killed and a panic after that).
    pub fn wait(mut self, timeout: Duration) -> Done {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for a client") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "{} did not finish within {timeout:?}; stderr:\n{}",
                    self.what,
                    std::fs::read_to_string(&self.err).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Done {
            status,
            stdout: std::fs::read_to_string(&self.out).unwrap_or_default(),
            stderr: std::fs::read_to_string(&self.err).unwrap_or_default(),
            at: Instant::now(),
        }
    }
}
