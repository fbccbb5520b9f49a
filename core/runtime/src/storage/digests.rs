//! The digest cache: the sha256 of files served, by [`FileVersion`], for the whole
//! process.
//!
//! Why: a download announces its file's digest, which lives in a side file beside it
//! (`switchyard_sdk::sums`); reading that each time cost a small `GET` four system
//! calls of its ten. The host opened the file anyway, so it knows the file's device,
//! inode, size and times: the digest is looked up by those, and the side file is read
//! only on a miss (`Root::digest`). A file changed in any way (written, replaced by a
//! rename, its time set back) is another key, so a stale digest is never served for
//! it; the side file itself is still checked against the size and the second of the
//! modification time, as before.
//!
//! One cache for the process, not one per root: the key names the file on its device
//! whichever root or handler opened it (`files` and `bulk` may serve the same one).
//! Read-mostly, so an `RwLock`: concurrent lookups by several handler threads do not
//! wait for each other. At most [`CAPACITY`] entries (the oldest go first), about
//! 100 bytes each.
//!
//! Known limit: a file deleted and a new one of the same size written within the same
//! clock tick (a few milliseconds) as the old one's last change, and given the same
//! inode, would be taken for it. The side file has a coarser form of the same limit
//! (one second), and a client that verifies what it received reports the mismatch.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::RwLock;

use switchyard_sdk::sums::MAX_SIDE_FILE;

use super::FileVersion;

/// Most digests remembered.
pub const CAPACITY: usize = 16_384;

#[derive(Debug, Default)]
struct Cache {
    map: HashMap<FileVersion, [u8; 32]>,
    /// Insertion order, for eviction.
    order: VecDeque<FileVersion>,
}

impl Cache {
    /// Remember `digest` for `version`, forgetting the oldest past `capacity`.
    fn insert(&mut self, version: FileVersion, digest: [u8; 32], capacity: usize) {
        if self.map.insert(version, digest).is_none() {
            self.order.push_back(version);
        }
        while self.order.len() > capacity {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }
}

static CACHE: RwLock<Option<Cache>> = RwLock::new(None);

/// The digest remembered for `version`.
pub fn lookup(version: &FileVersion) -> Option<[u8; 32]> {
    let cache = CACHE.read().unwrap_or_else(|e| e.into_inner());
    cache.as_ref()?.map.get(version).copied()
}

/// Remember `digest` for `version`, forgetting the oldest entry past [`CAPACITY`].
pub fn remember(version: FileVersion, digest: [u8; 32]) {
    let mut cache = CACHE.write().unwrap_or_else(|e| e.into_inner());
    cache
        .get_or_insert_with(Cache::default)
        .insert(version, digest, CAPACITY);
}

/// The text of a side file of `size` bytes, with one read (a file longer than a
/// digest line, or one that changed size while read, is not believed).
pub fn read_side_file(file: &File, size: u64) -> Option<String> {
    if size > MAX_SIDE_FILE as u64 {
        return None;
    }
    let mut buf = [0u8; MAX_SIDE_FILE];
    let n = file.read_at(&mut buf, 0).ok()?;
    if n as u64 != size {
        return None;
    }
    String::from_utf8(buf[..n].to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(ino: u64) -> FileVersion {
        FileVersion {
            // A device no test file is on: the cache is the process's.
            dev: u64::MAX,
            ino,
            size: 10,
            mtime: (1, 2),
            ctime: (3, 4),
        }
    }

    #[test]
    fn any_change_of_the_key_misses() {
        let v = version(1);
        remember(v, [7; 32]);
        assert_eq!(lookup(&v), Some([7; 32]));
        let changed = [
            FileVersion { size: 11, ..v },
            FileVersion { mtime: (1, 3), ..v },
            FileVersion { ctime: (4, 4), ..v },
            FileVersion { ino: 2, ..v },
            FileVersion { dev: 0, ..v },
        ];
        for other in changed {
            assert_eq!(lookup(&other), None, "{other:?}");
        }
    }

    #[test]
    fn the_oldest_entries_go_past_capacity() {
        let mut cache = Cache::default();
        for i in 0..=3 {
            cache.insert(version(i), [i as u8; 32], 3);
        }
        cache.insert(version(2), [9; 32], 3); // known: not a new entry
        assert_eq!(cache.map.get(&version(0)), None, "the oldest is gone");
        assert_eq!(cache.map.get(&version(2)), Some(&[9; 32]));
        assert_eq!((cache.map.len(), cache.order.len()), (3, 3));
    }
}
