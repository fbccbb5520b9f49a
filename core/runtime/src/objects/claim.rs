//! [`PartialClaim`]: the lock a host holds on a kept partial upload it continues,
//! renewed while it holds it, released when the claim goes.

use std::sync::Arc;
use std::time::Duration;

use switchyard_object_storage::LockGuard;

use super::backend::ObjectBackend;

/// A claim's lease: long enough to outlast a stalled renewal or two.
pub const LEASE: Duration = Duration::from_secs(600);

/// How often a held claim is renewed.
const RENEW_EVERY: Duration = Duration::from_secs(120);

/// A continued partial's claim: its name, its lock, the task renewing it.
#[derive(Debug)]
pub struct PartialClaim {
    name: String,
    lock: Option<Arc<LockGuard>>,
    renewal: Option<tokio::task::JoinHandle<()>>,
    backend: Arc<ObjectBackend>,
}

impl PartialClaim {
    /// The partial's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The storage it is on.
    pub fn backend(&self) -> &Arc<ObjectBackend> {
        &self.backend
    }

    /// Hold `lock` on partial `name`, renewing it until the claim goes.
    pub fn new(backend: Arc<ObjectBackend>, name: String, lock: LockGuard) -> PartialClaim {
        let lock = Arc::new(lock);
        let renewing = Arc::clone(&lock);
        let renewal = backend.spawn(async move {
            loop {
                tokio::time::sleep(RENEW_EVERY).await;
                if renewing.renew(LEASE).await.is_err() {
                    return;
                }
            }
        });
        PartialClaim {
            name,
            lock: Some(lock),
            renewal: Some(renewal),
            backend,
        }
    }
}

/// The lock is released when the claim goes, whatever ended it (a commit, a close,
/// the instance's end); a host that dies leaves it to its lease.
impl Drop for PartialClaim {
    fn drop(&mut self) {
        let (Some(lock), Some(renewal)) = (self.lock.take(), self.renewal.take()) else {
            return;
        };
        renewal.abort();
        self.backend.spawn(async move {
            // The renewal holds the lock too until its task is gone.
            let _ = renewal.await;
            if let Ok(lock) = Arc::try_unwrap(lock) {
                let _ = lock.release().await;
            }
        });
    }
}
