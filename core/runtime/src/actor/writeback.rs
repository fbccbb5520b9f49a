//! Early writeback while a connection receives into a file.
//!
//! Why: an upload is fsynced before it is renamed into place, and that fsync waits for
//! every dirty page of the file. Left alone, the kernel starts writing a large upload
//! back only when its dirty thresholds are crossed, so the fsync at the end may wait for
//! hundreds of megabytes — time during which the network sits idle. Asking for
//! writeback (`sync_file_range(SYNC_FILE_RANGE_WRITE)`) every few megabytes makes the
//! disk work while bytes still arrive; the final fsync then waits for the tail only.
//! `SYNC_FILE_RANGE_WRITE` only starts I/O, but it may still block on a congested
//! device queue, so it runs on the blocking pool, at most one at a time per file.

use std::cell::Cell;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::Arc;

/// Bytes received between two writeback requests.
pub const WRITEBACK_EVERY: u64 = 8 * 1024 * 1024;

/// Writeback state of one receive.
#[derive(Debug)]
pub struct Writeback {
    file: Arc<File>,
    unflushed: u64,
    in_flight: Rc<Cell<bool>>,
}

impl Writeback {
    /// Track `file` (a duplicate descriptor of the receive's temp file).
    pub fn new(file: File) -> Writeback {
        Writeback {
            file: Arc::new(file),
            unflushed: 0,
            in_flight: Rc::new(Cell::new(false)),
        }
    }

    /// `n` more bytes were written: start writeback of everything dirty once enough
    /// has accumulated and no earlier request is still running.
    pub fn wrote(&mut self, n: u64) {
        self.unflushed += n;
        if self.unflushed < WRITEBACK_EVERY || self.in_flight.get() {
            return;
        }
        self.unflushed = 0;
        self.in_flight.set(true);
        let file = Arc::clone(&self.file);
        let in_flight = Rc::clone(&self.in_flight);
        let job = tokio::task::spawn_blocking(move || start_writeback(&file));
        // Runs on the actor's thread (a local task): clears the flag when done.
        tokio::task::spawn_local(async move {
            let _ = job.await;
            in_flight.set(false);
        });
    }
}

/// Start writing back every dirty page of `file` (offset 0, length 0 = to the end);
/// pages already under writeback are skipped. Errors are not interesting here: the
/// fsync at commit reports what matters.
pub fn start_writeback(file: &File) -> bool {
    // SAFETY: a plain syscall on a descriptor we own; no memory is passed.
    unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn writeback_of_a_written_file_is_accepted_by_the_kernel() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = File::create(dir.path().join("f")).unwrap();
        f.write_all(&vec![1u8; 1 << 20]).unwrap();
        assert!(start_writeback(&f));
        // Nothing dirty is left to start after a full sync, and that is fine too.
        f.sync_all().unwrap();
        assert!(start_writeback(&f));
    }
}
