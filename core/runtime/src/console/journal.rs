//! [`Journal`]: what the console remembers of the past — reloads, finished sessions,
//! WARN+ log records — each in a bounded ring, written from any thread.
//!
//! Why rings behind one short lock each: a session ends on a handler's thread, a log
//! record comes from any thread, and the console reads all of them at most twice a
//! second. A push is one lock and a `VecDeque` push/pop; memory is bounded whatever
//! the load ([`RELOADS_KEPT`], [`FINISHED_KEPT`], [`LOG_KEPT`]).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::model::{
    FINISHED_KEPT, FinishedSession, LOG_KEPT, LogRecord, RELOADS_KEPT, ReloadRecord,
};

/// A ring of at most `cap` items, newest at the back.
#[derive(Debug)]
struct Ring<T> {
    cap: usize,
    items: Mutex<VecDeque<T>>,
}

impl<T: Clone> Ring<T> {
    fn new(cap: usize) -> Ring<T> {
        Ring {
            cap,
            items: Mutex::new(VecDeque::with_capacity(cap)),
        }
    }

    fn push(&self, item: T) {
        let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        if items.len() == self.cap {
            items.pop_front();
        }
        items.push_back(item);
    }

    /// Newest first.
    fn newest_first(&self) -> Vec<T> {
        let items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        items.iter().rev().cloned().collect()
    }
}

/// The console's memory of the past; one per host, shared by `Arc`.
#[derive(Debug)]
pub struct Journal {
    reloads: Ring<ReloadRecord>,
    finished: Ring<FinishedSession>,
    log: Ring<LogRecord>,
    /// Bumped on every push: the event stream skips building a snapshot when nothing
    /// it remembers changed and no session runs.
    generation: AtomicU64,
}

impl Default for Journal {
    fn default() -> Journal {
        Journal {
            reloads: Ring::new(RELOADS_KEPT),
            finished: Ring::new(FINISHED_KEPT),
            log: Ring::new(LOG_KEPT),
            generation: AtomicU64::new(0),
        }
    }
}

impl Journal {
    pub fn reload(&self, record: ReloadRecord) {
        self.reloads.push(record);
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    pub fn finished(&self, record: FinishedSession) {
        self.finished.push(record);
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    pub fn log(&self, record: LogRecord) {
        self.log.push(record);
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// Reloads, newest first.
    pub fn reloads(&self) -> Vec<ReloadRecord> {
        self.reloads.newest_first()
    }

    /// Finished sessions, newest first.
    pub fn finished_sessions(&self) -> Vec<FinishedSession> {
        self.finished.newest_first()
    }

    /// Log records, newest first.
    pub fn log_records(&self) -> Vec<LogRecord> {
        self.log.newest_first()
    }

    /// Changes so far (pushes of any kind).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }
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

    fn log(msg: &str) -> LogRecord {
        LogRecord {
            at_unix_ms: 1,
            level: "warn",
            msg: msg.into(),
            fields: Vec::new(),
        }
    }

    #[test]
    fn rings_keep_the_newest_and_answer_newest_first() {
        let j = Journal::default();
        for i in 0..LOG_KEPT + 5 {
            j.log(log(&format!("m{i}")));
        }
        let records = j.log_records();
        assert_eq!(records.len(), LOG_KEPT);
        assert_eq!(records[0].msg, format!("m{}", LOG_KEPT + 4));
        assert_eq!(records[LOG_KEPT - 1].msg, "m5");
        assert_eq!(j.generation(), (LOG_KEPT + 5) as u64);
    }
}
