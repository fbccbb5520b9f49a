//! The access log: one line per finished session (a download, an upload, a TFTP
//! transfer), with its own file and buffering, like nginx's `access_log path
//! buffer=64k flush=1s`.
//!
//! Why not the main log: a line per request written as it happens is a system call per
//! request on the log thread (and, through the log channel, wake-ups of it), which a
//! small `GET` cannot afford; and an operator keeps, rotates and ships request records
//! apart from the events that need attention. So the lines are buffered here and
//! written in batches by a thread of their own ([`writer`]); SIGUSR1 reopens the file
//! (logrotate) and a shutdown writes what waits. Without an `access_log` in the
//! topology the same records go to the main log at `debug` (`msg: "access"`), where
//! the level filter drops them before any formatting or system call:
//! `docs/decisions/access-log.md`.
//!
//! The lines come from what the host knows of sessions (`session_update` and
//! `session_end`, `crate::actor::sessions`), so every plugin that describes its
//! sessions gets the same fields, whatever it logs itself.
//!
//! One access log per process, like the main log's destination: the host installs it
//! ([`install`]) at start and on a reload that changes it, and every handler thread
//! reaches it through [`record`], without it being threaded through each actor.
//!
//! # Layout
//! - this file: [`AccessLog`], the process's current one, [`record`].
//! - `entry`: [`Entry`], one finished session, and its line (text or JSON).
//! - `writer`: the buffer and the thread that writes it.

mod entry;
mod writer;

use std::cell::RefCell;
use std::sync::{Arc, RwLock};

use slog::{Logger, debug};

pub use entry::{Entry, direction_word};
use writer::Writer;

use crate::topology::AccessLogSpec;

/// An open access log.
#[derive(Debug)]
pub struct AccessLog {
    spec: AccessLogSpec,
    writer: Writer,
}

impl AccessLog {
    /// Open (or create, mode 0640) the file `spec` names and start its writer; `log`
    /// (the main log) hears about write failures. A file that cannot be opened is an
    /// error now, not a silent loss later.
    pub fn open(spec: &AccessLogSpec, log: &Logger) -> std::io::Result<AccessLog> {
        let file = writer::open_file(&spec.path).map_err(|e| {
            std::io::Error::new(e.kind(), format!("access log {}: {e}", spec.path.display()))
        })?;
        let writer = Writer::start(
            file,
            spec.path.clone(),
            spec.buffer_bytes,
            spec.flush,
            log.clone(),
        )?;
        Ok(AccessLog {
            spec: spec.clone(),
            writer,
        })
    }

    /// What it was opened with (a reload compares it with the new topology's).
    pub fn spec(&self) -> &AccessLogSpec {
        &self.spec
    }

    /// One finished session.
    pub fn write(&self, entry: &Entry<'_>) {
        thread_local! {
            static LINE: RefCell<String> = const { RefCell::new(String::new()) };
        }
        LINE.with_borrow_mut(|line| {
            line.clear();
            entry.write_line(self.spec.format, line);
            self.writer.append(line.as_bytes());
        });
    }

    /// Start a new file at the path after writing what waits (SIGUSR1).
    pub fn reopen(&self) {
        self.writer.reopen();
    }

    /// Write everything waiting and stop the writer thread (at exit, or when a reload
    /// replaces it); a line recorded later is written at once.
    pub fn close(&self) {
        self.writer.close();
    }
}

/// The process's access log, if the topology has one.
static CURRENT: RwLock<Option<Arc<AccessLog>>> = RwLock::new(None);

/// Make `log` the access log every handler writes to; returns the one it replaces
/// (for the caller to close once nothing uses it).
pub fn install(log: Option<Arc<AccessLog>>) -> Option<Arc<AccessLog>> {
    let mut current = CURRENT.write().unwrap_or_else(|e| e.into_inner());
    std::mem::replace(&mut *current, log)
}

/// The access log installed now.
pub fn current() -> Option<Arc<AccessLog>> {
    CURRENT.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Record a finished session: to the access log when there is one, else to `main`
/// (the handler's logger) at `debug`.
pub fn record(main: &Logger, entry: &Entry<'_>) {
    {
        let current = CURRENT.read().unwrap_or_else(|e| e.into_inner());
        if let Some(access) = current.as_ref() {
            access.write(entry);
            return;
        }
    }
    // Asked first: at the usual `info`, the record is not even built.
    if !slog::Drain::is_enabled(main, slog::Level::Debug) {
        return;
    }
    debug!(main, "access";
        "peer" => entry.peer.map(|p| p.to_string()),
        "resource" => entry.resource,
        "direction" => direction_word(entry.direction),
        "bytes" => entry.bytes,
        "outcome" => entry.outcome,
        "duration_ms" => entry.duration.as_secs_f64() * 1000.0);
}

#[cfg(test)]
mod tests;
