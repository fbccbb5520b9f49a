//! A spooled upload made an object: hashed, sent as a multipart upload with its
//! sha256 in the metadata, completed create-only unless overwrite is asked for.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use sha2::Digest;
use switchyard_object_storage::{Committed, ObjectStorage, ObjectStorageError, UploadOptions};

/// Bytes per part: above S3's 5 MiB minimum, and what one part holds in memory.
const PART: usize = 8 << 20;

/// Parts sent at once (memory held: `PARALLEL * PART`); see
/// docs/decisions/object-store-spool.md.
const PARALLEL: usize = 4;

/// Where each part of a `size`-byte file starts (one empty part for an empty file:
/// a multipart upload needs one).
fn part_ranges(size: u64) -> Vec<u64> {
    let n = size.div_ceil(PART as u64).max(1);
    (0..n).map(|i| i * PART as u64).collect()
}

impl super::ObjectBackend {
    /// Upload the whole of `file` as object `name`. The digest is computed first so
    /// that it goes into the metadata and the store checks the bytes against it; a
    /// failure at any point aborts the multipart upload (nothing becomes visible).
    pub async fn commit_spooled(
        storage: ObjectStorage,
        file: Arc<File>,
        name: String,
        overwrite: bool,
    ) -> Result<Committed, ObjectStorageError> {
        let io = |e: std::io::Error| ObjectStorageError::Config(format!("spool: {e}"));
        let hash_file = Arc::clone(&file);
        let sha256 = tokio::task::spawn_blocking(move || hash(&hash_file))
            .await
            .map_err(|e| ObjectStorageError::Config(format!("spool: {e}")))?
            .map_err(io)?;
        let options = UploadOptions {
            sha256: Some(sha256),
            overwrite,
        };
        let mut upload = storage.begin_upload(&name, options).await?;
        let size = file.metadata().map_err(io)?.len();
        let parts = futures_util::stream::iter(part_ranges(size)).map(move |at| {
            read_part(&file, at).map_err(|e| ObjectStorageError::Config(format!("spool: {e}")))
        });
        if let Err(e) = upload.put_parts(parts, PARALLEL).await {
            let _ = upload.abort().await;
            return Err(e);
        }
        upload.commit().await
    }
}

/// The next part of `file` from `at` (shorter at the end, empty past it).
fn read_part(file: &File, at: u64) -> std::io::Result<Bytes> {
    let mut buf = vec![0u8; PART];
    let mut n = 0;
    while n < PART {
        match file.read_at(&mut buf[n..], at + n as u64)? {
            0 => break,
            k => n += k,
        }
    }
    buf.truncate(n);
    Ok(Bytes::from(buf))
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
