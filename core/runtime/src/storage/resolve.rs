//! Opening a checked relative path *beneath* a directory fd, never through a symlink.
//!
//! The primary mechanism is `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS)`: the kernel resolves the whole path atomically and refuses
//! any symlink (inside or out of the root) with `ELOOP` and any escape with `EXDEV`, so a
//! symlink swapped in mid-lookup cannot redirect us. Where `openat2` is missing (kernel
//! before 5.6, or a seccomp profile that blocks it) the same policy is enforced by a
//! component walk: `openat(O_PATH | O_DIRECTORY | O_NOFOLLOW)` per directory, then the
//! last component with `O_NOFOLLOW`. Both are sound only because [`validate_path`]
//! already refused `..`, `.` and absolute paths.
//!
//! Why symlinks are refused even when they point inside the root: plugins apply
//! lexical policies ("uploads only under `incoming/`", "hide `private/`") that an alias
//! would silently bypass, and behaviour then does not depend on the kernel. An admin
//! who wants to share a tree uses a bind mount or hard links.
//!
//! # Layout
//! - [`Resolver`]: which mechanism to use, detected per root (tests force the walk).
//! - [`open_beneath`]: the one entry point.
//!
//! [`validate_path`]: super::validate_path

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::StorageError;

/// How paths are resolved beneath a root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolver {
    /// `openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`.
    Openat2,
    /// The portable `O_NOFOLLOW` component walk.
    Walk,
}

impl Resolver {
    /// [`Self::Openat2`] when the kernel lets us use it on `dir`, probed with a call
    /// that cannot fail legitimately (so `ENOSYS`, or `EPERM` from a seccomp filter,
    /// both mean "missing"); else [`Self::Walk`].
    pub fn detect(dir: BorrowedFd<'_>) -> Resolver {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        match rustix::fs::openat2(dir, ".", flags, Mode::empty(), ResolveFlags::BENEATH) {
            Ok(_) => Resolver::Openat2,
            Err(_) => Resolver::Walk,
        }
    }
}

/// Retries of `openat2` after `EAGAIN` (a concurrent rename seen by the kernel's
/// `RESOLVE_BENEATH` check) before falling back to the walk for this call.
const EAGAIN_RETRIES: usize = 4;

/// Open `rel` beneath `dir`. `rel` is a validated path, or `"."` for `dir` itself.
///
/// `CLOEXEC` is always added; `mode` only matters with `O_CREAT`.
pub fn open_beneath(
    resolver: Resolver,
    dir: BorrowedFd<'_>,
    rel: &str,
    flags: OFlags,
    mode: Mode,
) -> Result<OwnedFd, StorageError> {
    let flags = flags | OFlags::CLOEXEC;
    let mode = if flags.contains(OFlags::CREATE) {
        mode
    } else {
        Mode::empty()
    };
    if resolver == Resolver::Openat2 {
        let how = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        for _ in 0..EAGAIN_RETRIES {
            match rustix::fs::openat2(dir, rel, flags, mode, how) {
                Err(Errno::AGAIN) => continue,
                Err(err) => return Err(classify(dir, rel, err)),
                Ok(fd) => return Ok(fd),
            }
        }
    }
    walk(dir, rel, flags, mode)
}

/// The fallback: one `openat` per component, none following a symlink.
fn walk(
    dir: BorrowedFd<'_>,
    rel: &str,
    flags: OFlags,
    mode: Mode,
) -> Result<OwnedFd, StorageError> {
    let (dirs, last) = match rel.rsplit_once('/') {
        Some((dirs, last)) => (Some(dirs), last),
        None => (None, rel),
    };
    let mut held: Option<OwnedFd> = None;
    for component in dirs.into_iter().flat_map(|d| d.split('/')) {
        let cur = held.as_ref().map_or(dir, OwnedFd::as_fd);
        let step = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::openat(cur, component, step, Mode::empty()) {
            Ok(fd) => held = Some(fd),
            Err(err) => return Err(classify(cur, component, err)),
        }
    }
    let cur = held.as_ref().map_or(dir, OwnedFd::as_fd);
    rustix::fs::openat(cur, last, flags | OFlags::NOFOLLOW, mode)
        .map_err(|err| classify(cur, last, err))
}

/// Turn an open error into a [`StorageError`]. `ENOTDIR` is ambiguous: opening a
/// symlink with `O_NOFOLLOW | O_DIRECTORY` reports it, and so does a plain file used
/// as a directory, so a symlink at `rel` (or on its way) is looked for explicitly.
fn classify(dir: BorrowedFd<'_>, rel: &str, err: Errno) -> StorageError {
    if err == Errno::NOTDIR && has_symlink(dir, rel) {
        return StorageError::Escapes;
    }
    StorageError::from(err)
}

/// True when some prefix of `rel` beneath `dir` is a symlink (best effort, for error
/// reporting only: the decision to refuse was already taken by the kernel).
fn has_symlink(dir: BorrowedFd<'_>, rel: &str) -> bool {
    let mut end = 0;
    for component in rel.split('/') {
        end += component.len();
        match rustix::fs::statat(dir, &rel[..end], AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
        end += 1;
    }
    false
}
