//! The host storage capability: every file operation of a handler, confined to its
//! root directory.
//!
//! This is the security boundary of the file-serving plugins (TFTP, the command file
//! server, bulk transfer). Confinement has two layers:
//! 1. a lexical check by path component ([`validate_path`]): no absolute paths, `.`,
//!    `..`, empty components, backslashes, NUL/control characters, over-long names or
//!    temp-file names;
//! 2. resolution beneath the root's directory fd where the kernel never follows a
//!    symlink (`openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, or an `O_NOFOLLOW`
//!    walk where `openat2` is missing). A symlink on the way is followed by our own
//!    walk only while every step stays beneath the root and names nothing hidden
//!    ([`Symlinks::FollowInside`], the default: boot fleets name per-client files by
//!    links), or refused outright ([`Symlinks::Refuse`], the handler's
//!    `symlinks: refuse`, for a plugin's lexical policy to hold against any alias). A
//!    link that leaves the root is refused either way. An opened file or directory is
//!    held by fd, so swapping a symlink in mid-transfer changes nothing.
//!
//! Uploads go to a hidden temp file, are `fsync`ed, renamed into place (atomically
//! refusing to replace unless asked) and the directory `fsync`ed; see [`TempFile`].
//!
//! # Layout
//! - `error`: [`StorageError`], its `SY_ERR_*` status, and [`map_io`].
//! - `path`: [`validate_path`], [`RelPath`], the reserved [`TEMP_PREFIX`].
//! - `resolve`: opening beneath the root (`openat2`, else the walk).
//! - `symlinks`: [`Symlinks`], the policy, and the walk that follows links inside.
//! - `stat`: [`Stat`], [`FileKind`] and [`FileVersion`].
//! - `digests`: the process's digest cache, keyed by [`FileVersion`].
//! - `root`: [`Root`] and its read-side operations (open, stat, list, remove, space).
//! - `temp`: [`TempFile`], `Root::create_temp` and `Root::commit`.
//! - `partial`: `Root::open_partial`, continuing a kept partial in place.
//! - `lock`: the exclusive lock on a continued partial (taken by `partial`, checked by
//!   `Root::remove`).
//! - `tempname`: temp names that record their writer; the staleness rule.
//! - `sweep`: deleting stale temps when a root is opened.
//! - `tests/`: unit tests on real files, one file per concern.

pub mod digests;
mod error;
mod lock;
mod partial;
mod path;
mod resolve;
mod root;
mod stat;
mod sweep;
mod symlinks;
mod temp;
mod tempname;

pub use error::{StorageError, map_io};
pub use path::{RelPath, TEMP_PREFIX, validate_path};
pub use root::Root;
pub use stat::{FileKind, FileVersion, Stat};
pub use symlinks::{MAX_LINKS, Symlinks};
pub use temp::TempFile;

#[cfg(test)]
mod tests;
