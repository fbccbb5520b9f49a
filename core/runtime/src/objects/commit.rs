//! A spooled upload made an object: the rest of its parts sent (after those that left
//! while it arrived, `early.rs`) and completed; or, when none left early, hashed and
//! sent whole as a multipart upload with its sha256 in the metadata. Completed
//! create-only unless overwrite is asked for.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use futures_util::StreamExt;
use sha2::Digest;
use switchyard_object_storage::{Committed, ObjectStorage, ObjectStorageError, UploadOptions};

use super::early::EarlyParts;
use super::parts::{PARALLEL, PART, read_part};

/// Where each part of a `size`-byte file starts from `from` (one empty part for an
/// empty file: a multipart upload needs one).
fn part_ranges(from: u64, size: u64) -> Vec<u64> {
    let n = size.saturating_sub(from).div_ceil(PART as u64);
    let n = if from == 0 { n.max(1) } else { n };
    (0..n).map(|i| from + i * PART as u64).collect()
}

impl super::ObjectBackend {
    /// Make spool temp `file` object `name`: when parts of it left while it arrived
    /// for that very name (`early`), only the rest is sent, and its digest (the
    /// upload's hash of every part) is declared at completion; otherwise (no early
    /// part, another name, or the early parts failed) the whole file is sent by
    /// [`commit_spooled`](Self::commit_spooled).
    pub async fn commit_upload(
        storage: ObjectStorage,
        file: Arc<File>,
        name: String,
        overwrite: bool,
        early: Option<EarlyParts>,
    ) -> Result<Committed, ObjectStorageError> {
        let io = |e: std::io::Error| ObjectStorageError::Config(format!("spool: {e}"));
        let size = file.metadata().map_err(io)?.len();
        // Parts for another name are given up (dropped: their upload is aborted).
        let early = early.filter(|e| e.name() == name);
        let received = early.as_ref().and_then(|e| e.digest_at(size));
        if let Some(early) = early
            && let Ok(Some(sent)) = early.finish().await
        {
            let mut upload = sent.upload;
            upload.set_overwrite(overwrite);
            let tail = Arc::clone(&file);
            let parts = futures_util::stream::iter(part_ranges(sent.to, size))
                .map(move |at| read_part(&tail, at).map_err(io));
            let digest = match received {
                Some(digest) => Ok(digest),
                // Written otherwise than by a receive (e.g. TFTP's blocks): hashed now.
                None => hash_blocking(file).await,
            };
            let sent = match digest {
                Ok(digest) => {
                    upload.declare_sha256(digest);
                    upload.put_parts(parts, PARALLEL).await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                let _ = upload.abort().await;
                return Err(e);
            }
            return upload.commit().await;
        }
        Self::commit_spooled(storage, file, name, overwrite, received).await
    }

    /// Upload the whole of `file` as object `name`. The digest (`known` from the
    /// receive, else computed first) goes into the metadata, and the parts are checked
    /// against it as they pass; a failure at any point aborts the multipart upload
    /// (nothing becomes visible).
    pub async fn commit_spooled(
        storage: ObjectStorage,
        file: Arc<File>,
        name: String,
        overwrite: bool,
        known: Option<[u8; 32]>,
    ) -> Result<Committed, ObjectStorageError> {
        let io = |e: std::io::Error| ObjectStorageError::Config(format!("spool: {e}"));
        let sha256 = match known {
            Some(digest) => digest,
            None => hash_blocking(Arc::clone(&file)).await?,
        };
        let options = UploadOptions {
            sha256: Some(sha256),
            overwrite,
        };
        let mut upload = storage.begin_upload(&name, options).await?;
        let size = file.metadata().map_err(io)?.len();
        let parts = futures_util::stream::iter(part_ranges(0, size))
            .map(move |at| read_part(&file, at).map_err(io));
        if let Err(e) = upload.put_parts(parts, PARALLEL).await {
            let _ = upload.abort().await;
            return Err(e);
        }
        upload.commit().await
    }
}

/// The sha256 of the whole of `file`, on the blocking pool.
async fn hash_blocking(file: Arc<File>) -> Result<[u8; 32], ObjectStorageError> {
    tokio::task::spawn_blocking(move || hash(&file))
        .await
        .map_err(|e| ObjectStorageError::Config(format!("spool: {e}")))?
        .map_err(|e| ObjectStorageError::Config(format!("spool: {e}")))
}

fn hash(file: &File) -> std::io::Result<[u8; 32]> {
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    loop {
        match file.read_at(&mut buf, at)? {
            0 => break,
            n => {
                hasher.update(&buf[..n]);
                at += n as u64;
            }
        }
    }
    Ok(hasher.finalize().into())
}
