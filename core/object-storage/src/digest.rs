//! sha256 digests as object metadata (`x-amz-meta-sha256`, lowercase hex), instead of
//! the `dir` storage's `.NAME.sha256` side files: a digest then lives and dies with
//! its object, and a replaced object cannot keep a stale digest.
//!
//! An upload whose parts left before its digest was known (the host sends parts while
//! they arrive) cannot put it in the metadata: S3 takes metadata when a multipart
//! upload is created, and a copy in place to add it would make a second version (a
//! reader could pin the first, without digest) and copy the whole object again. Its
//! digest goes into a record `<prefix>/.sy-tmp.digests/<name>` instead, naming the
//! etag the completion returned: `stat` believes it only while the object still has
//! that etag, so a replaced object never shows a stale digest either, whatever the
//! order the records of two hosts land in.

use object_store::Attributes;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::files::digest_attribute;
use crate::names::ObjectName;
use crate::storage::ObjectStorage;

/// The reserved area of digest records.
const DIGESTS: &str = "digests";

/// What a digest record says: the version it belongs to, and its digest.
#[derive(Debug, Serialize, Deserialize)]
struct DigestRecord {
    etag: String,
    sha256: String,
}

/// A sha256 digest.
pub type Sha256 = [u8; 32];

/// Lowercase hex, as stored.
pub fn to_hex(digest: &Sha256) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parse 64 hex digits; `None` for anything else (a foreign or damaged value is then
/// simply "no digest", never a wrong one).
pub fn from_hex(text: &str) -> Option<Sha256> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The digest among an object's attributes, if one was stored.
pub(crate) fn digest_from_attributes(attributes: &Attributes) -> Option<Sha256> {
    from_hex(attributes.get(&digest_attribute())?.as_ref())
}

/// Etags compared without their quotes (stores differ in whether they keep them).
fn same_etag(a: &str, b: &str) -> bool {
    a.trim_matches('"') == b.trim_matches('"')
}

impl ObjectStorage {
    /// Keep `sha256` as the digest of version `etag` of `name`.
    pub(crate) async fn put_digest_record(
        &self,
        name: &ObjectName,
        etag: &str,
        sha256: &Sha256,
    ) -> Result<()> {
        let record = DigestRecord {
            etag: etag.to_owned(),
            sha256: to_hex(sha256),
        };
        let key = self.reserved_key(DIGESTS, name.as_str());
        self.put_record(&key, &record).await
    }

    /// The digest recorded for version `etag` of `name`; `None` when there is none,
    /// it names another version, or it cannot be read (then it is simply unknown).
    pub(crate) async fn recorded_digest(&self, name: &ObjectName, etag: &str) -> Option<Sha256> {
        let key = self.reserved_key(DIGESTS, name.as_str());
        let (record, _) = self.get_record::<DigestRecord>(&key).await.ok()?;
        same_etag(&record.etag, etag)
            .then(|| from_hex(&record.sha256))
            .flatten()
    }

    /// Forget the digest record of `name` (it was deleted); best effort, as a stale
    /// record names a version that no longer exists.
    pub(crate) async fn remove_digest_record(&self, name: &ObjectName) {
        let _ = self
            .remove_record(&self.reserved_key(DIGESTS, name.as_str()))
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_junk() {
        let d: Sha256 = std::array::from_fn(|i| (i * 7) as u8);
        assert_eq!(from_hex(&to_hex(&d)), Some(d));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex(&"zz".repeat(32)), None);
    }
}
