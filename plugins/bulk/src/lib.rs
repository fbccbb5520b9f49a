//! # switchyard-bulk — bulk file transfer
//!
//! The seed's length-prefixed bulk receiver, rebuilt as a plugin and made safe and
//! fast, plus a verified, resumable protocol on the same port:
//! - **v1** (seed-compatible): a 4-byte big-endian signed length, then the body. The
//!   header may arrive in any pieces; a negative or over-limit length is refused before
//!   anything is created; exactly that many bytes are stored under a fresh
//!   `v1-NNNNNN.bin` in the incoming directory; a short body leaves nothing visible.
//! - **v2** (first byte `0xB5`, which as a v1 header would be a negative length): a
//!   64-bit length, a file name, an optional sha256 up front or after the body, a reply
//!   with status, stored name and digest, resume after a lost connection, and download.
//!   Specified in `docs/bulk-protocol.md`.
//!
//! The host receives the body straight into a hidden temp file (hashing the whole file
//! with sha256 as it goes), fsyncs it and renames it into place; downloads go out with
//! `sendfile`. The plugin never touches the bytes of a body, so memory stays flat
//! whatever the size. Every transfer logs one summary line and emits a
//! `TransferCompleted` on the `transfers` port.
//!
//! # Layout
//! - [`codec`]: wire formats (`check` / `parse` / `Incomplete`), shared with the
//!   client through the rlib.
//! - [`machine`]: one connection as a deterministic state machine over a
//!   [`machine::Storage`] trait.
//! - [`config`]: the handler's config, with safe defaults and validation.
//! - `plugin`: the `Protocol` impl, a thin adapter from host events to the machine.

pub mod codec;
pub mod config;
pub mod machine;
mod plugin;

pub use plugin::{BulkPlugin, TRANSFERS_PORT};

switchyard_sdk::declare_plugin!(BulkPlugin);
