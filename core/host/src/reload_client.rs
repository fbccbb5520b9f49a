//! `switchyard reload --pid-file FILE`: signal the host and wait for its answer.
//!
//! Exit codes, so that `systemctl reload` and scripts can act: 0 the new topology is
//! applied; 78 (`EX_CONFIG`) it was refused and the old one still runs (the errors are
//! printed with `file:line:col`); 1 the host could not be signalled or did not answer
//! within `--timeout`.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::EXIT_CONFIG;
use crate::reload_status::{self, Outcome};

/// Signal the host whose pid is in `pid_file` and wait up to `timeout` for its answer.
pub fn run(pid_file: &Path, timeout: Duration) -> ExitCode {
    match reload(pid_file, timeout) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("switchyard reload: {e}");
            ExitCode::FAILURE
        }
    }
}

fn reload(pid_file: &Path, timeout: Duration) -> Result<ExitCode, String> {
    let pid = read_pid(pid_file)?;
    let status_path = reload_status::path_for(pid_file);
    let before = reload_status::read(&status_path)
        .filter(|s| s.pid == pid.as_raw_nonzero().get().unsigned_abs())
        .map(|s| s.generation);
    if before.is_none() {
        return Err(format!(
            "{} is missing or belongs to another process: is the host (pid {}) a \
             switchyard that writes reload answers, started with this --pid-file?",
            status_path.display(),
            pid.as_raw_nonzero()
        ));
    }
    rustix::process::kill_process(pid, rustix::process::Signal::HUP)
        .map_err(|e| format!("cannot signal pid {}: {e}", pid.as_raw_nonzero()))?;
    let start = Instant::now();
    loop {
        if let Some(s) = reload_status::read(&status_path)
            && Some(s.generation) > before
        {
            return Ok(match s.outcome {
                Outcome::Applied | Outcome::Started => {
                    println!("reload applied: {}", s.report);
                    ExitCode::SUCCESS
                }
                Outcome::Refused => {
                    eprintln!("reload refused, the running topology is unchanged:");
                    eprintln!("{}", s.report);
                    ExitCode::from(EXIT_CONFIG)
                }
            });
        }
        if start.elapsed() >= timeout {
            return Err(format!(
                "no answer from pid {} within {} s (see its log)",
                pid.as_raw_nonzero(),
                timeout.as_secs()
            ));
        }
        if rustix::process::test_kill_process(pid).is_err() {
            return Err(format!(
                "pid {} exited before answering",
                pid.as_raw_nonzero()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_pid(pid_file: &Path) -> Result<rustix::process::Pid, String> {
    let text = std::fs::read_to_string(pid_file)
        .map_err(|e| format!("cannot read {}: {e}", pid_file.display()))?;
    let n = text
        .trim()
        .parse::<i32>()
        .map_err(|_| format!("{} holds no pid", pid_file.display()))?;
    rustix::process::Pid::from_raw(n).ok_or_else(|| format!("bad pid {n}"))
}
