//! [`StorageError`]: why a storage operation was refused, and its ABI status.
//!
//! Errors are classified by *meaning* rather than by errno so the host can answer a
//! plugin with the right `SY_ERR_*` code (and a TFTP plugin with the right ERROR
//! packet), while the original `std::io::Error` stays available for the log.
//!
//! # Layout
//! - [`StorageError`]: the documented variants and [`StorageError::status`].
//! - [`map_io`]: errno classification shared by every operation.

use std::io;

use switchyard_sdk::abi;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The path was refused by the lexical check before touching the disk: empty,
    /// absolute, `.`/`..`/empty component, backslash, NUL or control character, a
    /// component over 255 bytes, or a name reserved for temp files.
    #[error("invalid path: {0}")]
    InvalidPath(&'static str),
    /// Resolution tried to leave the root (a symlink's `..` above it), or hit a symlink
    /// where the root refuses them (`symlinks: refuse`, `ELOOP` from
    /// `openat2(RESOLVE_NO_SYMLINKS)`). See `super::symlinks`.
    #[error("path resolves through a refused symlink or out of the root")]
    Escapes,
    /// A symlink inside the root was not followed: its target names a hidden file, is
    /// not UTF-8, or it is one link too many (a loop).
    #[error("symlink not followed: {0}")]
    LinkRefused(&'static str),
    /// No such file or directory (also: a component of the path is not a directory).
    #[error("not found")]
    NotFound,
    /// The target name exists and the operation refuses to replace it.
    #[error("already exists")]
    Exists,
    /// A regular file was expected, the path names a directory.
    #[error("is a directory")]
    IsDir,
    /// A regular file was expected, the path names a FIFO, socket, device or symlink.
    #[error("not a regular file")]
    NotFile,
    /// A directory was expected, the path names something else.
    #[error("not a directory")]
    NotDir,
    /// The file system is full or the quota is exhausted (`ENOSPC`/`EDQUOT`).
    #[error("no space left on device")]
    NoSpace,
    /// The OS refused the operation (`EACCES`/`EPERM`/`EROFS`).
    #[error("permission denied")]
    PermissionDenied,
    /// The file is already open for appending by another upload
    /// ([`Root::open_partial`](super::Root::open_partial) holds an exclusive lock).
    #[error("in use by another upload")]
    Busy,
    /// A temp file was handed to a [`Root`](super::Root) it was not created under, or
    /// used after it was committed: a host bug, not a client error.
    #[error("temp file does not belong here: {0}")]
    BadTemp(&'static str),
    /// Any other I/O failure.
    #[error("I/O error: {0}")]
    Io(#[source] io::Error),
}

impl StorageError {
    /// The `SY_ERR_*` status a plugin receives for this error.
    ///
    /// Path refusals of every kind are `ACCESS` (as in `MockHost`): a plugin should not
    /// be able to tell "malformed" from "escapes" from "forbidden" when probing.
    pub fn status(&self) -> u32 {
        match self {
            Self::InvalidPath(_)
            | Self::Escapes
            | Self::LinkRefused(_)
            | Self::PermissionDenied
            | Self::NotFile => abi::SY_ERR_ACCESS,
            Self::NotFound | Self::NotDir => abi::SY_ERR_NOT_FOUND,
            Self::Exists => abi::SY_ERR_EXISTS,
            Self::IsDir => abi::SY_ERR_IS_DIR,
            Self::NoSpace => abi::SY_ERR_NO_SPACE,
            Self::Busy => abi::SY_ERR_BUSY,
            Self::BadTemp(_) => abi::SY_ERR_INVALID,
            Self::Io(_) => abi::SY_ERR_IO,
        }
    }
}

impl From<io::Error> for StorageError {
    fn from(err: io::Error) -> Self {
        map_io(err)
    }
}

impl From<rustix::io::Errno> for StorageError {
    fn from(err: rustix::io::Errno) -> Self {
        map_io(err.into())
    }
}

/// Classify an OS error.
///
/// `ELOOP` and `EXDEV` mean [`StorageError::Escapes`] only because every path this
/// module resolves goes through `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` or the
/// `O_NOFOLLOW` walk, so the kernel never follows a link itself; `rename` across
/// mounts inside the root is mapped separately by the commit code, never through here.
pub fn map_io(err: io::Error) -> StorageError {
    use rustix::io::Errno;
    let Some(code) = err.raw_os_error() else {
        return StorageError::Io(err);
    };
    match Errno::from_raw_os_error(code) {
        Errno::NOSPC | Errno::DQUOT => StorageError::NoSpace,
        Errno::ACCESS | Errno::PERM | Errno::ROFS => StorageError::PermissionDenied,
        Errno::LOOP | Errno::XDEV => StorageError::Escapes,
        Errno::NOENT | Errno::NOTDIR => StorageError::NotFound,
        Errno::EXIST => StorageError::Exists,
        Errno::ISDIR => StorageError::IsDir,
        Errno::NAMETOOLONG => StorageError::InvalidPath("name too long"),
        _ => StorageError::Io(err),
    }
}
