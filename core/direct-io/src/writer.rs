//! The writer thread: each filled buffer written in order at its offset, disk blocks
//! reserved a bounded window ahead, and the file cut when the stream ends; with the
//! file calls the sink shares with it (reopening, reserving, giving blocks back).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;

use tokio::sync::oneshot;

use crate::buf::{Filled, lock};
use crate::limits::RESERVE_AHEAD;

/// Direct streams whose writer thread is running.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// How many streams' writer threads are running (bounded by
/// [`MAX_ACTIVE`](crate::MAX_ACTIVE)).
pub(crate) fn active_streams() -> usize {
    ACTIVE.load(Ordering::Relaxed)
}

/// Write `len` bytes of `chunk` at `offset`.
pub(crate) struct WriteJob {
    pub(crate) chunk: Arc<Filled>,
    pub(crate) offset: u64,
    pub(crate) len: usize,
}

/// The writer thread's state: its descriptor, the reservation, and how it ends.
pub(crate) struct Writer {
    pub(crate) file: File,
    /// The first write error, for the sink to report.
    pub(crate) error: Arc<Mutex<Option<io::Error>>>,
    /// The exact final size once the stream is complete; `u64::MAX` until then.
    pub(crate) end_size: Arc<AtomicU64>,
    /// Blocks are reserved up to here, and are to be up to `reserve_to`.
    pub(crate) reserved: u64,
    pub(crate) reserve_to: u64,
}

impl Writer {
    /// Start the writer thread (counted in [`active_streams`] while it runs). Returns
    /// its job queue and the file's length when it is done, also set on `done`.
    pub(crate) fn spawn(
        self,
        done: WriterDone,
    ) -> io::Result<(mpsc::Sender<WriteJob>, oneshot::Receiver<u64>)> {
        let (writer, jobs) = mpsc::channel();
        let (written_tx, written) = oneshot::channel();
        ACTIVE.fetch_add(1, Ordering::Relaxed);
        let spawned = thread::Builder::new()
            .name("sy-direct-write".into())
            .spawn(move || {
                let len = self.run(jobs);
                ACTIVE.fetch_sub(1, Ordering::Relaxed);
                done.set(len);
                let _ = written_tx.send(len);
            });
        if let Err(e) = spawned {
            ACTIVE.fetch_sub(1, Ordering::Relaxed);
            return Err(e);
        }
        Ok((writer, written))
    }

    /// Each job in order, keeping the reservation [`RESERVE_AHEAD`] ahead; after the
    /// first error jobs are only dropped (their buffers go back) and the error waits
    /// in `error`. Then cut the file: to its exact size when the stream completed, else
    /// to what was written (which frees what was reserved past it). Returns the file's
    /// length then.
    fn run(mut self, jobs: mpsc::Receiver<WriteJob>) -> u64 {
        let mut failed = false;
        for job in jobs {
            if failed {
                continue;
            }
            let end = job.offset + job.len as u64;
            if let Err(e) = self.reserve_ahead(end).and_then(|()| {
                self.file
                    .write_all_at(&job.chunk.bytes()[..job.len], job.offset)
            }) {
                *lock(&self.error) = Some(e);
                failed = true;
            }
        }
        match self.end_size.load(Ordering::SeqCst) {
            size if size != u64::MAX && !failed => {
                if let Err(e) = self.file.set_len(size) {
                    *lock(&self.error) = Some(e);
                }
            }
            _ => release_past_end(&self.file),
        }
        self.file.metadata().map_or(0, |m| m.len())
    }

    /// Extend the reservation once writes come within half a window of its end.
    fn reserve_ahead(&mut self, end: u64) -> io::Result<()> {
        if self.reserved >= self.reserve_to || end + RESERVE_AHEAD / 2 < self.reserved {
            return Ok(());
        }
        let to = (end + RESERVE_AHEAD).min(self.reserve_to);
        reserve(&self.file, self.reserved, to - self.reserved)?;
        self.reserved = to;
        Ok(())
    }
}

/// Set by the writer thread when it is done (with the file's length then): lets a
/// plain thread wait for it, e.g. before the file is renamed into place.
#[derive(Debug, Clone, Default)]
pub struct WriterDone(Arc<(Mutex<Option<u64>>, std::sync::Condvar)>);

impl WriterDone {
    fn set(&self, len: u64) {
        *lock(&self.0.0) = Some(len);
        self.0.1.notify_all();
    }

    /// Whether the writer is done.
    pub fn is_done(&self) -> bool {
        lock(&self.0.0).is_some()
    }

    /// Block until the writer is done (its queue is at most [`MAX_BUFS`] buffers plus
    /// what `push` forced); returns the file's length then.
    ///
    /// [`MAX_BUFS`]: crate::MAX_BUFS
    pub fn wait(&self) -> u64 {
        let mut len = lock(&self.0.0);
        loop {
            if let Some(n) = *len {
                return n;
            }
            len = self.0.1.wait(len).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// A second, write-only open file description of `file`, with `flags` added.
pub(crate) fn reopen(file: &File, flags: libc::c_int) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .custom_flags(flags | libc::O_CLOEXEC)
        .open(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// Allocate `len` blocks from `start` (size unchanged): a disk too full fails here,
/// before the bytes are written, and writes that finish on worker threads cannot race
/// other writers for the last free blocks. File systems without `fallocate` go without.
///
/// One reservation at a time in the process: two uploads reserving at once on
/// different threads (a handler's workers) could each take part of the last free
/// space, and some file systems (tmpfs) fail both and give the parts back; in turn,
/// the first gets its space and the second is refused, as on one thread.
pub(crate) fn reserve(file: &File, start: u64, len: u64) -> io::Result<()> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    if len == 0 {
        return Ok(()); // fallocate refuses an empty range
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::KEEP_SIZE, start, len) {
        Ok(()) | Err(rustix::io::Errno::OPNOTSUPP) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Free the blocks reserved past the end of `file`. A hole punched past the end is a
/// no-op on ext4, and a same-size truncate is skipped by some file systems; growing by
/// one byte and cutting back is a real truncate everywhere. Best effort: a failure
/// keeps the blocks until the file is deleted.
pub(crate) fn release_past_end(file: &File) {
    if let Ok(m) = file.metadata() {
        let _ = file.set_len(m.len() + 1);
        let _ = file.set_len(m.len());
    }
}
