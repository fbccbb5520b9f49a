//! # switchyard-files — command file server
//!
//! The seed's TCP command file server, rebuilt as a plugin and made safe, plus a framed
//! protocol on the same port:
//! - **v1** (seed-compatible): `1:NAME` downloads, `2:DATA` uploads under a fresh
//!   `NNNN.txt`, `0:MSG` is logged. The seed's own client works unchanged.
//! - **v2** (framed, binary-safe, persistent): after the magic line `SYFILES/2`, `GET`,
//!   `PUT`, `LIST`, `STAT`, `DELETE`, `HASH`, `QUIT`, each answered with `OK ...`
//!   or `ERR code message`. Specified in `docs/files-protocol.md`.
//!
//! Files never leave the handler's root (checked here by path component, and beneath
//! the root by the host), uploads become visible only when complete (hidden temp,
//! fsync, atomic rename by the host), downloads go out with `sendfile` and uploads
//! straight from the socket into the file. Every command logs one line; every transfer
//! is reported as a `TransferCompleted` on the `transfers` port.
//!
//! # Layout
//! - [`codec`]: the one frame codec (`check` / `parse` / `Incomplete`), names, replies,
//!   and v1/v2 detection. Shared with the client through the rlib.
//! - [`cmd`]: one module per v2 command: wire form, reply fields, and how it runs.
//! - [`machine`]: one connection as a deterministic state machine (v1, v2, transfers,
//!   timeouts) over a [`machine::Storage`] trait.
//! - [`config`]: the handler's config, with safe defaults and validation.
//! - `plugin`: the `Protocol` impl, a thin adapter from host events to the machine.

pub mod cmd;
pub mod codec;
pub mod config;
pub mod machine;
mod plugin;

pub use plugin::{FilesPlugin, TRANSFERS_PORT};

switchyard_sdk::declare_plugin!(FilesPlugin);
