//! Signals a long-running server must survive.
//!
//! | signal | action |
//! |---|---|
//! | `SIGHUP` | reload the topology |
//! | `SIGINT`, `SIGTERM` | drain and exit; a second one exits at once |
//! | `SIGQUIT` | the default: exit at once with a core dump (for debugging a hang) |
//! | `SIGUSR1` | reopen `--log-file` (logrotate's `postrotate`) |
//! | `SIGUSR2`, `SIGALRM`, `SIGVTALRM`, `SIGPROF`, `SIGIO`/`SIGPOLL`, `SIGWINCH` | logged and ignored |
//! | `SIGPIPE` | ignored (a write to a closed socket fails with `EPIPE` instead) |
//! | fault signals (`SIGSEGV`, `SIGBUS`, ...) | their default |
//!
//! The default action of most of these is to terminate the process: a stray
//! `kill -USR1` copied from an nginx logrotate file, or a terminal resize, must not
//! take the service down without a drain. They are set to "ignore" first thing in
//! `serve`, before anything else runs, so no window exists where they are fatal;
//! then the async handlers replace the ignore with a logged one.

use slog::{Logger, info};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// Signals that are logged and otherwise ignored.
const IGNORED: &[(libc::c_int, &str)] = &[
    (libc::SIGUSR2, "SIGUSR2"),
    (libc::SIGALRM, "SIGALRM"),
    (libc::SIGVTALRM, "SIGVTALRM"),
    (libc::SIGPROF, "SIGPROF"),
    (libc::SIGIO, "SIGIO"),
    (libc::SIGWINCH, "SIGWINCH"),
];

/// Make every non-fatal signal harmless at once, before the runtime exists.
pub fn ignore_early() {
    let all = IGNORED
        .iter()
        .map(|(n, _)| *n)
        // SIGHUP too: a reload asked for while the host starts must not kill it
        // (its topology is being read anyway).
        .chain([libc::SIGUSR1, libc::SIGPIPE, libc::SIGHUP]);
    for n in all {
        // SAFETY: installing SIG_IGN has no handler code to be unsafe in.
        unsafe {
            libc::signal(n, libc::SIG_IGN);
        }
    }
}

/// Log each ignored signal as it arrives (must run inside the runtime).
pub fn log_ignored(log: &Logger) {
    for &(n, name) in IGNORED {
        let Ok(mut stream) = signal(SignalKind::from_raw(n)) else {
            continue;
        };
        let log = log.clone();
        actix_rt::spawn(async move {
            while stream.recv().await.is_some() {
                info!(log, "signal ignored"; "signal" => name);
            }
        });
    }
}

/// The signals `serve` acts on.
#[derive(Debug)]
pub struct Handled {
    pub term: Signal,
    pub int: Signal,
    pub hup: Signal,
    pub usr1: Signal,
}

impl Handled {
    pub fn install() -> std::io::Result<Handled> {
        Ok(Handled {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
            usr1: signal(SignalKind::user_defined1())?,
        })
    }
}
