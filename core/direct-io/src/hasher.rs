//! The hasher thread: the sha256 of the whole file (the bytes already in it, then each
//! received buffer in order), off the receiving thread.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;

use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::buf::Filled;

/// Hash `chunk[from..to]`.
pub(crate) struct HashJob {
    pub(crate) chunk: Arc<Filled>,
    pub(crate) from: usize,
    pub(crate) to: usize,
}

/// Where the hasher thread's digest (or why it has none) arrives.
pub(crate) type Hashed = oneshot::Receiver<io::Result<[u8; 32]>>;

/// Start the hasher thread for a stream appended at `before` bytes of `temp`.
/// Returns its job queue and its digest; setting `cancel` stops it early.
pub(crate) fn spawn(
    temp: &File,
    before: u64,
    cancel: &Arc<AtomicBool>,
) -> io::Result<(mpsc::Sender<HashJob>, Hashed)> {
    let (tx, jobs) = mpsc::channel();
    let (done_tx, done) = oneshot::channel();
    let file = temp.try_clone()?;
    let cancelled = Arc::clone(cancel);
    thread::Builder::new()
        .name("sy-direct-hash".into())
        .spawn(move || {
            let _ = done_tx.send(hash_jobs(&file, before, jobs, &cancelled));
        })?;
    Ok((tx, done))
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
