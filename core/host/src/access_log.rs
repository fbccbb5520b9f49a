//! The topology's `access_log` over the life of `serve`: opened at start (an error
//! there stops the start, naming the file), reopened on SIGUSR1 with the main log,
//! replaced by a reload that changes it (opened first, so a reload that cannot open
//! it is refused and the running one goes on), and closed at exit after the drain,
//! which writes every line still waiting. The log itself: `switchyard_runtime::access_log`.

use std::sync::Arc;

use slog::Logger;
use switchyard_runtime::access_log::{self, AccessLog};
use switchyard_runtime::topology::Topology;

/// Open the topology's access log, if it has one, and make it the process's.
pub fn start(topo: &Topology, log: &Logger) -> std::io::Result<()> {
    if let Some(spec) = &topo.access_log {
        let opened = AccessLog::open(spec, log)?;
        access_log::install(Some(Arc::new(opened)));
    }
    Ok(())
}

/// What a reload does to the access log, decided (and the new file opened) before the
/// reload is applied.
#[derive(Debug)]
pub enum Change {
    /// The same settings: the open log goes on.
    Keep,
    /// Another file or other settings, or none any more.
    Replace(Option<Arc<AccessLog>>),
}

/// Compare the new topology's `access_log` with the running one, opening a new file
/// if it changed: the error names the file.
pub fn prepare(topo: &Topology, log: &Logger) -> std::io::Result<Change> {
    let current = access_log::current();
    if current.as_ref().map(|a| a.spec()) == topo.access_log.as_ref() {
        return Ok(Change::Keep);
    }
    let new = match &topo.access_log {
        Some(spec) => Some(Arc::new(AccessLog::open(spec, log)?)),
        None => None,
    };
    Ok(Change::Replace(new))
}

impl Change {
    /// Switch to the new log (after the reload succeeded): lines from now on go there;
    /// the old one writes what waits and closes.
    pub fn apply(self) {
        if let Change::Replace(new) = self
            && let Some(old) = access_log::install(new)
        {
            old.close();
        }
    }

    /// The reload was refused: a file opened for it is closed, nothing changes.
    pub fn discard(self) {
        if let Change::Replace(Some(new)) = self {
            new.close();
        }
    }
}

/// SIGUSR1: write what waits, then start a new file at the path. False when there is
/// no access log.
pub fn reopen() -> bool {
    access_log::current().is_some_and(|a| {
        a.reopen();
        true
    })
}

/// At exit, after the drain: every line still waiting is written.
pub fn stop() {
    if let Some(old) = access_log::install(None) {
        old.close();
    }
}
