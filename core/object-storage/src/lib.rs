//! Files on an S3-compatible object store, with the guarantees of a `dir` storage root.
//!
//! Issue 21 moves handler storage to an object store so several hosts can serve one set
//! of files. This crate is the storage side only: async calls on one prefix of one
//! bucket, each keeping a guarantee the `dir` storage keeps with the file system:
//!
//! - names are confined to the prefix by the `dir` storage's own rules (`names.rs`);
//! - an upload is invisible until committed (a multipart upload), create-only unless
//!   overwrite is asked for, aborted on any failure (`upload.rs`, `lock.rs`);
//! - a read is pinned to one version of the object (`If-Match` on its etag), so a file
//!   replaced mid-transfer ends the transfer instead of mixing bytes (`read.rs`);
//! - the sha256 is kept in the object's metadata, not in a side file, or (an upload
//!   whose parts left before its digest was known) in a record naming the version it
//!   belongs to (`digest.rs`);
//! - uploads left by a crashed host are found and aborted (`records.rs`, `sweep.rs`);
//! - whether the store honours conditional creates is probed, not assumed (`probe.rs`).
//!
//! The client is `object_store` (its `aws` feature): docs/decisions/object-store-client.md
//! says why, and what SeaweedFS 4.48 was measured to do. The runtime's `objects`
//! module serves handlers from it through the storage ABI's `storage_begin`.
//!
//! # Layout
//! - `error.rs`: [`ObjectStorageError`], [`Result`].
//! - `names.rs`: [`ObjectName`], the name rules; [`RESERVED_PREFIX`], the host's area.
//! - `storage.rs`: [`ObjectStorage`] (backend + prefix), names <-> keys; [`Backend`].
//! - `s3.rs`: [`S3Settings`], [`check_endpoint`], `ObjectStorage::connect_s3`.
//! - `files.rs`: `stat`, `list`, `delete`; [`ObjectInfo`], [`ListEntry`].
//! - `digest.rs`: sha256 digests as metadata, or as records tied to an etag; [`Sha256`].
//! - `read.rs`: [`PinnedRead`], ranged reads pinned to one etag.
//! - `records.rs`: the JSON records of in-progress uploads kept in the store.
//! - `lock.rs`: [`LockGuard`], a conditional-create lock object with a lease.
//! - `upload.rs`: [`Upload`], [`UploadOptions`], [`Committed`], [`MIN_PART`].
//! - `sweep.rs`: `sweep_stale_uploads`; [`SweepReport`].
//! - `probe.rs`: `probe_conditional_create`; [`ConditionalCreate`].
//! - `tests.rs`: the guarantees against the in-memory store.

mod digest;
mod error;
mod files;
mod lock;
mod names;
mod probe;
mod read;
mod records;
mod s3;
mod storage;
mod sweep;
mod upload;

#[cfg(test)]
mod tests;

pub use digest::{Sha256, from_hex, to_hex};
pub use error::{ObjectStorageError, Result};
pub use files::{ListEntry, ObjectInfo};
pub use lock::LockGuard;
pub use names::{ObjectName, RESERVED_PREFIX, parse_prefix};
pub use probe::ConditionalCreate;
pub use read::PinnedRead;
pub use s3::{S3Settings, check_endpoint};
pub use storage::{Backend, ObjectStorage};
pub use sweep::SweepReport;
pub use upload::{Committed, MIN_PART, Upload, UploadOptions};
