//! [`SpoolProgress`]: how far a spool file is filled, for the transfers that read it
//! while it is being spooled.
//!
//! Why: a cold read used to wait for the whole object before its first byte went out
//! (docs/decisions/object-store-spool.md). Now the open answers once the first range
//! is in, and every path that reads the spool file asks here first: bytes past the
//! filled prefix are a hole of the sparse file (zeros), never to be sent. The send
//! paths wait for the prefix to grow (`wait`), the synchronous calls answer
//! `SY_PENDING` (`ready`). A spool that fails (the object replaced, the store gone)
//! fails every transfer still reading it, at the point it reached: a transfer never
//! completes with bytes that were not fetched.

use std::sync::Arc;

use switchyard_object_storage::ObjectStorageError;
use tokio::sync::watch;

use super::status::status_of;

/// The state of a spool file.
#[derive(Debug, Clone)]
enum Filled {
    /// Bytes `0..n` are in the file.
    UpTo(u64),
    /// The spool stopped: the error, shared by every reader.
    Failed(Arc<ObjectStorageError>),
}

/// How far one spool file is filled; shared by the spooling task and the readers.
#[derive(Debug)]
pub struct SpoolProgress {
    size: u64,
    state: watch::Sender<Filled>,
}

impl SpoolProgress {
    /// A spool of `size` bytes, empty so far.
    pub fn new(size: u64) -> SpoolProgress {
        SpoolProgress {
            size,
            state: watch::Sender::new(Filled::UpTo(0)),
        }
    }

    /// The object's size (what the file holds once filled).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes `0..n` are in (the prefix only grows).
    pub fn filled_to(&self, n: u64) {
        self.state.send_modify(|f| {
            if let Filled::UpTo(at) = f {
                *at = (*at).max(n.min(self.size));
            }
        });
    }

    /// The spool stopped with `e`: every reader's next step fails with it.
    pub fn fail(&self, e: ObjectStorageError) {
        self.state.send_replace(Filled::Failed(Arc::new(e)));
    }

    /// The filled prefix, or the plugin's status for a spool that failed.
    pub fn filled(&self) -> Result<u64, u32> {
        match &*self.state.borrow() {
            Filled::UpTo(n) => Ok(*n),
            Filled::Failed(e) => Err(status_of(e)),
        }
    }

    /// Whether the whole object is in.
    pub fn is_complete(&self) -> bool {
        self.filled() == Ok(self.size)
    }

    /// Whether the spool failed.
    pub fn has_failed(&self) -> bool {
        self.filled().is_err()
    }

    /// Whether bytes up to `end` (clamped to the size) are in; the failure's status
    /// once the spool failed.
    pub fn ready(&self, end: u64) -> Result<bool, u32> {
        self.filled().map(|n| n >= end.min(self.size))
    }

    /// Wait until bytes up to `end` (clamped to the size) are in, or the spool failed.
    pub async fn wait(&self, end: u64) -> Result<(), u32> {
        let end = end.min(self.size);
        let mut rx = self.state.subscribe();
        let state = rx
            .wait_for(|f| !matches!(f, Filled::UpTo(n) if *n < end))
            .await
            .map(|f| f.clone());
        match state {
            Ok(Filled::UpTo(_)) => Ok(()),
            Ok(Filled::Failed(e)) => Err(status_of(&e)),
            // The sender lives in `self`: it cannot be gone while borrowed.
            Err(_) => Err(switchyard_sdk::abi::SY_ERR_IO),
        }
    }

    /// As [`wait`](Self::wait), with the spool's error itself (for the open, which
    /// reports it as the store's failure).
    pub async fn wait_err(&self, end: u64, name: &str) -> Result<(), ObjectStorageError> {
        if self.wait(end).await.is_ok() {
            return Ok(());
        }
        let failed = match &*self.state.borrow() {
            Filled::Failed(e) => Arc::clone(e),
            Filled::UpTo(_) => return Ok(()),
        };
        Err(match &*failed {
            ObjectStorageError::Replaced(_) => ObjectStorageError::Replaced(name.into()),
            ObjectStorageError::NotFound(_) => ObjectStorageError::NotFound(name.into()),
            e => ObjectStorageError::Config(format!("spool of `{name}`: {e}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::abi;

    #[tokio::test]
    async fn readers_wait_for_the_prefix_and_all_see_a_failure() {
        let p = Arc::new(SpoolProgress::new(100));
        assert_eq!(p.ready(1), Ok(false));
        assert_eq!(p.ready(0), Ok(true), "nothing asked is always there");
        let waiter = {
            let p = Arc::clone(&p);
            tokio::spawn(async move { p.wait(60).await })
        };
        p.filled_to(50);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "50 of 60 bytes is not enough");
        p.filled_to(40); // never shrinks
        assert_eq!(p.filled(), Ok(50));
        p.filled_to(70);
        assert_eq!(waiter.await.unwrap(), Ok(()));
        assert_eq!(p.ready(1000), Ok(false), "clamped to the size, not yet in");
        p.filled_to(1000);
        assert!(p.is_complete());

        let q = Arc::new(SpoolProgress::new(10));
        let waiter = {
            let q = Arc::clone(&q);
            tokio::spawn(async move { q.wait(10).await })
        };
        q.fail(ObjectStorageError::Replaced("f".into()));
        assert_eq!(waiter.await.unwrap(), Err(abi::SY_ERR_IO));
        assert_eq!(q.ready(0), Err(abi::SY_ERR_IO), "even a range that was in");
        assert!(matches!(
            q.wait_err(1, "f").await,
            Err(ObjectStorageError::Replaced(n)) if n == "f"
        ));
    }
}
