//! Handler storage on an S3-compatible object store: the host side of the storage
//! operations that wait (`storage_begin`), for a handler bound to an `s3` storage.
//!
//! The plugin's view is the same as on a dir; the host keeps three guarantees with
//! the store's own means (`switchyard-object-storage`): an object is read at one
//! version (its etag) and brought into a local, unlinked spool file, so every zero-copy
//! path of a dir (`sendfile`, batched datagrams from a file range) serves it and no
//! transfer can mix two versions; an upload arrives in a local temp and becomes a
//! multipart upload at commit, so nothing is visible before, and create-only holds
//! across hosts (the lock object of `switchyard-object-storage`); the sha256 travels
//! in the object's metadata. See docs/decisions/object-store-spool.md.
//!
//! All store I/O runs on the backend's own small runtime: an HTTP client's
//! connections belong to the runtime that opened them, and the handler threads each
//! run their own, so they only await the results.
//!
//! # Layout
//! - `backend.rs`: [`ObjectBackend`], connecting (credentials, the start probe) and
//!   the runtime.
//! - `cache.rs`: [`ReadCache`], objects spooled by (name, etag), shared and bounded.
//! - `claim.rs`: [`PartialClaim`], the renewed lock on a continued partial upload.
//! - `commit.rs`: a spooled upload made an object.
//! - `early.rs`: [`EarlyParts`], an upload's parts sent while it arrives.
//! - `progress.rs`: [`SpoolProgress`], how far a spool file is filled (a cold read is
//!   served while it is spooled).
//! - `parts.rs`: the parts of a spool temp (size, how many at once, reading one).
//! - `health.rs`: [`StoreHealth`], how the store has been answering (operations in
//!   flight, failing since when, the last error without credentials), and the probe
//!   of an idle storage, for the console.
//! - `status.rs`: an object storage failure as the plugin's `SY_ERR_*`.

mod backend;
mod cache;
mod claim;
mod commit;
mod early;
pub mod health;
mod parts;
mod progress;
mod status;

pub use backend::ObjectBackend;
pub use cache::{ReadCache, Spooled};
pub use claim::{LEASE, PartialClaim};
pub use early::EarlyParts;
pub use health::{HealthView, StoreHealth};
pub use progress::SpoolProgress;
pub use status::status_of;
