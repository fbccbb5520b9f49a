//! The raw C ABI between the Switchyard host and a plugin library.
//!
//! This module is the Rust mirror of `include/switchyard.h`; the header is the
//! specification, and the layout pins at the end of this module repeat the header's
//! `_Static_assert`s, so both agree on every size. Plugin authors writing Rust never touch this module: they use
//! [`crate::Protocol`] and [`crate::declare_plugin!`].
//!
//! # Rules of the boundary (see `docs/decisions/plugin-boundary.md`)
//! - Only `#[repr(C)]` structs and fixed-width integers cross it. Tags are `u32`
//!   constants, never Rust enums: an unknown discriminant would be undefined behaviour.
//! - Every struct that may grow starts with a `struct_size` field; a reader checks it
//!   before touching a field it knows of.
//! - Data is *borrowed for the duration of one call*: no allocation ever changes owner,
//!   so host and plugin may use different allocators (or languages).
//! - A plugin links neither actix nor tokio: every socket, timer, file and log line goes
//!   through [`SyHostApi`].
//!
//! # Layout
//! - `constants.rs`: every `SY_*` constant.
//! - `data.rs`: the plain data (strings, bytes, addresses, stats, sessions, events).
//! - `host_api.rs`: [`SyHostApi`], the host's table.
//! - `plugin.rs`: [`SyPluginDecl`] and [`SyPluginVTable`], what a plugin exports.
//! - this file: [`status_name`] and the layout pins.
#![allow(missing_docs)] // the header documents every field

mod constants;
mod data;
mod host_api;
mod plugin;

pub use constants::*;
pub use data::*;
pub use host_api::*;
pub use plugin::*;

/// A short human name for a status code, for logs and error messages.
pub fn status_name(status: u32) -> &'static str {
    match status {
        SY_OK => "ok",
        SY_ERR_PANICKED => "plugin panicked",
        SY_ERR_INVALID => "invalid argument",
        SY_ERR_NOT_FOUND => "not found",
        SY_ERR_ACCESS => "access denied",
        SY_ERR_EXISTS => "already exists",
        SY_ERR_NO_SPACE => "no space left",
        SY_ERR_IO => "I/O error",
        SY_ERR_CLOSED => "closed",
        SY_ERR_LIMIT => "limit reached",
        SY_ERR_CONFIG => "configuration refused",
        SY_ERR_UNSUPPORTED => "unsupported",
        SY_ERR_IS_DIR => "is a directory",
        SY_ERR_BUSY => "in use",
        SY_ERR_PANICKED_CONN => "plugin panicked on a connection",
        SY_PENDING => "pending",
        _ => "unknown status",
    }
}

// Layout pins, the same numbers as the `_Static_assert`s in `include/switchyard.h`.
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(std::mem::size_of::<SyStr>() == 16);
    assert!(std::mem::size_of::<SyAddr>() == 28);
    assert!(std::mem::size_of::<SyStat>() == 24);
    assert!(std::mem::size_of::<SyEvent>() == 216);
    assert!(std::mem::size_of::<SyPortDecl>() == 40);
    assert!(std::mem::size_of::<SyPluginDecl>() == 16);
    // Grows only at its end; a plugin's table as short as the first one still loads.
    assert!(std::mem::size_of::<SyPluginVTable>() == 168);
    assert!(SY_VTABLE_SIZE_V5 == 160);
    assert!(SY_VTABLE_SIZE_V1 == 120);
    assert!(SY_VTABLE_SIZE_V2 == 128);
    assert!(SY_VTABLE_SIZE_V3 == 144);
    assert!(SY_VTABLE_SIZE_V4 == 152);
    assert!(std::mem::size_of::<SySession>() == 96);
    // Grows only at its end (new calls), so older plugins keep reading a valid prefix.
    assert!(std::mem::size_of::<SyHostApi>() == 352);
    assert!(std::mem::size_of::<SyBusKvOp>() == 72);
    assert!(std::mem::size_of::<SyStorageOp>() == 40);
    assert!(std::mem::size_of::<SyStorageDone>() == 40);
};
