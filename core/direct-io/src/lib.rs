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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
    oneshot::Receiver<()>,
    Option<oneshot::Receiver<io::Result<[u8; 32]>>>,
    Arc<Mutex<Option<io::Error>>>,
);

/// How a direct receive ended on the disk side.
#[derive(Debug)]
pub struct Finished {
    /// The file's exact size: the last write was rounded up, so cut it here.
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
    /// Set by [`abandon`](Self::abandon): the writer gives back the reserved blocks
    /// past its last write once it is done.
    release: Arc<AtomicBool>,
    written: oneshot::Receiver<()>,
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
    /// `O_DIRECT` writes. `Ok(None)`: the stream is too small, or the file system refuses
    /// `O_DIRECT`; use a plain path.
    pub fn open_direct(temp: &File, len: u64, sha256: bool) -> io::Result<Option<DirectSink>> {
        if len < DIRECT_MIN {
            return Ok(None);
        }
        match reopen(temp, libc::O_DIRECT) {
            Ok(direct) => Self::start(temp, direct, len, sha256).map(Some),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// As [`open_direct`](Self::open_direct), but never `None`: where `O_DIRECT` is not
    /// taken (or the stream is small), the same pipeline writes through the page cache.
    pub fn open(temp: &File, len: u64, sha256: bool) -> io::Result<DirectSink> {
        match Self::open_direct(temp, len, sha256)? {
            Some(sink) => Ok(sink),
            None => Self::start(temp, reopen(temp, 0)?, len, sha256),
        }
    }

    /// Set up the pipeline: `out` is the writers' descriptor of `temp`.
    fn start(temp: &File, direct: File, len: u64, sha256: bool) -> io::Result<DirectSink> {
        let start = temp.metadata()?.len();
        reserve(temp, start, len)?;
        let pool = Arc::new(Pool {
            free: Mutex::new(Vec::new()),
            waiter: Mutex::new(None),
            allocated: AtomicUsize::new(0),
        });
        let head = (start % ALIGN as u64) as usize;
        let cur_offset = start - head as u64;
        let mut cur = pool.take(None, true).expect("forced");
        read_exact_at(temp, &mut cur.bytes_mut()[..head], cur_offset)?;

        let error = Arc::new(Mutex::new(None));
        let (writer, jobs) = mpsc::channel();
        let (written_tx, written) = oneshot::channel();
        let err = Arc::clone(&error);
        let release = Arc::new(AtomicBool::new(false));
        let give_back = Arc::clone(&release);
        thread::Builder::new()
            .name("sy-direct-write".into())
            .spawn(move || {
                write_jobs(&direct, jobs, &err);
                // Abandoned, or failed (then the receive fails and nobody cuts the file).
                if give_back.load(Ordering::SeqCst) || lock(&err).is_some() {
                    release_past_end(&direct);
                }
                let _ = written_tx.send(());
            })?;
        let (hasher, hashed) = if sha256 {
            let (tx, jobs) = mpsc::channel();
            let (done_tx, done) = oneshot::channel();
            let before = temp.try_clone()?;
            thread::Builder::new()
                .name("sy-direct-hash".into())
                .spawn(move || {
                    let _ = done_tx.send(hash_jobs(&before, start, jobs));
                })?;
            (Some(tx), Some(done))
        } else {
            (None, None)
        };
        Ok(DirectSink {
            pool,
            cur: Some(cur),
            fill: head,
            hash_from: head,
            cur_offset,
            start,
            wanted: len,
            release,
            received: 0,
            writer: Some(writer),
            hasher,
            error,
            written,
            hashed,
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

    /// The first write error so far, if any (the receive should stop).
    pub fn take_error(&self) -> Option<io::Error> {
        lock(&self.error).take()
    }

    /// The receive failed: stop, and free the blocks reserved past what was handed
    /// to the writer (a resumable upload keeps its temp as a partial, and must not keep
    /// the reservation for the whole length with it). Writes already queued still
    /// land, in order, so the file stays a correct prefix of the upload.
    pub fn abandon(self) {
        self.release.store(true, Ordering::SeqCst);
        // Dropping the job channels ends the writer, which then releases.
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

    /// Everything was received: write the rest and wait for both workers. The caller
    /// then cuts the file to [`Finished::size`].
    pub fn finish(self) -> impl Future<Output = io::Result<Finished>> + 'static {
        let (size, written, hashed, error) = self.close();
        async move {
            let _ = written.await;
            if let Some(e) = lock(&error).take() {
                return Err(e);
            }
            let digest = match hashed {
                Some(h) => Some(
                    h.await
                        .map_err(|_| io::Error::other("the hasher thread died"))??,
                ),
                None => None,
            };
            Ok(Finished { size, digest })
        }
    }

    /// Write the rest, close the job channels (the workers finish and report), and
    /// return the final size and the ends to wait on.
    fn close(mut self) -> Closed {
        if self.fill > 0 {
            self.submit();
        }
        let size = self.start + self.received;
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
        let (size, written, hashed, error) = self.close();
        let _ = written.blocking_recv();
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

/// Allocate the blocks of the whole receive up front (size unchanged): a disk too full
/// for it fails here, before a byte is stored, instead of mid-body — and writes that
/// finish on worker threads cannot race another upload for the last free blocks.
/// File systems without `fallocate` just go without.
fn reserve(file: &File, start: u64, len: u64) -> io::Result<()> {
    if len == 0 {
        return Ok(()); // fallocate refuses an empty range
    }
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::KEEP_SIZE, start, len) {
        Ok(()) | Err(rustix::io::Errno::OPNOTSUPP) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Free the blocks reserved past the end of `file`: cutting a file to its own size
/// drops them (ext4 truncates preallocated blocks then; a hole punched past the end
/// would be a no-op). Run by the writer after its last write, so no write races it.
/// Best effort: a failure keeps the blocks until the file is deleted.
fn release_past_end(file: &File) {
    if let Ok(m) = file.metadata() {
        let _ = file.set_len(m.len());
    }
}

/// Fill `buf` from `file` at `offset` (used for the few pre-filled bytes).
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    file.read_exact_at(buf, offset)
}

/// The writer thread: each job in order; after the first error, jobs are only
/// dropped (their buffers go back), the error waits in `error`.
fn write_jobs(file: &File, jobs: mpsc::Receiver<WriteJob>, error: &Mutex<Option<io::Error>>) {
    let mut failed = false;
    for job in jobs {
        if failed {
            continue;
        }
        if let Err(e) = file.write_all_at(&job.chunk.bytes()[..job.len], job.offset) {
            *lock(error) = Some(e);
            failed = true;
        }
    }
}

/// The hasher thread: the `before` bytes already in the file, then each job in order.
fn hash_jobs(file: &File, before: u64, jobs: mpsc::Receiver<HashJob>) -> io::Result<[u8; 32]> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut at = 0u64;
    while at < before {
        let want = buf.len().min((before - at) as usize);
        let n = file.read_at(&mut buf[..want], at)?;
        if n == 0 {
            return Err(io::Error::other("the temp file shrank while hashing it"));
        }
        h.update(&buf[..n]);
        at += n as u64;
    }
    for job in jobs {
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
        temp.set_len(done.size).unwrap();
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
        let len = 64 * BUF_SIZE;
        let d = DirectSink::open_direct(&temp, len as u64, true)
            .unwrap()
            .unwrap();
        let reserved = temp.metadata().unwrap().blocks() * 512;
        assert!(
            reserved >= len as u64,
            "the whole length is reserved: {reserved}"
        );
        let body = pattern(3 * BUF_SIZE, 2);
        let mut d = d;
        d.push(&body);
        d.abandon();
        // The three full buffers still land, in order; the last 1000 bytes do not.
        let whole = [before.as_slice(), body.as_slice()].concat();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while temp.metadata().unwrap().len() < 3 * BUF_SIZE as u64 {
            assert!(
                std::time::Instant::now() < deadline,
                "the queued writes never landed"
            );
            thread::sleep(std::time::Duration::from_millis(5));
        }
        while temp.metadata().unwrap().blocks() * 512 > 4 * BUF_SIZE as u64 {
            assert!(
                std::time::Instant::now() < deadline,
                "the reservation was never given back"
            );
            thread::sleep(std::time::Duration::from_millis(5));
        }
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
        part.set_len(done.size).unwrap();
        let whole = [before, body].concat();
        assert!(std::fs::read(&path).unwrap() == whole, "the file differs");
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
