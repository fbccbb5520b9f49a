//! Uploads invisible until committed: an explicit multipart upload whose id is kept in
//! a record (`records.rs`), completed on [`Upload::commit`], aborted on any failure.
//!
//! Create-only commits (the default) take a per-name lock (`lock.rs`), check the name
//! is free and complete under the lock. The client crate cannot make a multipart
//! completion conditional (`If-None-Match` on `CompleteMultipartUpload`), so the lock
//! is what keeps two hosts from both creating one name; see
//! docs/decisions/object-store-client.md. Every part but the last must be at least
//! 5 MiB on S3 ([`MIN_PART`]); the caller buffers to that.

use std::time::Duration;

use bytes::Bytes;
use object_store::multipart::PartId;
use object_store::path::Path;
use object_store::{Attributes, MultipartId, PutMultipartOptions, PutPayload};
use sha2::Digest;

use crate::digest::{Sha256, to_hex};
use crate::error::{ObjectStorageError, Result};
use crate::files::digest_attribute;
use crate::names::ObjectName;
use crate::records::{UPLOADS, UploadRecord, now_unix, unique_leaf};
use crate::storage::ObjectStorage;

/// The smallest part S3 accepts, except for the last one.
pub const MIN_PART: usize = 5 * 1024 * 1024;

/// How long a create-only commit may hold its name's lock.
const COMMIT_LEASE: Duration = Duration::from_secs(60);

/// How an upload is to be committed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadOptions {
    /// The sha256 the client declared before sending: kept in the object's metadata,
    /// and checked against the bytes at commit.
    pub sha256: Option<Sha256>,
    /// Replace an existing object instead of refusing the commit.
    pub overwrite: bool,
}

/// What a commit made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// Bytes in the object.
    pub size: u64,
    /// The sha256 of those bytes (computed while they passed).
    pub sha256: Sha256,
}

/// An upload in progress: nothing under its name is visible until [`Upload::commit`].
#[derive(Debug)]
pub struct Upload {
    storage: ObjectStorage,
    name: ObjectName,
    key: Path,
    id: MultipartId,
    record: Path,
    parts: Vec<PartId>,
    /// `None` once the caller said it hashes the bytes itself ([`Upload::hashed_by_caller`]).
    hasher: Option<sha2::Sha256>,
    /// The digest declared after the upload began ([`Upload::declare_sha256`]).
    declared_late: Option<Sha256>,
    size: u64,
    options: UploadOptions,
}

impl ObjectStorage {
    /// Begin an upload to `name`. The multipart upload is created (with the declared
    /// digest as metadata) and recorded, so a crash leaves something to sweep.
    pub async fn begin_upload(&self, name: &str, options: UploadOptions) -> Result<Upload> {
        let name = ObjectName::parse(name)?;
        let key = self.key(&name);
        let mut attributes = Attributes::new();
        if let Some(d) = &options.sha256 {
            attributes.insert(digest_attribute(), to_hex(d).into());
        }
        let opts = PutMultipartOptions {
            attributes,
            ..PutMultipartOptions::default()
        };
        let id = self
            .backend
            .create_multipart_opts(&key, opts)
            .await
            .map_err(|e| ObjectStorageError::store("begin upload", name.as_str(), e))?;
        let record = self.reserved_key(UPLOADS, &unique_leaf(name.as_str()));
        let entry = UploadRecord {
            name: name.as_str().into(),
            upload_id: id.clone(),
            started_unix: now_unix(),
            owner: self.owner.to_string(),
        };
        self.live_uploads().insert(id.clone());
        if let Err(e) = self.put_record(&record, &entry).await {
            let _ = self.backend.abort_multipart(&key, &id).await;
            self.live_uploads().remove(&id);
            return Err(e);
        }
        Ok(Upload {
            storage: self.clone(),
            name,
            key,
            id,
            record,
            parts: Vec::new(),
            hasher: Some(sha2::Sha256::new()),
            declared_late: None,
            size: 0,
            options,
        })
    }
}

/// However it ends (committed, aborted, or given up on a failure that left its record),
/// the upload is no longer this owner's live one: a record left behind is an orphan
/// the sweeper aborts (`sweep.rs`).
impl Drop for Upload {
    fn drop(&mut self) {
        self.storage.live_uploads().remove(&self.id);
    }
}

impl ObjectStorage {
    pub(crate) fn live_uploads(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Upload {
    /// The store's id of this multipart upload.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Bytes sent so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Commit create-only or not: decided when the upload ends, for an upload begun
    /// before its commit was asked for (its parts sent while they arrived).
    pub fn set_overwrite(&mut self, overwrite: bool) {
        self.options.overwrite = overwrite;
    }

    /// The caller hashes the bytes itself (they pass through its own hasher anyway,
    /// e.g. a receive's) and declares the digest before the commit
    /// ([`declare_sha256`](Self::declare_sha256)): the parts are not hashed again here.
    /// Call it before the first part.
    pub fn hashed_by_caller(&mut self) {
        self.hasher = None;
    }

    /// The sha256 of the whole upload, known only now: kept in a digest record of the
    /// version made (the metadata was fixed when the upload began), and checked
    /// against the parts' own hash unless [`hashed_by_caller`](Self::hashed_by_caller).
    pub fn declare_sha256(&mut self, digest: Sha256) {
        self.declared_late = Some(digest);
    }

    /// Send the next part (at least [`MIN_PART`] bytes unless it is the last).
    pub async fn put_part(&mut self, data: Bytes) -> Result<()> {
        if let Some(h) = self.hasher.as_mut() {
            h.update(&data);
        }
        self.size += data.len() as u64;
        let part = self
            .storage
            .backend
            .put_part(
                &self.key,
                &self.id,
                self.parts.len(),
                PutPayload::from(data),
            )
            .await
            .map_err(|e| ObjectStorageError::store("upload part", self.name.as_str(), e))?;
        self.parts.push(part);
        Ok(())
    }

    /// Send the parts `parts` yields, in order, up to `concurrency` at a time: the
    /// store takes parts of one upload in parallel, and one stream at a time leaves
    /// it idle between requests. Each part but the last at least [`MIN_PART`] bytes.
    pub async fn put_parts<S>(&mut self, parts: S, concurrency: usize) -> Result<()>
    where
        S: futures_util::Stream<Item = Result<Bytes>>,
    {
        use futures_util::{StreamExt, TryStreamExt};
        let base = self.parts.len();
        let (backend, key, id) = (&self.storage.backend, &self.key, &self.id);
        let name = self.name.as_str();
        let (hasher, size) = (&mut self.hasher, &mut self.size);
        let sent: Vec<PartId> = parts
            .enumerate()
            .map(|(i, part)| {
                let part = part?;
                if let Some(h) = hasher.as_mut() {
                    h.update(&part);
                }
                *size += part.len() as u64;
                Ok(async move {
                    backend
                        .put_part(key, id, base + i, PutPayload::from(part))
                        .await
                        .map_err(|e| ObjectStorageError::store("upload part", name, e))
                })
            })
            .try_buffered(concurrency.max(1))
            .try_collect()
            .await?;
        self.parts.extend(sent);
        Ok(())
    }

    /// Make the object visible: checked against the declared digest, create-only
    /// unless `overwrite`. On any failure the upload is aborted.
    pub async fn commit(self) -> Result<Committed> {
        let computed: Option<Sha256> = self.hasher.clone().map(|h| h.finalize().into());
        let declared = self.options.sha256.or(self.declared_late);
        let sha256 = match (computed, declared) {
            (Some(c), Some(d)) if c != d => {
                let name = self.name.to_string();
                self.abort().await?;
                return Err(ObjectStorageError::DigestMismatch(name));
            }
            (Some(digest), _) | (None, Some(digest)) => digest,
            (None, None) => {
                let name = self.name.to_string();
                self.abort().await?;
                return Err(ObjectStorageError::Config(format!(
                    "`{name}`: hashed by the caller, but no digest was declared"
                )));
            }
        };
        let done = Committed {
            size: self.size,
            sha256,
        };
        if self.options.overwrite {
            return self.complete(&sha256).await.map(|()| done);
        }
        let storage = self.storage.clone();
        let lock = match storage.lock(self.name.as_str(), COMMIT_LEASE).await {
            Ok(lock) => lock,
            Err(e) => {
                self.abort().await?;
                return Err(e);
            }
        };
        let outcome = match storage.stat(self.name.as_str()).await {
            Ok(_) => {
                let name = self.name.to_string();
                self.abort()
                    .await
                    .map(|()| Err(ObjectStorageError::AlreadyExists(name)))
            }
            Err(ObjectStorageError::NotFound(_)) => self.complete(&sha256).await.map(Ok),
            Err(e) => self.abort().await.map(|()| Err(e)),
        };
        lock.release().await?;
        outcome?.map(|()| done)
    }

    /// Complete the upload; a digest not declared at its start goes into a digest
    /// record for the version made (`digest.rs`; best effort: without it the digest
    /// is only unknown).
    async fn complete(self, sha256: &Sha256) -> Result<()> {
        let backend = &self.storage.backend;
        let completed = backend
            .complete_multipart(&self.key, &self.id, self.parts.clone())
            .await;
        let made = match completed {
            Ok(made) => made,
            Err(e) => {
                let _ = backend.abort_multipart(&self.key, &self.id).await;
                self.storage.remove_record(&self.record).await?;
                return Err(ObjectStorageError::store("commit", self.name.as_str(), e));
            }
        };
        if self.options.sha256.is_none()
            && let Some(etag) = &made.e_tag
        {
            let _ = self
                .storage
                .put_digest_record(&self.name, etag, sha256)
                .await;
        }
        self.storage.remove_record(&self.record).await
    }

    /// Give the upload up: its parts are dropped by the store, its record removed.
    pub async fn abort(self) -> Result<()> {
        abort_upload(&self.storage, &self.key, &self.id, self.name.as_str()).await?;
        self.storage.remove_record(&self.record).await
    }
}

/// Abort upload `id` of `key`; one the store no longer knows is already gone.
pub(crate) async fn abort_upload(
    storage: &ObjectStorage,
    key: &Path,
    id: &MultipartId,
    name: &str,
) -> Result<()> {
    match storage.backend.abort_multipart(key, id).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(ObjectStorageError::store("abort upload", name, e)),
    }
}

/// The key of a name found in a record (the sweeper's way back to the upload).
pub(crate) fn key_of(storage: &ObjectStorage, name: &str) -> Result<Path> {
    Ok(storage.key(&ObjectName::parse(name)?))
}
