//! [`ObjectStorage`]: one prefix of one bucket, seen as a tree of named files.
//!
//! Every plugin-visible name is checked (`names.rs`) and then placed under the prefix,
//! so no name reaches another prefix's objects; keys read back from the store are
//! turned into names only when they lie under the prefix and outside the host's
//! reserved area, so a listing never shows upload records, locks or probes.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::memory::InMemory;
use object_store::multipart::MultipartStore;
use object_store::path::{Path, PathPart};

use crate::error::Result;
use crate::names::{ObjectName, RESERVED_PREFIX, parse_prefix};

/// A store that can do both whole-object calls and explicit multipart uploads (whose
/// ids can be kept, so an upload outlives the host that began it).
pub trait Backend: ObjectStore + MultipartStore {}
impl<T: ObjectStore + MultipartStore> Backend for T {}

/// One storage: a backend and the prefix its names live under.
#[derive(Debug, Clone)]
pub struct ObjectStorage {
    pub(crate) backend: Arc<dyn Backend>,
    /// Normalised: no leading or trailing `/`; empty for the whole bucket.
    prefix: String,
    /// Who begins this storage's uploads (unique per storage opened): its records say
    /// so, and the sweeper aborts this owner's orphans without waiting for their age.
    pub(crate) owner: Arc<str>,
    /// The upload ids this owner is sending now (an [`crate::Upload`] alive).
    pub(crate) live: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

impl ObjectStorage {
    /// A storage over `backend` under `prefix` (checked like a name; `""` for none).
    pub fn new(backend: Arc<dyn Backend>, prefix: &str) -> Result<ObjectStorage> {
        Ok(ObjectStorage {
            backend,
            prefix: parse_prefix(prefix)?,
            owner: crate::records::unique_leaf("owner").into(),
            live: Arc::default(),
        })
    }

    /// A storage in this process's memory: the tests of the logic, without a server.
    pub fn in_memory(prefix: &str) -> Result<ObjectStorage> {
        ObjectStorage::new(Arc::new(InMemory::new()), prefix)
    }

    /// The prefix, normalised (no leading or trailing `/`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The key of a checked name.
    pub(crate) fn key(&self, name: &ObjectName) -> Path {
        self.join(name.as_str().split('/'))
    }

    /// The key of a host record: `<prefix>/.sy-tmp.<area>/<leaf>`.
    pub(crate) fn reserved_key(&self, area: &str, leaf: &str) -> Path {
        let area = format!("{RESERVED_PREFIX}{area}");
        self.join([area.as_str(), leaf])
    }

    /// The directory key under which `dir` (or the whole prefix) is listed.
    pub(crate) fn dir_key(&self, dir: Option<&ObjectName>) -> Option<Path> {
        match dir {
            Some(d) => Some(self.key(d)),
            None if self.prefix.is_empty() => None,
            None => Some(self.join(std::iter::empty())),
        }
    }

    /// The directory key of a reserved area (for the sweeper's listing).
    pub(crate) fn reserved_dir(&self, area: &str) -> Path {
        let area = format!("{RESERVED_PREFIX}{area}");
        self.join([area.as_str()])
    }

    fn join<'a>(&'a self, parts: impl IntoIterator<Item = &'a str>) -> Path {
        let prefix = self.prefix.split('/').filter(|p| !p.is_empty());
        Path::from_iter(prefix.chain(parts).map(PathPart::from))
    }

    /// The plugin-visible name of `key`, or `None` when it is outside the prefix or in
    /// the reserved area. Parts are percent-decoded: the client escapes characters S3
    /// advises against (`%`, `{`, `#` ...) in keys, and a name must survive the trip.
    pub(crate) fn name_of(&self, key: &Path) -> Option<ObjectName> {
        let mut parts = key.parts();
        for want in self.prefix.split('/').filter(|p| !p.is_empty()) {
            if parts.next()?.as_ref() != want {
                return None;
            }
        }
        let decoded: Vec<String> = parts
            .map(|p| percent_decode(p.as_ref()))
            .collect::<Option<_>>()?;
        ObjectName::parse(&decoded.join("/")).ok()
    }
}

/// `%XX` sequences back to bytes; `None` for a malformed escape or non-UTF-8 result.
fn percent_decode(part: &str) -> Option<String> {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = part.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_keys_including_escaped_characters() {
        let s = ObjectStorage::in_memory("team/a/").unwrap();
        for name in ["f", "d/e/f.txt", "100%{x}#y", "sp ace/ü"] {
            let n = ObjectName::parse(name).unwrap();
            let key = s.key(&n);
            assert!(key.as_ref().starts_with("team/a/"), "{key}");
            assert_eq!(s.name_of(&key), Some(n));
        }
    }

    #[test]
    fn keys_outside_the_prefix_or_reserved_have_no_name() {
        let s = ObjectStorage::in_memory("team/a").unwrap();
        assert_eq!(s.name_of(&Path::from("team/b/f")), None);
        assert_eq!(s.name_of(&Path::from("team/ab/f")), None);
        assert_eq!(s.name_of(&Path::from("f")), None);
        assert_eq!(s.name_of(&s.reserved_key("uploads", "r1")), None);
    }

    #[test]
    fn an_escaping_prefix_is_refused() {
        assert!(ObjectStorage::in_memory("../other").is_err());
        assert!(ObjectStorage::in_memory("/abs").is_err());
    }
}
