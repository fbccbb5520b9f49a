//! The exclusive `flock` a continued partial is held under, and taking it before a
//! removal. Below both `root.rs` (whose `remove` must not delete a partial being
//! continued) and `partial.rs` (which takes the lock to continue one).

use std::os::fd::OwnedFd;

use rustix::fs::{FileType, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use super::StorageError;

/// For [`Root::remove`] of a hidden name: its exclusive lock, or [`StorageError::Busy`]
/// while an `open_partial` handle holds it. `None` when there is nothing to lock (not a
/// regular file, or it cannot be opened): the unlink then decides.
pub(super) fn lock_for_removal(dir: &OwnedFd, name: &str) -> Result<Option<OwnedFd>, StorageError> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let Ok(fd) = rustix::fs::openat(dir, name, flags, Mode::empty()) else {
        return Ok(None);
    };
    if !rustix::fs::fstat(&fd).is_ok_and(|s| FileType::from_raw_mode(s.st_mode).is_file()) {
        return Ok(None);
    }
    lock_exclusive(&fd)?;
    Ok(Some(fd))
}

/// The exclusive lock every continued partial is held under; [`StorageError::Busy`]
/// while another open file holds it.
pub(super) fn lock_exclusive(fd: &OwnedFd) -> Result<(), StorageError> {
    match rustix::fs::flock(fd, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(()),
        Err(Errno::WOULDBLOCK) => Err(StorageError::Busy),
        Err(e) => Err(e.into()),
    }
}
