//! Uploads: [`TempFile`], [`Root::create_temp`] and [`Root::commit`] (a continued
//! partial, [`Root::open_partial`], is in `partial.rs`).
//!
//! An upload is written to a hidden temp file in the target's directory and becomes
//! visible only by an atomic rename after an `fsync`; the directory is then `fsync`ed,
//! so after a crash a name either holds the complete new file or what it held before,
//! never a prefix. An uncommitted temp is unlinked when the [`TempFile`] drops (client
//! gone, transfer failed), and one left by a crash is swept by the next
//! [`Root::open`].
//!
//! Parent directories are never created implicitly: a client cannot make a directory
//! tree appear, and a vanished client leaves nothing behind. The host creates the
//! directories a handler needs with [`Root::create_dir_all`].

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

use super::tempname::next_temp_name;
use super::{Root, StorageError, validate_path};

/// Attempts at a fresh temp name before giving up (each collision means a file with our
/// exact pid, nonce and sequence number exists: practically never).
const NAME_ATTEMPTS: usize = 16;

/// A hidden, uncommitted upload. Dropping it deletes the temp file unless it was
/// committed.
#[derive(Debug)]
pub struct TempFile {
    file: File,
    /// The directory the temp lives in (held open: a rename of that directory, or a
    /// symlink swapped in for it, cannot change where the commit lands).
    dir: OwnedFd,
    name: String,
    root_id: (u64, u64),
    committed: bool,
    /// A continued partial ([`Root::open_partial`]): it already had a name of its
    /// own before this handle, so dropping the handle keeps it, with what was appended.
    keep: bool,
}

impl TempFile {
    /// The open file (read-write), e.g. for `splice`/`pwrite` through its raw fd.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The open file, mutably (for `Write`).
    pub fn file_mut(&mut self) -> &mut File {
        &mut self.file
    }

    /// Append `data` at the file position (writes through [`file`](Self::file) and this
    /// share it). `ENOSPC`/`EDQUOT` become [`StorageError::NoSpace`].
    pub fn append(&mut self, data: &[u8]) -> Result<(), StorageError> {
        if self.committed {
            return Err(StorageError::BadTemp("already committed"));
        }
        self.file.write_all(data).map_err(StorageError::from)
    }

    /// Current size in bytes (from `fstat`, so it counts bytes written through the fd).
    pub fn len(&self) -> Result<u64, StorageError> {
        Ok(self.file.metadata()?.len())
    }

    /// True when nothing has been written yet.
    pub fn is_empty(&self) -> Result<bool, StorageError> {
        Ok(self.len()? == 0)
    }

    /// Whether this continues an existing hidden file ([`Root::open_partial`]): such
    /// a file is kept when the handle drops, so nothing may still write into it then.
    pub fn is_continued(&self) -> bool {
        self.keep
    }

    /// Whether [`Root::commit`] succeeded on this temp.
    pub fn is_committed(&self) -> bool {
        self.committed
    }
}

impl TempFile {
    /// A handle on an existing hidden file that is continued in place (see
    /// [`Root::open_partial`]).
    pub(super) fn continued(file: File, dir: OwnedFd, name: &str, root_id: (u64, u64)) -> Self {
        TempFile {
            file,
            dir,
            name: name.to_owned(),
            root_id,
            committed: false,
            keep: true,
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.committed && !self.keep {
            // Nothing to report to: the fd closes anyway, and a temp left by a failed
            // unlink is swept by the next `Root::open`.
            let _ = rustix::fs::unlinkat(&self.dir, self.name.as_str(), AtFlags::empty());
        }
    }
}

impl Root {
    /// Create a hidden temp file (mode 0644, `O_EXCL`) in the directory of `rel`, which
    /// must already exist beneath the root. Nothing appears under `rel` until
    /// [`commit`](Self::commit).
    pub fn create_temp(&self, rel: &str) -> Result<TempFile, StorageError> {
        let rel = validate_path(rel)?;
        let (dir, _) = self.open_parent(&rel, OFlags::RDONLY)?;
        let flags =
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        for _ in 0..NAME_ATTEMPTS {
            let name = next_temp_name();
            match rustix::fs::openat(&dir, name.as_str(), flags, Mode::from_raw_mode(0o644)) {
                Ok(fd) => {
                    return Ok(TempFile {
                        file: File::from(fd),
                        dir,
                        name,
                        root_id: self.id(),
                        committed: false,
                        keep: false,
                    });
                }
                Err(Errno::EXIST) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(StorageError::Exists)
    }

    /// Make `temp` visible as `rel`: `fdatasync` the file, rename it into place, `fsync` the
    /// directory.
    ///
    /// Without `overwrite` the rename is atomic no-replace (`renameat2(RENAME_NOREPLACE)`,
    /// or `link` + `unlink` on file systems without it): of two uploads of one name
    /// exactly one wins, the other gets [`StorageError::Exists`], and there is no
    /// check-then-rename window. With `overwrite` an existing file is replaced atomically
    /// (a directory is refused with [`StorageError::IsDir`]).
    ///
    /// On error the temp is untouched and still owned by the caller, who may retry under
    /// another name (e.g. the next free `NNNN.txt`) or drop it. If only the final
    /// directory `fsync` fails the file is already visible: the temp is marked committed
    /// and the error returned.
    pub fn commit(
        &self,
        temp: &mut TempFile,
        rel: &str,
        overwrite: bool,
    ) -> Result<(), StorageError> {
        if temp.committed {
            return Err(StorageError::BadTemp("already committed"));
        }
        if temp.root_id != self.id() {
            return Err(StorageError::BadTemp("created under another root"));
        }
        let rel = validate_path(rel)?;
        let (dir, name) = self.open_parent(&rel, OFlags::RDONLY)?;
        // Data and size are what must survive a crash; mtime need not cost a journal write.
        temp.file.sync_data()?;
        let from = temp.name.as_str();
        let moved = if overwrite {
            rustix::fs::renameat(&temp.dir, from, &dir, name)
        } else {
            match rustix::fs::renameat_with(&temp.dir, from, &dir, name, RenameFlags::NOREPLACE) {
                Err(Errno::INVAL | Errno::NOSYS | Errno::NOTSUP) => {
                    link_then_unlink(temp, &dir, name)
                }
                other => other,
            }
        };
        moved.map_err(rename_error)?;
        temp.committed = true;
        rustix::fs::fsync(&dir)?;
        if !same_dir(&dir, &temp.dir) {
            rustix::fs::fsync(&temp.dir)?;
        }
        Ok(())
    }
}

/// No-replace commit for file systems without `RENAME_NOREPLACE`: `link(2)` fails with
/// `EEXIST` atomically; the temp name is then removed. Once linked the upload is
/// committed, so a failed unlink only leaves a hidden temp for the next sweep.
pub(super) fn link_then_unlink(
    temp: &TempFile,
    dir: &OwnedFd,
    name: &str,
) -> rustix::io::Result<()> {
    rustix::fs::linkat(&temp.dir, temp.name.as_str(), dir, name, AtFlags::empty())?;
    let _ = rustix::fs::unlinkat(&temp.dir, temp.name.as_str(), AtFlags::empty());
    Ok(())
}

/// `EXDEV` from a rename means "another mount under the root", not an escape.
fn rename_error(err: Errno) -> StorageError {
    match err {
        Errno::XDEV => StorageError::Io(err.into()),
        other => other.into(),
    }
}

fn same_dir(a: &OwnedFd, b: &OwnedFd) -> bool {
    match (rustix::fs::fstat(a.as_fd()), rustix::fs::fstat(b.as_fd())) {
        (Ok(a), Ok(b)) => (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino),
        _ => false,
    }
}
