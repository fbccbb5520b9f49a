//! Stat, list and delete: the calls that look at committed objects only.
//!
//! In-progress multipart uploads are not objects on S3 (nor in the in-memory store),
//! so they never appear here; the host's records under the reserved area are filtered
//! out by name (`ObjectStorage::name_of`).

use futures_util::StreamExt;
use object_store::path::Path;
use object_store::{Attribute, GetOptions, ObjectStoreExt};

use crate::digest::{Sha256, digest_from_attributes};
use crate::error::{ObjectStorageError, Result};
use crate::names::ObjectName;
use crate::storage::ObjectStorage;

/// What `stat` tells about a committed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object's name under the prefix.
    pub name: ObjectName,
    /// Its size in bytes.
    pub size: u64,
    /// The version a read pins itself to.
    pub etag: Option<String>,
    /// Last change, seconds since the Unix epoch (the store's clock).
    pub modified_unix: i64,
    /// The sha256 kept in the object's metadata, when the upload declared one.
    pub sha256: Option<Sha256>,
}

/// One entry of a listing: a file with its size, or a directory (a common prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListEntry {
    /// A committed object.
    File {
        /// Its name under the prefix.
        name: ObjectName,
        /// Its size in bytes.
        size: u64,
        /// Last change, seconds since the Unix epoch (the store's clock): what a
        /// plugin ages its kept partials by.
        modified_unix: i64,
    },
    /// Names continue below this one.
    Dir(ObjectName),
}

impl ObjectStorage {
    /// The committed object `name`, with its digest from metadata (a `HEAD`: the
    /// client returns user metadata only with a get, so this is a get of no body), or
    /// else from its digest record (`digest.rs`).
    pub async fn stat(&self, name: &str) -> Result<ObjectInfo> {
        let name = ObjectName::parse(name)?;
        let options = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        let got = self
            .backend
            .get_opts(&self.key(&name), options)
            .await
            .map_err(|e| ObjectStorageError::store("stat", name.as_str(), e))?;
        let etag = got.meta.e_tag.clone();
        let sha256 = match (digest_from_attributes(&got.attributes), &etag) {
            (None, Some(etag)) => self.recorded_digest(&name, etag).await,
            (declared, _) => declared,
        };
        Ok(ObjectInfo {
            size: got.meta.size,
            etag,
            modified_unix: got.meta.last_modified.timestamp(),
            sha256,
            name,
        })
    }

    /// The entries directly under `dir` (or the prefix itself), sorted by name.
    pub async fn list(&self, dir: Option<&str>) -> Result<Vec<ListEntry>> {
        let dir = dir.map(ObjectName::parse).transpose()?;
        let what = dir.as_ref().map_or("", ObjectName::as_str);
        let key = self.dir_key(dir.as_ref());
        let listed = self
            .backend
            .list_with_delimiter(key.as_ref())
            .await
            .map_err(|e| ObjectStorageError::store("list", what, e))?;
        let mut out: Vec<ListEntry> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| self.name_of(p).map(ListEntry::Dir))
            .chain(listed.objects.iter().filter_map(|m| {
                let name = self.name_of(&m.location)?;
                Some(ListEntry::File {
                    name,
                    size: m.size,
                    modified_unix: m.last_modified.timestamp(),
                })
            }))
            .collect();
        out.sort_by(|a, b| entry_name(a).cmp(entry_name(b)));
        Ok(out)
    }

    /// Remove the committed object `name`.
    pub async fn delete(&self, name: &str) -> Result<()> {
        let name = ObjectName::parse(name)?;
        // S3 answers a delete of an absent key with success: stat first, so a peer
        // deleting a name that is not there is told so, as by the `dir` storage.
        self.stat(name.as_str()).await?;
        self.backend
            .delete(&self.key(&name))
            .await
            .map_err(|e| ObjectStorageError::store("delete", name.as_str(), e))?;
        self.remove_digest_record(&name).await;
        Ok(())
    }

    /// Every key under a reserved area (the sweeper's and the tests' view).
    pub(crate) async fn reserved_objects(
        &self,
        area: &str,
    ) -> Result<Vec<object_store::ObjectMeta>> {
        let dir: Path = self.reserved_dir(area);
        let mut stream = self.backend.list(Some(&dir));
        let mut out = Vec::new();
        while let Some(meta) = stream.next().await {
            out.push(meta.map_err(|e| ObjectStorageError::store("list", dir.as_ref(), e))?);
        }
        Ok(out)
    }
}

fn entry_name(e: &ListEntry) -> &str {
    match e {
        ListEntry::File { name, .. } | ListEntry::Dir(name) => name.as_str(),
    }
}

/// The metadata key (`x-amz-meta-sha256` on S3) the digest is kept under.
pub(crate) const DIGEST_KEY: &str = "sha256";

/// The attribute the digest is stored as.
pub(crate) fn digest_attribute() -> Attribute {
    Attribute::Metadata(DIGEST_KEY.into())
}
