//! [`Writer`]: the access log's buffer, and the thread that writes it.
//!
//! A handler thread appends its line to one shared buffer under a mutex (a copy, no
//! system call) and goes on. The writer thread sleeps until there is something to
//! write, then waits until the buffer holds `buffer` bytes or `flush` has passed since
//! the first line in it, and writes the whole batch with one `write`. The handler
//! threads wake it at most twice a batch: when a line lands in an empty buffer (so it
//! starts counting `flush`) and when the buffer fills. An idle host makes no system
//! call for its access log at all.
//!
//! Nothing is dropped. If the disk falls behind so far that [`HARD_LIMIT_FACTOR`]
//! times `buffer` is waiting, loggers wait for the writer (as nginx's workers wait for
//! their own `write`), and a failed write is reported on the main log with what it
//! lost. After [`Writer::close`] the remaining lines are written, and a line logged
//! later still is written at once by its logger.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use slog::{Logger, warn};

/// Loggers wait once this many times `buffer` bytes wait to be written.
pub const HARD_LIMIT_FACTOR: usize = 8;
/// ...but never below this: a small `buffer` must not stall handlers on one slow write.
const MIN_HARD_LIMIT: usize = 1 << 20;

/// Open `path` for appending, creating it (mode 0640) if needed.
pub fn open_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

#[derive(Debug, Default)]
struct State {
    lines: Vec<u8>,
    /// When the first line now waiting arrived.
    since: Option<Instant>,
    reopen: bool,
    closing: bool,
    /// The writer thread is gone: a logger writes its own line.
    closed: bool,
    /// Loggers waiting for room.
    waiting: usize,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// The writer sleeps on this.
    wake: Condvar,
    /// Loggers wait on this at the hard limit.
    room: Condvar,
    /// The file, locked only while writing to it or replacing it.
    file: Mutex<File>,
    path: PathBuf,
    buffer: usize,
    flush: Duration,
    /// The main log, for what goes wrong.
    log: Logger,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Write a batch of whole lines; a failure is reported with what it lost.
    fn write(&self, batch: &[u8]) {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = file.write_all(batch) {
            let lines = batch.iter().filter(|b| **b == b'\n').count();
            warn!(self.log, "access log: write failed, lines lost";
                "path" => %self.path.display(), "lines" => lines, "error" => %e);
        }
    }

    /// A new file at the path (logrotate moved the old one). On failure the old one
    /// is kept: lines written to a moved file beat lines lost.
    fn reopen(&self) {
        match open_file(&self.path) {
            Ok(f) => *self.file.lock().unwrap_or_else(|e| e.into_inner()) = f,
            Err(e) => warn!(self.log, "access log: cannot reopen, still writing to the old file";
                "path" => %self.path.display(), "error" => %e),
        }
    }
}

/// The buffer and its writer thread, for one open access log.
#[derive(Debug)]
pub struct Writer {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    hard_limit: usize,
}

impl Writer {
    /// Start writing to `file` (open at `path`) in batches of `buffer` bytes or every
    /// `flush`; `log` hears about failures.
    pub fn start(
        file: File,
        path: PathBuf,
        buffer: usize,
        flush: Duration,
        log: Logger,
    ) -> io::Result<Writer> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            room: Condvar::new(),
            file: Mutex::new(file),
            path,
            buffer: buffer.max(1),
            flush,
            log,
        });
        let runs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || run(&runs))?;
        Ok(Writer {
            hard_limit: (buffer * HARD_LIMIT_FACTOR).max(MIN_HARD_LIMIT),
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Add whole lines (each ending in `\n`).
    pub fn append(&self, lines: &[u8]) {
        let shared = &self.shared;
        let mut st = shared.state();
        while st.lines.len() >= self.hard_limit && !st.closed {
            st.waiting += 1;
            st = shared.room.wait(st).unwrap_or_else(|e| e.into_inner());
            st.waiting -= 1;
        }
        if st.closed {
            drop(st);
            return shared.write(lines);
        }
        let was_empty = st.lines.is_empty();
        let was_below = st.lines.len() < shared.buffer;
        st.lines.extend_from_slice(lines);
        if was_empty {
            st.since = Some(Instant::now());
        }
        let filled = was_below && st.lines.len() >= shared.buffer;
        drop(st);
        // Only these two change what the writer waits for (a notify is a system call).
        if was_empty || filled {
            shared.wake.notify_one();
        }
    }

    /// Write what waits, then start a new file at the path (SIGUSR1, after logrotate).
    pub fn reopen(&self) {
        self.shared.state().reopen = true;
        self.shared.wake.notify_one();
    }

    /// Write everything and stop the thread; later lines are written by their loggers.
    pub fn close(&self) {
        self.shared.state().closing = true;
        self.shared.wake.notify_one();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.close();
    }
}

/// The writer thread.
fn run(shared: &Shared) {
    let mut batch = Vec::new();
    loop {
        let mut st = shared.state();
        while !(st.closing || st.reopen || st.lines.len() >= shared.buffer) {
            st = match st.since {
                None => shared.wake.wait(st).unwrap_or_else(|e| e.into_inner()),
                Some(first) => {
                    let due = first + shared.flush;
                    let now = Instant::now();
                    if now >= due {
                        break;
                    }
                    shared
                        .wake
                        .wait_timeout(st, due - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
        std::mem::swap(&mut st.lines, &mut batch);
        st.since = None;
        let reopen = std::mem::take(&mut st.reopen);
        let closing = st.closing;
        let waiting = st.waiting > 0;
        drop(st);
        if waiting {
            shared.room.notify_all();
        }
        if !batch.is_empty() {
            shared.write(&batch);
            batch.clear();
        }
        if reopen {
            shared.reopen();
        }
        if closing {
            // Lines that came during the last write, then loggers write their own.
            let mut st = shared.state();
            st.closed = true;
            let rest = std::mem::take(&mut st.lines);
            let waiting = st.waiting > 0;
            drop(st);
            if waiting {
                shared.room.notify_all();
            }
            if !rest.is_empty() {
                shared.write(&rest);
            }
            return;
        }
    }
}
