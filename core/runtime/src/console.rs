//! The operator console: what the host is doing right now, as a page, as JSON and as
//! a stream of changes, on the admin listener (next to `/metrics` and `/health`).
//!
//! Plugins feed it through the ABI's session description (`session_update`,
//! `session_end`), so every plugin appears, third-party ones too; the host never
//! parses plugin logs. The host feeds it reloads and its WARN+ log records.
//!
//! # Layout
//! - `model`: [`model::Status`], the JSON document, as plain data; its schema version.
//! - `journal`: [`journal::Journal`], the bounded rings of the past (reloads, ended
//!   sessions, log records).
//! - `access`: who may read and who may act (token, `Origin`), as pure checks.
//! - `cluster`: the bus (connection, hosts of the cluster) and the `s3` storages
//!   (health, spool) as the status shows them.
//! - `state`: [`state::Console`], the shared state, snapshots, reload requests and
//!   cancels.
//! - `http`: the admin listener's routes on actix-web; `page.html`, the page.

pub mod access;
pub mod cluster;
pub mod http;
pub mod journal;
pub mod model;
pub mod state;

pub use access::AccessPolicy;
pub use journal::Journal;
pub use state::{Console, HandlerInfo, ReloadRequest};
