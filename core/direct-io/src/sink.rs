//! The caller's side of a stream: the buffer the socket reads into, handing full
//! buffers to the workers, and closing the stream when it completes or is abandoned.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::Waker;
use std::thread;

use tokio::sync::oneshot;

use crate::buf::{AlignedBuf, Filled, Pool, lock};
use crate::hasher::{self, HashJob};
use crate::limits::{ALIGN, BUF_SIZE, DIRECT_MIN, MAX_ACTIVE, RESERVE_AHEAD};
use crate::outcome::{self, Closed, Failed, Finished};
use crate::writer::{
    WriteJob, Writer, WriterDone, active_streams, release_past_end, reopen, reserve,
};

/// One stream into a file; lives on the receiving thread.
pub struct DirectSink {
    pool: Arc<Pool>,
    /// The buffer being filled, its fill level, and where hashing starts in it (after
    /// the pre-filled bytes of the first block).
    cur: Option<AlignedBuf>,
    fill: usize,
    hash_from: usize,
    /// File offset of `cur[0]`.
    cur_offset: u64,
    /// The temp's size when the receive started.
    start: u64,
    /// Bytes still wanted from the socket, and taken so far.
    wanted: u64,
    received: u64,
    writer: Option<mpsc::Sender<WriteJob>>,
    hasher: Option<mpsc::Sender<HashJob>>,
    /// The first write error, set by the writer thread.
    error: Arc<Mutex<Option<io::Error>>>,
    /// The exact final size, set when the stream is complete ([`finish`](Self::finish));
    /// `u64::MAX` until then. After its last write the writer cuts the file to it, or
    /// (stream abandoned, write failed) to what it wrote.
    end_size: Arc<AtomicU64>,
    /// The writer is done: the file's length then.
    written: oneshot::Receiver<u64>,
    /// The same, for a thread that must wait for it without a runtime.
    done: WriterDone,
    /// Stops the hasher of an abandoned stream (it may be reading a large kept part).
    cancel: Arc<AtomicBool>,
    /// The writer uses `O_DIRECT` (else the page cache).
    direct: bool,
    hashed: Option<oneshot::Receiver<io::Result<[u8; 32]>>>,
}

impl std::fmt::Debug for DirectSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectSink")
            .field("start", &self.start)
            .field("cur_offset", &self.cur_offset)
            .field("fill", &self.fill)
            .field("wanted", &self.wanted)
            .finish_non_exhaustive()
    }
}

impl DirectSink {
    /// Start receiving `len` bytes appended to `temp` (at its current size) with
    /// `O_DIRECT` writes, or page-cache writes where the file system refuses `O_DIRECT`
    /// (see [`is_direct`](Self::is_direct)). `Ok(None)`: not worth two threads (less
    /// than [`DIRECT_MIN`] to write *and* to hash: a small rest after a large kept part
    /// still takes the threads, so the kept part is not hashed on the caller's thread),
    /// [`MAX_ACTIVE`] streams already run, or the file cannot be reopened (no `/proc`);
    /// use a plain path.
    pub fn open_direct(temp: &File, len: u64, sha256: bool) -> io::Result<Option<DirectSink>> {
        let before = temp.metadata()?.len();
        let work = len.saturating_add(if sha256 { before } else { 0 });
        if work < DIRECT_MIN || active_streams() >= MAX_ACTIVE {
            return Ok(None);
        }
        let (writer, direct) = match reopen(temp, libc::O_DIRECT) {
            Ok(f) => (f, true),
            Err(_) => match reopen(temp, 0) {
                Ok(f) => (f, false),
                Err(_) => return Ok(None),
            },
        };
        let mut sink = Self::start(temp, writer, len, sha256)?;
        sink.direct = direct;
        Ok(Some(sink))
    }

    /// Whether the writes bypass the page cache (`O_DIRECT`).
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    /// As [`open_direct`](Self::open_direct), but never `None`: where `O_DIRECT` is not
    /// taken (or the stream is small), the same pipeline writes through the page cache.
    pub fn open(temp: &File, len: u64, sha256: bool) -> io::Result<DirectSink> {
        match Self::open_direct(temp, len, sha256)? {
            Some(sink) => Ok(sink),
            None => Self::start(temp, reopen(temp, 0)?, len, sha256),
        }
    }

    /// Set up the pipeline: `direct` is the writer's descriptor of `temp`.
    fn start(temp: &File, direct: File, len: u64, sha256: bool) -> io::Result<DirectSink> {
        let start = temp.metadata()?.len();
        let reserved = start + len.min(RESERVE_AHEAD);
        if let Err(e) = reserve(temp, start, reserved - start) {
            release_past_end(temp); // ext4 keeps what it got before ENOSPC
            return Err(e);
        }
        let sink = Self::spawn(temp, direct, start, len, reserved, sha256);
        if sink.is_err() {
            release_past_end(temp);
        }
        sink
    }

    fn spawn(
        temp: &File,
        direct: File,
        start: u64,
        len: u64,
        reserved: u64,
        sha256: bool,
    ) -> io::Result<DirectSink> {
        let pool = Arc::new(Pool::new());
        let head = (start % ALIGN as u64) as usize;
        let cur_offset = start - head as u64;
        let mut cur = pool.take(None, true).expect("forced");
        read_exact_at(temp, &mut cur.bytes_mut()[..head], cur_offset)?;

        // The hasher first: once the writer runs, an error here would race its cut.
        let cancel = Arc::new(AtomicBool::new(false));
        let (hasher, hashed) = if sha256 {
            let (tx, done) = hasher::spawn(temp, start, &cancel)?;
            (Some(tx), Some(done))
        } else {
            (None, None)
        };
        let error = Arc::new(Mutex::new(None));
        let done = WriterDone::default();
        let end_size = Arc::new(AtomicU64::new(u64::MAX));
        let writer_state = Writer {
            file: direct,
            error: Arc::clone(&error),
            end_size: Arc::clone(&end_size),
            reserved,
            reserve_to: start + len,
        };
        let (writer, written) = match writer_state.spawn(done.clone()) {
            Ok(spawned) => spawned,
            Err(e) => {
                cancel.store(true, Ordering::Relaxed);
                return Err(e);
            }
        };
        Ok(DirectSink {
            pool,
            cur: Some(cur),
            fill: head,
            hash_from: head,
            cur_offset,
            start,
            wanted: len,
            end_size,
            received: 0,
            writer: Some(writer),
            hasher,
            error,
            written,
            hashed,
            done,
            cancel,
            direct: false,
        })
    }

    /// Where the socket may read to next: at most the bytes still wanted. `None`: every
    /// buffer is in flight; `waker` is woken when one comes back.
    pub fn spare(&mut self, waker: &Waker) -> Option<&mut [u8]> {
        if self.cur.is_none() {
            self.cur = Some(self.pool.take(Some(waker), false)?);
        }
        let room = (BUF_SIZE - self.fill).min(usize::try_from(self.wanted).unwrap_or(usize::MAX));
        let from = self.fill;
        self.cur
            .as_mut()
            .map(|b| &mut b.bytes_mut()[from..from + room])
    }

    /// [`spare`](Self::spare) for a plain thread: parks until a buffer comes back.
    pub fn spare_blocking(&mut self) -> &mut [u8] {
        let waker = Waker::from(Arc::new(Unpark(thread::current())));
        while self.cur.is_none() {
            match self.pool.take(Some(&waker), false) {
                Some(b) => self.cur = Some(b),
                None => thread::park(), // woken by the pool, or spuriously: look again
            }
        }
        self.spare(&waker).expect("a buffer is held")
    }

    /// `n` bytes were read into [`spare`](Self::spare).
    pub fn filled(&mut self, n: usize) {
        self.fill += n;
        self.wanted -= n as u64;
        self.received += n as u64;
        if self.fill == BUF_SIZE {
            self.submit();
        }
    }

    /// Take `data` (bytes that came through the plain read path, e.g. read before the
    /// receive began). Allocates past the in-flight bound if it must: such bytes are
    /// already in memory.
    pub fn push(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let cur = match self.cur.as_mut() {
                Some(c) => c,
                None => self.cur.insert(self.pool.take(None, true).expect("forced")),
            };
            let n = (BUF_SIZE - self.fill).min(data.len());
            cur.bytes_mut()[self.fill..self.fill + n].copy_from_slice(&data[..n]);
            data = &data[n..];
            self.filled(n);
        }
    }

    /// A handle to wait, from a plain thread, until the writer is done (after
    /// [`abandon`](Self::abandon), [`finish`](Self::finish) or dropping the sink).
    pub fn writer_done(&self) -> WriterDone {
        self.done.clone()
    }

    /// The first write error so far, if any (the receive should stop).
    pub fn take_error(&self) -> Option<io::Error> {
        lock(&self.error).take()
    }

    /// The stream failed: stop. Writes already queued still land, in order, and then
    /// the writer cuts the file to what it wrote, which also frees the blocks reserved
    /// past it: the file is a correct prefix of the stream (a resumable upload may keep
    /// it). Resolves when the writer is done, so nothing changes the file after.
    /// (Dropping the sink does the same, unobserved.) Resolves to the bytes of the
    /// stream the file holds.
    pub fn abandon(self) -> impl Future<Output = u64> + 'static {
        let start = self.start;
        let (_, written, _, _) = self.close(false);
        async move { written.await.map_or(0, |len| len.saturating_sub(start)) }
    }

    /// Hand the current buffer to the workers.
    fn submit(&mut self) {
        let Some(mut buf) = self.cur.take() else {
            return;
        };
        let len = self.fill.next_multiple_of(ALIGN);
        // Stale bytes of an earlier use must not reach the disk past the data.
        buf.bytes_mut()[self.fill..len].fill(0);
        let chunk = Arc::new(Filled::new(buf, Arc::clone(&self.pool)));
        if let Some(h) = &self.hasher {
            let _ = h.send(HashJob {
                chunk: Arc::clone(&chunk),
                from: self.hash_from,
                to: self.fill,
            });
        }
        if let Some(w) = &self.writer {
            let _ = w.send(WriteJob {
                chunk,
                offset: self.cur_offset,
                len,
            });
        }
        self.cur_offset += BUF_SIZE as u64;
        self.fill = 0;
        self.hash_from = 0;
    }

    /// Everything was received: write the rest and wait for both workers; the writer
    /// cuts the file to its exact size ([`Finished::size`]) after its last write.
    /// On an error, the file holds only what was written (cut there); the error says
    /// how many bytes of the stream that is.
    pub fn finish(self) -> impl Future<Output = Result<Finished, Failed>> + 'static {
        let start = self.start;
        outcome::wait(start, self.close(true))
    }

    /// Close the job channels (the workers finish and report) and return the final
    /// size and the ends to wait on. `complete`: write the rest and have the file cut to
    /// its exact size; otherwise drop the rest and let the writer cut to what it wrote.
    fn close(mut self, complete: bool) -> Closed {
        let size = self.start + self.received;
        if complete {
            if self.fill > 0 {
                self.submit();
            }
            self.end_size.store(size, Ordering::SeqCst);
        } else {
            self.cancel.store(true, Ordering::Relaxed);
        }
        let DirectSink {
            writer,
            hasher,
            error,
            written,
            hashed,
            ..
        } = self;
        drop((writer, hasher));
        (size, written, hashed, error)
    }

    /// [`finish`](Self::finish) for a plain thread (outside any async runtime).
    pub fn finish_blocking(self) -> io::Result<Finished> {
        outcome::wait_blocking(self.close(true))
    }
}

/// Wakes a parked thread (for [`DirectSink::spare_blocking`]).
struct Unpark(thread::Thread);

impl std::task::Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Fill `buf` from `file` at `offset` (used for the few pre-filled bytes).
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    file.read_exact_at(buf, offset)
}
