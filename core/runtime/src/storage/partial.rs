//! [`Root::open_partial`]: continue a hidden file in place, the storage side of a
//! resumed upload.
//!
//! Why in place: a resumable upload that lost its connection was committed as a
//! hidden partial. Copying that partial into a fresh temp before continuing costs a
//! read and a write of everything already received (gigabytes, on the handler
//! thread). Instead the partial itself becomes the upload's temp: appended to, then
//! committed (renamed) to its final name.
//!
//! The rules that keep that safe:
//! - only a *hidden* name (first byte `.`) can be continued, so a visible file never
//!   changes in place; host temps are refused by [`validate_path`] as always;
//! - one writer at a time: the handle holds an exclusive `flock`, a second open gets
//!   [`StorageError::Busy`] (two connections resuming one upload cannot interleave),
//!   and [`Root::remove`] refuses to delete it meanwhile (also `Busy`): a prune of old
//!   partials or another upload of the same id cannot pull it from under its writer;
//! - a handle dropped without a commit keeps the file with what was appended, which
//!   is a correct prefix of the upload (the next resume continues from there).

use std::fs::File;

use rustix::fs::{AtFlags, Mode, OFlags, SeekFrom};

use super::lock::lock_exclusive;
use super::root::regular_file;
use super::{Root, StorageError, TempFile, validate_path};

impl Root {
    /// Open the hidden regular file `rel` to continue it: returns it as a [`TempFile`]
    /// positioned at its end, with its size. [`commit`](Self::commit) moves it to its
    /// final name; dropping it keeps it (see the module docs).
    ///
    /// Errors: [`StorageError::InvalidPath`] for a visible name,
    /// [`StorageError::NotFound`], [`StorageError::IsDir`] / [`StorageError::NotFile`],
    /// [`StorageError::Busy`] while another handle continues it.
    pub fn open_partial(&self, rel: &str) -> Result<(TempFile, u64), StorageError> {
        let rel = validate_path(rel)?;
        let (dir, name) = self.open_parent(&rel, OFlags::RDONLY)?;
        if !name.starts_with('.') {
            return Err(StorageError::InvalidPath(
                "only a hidden file (name starting with '.') can be continued",
            ));
        }
        // O_NONBLOCK: a FIFO put in its place cannot hang the thread (`regular_file`).
        let flags = OFlags::RDWR | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        // Opened beside the directory the commit will rename in (not by path again).
        let fd = rustix::fs::openat(&dir, name, flags, Mode::empty())?;
        regular_file(&fd)?;
        lock_exclusive(&fd)?;
        // Removed (or replaced) between the open and the lock: `Root::remove` unlinks a
        // hidden file only while holding this same lock, so the name is checked again.
        let named = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW);
        let held = rustix::fs::fstat(&fd)?;
        if !named.is_ok_and(|n| (n.st_dev, n.st_ino) == (held.st_dev, held.st_ino)) {
            return Err(StorageError::NotFound);
        }
        // Appends (`TempFile::append`, a plain receive) write at the file position.
        let size = rustix::fs::seek(&fd, SeekFrom::End(0))?;
        Ok((
            TempFile::continued(File::from(fd), dir, name, self.id()),
            size,
        ))
    }
}
