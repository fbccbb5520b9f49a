//! Opening a checked relative path *beneath* a directory fd, by the root's symlink
//! symlink rules ([`LinkRules`]).
//!
//! The primary mechanism is `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS)`: the kernel resolves the whole path atomically and refuses
//! any symlink with `ELOOP` and any escape with `EXDEV`, so a symlink swapped in
//! mid-lookup cannot redirect us. Most paths hold no link, and cost this one call.
//! When one does (`ELOOP`) and the root follows links inside it, the path is resolved
//! again by the component walk of `super::symlinks`, which follows each link only
//! while it stays beneath the root. Where `openat2` is missing (kernel before 5.6, or
//! a seccomp profile that blocks it) that walk resolves every path: `openat(O_PATH |
//! O_DIRECTORY | O_NOFOLLOW)` per directory, then the last component with
//! `O_NOFOLLOW`. Both are sound only because [`validate_path`] already refused `..`,
//! `.` and absolute paths.
//!
//! # Layout
//! - [`Resolver`]: which mechanism to use, detected per root (tests force the walk).
//! - [`open_beneath`]: the one entry point; [`real_path`]: where a path leads.
//!
//! [`validate_path`]: super::validate_path

use std::os::fd::{BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::StorageError;
use super::symlinks::{LinkRules, Symlinks, walk};

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

/// Open `rel` beneath `dir`, following symlinks by `links`. `rel` is a validated
/// path, or `"."` for `dir` itself.
///
/// `CLOEXEC` is always added; `mode` only matters with `O_CREAT`.
pub fn open_beneath(
    (resolver, links): (Resolver, &LinkRules),
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
                // A symlink on the way (`ENOTDIR`: one opened as a directory, or a
                // file used as one): the walk follows a link if it stays inside.
                Err(Errno::LOOP | Errno::NOTDIR) if links.policy == Symlinks::FollowInside => {
                    break;
                }
                Err(err) => return Err(classify(dir, rel, err)),
                Ok(fd) => return Ok(fd),
            }
        }
    }
    walk(dir, rel, (flags, mode), links).map(|w| w.fd)
}

/// Where `rel` leads beneath `dir`, every symlink on the way resolved by `links`
/// (`rel` itself when it holds none): e.g. the digest side file of a linked name is
/// the one beside its target.
pub fn real_path(
    (resolver, links): (Resolver, &LinkRules),
    dir: BorrowedFd<'_>,
    rel: &str,
) -> Result<String, StorageError> {
    let flags = OFlags::PATH | OFlags::CLOEXEC;
    if resolver == Resolver::Openat2 {
        let how = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        if rustix::fs::openat2(dir, rel, flags, Mode::empty(), how).is_ok() {
            return Ok(rel.to_owned());
        }
    }
    walk(dir, rel, (flags, Mode::empty()), links).map(|w| w.path)
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
