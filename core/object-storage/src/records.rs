//! Small JSON records the host keeps in the store's reserved area, and unique leaf
//! names for them.
//!
//! An in-progress multipart upload is invisible (that is the point), but so is its id:
//! a host that crashes loses it, and the parts stay billed forever. So each upload
//! leaves a record `<prefix>/.sy-tmp.uploads/<leaf>` naming the object and the upload
//! id, written right after the upload is created and removed when it is committed or
//! aborted. The sweeper (`sweep.rs`) aborts the uploads of records older than a limit.
//! (The client crate has no `ListMultipartUploads`; records also carry what another
//! host will need to resume the upload.)

use std::time::{SystemTime, UNIX_EPOCH};

use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{ObjectStorageError, Result};
use crate::storage::ObjectStorage;

/// The reserved area of upload records.
pub(crate) const UPLOADS: &str = "uploads";

/// What a record of an in-progress upload says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UploadRecord {
    /// The object's name under the prefix.
    pub name: String,
    /// The store's multipart upload id.
    pub upload_id: String,
    /// When it began, seconds since the Unix epoch (the host's clock).
    pub started_unix: u64,
    /// The storage (host process) that began it; empty in records from before.
    #[serde(default)]
    pub owner: String,
}

/// Seconds since the Unix epoch now.
pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A leaf name no other host or call will pick: the hash of `seed`, the time in
/// nanoseconds, the process id and a per-process counter.
pub(crate) fn unique_leaf(seed: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let hash = Sha256::digest(format!("{seed}\0{nanos}\0{}\0{n}", std::process::id()));
    hash[..16].iter().map(|b| format!("{b:02x}")).collect()
}

impl ObjectStorage {
    /// Store `record` at `key` (unconditionally: the leaf is unique).
    pub(crate) async fn put_record<T: Serialize>(&self, key: &Path, record: &T) -> Result<()> {
        let body = serde_json::to_vec(record).expect("records serialize");
        self.backend
            .put(key, PutPayload::from(body))
            .await
            .map(drop)
            .map_err(|e| ObjectStorageError::store("write record", key.as_ref(), e))
    }

    /// Read back the record at `key`, with its etag.
    pub(crate) async fn get_record<T: for<'de> Deserialize<'de>>(
        &self,
        key: &Path,
    ) -> Result<(T, Option<String>)> {
        let got = self
            .backend
            .get(key)
            .await
            .map_err(|e| ObjectStorageError::store("read record", key.as_ref(), e))?;
        let etag = got.meta.e_tag.clone();
        let body = got
            .bytes()
            .await
            .map_err(|e| ObjectStorageError::store("read record", key.as_ref(), e))?;
        let record =
            serde_json::from_slice(&body).map_err(|e| ObjectStorageError::CorruptRecord {
                path: key.to_string(),
                why: e.to_string(),
            })?;
        Ok((record, etag))
    }

    /// Remove the record at `key`; an absent one is fine (already swept or removed).
    pub(crate) async fn remove_record(&self, key: &Path) -> Result<()> {
        match self.backend.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(ObjectStorageError::store("remove record", key.as_ref(), e)),
        }
    }
}
