//! Reads pinned to one version of an object for a whole transfer.
//!
//! A TFTP or bulk download reads an object in many ranges. If the object is replaced
//! between two of them, splicing old and new bytes would hand the peer a file that
//! never existed; so every range is requested with `If-Match: <etag>` of the version
//! seen when the read began, and a changed (or removed) object ends the read with
//! [`ObjectStorageError::Replaced`]. The etag of each answer is compared as well, so a
//! store that ignored the condition would still be caught.

use std::ops::Range;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::{GetOptions, GetRange};

use crate::error::{ObjectStorageError, Result};
use crate::files::ObjectInfo;
use crate::storage::ObjectStorage;

/// An open read of one version of an object.
#[derive(Debug, Clone)]
pub struct PinnedRead {
    storage: ObjectStorage,
    info: ObjectInfo,
    etag: String,
}

impl ObjectStorage {
    /// Begin a read of `name`, pinned to its current version.
    pub async fn open_read(&self, name: &str) -> Result<PinnedRead> {
        let info = self.stat(name).await?;
        let Some(etag) = info.etag.clone() else {
            // Without an etag there is nothing to pin to: refuse rather than risk
            // mixed bytes. Every S3 store and the in-memory store give one.
            return Err(ObjectStorageError::Config(format!(
                "the store gives no etag for `{name}`: reads cannot be pinned"
            )));
        };
        Ok(PinnedRead {
            storage: self.clone(),
            info,
            etag,
        })
    }
}

impl PinnedRead {
    /// The object as it was when the read began (size, etag, digest).
    pub fn info(&self) -> &ObjectInfo {
        &self.info
    }

    /// Bytes `range` of the pinned version (clamped to its size; empty past the end).
    pub async fn read_range(&self, range: Range<u64>) -> Result<Bytes> {
        let name = self.info.name.as_str();
        let end = range.end.min(self.info.size);
        if range.start >= end {
            return Ok(Bytes::new());
        }
        let got = self.get_range(range.start..end).await?;
        got.bytes()
            .await
            .map_err(|e| ObjectStorageError::store("read", name, e))
    }

    /// Bytes `range` of the pinned version (clamped to its size) as they arrive, in
    /// order: a caller that writes them somewhere needs no buffer of the whole range.
    /// The answer's version is checked before the first byte; fewer bytes than asked
    /// mean the store cut the answer short.
    pub async fn read_range_chunks(
        &self,
        range: Range<u64>,
    ) -> Result<BoxStream<'static, Result<Bytes>>> {
        let end = range.end.min(self.info.size);
        if range.start >= end {
            return Ok(futures_util::stream::empty().boxed());
        }
        let got = self.get_range(range.start..end).await?;
        let name = self.info.name.to_string();
        Ok(got
            .into_stream()
            .map(move |chunk| chunk.map_err(|e| ObjectStorageError::store("read", &name, e)))
            .boxed())
    }

    /// The answer to a ranged `GET` of the pinned version, its etag checked.
    async fn get_range(&self, range: Range<u64>) -> Result<object_store::GetResult> {
        let name = self.info.name.as_str();
        let (start, end) = (range.start, range.end);
        let options = GetOptions {
            if_match: Some(self.etag.clone()),
            range: Some(GetRange::Bounded(start..end)),
            ..GetOptions::default()
        };
        let key = self.storage.key(&self.info.name);
        let got = match self.storage.backend.get_opts(&key, options).await {
            Ok(got) => got,
            Err(
                object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. },
            ) => return Err(ObjectStorageError::Replaced(name.into())),
            Err(e) => return Err(ObjectStorageError::store("read", name, e)),
        };
        if got.meta.e_tag.as_deref() != Some(self.etag.as_str()) {
            return Err(ObjectStorageError::Replaced(name.into()));
        }
        Ok(got)
    }
}
