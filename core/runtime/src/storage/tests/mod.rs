//! Unit tests of the storage capability on real directories (`tempfile::TempDir`).
//!
//! Confinement tests run twice, with `openat2` and with the portable `O_NOFOLLOW` walk,
//! because both must enforce the same policy; those about symlinks also run under both
//! policies (`follow_inside`, `refuse`) where both must refuse.
//!
//! # Layout
//! - `paths`: the lexical check.
//! - `confinement`: traversal, symlinks (static and swapped mid-transfer), sibling roots.
//! - `links`: symlinks inside the root, followed (reads, stat, list, uploads, digests)
//!   or refused; escapes, loops and hidden targets refused.
//! - `reading`: open_read, stat, list, remove, free_space.
//! - `digests`: a served file's digest, from its side file and then from the cache.
//! - `uploads`: temp files, commit, concurrency, overwrite.
//! - `partials`: continuing a hidden partial in place.
//! - `sweep`: crash recovery at `Root::open`.
//! - `nospace`: `ENOSPC` on a tiny tmpfs.

mod confinement;
mod digests;
mod links;
mod nospace;
mod partials;
mod paths;
mod reading;
mod sweep;
mod uploads;

use std::path::{Path, PathBuf};

use super::{Root, Symlinks};

/// A test area: `base/root` is the storage root, `base/outside` holds a secret.
pub(super) struct Area {
    pub tmp: tempfile::TempDir,
    pub root: Root,
}

impl Area {
    /// A fresh root; `walk` selects the fallback resolver instead of `openat2`.
    pub fn new(walk: bool) -> Area {
        let tmp = tempfile::tempdir().expect("tempdir");
        put(&tmp.path().join("outside/secret"), b"secret");
        let mut root = Root::open(&tmp.path().join("root")).expect("open root");
        if walk {
            root.force_walk();
        }
        Area { tmp, root }
    }

    /// Both resolvers.
    pub fn both() -> [Area; 2] {
        [Area::new(false), Area::new(true)]
    }

    /// Both resolvers, with symlink policy `symlinks`.
    pub fn both_with(symlinks: Symlinks) -> [Area; 2] {
        Area::both().map(|mut a| {
            a.root = a.root.with_symlinks(symlinks);
            a
        })
    }

    /// Both resolvers under both symlink policies: for what each must refuse.
    pub fn every() -> [Area; 4] {
        let [a, b] = Area::both_with(Symlinks::FollowInside);
        let [c, d] = Area::both_with(Symlinks::Refuse);
        [a, b, c, d]
    }

    /// A path inside the root.
    pub fn at(&self, rel: &str) -> PathBuf {
        self.tmp.path().join("root").join(rel)
    }

    /// The outside directory.
    pub fn outside(&self) -> PathBuf {
        self.tmp.path().join("outside")
    }
}

/// Write `data` to `path`, creating parents.
pub(super) fn put(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, data).expect("write");
}

/// Every name in `dir`, hidden ones included, sorted.
pub(super) fn raw_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    names.sort();
    names
}

/// Read a whole `File` from the start.
pub(super) fn read_all(file: &std::fs::File) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let mut out = vec![0; file.metadata().expect("metadata").len() as usize];
    file.read_exact_at(&mut out, 0).expect("read");
    out
}
