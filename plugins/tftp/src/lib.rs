//! # switchyard-tftp — a TFTP server plugin
//!
//! RFC 1350 (RRQ/WRQ, `octet` and `netascii`), option negotiation (RFC 2347) with
//! `blksize` (2348), `timeout` and `tsize` (2349) and `windowsize` (7440), block-number
//! rollover, every transfer on its own UDP port (ephemeral or from `port_range`), or all
//! on the listen port with `single_port`. The host does the I/O: a DATA packet
//! is a file range the host reads straight into the datagram, and uploads go to a
//! hidden temp file the host fsyncs and renames only when complete.
//!
//! The protocol lives in pure state machines (no `Ctx`, no clock of their own), so it
//! is tested deterministically with a manual clock; the [`Protocol`] impl is a thin
//! adapter that runs their actions. The client (`examples/tftp-client`) reuses the
//! codec and the same transfer machines through this crate's `rlib`.
//!
//! # Layout
//! - [`packet`]: the wire format (parse and build), with a clear error per malformed form.
//! - [`options`]: option negotiation, server side and client side.
//! - [`netascii`]: line-end conversion, streaming both ways.
//! - [`transfer`]: [`transfer::Sender`] and [`transfer::Receiver`], one transfer each.
//! - [`admission`]: what to do with a request on the listener (rate, limits, names).
//! - [`names`]: from a requested name to a path under the root (leading `/`,
//!   backslashes, remap rules, per-client roots, case-insensitive lookup).
//! - [`config`]: the handler's configuration and its safe defaults.
//! - `plugin`: the [`Protocol`] adapter ([`Tftp`]) and `declare_plugin!`.

pub mod admission;
pub mod config;
pub mod names;
pub mod netascii;
pub mod options;
pub mod packet;
mod plugin;
pub mod transfer;

pub use config::Config;
pub use plugin::Tftp;

#[cfg(doc)]
use switchyard_sdk::Protocol;
