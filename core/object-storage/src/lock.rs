//! A lock two hosts cannot both hold: a lock object created with a conditional create
//! (`If-None-Match: *`), with a lease so a crashed holder does not block forever.
//!
//! Taking over an expired lease is itself conditional (`If-Match` on the etag that was
//! read), so of several hosts that see the same expired lease exactly one wins. Used
//! for create-only commits (`upload.rs`); resume of a kept upload will use it too.
//! It protects only against writers that take the lock; a store that ignores
//! conditional creates gives no protection, which is why the host probes for it
//! (`probe.rs`).

use std::time::Duration;

use object_store::path::Path;
use object_store::{PutMode, PutOptions, PutPayload, UpdateVersion};
use serde::{Deserialize, Serialize};

use crate::error::{ObjectStorageError, Result};
use crate::records::{now_unix, unique_leaf};
use crate::storage::ObjectStorage;

/// The reserved area of lock objects.
const LOCKS: &str = "locks";

/// A lock object's content.
#[derive(Debug, Serialize, Deserialize)]
struct Lease {
    owner: String,
    expires_unix: u64,
}

/// A held lock; [`LockGuard::release`] removes it (dropping it without releasing
/// leaves it to expire).
#[derive(Debug)]
pub struct LockGuard {
    storage: ObjectStorage,
    key: Path,
    owner: String,
}

impl ObjectStorage {
    /// Take the lock named `what` for `lease`, or fail with
    /// [`ObjectStorageError::Locked`] while another holder's lease runs.
    pub async fn lock(&self, what: &str, lease: Duration) -> Result<LockGuard> {
        let leaf: String = sha2_hex(what);
        let key = self.reserved_key(LOCKS, &leaf);
        let owner = unique_leaf(what);
        let body = |owner: &str| {
            let lease = Lease {
                owner: owner.into(),
                expires_unix: now_unix() + lease.as_secs().max(1),
            };
            PutPayload::from(serde_json::to_vec(&lease).expect("leases serialize"))
        };
        let created = self
            .backend
            .put_opts(&key, body(&owner), PutOptions::from(PutMode::Create))
            .await;
        match created {
            Ok(_) => return Ok(self.guard(key, owner)),
            Err(object_store::Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(ObjectStorageError::store("lock", what, e)),
        }
        let (held, etag) = self.get_record::<Lease>(&key).await?;
        if held.expires_unix > now_unix() {
            return Err(ObjectStorageError::Locked(what.into()));
        }
        let mode = PutMode::Update(UpdateVersion {
            e_tag: etag,
            version: None,
        });
        match self
            .backend
            .put_opts(&key, body(&owner), PutOptions::from(mode))
            .await
        {
            Ok(_) => Ok(self.guard(key, owner)),
            Err(object_store::Error::Precondition { .. }) => {
                Err(ObjectStorageError::Locked(what.into()))
            }
            Err(e) => Err(ObjectStorageError::store("lock", what, e)),
        }
    }

    fn guard(&self, key: Path, owner: String) -> LockGuard {
        LockGuard {
            storage: self.clone(),
            key,
            owner,
        }
    }
}

impl LockGuard {
    /// Who holds it (unique per acquisition): for logs.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Extend the lease to `lease` from now, if the lock is still this holder's (a
    /// long transfer keeps its claim); [`ObjectStorageError::Locked`] if another
    /// holder took it over after it expired. Conditional on the version read, so a
    /// takeover between the read and the write is seen too.
    pub async fn renew(&self, lease: Duration) -> Result<()> {
        let (held, etag) = self.storage.get_record::<Lease>(&self.key).await?;
        if held.owner != self.owner {
            return Err(ObjectStorageError::Locked(self.owner.clone()));
        }
        let body = Lease {
            owner: self.owner.clone(),
            expires_unix: now_unix() + lease.as_secs().max(1),
        };
        let mode = PutMode::Update(UpdateVersion {
            e_tag: etag,
            version: None,
        });
        let payload = PutPayload::from(serde_json::to_vec(&body).expect("leases serialize"));
        match self
            .storage
            .backend
            .put_opts(&self.key, payload, PutOptions::from(mode))
            .await
        {
            Ok(_) => Ok(()),
            Err(object_store::Error::Precondition { .. }) => {
                Err(ObjectStorageError::Locked(self.owner.clone()))
            }
            Err(e) => Err(ObjectStorageError::store(
                "renew lock",
                self.key.as_ref(),
                e,
            )),
        }
    }

    /// Remove the lock object so the next claimer need not wait for the lease — only
    /// while it is still this holder's: one whose lease ran out and was taken over
    /// must not remove the new holder's lock.
    pub async fn release(self) -> Result<()> {
        match self.storage.get_record::<Lease>(&self.key).await {
            Ok((held, _)) if held.owner == self.owner => {
                self.storage.remove_record(&self.key).await
            }
            Ok(_) | Err(ObjectStorageError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn sha2_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
