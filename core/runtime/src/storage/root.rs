//! [`Root`]: a handler's storage root, and every read-side operation on it.
//!
//! A `Root` holds an open fd of the root directory; every path is resolved *beneath
//! that fd* by [`resolve`](super::resolve), never by joining strings onto the root's
//! name, so renaming or replacing the root path later cannot redirect a handler, and
//! `/srv/d2/x` can never be reached from `/srv/d`. Symlinks under the root are
//! followed inside it, or refused, by the root's [`Symlinks`] policy
//! (`super::symlinks`). Writes live in `temp`.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use super::digests;
use super::resolve::{Resolver, open_beneath, real_path};
use super::sweep::sweep;
use super::symlinks::{LinkRules, Symlinks};
use super::{FileKind, FileVersion, Stat, StorageError, validate_path};

/// Files larger than this get `POSIX_FADV_SEQUENTIAL` when opened for reading: the
/// kernel's default readahead window (128 KiB) already covers a smaller one.
const SEQUENTIAL_ADVICE_FROM: u64 = 128 * 1024;

/// A directory every storage operation of one handler is confined to.
///
/// `Send + Sync`: operations take `&self` and keep no state besides the root fd, so one
/// `Root` can be shared (`Arc`) by all actors of a handler.
#[derive(Debug)]
pub struct Root {
    dir: OwnedFd,
    path: PathBuf,
    /// `(st_dev, st_ino)` of the root, to recognise temps made under another root.
    id: (u64, u64),
    swept: usize,
    resolver: Resolver,
    links: LinkRules,
}

impl Root {
    /// Open (creating it and missing parents if needed) the root at `path`, then delete
    /// temp files left anywhere beneath it by a crashed process (see
    /// [`swept`](Self::swept)). The root path itself may be a symlink: that is the
    /// admin's choice; only paths *under* it are policed. Symlinks under it are
    /// followed inside it ([`Symlinks::FollowInside`]; see [`with_symlinks`]).
    ///
    /// [`with_symlinks`]: Self::with_symlinks
    pub fn open(path: &Path) -> Result<Root, StorageError> {
        match std::fs::metadata(path) {
            Ok(meta) if !meta.is_dir() => return Err(StorageError::NotDir),
            Ok(_) => {}
            Err(_) => std::fs::create_dir_all(path)?,
        }
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let dir = rustix::fs::open(path, flags, Mode::empty())?;
        let st = rustix::fs::fstat(&dir)?;
        let path = std::path::absolute(path)?;
        let resolver = Resolver::detect(dir.as_fd());
        // The paths an absolute link target may name the root by (`symlinks`).
        let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        let mut root = Root {
            dir,
            id: (st.st_dev, st.st_ino),
            swept: 0,
            resolver,
            links: LinkRules::new(Symlinks::default(), &[&path, &canonical]),
            path,
        };
        root.swept = sweep(root.dir.as_fd());
        Ok(root)
    }

    /// This root with symlink policy `symlinks` (the handler's `symlinks` field).
    pub fn with_symlinks(mut self, symlinks: Symlinks) -> Root {
        self.links.policy = symlinks;
        self
    }

    /// The root's symlink policy.
    pub fn symlinks(&self) -> Symlinks {
        self.links.policy
    }

    /// The root's absolute path, for logs.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many stale temp files [`open`](Self::open) deleted.
    pub fn swept(&self) -> usize {
        self.swept
    }

    /// Whether paths are resolved with `openat2` (else the `O_NOFOLLOW` walk, on kernels
    /// or sandboxes without it): worth one line in the startup log.
    pub fn uses_openat2(&self) -> bool {
        self.resolver == Resolver::Openat2
    }

    /// Use the portable component walk instead of `openat2`, to test that path.
    #[cfg(test)]
    pub(super) fn force_walk(&mut self) {
        self.resolver = Resolver::Walk;
    }

    pub(super) fn fd(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }

    pub(super) fn id(&self) -> (u64, u64) {
        self.id
    }

    /// Open `rel` (a validated path or `"."`) beneath the root.
    pub(super) fn open_at(
        &self,
        rel: &str,
        flags: OFlags,
        mode: Mode,
    ) -> Result<OwnedFd, StorageError> {
        open_beneath((self.resolver, &self.links), self.fd(), rel, flags, mode)
    }

    /// Open the directory containing `rel`'s last component; returns it with the name.
    pub(super) fn open_parent<'p>(
        &self,
        rel: &'p super::RelPath,
        flags: OFlags,
    ) -> Result<(OwnedFd, &'p str), StorageError> {
        let (dir, name) = rel.split_last();
        let fd = self.open_at(dir.unwrap_or("."), flags | OFlags::DIRECTORY, Mode::empty())?;
        Ok((fd, name))
    }

    /// Open a regular file for reading; returns it with its version (size included).
    ///
    /// Two system calls, `openat2` and `fstat`, as a small download must cost little:
    /// - opened `O_NONBLOCK`, so that a FIFO placed under the root cannot hang the
    ///   calling thread; the flag stays set on the regular file returned, where it has
    ///   no effect (open(2): "this flag has no effect for regular files"), so no
    ///   `fcntl` to clear it;
    /// - the kernel is told a large file will be read sequentially (a bigger
    ///   readahead); a file within one default readahead window is read in at once
    ///   anyway, so it is spared the `fadvise`.
    pub fn open_read(&self, rel: &str) -> Result<(File, FileVersion), StorageError> {
        let rel = validate_path(rel)?;
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY;
        let fd = self.open_at(rel.as_str(), flags, Mode::empty())?;
        let raw = rustix::fs::fstat(&fd)?;
        require_regular(&Stat::from_raw(&raw))?;
        let version = FileVersion::from_raw(&raw);
        if version.size > SEQUENTIAL_ADVICE_FROM {
            // Advice only: a file system without fadvise is still readable.
            let _ = rustix::fs::fadvise(&fd, 0, None, rustix::fs::Advice::Sequential);
        }
        Ok((File::from(fd), version))
    }

    /// The sha256 of the file opened at `rel` as `version`, if known: from the digest
    /// cache, else from its side file when that matches (then cached). See `digests`.
    ///
    /// The cache is keyed by the opened file (its inode and times), so a name that is
    /// a symlink shares its target's entry; on a miss the side file is the one beside
    /// the target (where uploads write it), not beside the link.
    pub fn digest(&self, rel: &str, version: &FileVersion) -> Option<[u8; 32]> {
        if let Some(known) = digests::lookup(version) {
            return Some(known);
        }
        let real = real_path((self.resolver, &self.links), self.fd(), rel).ok()?;
        let side = switchyard_sdk::sums::side_path(&real)?;
        let (file, side_version) = self.open_read(&side).ok()?;
        let text = digests::read_side_file(&file, side_version.size)?;
        let digest = switchyard_sdk::sums::parse(&text, &version.stat())?;
        digests::remember(*version, digest);
        Some(digest)
    }

    /// Describe `rel`. A symlink at its end is described as its target when the root
    /// follows it there, else as what it is ([`FileKind::Other`]: it exists, but
    /// cannot be opened), so `stat` never refuses what `list` shows.
    pub fn stat(&self, rel: &str) -> Result<Stat, StorageError> {
        let rel = validate_path(rel)?;
        let (dir, name) = self.open_parent(&rel, OFlags::PATH)?;
        let st = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
        self.followed(rel.as_str(), st)
    }

    /// `st`, of the entry at `rel`; for a symlink the root follows, its target's.
    fn followed(&self, rel: &str, st: rustix::fs::Stat) -> Result<Stat, StorageError> {
        let is_link = FileType::from_raw_mode(st.st_mode) == FileType::Symlink;
        if !is_link || self.links.policy == Symlinks::Refuse {
            return Ok(Stat::from_raw(&st));
        }
        match self.open_at(rel, OFlags::PATH, Mode::empty()) {
            Ok(fd) => Ok(Stat::from_raw(&rustix::fs::fstat(&fd)?)),
            Err(StorageError::Io(e)) => Err(StorageError::Io(e)),
            // Dangling, leaving the root, or refused: the link itself.
            Err(_) => Ok(Stat::from_raw(&st)),
        }
    }

    /// The entries of directory `rel` (`""` = the root), sorted by name, each described
    /// as [`stat`](Self::stat) would (a followed symlink as its target).
    ///
    /// Only entries a plugin could name are listed: temp files, non-UTF-8 names and names
    /// that [`validate_path`] would refuse (control characters, backslashes) are left out.
    /// An entry removed while listing is skipped.
    pub fn list(&self, rel: &str) -> Result<Vec<(String, Stat)>, StorageError> {
        let rel = if rel.is_empty() {
            ".".to_owned()
        } else {
            validate_path(rel)?.as_str().to_owned()
        };
        let dir = self.open_at(&rel, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())?;
        let mut out = Vec::new();
        for entry in rustix::fs::Dir::read_from(&dir)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().to_str() else {
                continue;
            };
            if name == "." || name == ".." || name.contains('/') || validate_path(name).is_err() {
                continue;
            }
            let st = match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                Err(rustix::io::Errno::NOENT) => continue,
                Err(err) => return Err(err.into()),
            };
            let path = if rel == "." {
                name.to_owned()
            } else {
                format!("{rel}/{name}")
            };
            out.push((name.to_owned(), self.followed(&path, st)?));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Delete the non-directory entry `rel` (a symlink is removed itself, never its
    /// target). Directories are refused with [`StorageError::IsDir`].
    pub fn remove(&self, rel: &str) -> Result<(), StorageError> {
        let rel = validate_path(rel)?;
        let (dir, name) = self.open_parent(&rel, OFlags::PATH)?;
        // A hidden file may be a partial another upload is continuing
        // (`open_partial` holds its lock): refused while held, and unlinked under the
        // lock otherwise, so an `open_partial` racing this sees the name gone.
        let _lock = if name.starts_with('.') {
            super::lock::lock_for_removal(&dir, name)?
        } else {
            None
        };
        rustix::fs::unlinkat(&dir, name, AtFlags::empty())?;
        Ok(())
    }

    /// Create directory `rel` and any missing parents beneath the root (mode 0755).
    ///
    /// Not reachable from plugins (the ABI has no mkdir, so a client can never make a
    /// directory tree appear); for the host, e.g. a handler's configured `incoming/`.
    pub fn create_dir_all(&self, rel: &str) -> Result<(), StorageError> {
        let rel = validate_path(rel)?;
        let mut end = 0;
        for component in rel.as_str().split('/') {
            let parent = if end == 0 {
                "."
            } else {
                &rel.as_str()[..end - 1]
            };
            end += component.len() + 1;
            let dir = self.open_at(parent, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())?;
            match rustix::fs::mkdirat(&dir, component, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(err) => return Err(err.into()),
            }
        }
        let _ = self.open_at(
            rel.as_str(),
            OFlags::PATH | OFlags::DIRECTORY,
            Mode::empty(),
        )?;
        Ok(())
    }

    /// Bytes available to an unprivileged writer on the root's file system
    /// (`f_bavail * f_frsize`).
    pub fn free_space(&self) -> Result<u64, StorageError> {
        let vfs = rustix::fs::fstatvfs(self.fd())?;
        Ok(vfs.f_bavail.saturating_mul(vfs.f_frsize))
    }
}

/// A regular file, or the error for what it is instead.
fn require_regular(stat: &Stat) -> Result<(), StorageError> {
    match stat.kind {
        FileKind::File => Ok(()),
        FileKind::Dir => Err(StorageError::IsDir),
        FileKind::Other => Err(StorageError::NotFile),
    }
}

/// The stat of `fd`, opened `O_NONBLOCK` (so that a FIFO in its place could not hang
/// the open), if it is a regular file; the flag is cleared for a file that will be
/// written.
pub(super) fn regular_file(fd: &OwnedFd) -> Result<Stat, StorageError> {
    let stat = Stat::from_raw(&rustix::fs::fstat(fd)?);
    require_regular(&stat)?;
    rustix::fs::fcntl_setfl(fd, OFlags::empty())?;
    Ok(stat)
}
