//! How a stream ends: waiting for the writer and the hasher once the sink has closed
//! their queues, and what the caller is told ([`Finished`], or [`Failed`] with how
//! much of the stream the file still holds).

use std::io;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::buf::lock;

/// What `DirectSink::close` leaves to wait on: the final size, the writer's and the
/// hasher's completion, and the first write error.
pub(crate) type Closed = (
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

/// Wait for both workers of a completed stream that was appended at `start`: the
/// writer first (its error says how much of the stream it kept), then the digest.
pub(crate) fn wait(
    start: u64,
    closed: Closed,
) -> impl Future<Output = Result<Finished, Failed>> + 'static {
    let (size, written, hashed, error) = closed;
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

/// [`wait`] for a plain thread (outside any async runtime).
pub(crate) fn wait_blocking(closed: Closed) -> io::Result<Finished> {
    let (size, written, hashed, error) = closed;
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
