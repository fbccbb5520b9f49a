//! Receiving a large stream straight to disk: `O_DIRECT` writes and the sha256 on two
//! worker threads, the socket read straight into the buffers they take.
//!
//! Used by the host runtime (large `recv_to_file`, e.g. bulk and files uploads) and by
//! the bulk client (downloads): both receive big files from a TCP socket, hash them and
//! store them, and both ran into the same cost.
//!
//! Why: on these VMs, copying a received byte into the page cache costs more than
//! receiving and hashing it together. perf of a 1 GiB upload through a plain path
//! (`read`, `write`, hash, all on one thread): 54% of the thread in the page-cache copy
//! (`copy_folio_from_iter_atomic`), 23% in sha256, 6% in the socket copy — one core
//! fully busy and the upload slower than `nc` writing to a file. With `O_DIRECT` the
//! disk takes the bytes from our buffer by DMA: no page-cache copy, no dirty pages for a
//! later fsync to wait for, and the receiving thread only receives.
//!
//! # How
//! - The caller reads the socket into 1 MiB buffers aligned to 4 KiB ([`DirectSink::spare`],
//!   then [`DirectSink::filled`]); `O_DIRECT` wants memory, file offset and length
//!   aligned. A full buffer goes to the writer thread and to the hasher thread at once
//!   and returns to the pool when both are done with it.
//! - At most [`MAX_BUFS`] buffers are in flight: when the disk falls behind, `spare`
//!   has no buffer and the caller waits (woken by the pool), so memory stays flat
//!   however large the stream.
//! - The stream is appended at the file's current size, which is rarely aligned (a
//!   header chunk's body bytes written first, a resumed upload's kept part). The first
//!   buffer starts at that size rounded down and is pre-filled with the file's bytes of
//!   that block, which are rewritten unchanged. The last buffer is written rounded up
//!   with zeros; the caller cuts the file to [`Finished::size`] afterwards. The hasher
//!   covers the whole file: it reads what was there before (from the page cache) and
//!   then hashes only received bytes.
//! - The writes go through a second open file description (`/proc/self/fd/N` opened
//!   with `O_DIRECT`), so the caller's descriptor keeps its flags.
//! - The stream's blocks are allocated before it starts (`fallocate`), so a full disk
//!   refuses it at once rather than after the writers raced other writers for space.
//!
//! [`DirectSink::open_direct`] returns `None` where `O_DIRECT` is refused (then the
//! caller keeps its plain path) or for streams below [`DIRECT_MIN`], for which two
//! threads are not worth starting; [`DirectSink::open`] falls back to the same
//! pipeline with ordinary (page-cache) writes instead.
//!
//! # Layout
//! One file: the aligned buffers and their pool, the sink (caller side), and the two
//! worker loops at the end.

use std::alloc::{self, Layout};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::Waker;
use std::thread;

use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

/// Bytes per buffer (one write, one hash step).
pub const BUF_SIZE: usize = 1024 * 1024;
/// `O_DIRECT` alignment of memory, offsets and lengths (a page: enough for every
/// logical block size in use).
const ALIGN: usize = 4096;
/// Buffers in flight per receive: the memory bound, and how far the disk may lag.
pub const MAX_BUFS: usize = 4;
/// Smallest receive that goes direct.
pub const DIRECT_MIN: u64 = 8 * 1024 * 1024;
/// How far ahead of the writes disk blocks are reserved. Bounded, so a client that
/// announces 16 GiB and sends nothing pins 64 MiB, not 16 GiB.
const RESERVE_AHEAD: u64 = 64 * 1024 * 1024;
/// Most direct streams at once in this process (each has two threads and up to
/// [`MAX_BUFS`] buffers); beyond it [`DirectSink::open_direct`] says `None`.
pub const MAX_ACTIVE: usize = 64;

/// Direct streams whose writer thread is running.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// [`BUF_SIZE`] bytes aligned to [`ALIGN`], zeroed once when allocated.
struct AlignedBuf(NonNull<u8>);

// SAFETY: the buffer is plain memory owned by this value; it moves between threads
// whole, and shared (`&`) access only reads it.
unsafe impl Send for AlignedBuf {}
// SAFETY: as above: `&AlignedBuf` gives read-only access.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    fn layout() -> Layout {
        Layout::from_size_align(BUF_SIZE, ALIGN).expect("constant layout")
    }

    fn new() -> AlignedBuf {
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc::alloc_zeroed(Self::layout()) };
        AlignedBuf(NonNull::new(ptr).unwrap_or_else(|| alloc::handle_alloc_error(Self::layout())))
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: BUF_SIZE initialized (zeroed at allocation) bytes owned by self.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr(), BUF_SIZE) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_ptr(), BUF_SIZE) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with the same layout.
        unsafe { alloc::dealloc(self.0.as_ptr(), Self::layout()) }
    }
}

/// The buffers of one receive, shared with its worker threads.
struct Pool {
    free: Mutex<Vec<AlignedBuf>>,
    /// The read stream waiting for a free buffer.
    waiter: Mutex<Option<Waker>>,
    allocated: AtomicUsize,
}

impl Pool {
    /// A free buffer, or a new one while fewer than [`MAX_BUFS`] exist (or `force`).
    /// `None`: all are in flight; `waiter` (if given) is woken when one comes back.
    fn take(&self, waiter: Option<&Waker>, force: bool) -> Option<AlignedBuf> {
        if let Some(b) = lock(&self.free).pop() {
            return Some(b);
        }
        if force || self.allocated.load(Ordering::Relaxed) < MAX_BUFS {
            self.allocated.fetch_add(1, Ordering::Relaxed);
            return Some(AlignedBuf::new());
        }
        if let Some(w) = waiter {
            *lock(&self.waiter) = Some(w.clone());
        }
        // A buffer may have come back between the first look and registering.
        lock(&self.free).pop()
    }

    fn give_back(&self, buf: AlignedBuf) {
        lock(&self.free).push(buf);
        if let Some(w) = lock(&self.waiter).take() {
            w.wake();
        }
    }
}

/// A lock whose holder cannot panic mid-update (pushes and pops only): poisoning
/// carries no meaning here.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A filled buffer on its way to the writer and the hasher; back to the pool when the
/// last of them drops it.
struct Filled {
    buf: Option<AlignedBuf>,
    pool: Arc<Pool>,
}

impl Drop for Filled {
    fn drop(&mut self) {
        if let Some(b) = self.buf.take() {
            self.pool.give_back(b);
        }
    }
}

impl Filled {
    fn bytes(&self) -> &[u8] {
        self.buf.as_ref().map_or(&[], AlignedBuf::bytes)
    }
}

/// Write `len` bytes of `chunk` at `offset`.
struct WriteJob {
    chunk: Arc<Filled>,
    offset: u64,
    len: usize,
}

/// Hash `chunk[from..to]`.
struct HashJob {
    chunk: Arc<Filled>,
    from: usize,
    to: usize,
}

/// What [`DirectSink::close`] leaves to wait on: the final size, the writer's and the
/// hasher's completion, and the first write error.
type Closed = (
    u64,
    oneshot::Receiver<u64>,
    Option<oneshot::Receiver<io::Result<[u8; 32]>>>,
    Arc<Mutex<Option<io::Error>>>,
);

/// How a direct receive ended on the disk side.
#[derive(Debug)]
pub struct Finished {
    /// The file's exact size (the last write was rounded up; the writer has cut the
    /// file back to this).
    pub size: u64,
    /// The sha256 of the whole file, when it was asked for.
    pub digest: Option<[u8; 32]>,
}

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
        if work < DIRECT_MIN || ACTIVE.load(Ordering::Relaxed) >= MAX_ACTIVE {
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
        let pool = Arc::new(Pool {
            free: Mutex::new(Vec::new()),
            waiter: Mutex::new(None),
            allocated: AtomicUsize::new(0),
        });
        let head = (start % ALIGN as u64) as usize;
        let cur_offset = start - head as u64;
        let mut cur = pool.take(None, true).expect("forced");
        read_exact_at(temp, &mut cur.bytes_mut()[..head], cur_offset)?;

        // The hasher first: once the writer runs, an error here would race its cut.
        let cancel = Arc::new(AtomicBool::new(false));
        let (hasher, hashed) = if sha256 {
            let (tx, jobs) = mpsc::channel();
            let (done_tx, done) = oneshot::channel();
            let before = temp.try_clone()?;
            let cancelled = Arc::clone(&cancel);
            thread::Builder::new()
                .name("sy-direct-hash".into())
                .spawn(move || {
                    let _ = done_tx.send(hash_jobs(&before, start, jobs, &cancelled));
                })?;
            (Some(tx), Some(done))
        } else {
            (None, None)
        };
        let error = Arc::new(Mutex::new(None));
        let (writer, jobs) = mpsc::channel();
        let (written_tx, written) = oneshot::channel();
        let done = WriterDone::default();
        let end_size = Arc::new(AtomicU64::new(u64::MAX));
        let writer_state = Writer {
            file: direct,
            error: Arc::clone(&error),
            end_size: Arc::clone(&end_size),
            reserved,
            reserve_to: start + len,
        };
        let signal = done.clone();
        ACTIVE.fetch_add(1, Ordering::Relaxed);
        let spawned = thread::Builder::new()
            .name("sy-direct-write".into())
            .spawn(move || {
                let len = writer_state.run(jobs);
                ACTIVE.fetch_sub(1, Ordering::Relaxed);
                signal.set(len);
                let _ = written_tx.send(len);
            });
        if let Err(e) = spawned {
            ACTIVE.fetch_sub(1, Ordering::Relaxed);
            cancel.store(true, Ordering::Relaxed);
            return Err(e);
        }
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
        let chunk = Arc::new(Filled {
            buf: Some(buf),
            pool: Arc::clone(&self.pool),
        });
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
        let (size, written, hashed, error) = self.close(true);
        async move {
            let Ok(len) = written.await else {
                return Err(Failed::new(0, io::Error::other("the writer thread died")));
            };
            if let Some(e) = lock(&error).take() {
                return Err(Failed::new(len.saturating_sub(start), e));
            }
            let digest = match hashed {
                Some(h) => match h.await {
                    Ok(Ok(d)) => Some(d),
                    Ok(Err(e)) => return Err(Failed::new(size - start, e)),
                    Err(_) => {
                        let e = io::Error::other("the hasher thread died");
                        return Err(Failed::new(size - start, e));
                    }
                },
                None => None,
            };
            Ok(Finished { size, digest })
        }
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
        let (size, written, hashed, error) = self.close(true);
        if written.blocking_recv().is_err() {
            return Err(io::Error::other("the writer thread died"));
        }
        if let Some(e) = lock(&error).take() {
            return Err(e);
        }
        let digest = match hashed {
            Some(h) => Some(
                h.blocking_recv()
                    .map_err(|_| io::Error::other("the hasher thread died"))??,
            ),
            None => None,
        };
        Ok(Finished { size, digest })
    }
}

/// A stream that did not complete: how many of its bytes the file holds (it was cut
/// there), and why.
#[derive(Debug)]
pub struct Failed {
    pub kept: u64,
    pub error: io::Error,
}

impl Failed {
    fn new(kept: u64, error: io::Error) -> Failed {
        Failed { kept, error }
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

/// Wakes a parked thread (for [`DirectSink::spare_blocking`]).
struct Unpark(thread::Thread);

impl std::task::Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// A second, write-only open file description of `file`, with `flags` added.
fn reopen(file: &File, flags: libc::c_int) -> io::Result<File> {
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
fn reserve(file: &File, start: u64, len: u64) -> io::Result<()> {
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
fn release_past_end(file: &File) {
    if let Ok(m) = file.metadata() {
        let _ = file.set_len(m.len() + 1);
        let _ = file.set_len(m.len());
    }
}

/// Fill `buf` from `file` at `offset` (used for the few pre-filled bytes).
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    file.read_exact_at(buf, offset)
}

/// The writer thread's state: its descriptor, the reservation, and how it ends.
struct Writer {
    file: File,
    error: Arc<Mutex<Option<io::Error>>>,
    end_size: Arc<AtomicU64>,
    /// Blocks are reserved up to here, and are to be up to `reserve_to`.
    reserved: u64,
    reserve_to: u64,
}

impl Writer {
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

/// The hasher thread: the `before` bytes already in the file, then each job in order.
fn hash_jobs(
    file: &File,
    before: u64,
    jobs: mpsc::Receiver<HashJob>,
    cancelled: &AtomicBool,
) -> io::Result<[u8; 32]> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut at = 0u64;
    while at < before {
        if cancelled.load(Ordering::Relaxed) {
            return Err(io::Error::other("cancelled"));
        }
        let want = buf.len().min((before - at) as usize);
        let n = file.read_at(&mut buf[..want], at)?;
        if n == 0 {
            return Err(io::Error::other("the temp file shrank while hashing it"));
        }
        h.update(&buf[..n]);
        at += n as u64;
    }
    for job in jobs {
        if cancelled.load(Ordering::Relaxed) {
            return Err(io::Error::other("cancelled"));
        }
        h.update(&job.chunk.bytes()[job.from..job.to]);
    }
    Ok(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::task::Wake;

    /// A waker that remembers it was woken.
    struct Flag(AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 12) as u8)
            .collect()
    }

    /// A new read-write file in a fresh directory, holding `before`.
    fn file_holding(before: &[u8]) -> (tempfile::TempDir, std::path::PathBuf, File) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("temp");
        let mut f = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        f.write_all(before).unwrap();
        (dir, path, f)
    }

    /// Receive `body` after `before` bytes already in a temp, half through `push` and
    /// half through `spare`/`filled`, as the actor and the read stream do.
    fn receive(before: &[u8], body: &[u8], sha256: bool) -> (Vec<u8>, Finished) {
        let (_dir, path, temp) = file_holding(before);
        let mut d = DirectSink::open_direct(&temp, body.len() as u64, sha256)
            .unwrap()
            .expect("this file system takes O_DIRECT");
        let waker = Arc::new(Flag(AtomicBool::new(false))).into();
        let mut at = 0;
        let mut turn = 0;
        while at < body.len() {
            turn += 1;
            if turn % 2 == 0 {
                let n = (body.len() - at).min(777 + turn * 5000);
                d.push(&body[at..at + n]);
                at += n;
            } else {
                let spare = d.spare(&waker).expect("the workers give buffers back");
                let n = spare.len().min(300_000);
                spare[..n].copy_from_slice(&body[at..at + n]);
                d.filled(n);
                at += n;
            }
        }
        assert!(
            d.spare(&waker).is_none_or(|s| s.is_empty()),
            "nothing more is wanted"
        );
        let done = block_on(d.finish()).unwrap();
        assert_eq!(
            temp.metadata().unwrap().len(),
            done.size,
            "cut to its exact size"
        );
        (std::fs::read(&path).unwrap(), done)
    }

    #[test]
    fn an_unaligned_start_keeps_the_bytes_before_and_the_digest_covers_the_whole_file() {
        let before = pattern(1000, 7);
        let body = pattern(DIRECT_MIN as usize + 3 * BUF_SIZE + 123, 99);
        let (got, done) = receive(&before, &body, true);
        let whole = [before.as_slice(), body.as_slice()].concat();
        assert_eq!(done.size, whole.len() as u64);
        assert!(got == whole, "the file differs from what was sent");
        assert_eq!(done.digest, Some(Sha256::digest(&whole).into()));
    }

    #[test]
    fn an_aligned_start_without_a_digest_writes_exactly_the_body() {
        let before = pattern(2 * ALIGN, 3);
        let body = pattern(DIRECT_MIN as usize + BUF_SIZE, 5);
        let (got, done) = receive(&before, &body, false);
        assert_eq!(done.digest, None);
        assert!(
            got == [before, body].concat(),
            "the file differs from what was sent"
        );
    }

    #[test]
    fn an_abandoned_receive_leaves_a_correct_prefix_and_gives_its_reservation_back() {
        use std::os::unix::fs::MetadataExt;
        let before = pattern(1000, 1);
        let (_dir, path, temp) = file_holding(&before);
        let len = 256 * BUF_SIZE;
        let d = DirectSink::open_direct(&temp, len as u64, true)
            .unwrap()
            .unwrap();
        let reserved = temp.metadata().unwrap().blocks() * 512;
        assert!(
            (RESERVE_AHEAD..len as u64 / 2).contains(&reserved),
            "a window is reserved, not the whole length: {reserved}"
        );
        let body = pattern(3 * BUF_SIZE, 2);
        let mut d = d;
        d.push(&body);
        let kept = block_on(d.abandon());
        assert_eq!(
            kept,
            3 * BUF_SIZE as u64 - 1000,
            "bytes of the stream in the file"
        );
        // The three full buffers landed, in order; the last 1000 bytes were dropped,
        // and the file was cut to what was written, giving the reservation back.
        let whole = [before.as_slice(), body.as_slice()].concat();
        assert_eq!(temp.metadata().unwrap().len(), 3 * BUF_SIZE as u64);
        let kept = temp.metadata().unwrap().blocks() * 512;
        assert!(kept <= 4 * BUF_SIZE as u64, "reserved blocks kept: {kept}");
        let got = std::fs::read(&path).unwrap();
        assert!(
            got == whole[..3 * BUF_SIZE],
            "the file is not a prefix of the upload"
        );
    }

    #[test]
    fn a_small_stream_through_open_uses_page_cache_writes_and_the_blocking_calls() {
        let before = pattern(333, 4);
        let (_dir, path, part) = file_holding(&before);
        let body = pattern(2 * BUF_SIZE + 77, 8);
        assert!(
            DirectSink::open_direct(&part, body.len() as u64, true)
                .unwrap()
                .is_none()
        );
        let mut sink = DirectSink::open(&part, body.len() as u64, true).unwrap();
        let mut at = 0;
        while at < body.len() {
            let spare = sink.spare_blocking();
            let n = spare.len().min(body.len() - at).min(100_000);
            spare[..n].copy_from_slice(&body[at..at + n]);
            sink.filled(n);
            at += n;
        }
        let done = sink.finish_blocking().unwrap();
        assert_eq!(part.metadata().unwrap().len(), done.size);
        let whole = [before, body].concat();
        assert!(std::fs::read(&path).unwrap() == whole, "the file differs");
        assert_eq!(done.digest, Some(Sha256::digest(&whole).into()));
    }

    #[test]
    fn a_small_rest_after_a_large_kept_part_still_hashes_on_the_threads() {
        // Resuming near the end: the kept part is what costs (hashing it), not the rest.
        let before = pattern(DIRECT_MIN as usize + 5, 12);
        let body = pattern(1000, 13);
        let (got, done) = receive(&before, &body, true);
        let whole = [before, body].concat();
        assert!(got == whole, "the file differs from what was sent");
        assert_eq!(done.digest, Some(Sha256::digest(&whole).into()));
    }

    #[test]
    fn small_receives_take_the_plain_path() {
        let dir = tempfile::tempdir().unwrap();
        let f = File::create(dir.path().join("f")).unwrap();
        assert!(
            DirectSink::open_direct(&f, DIRECT_MIN - 1, true)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn the_pool_bounds_buffers_in_flight_and_wakes_the_reader_when_one_returns() {
        let pool = Pool {
            free: Mutex::new(Vec::new()),
            waiter: Mutex::new(None),
            allocated: AtomicUsize::new(0),
        };
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(Arc::clone(&flag));
        let taken: Vec<_> = (0..MAX_BUFS)
            .map(|_| pool.take(Some(&waker), false).unwrap())
            .collect();
        assert!(pool.take(Some(&waker), false).is_none());
        assert!(!flag.0.load(Ordering::SeqCst));
        let mut taken = taken.into_iter();
        pool.give_back(taken.next().unwrap());
        assert!(flag.0.load(Ordering::SeqCst), "the waiting reader is woken");
        assert!(pool.take(Some(&waker), false).is_some());
        assert!(
            pool.take(None, true).is_some(),
            "forced takes may exceed the bound"
        );
    }
}
