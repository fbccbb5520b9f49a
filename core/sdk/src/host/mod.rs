//! The host side of [`SyHostApi`], written once for every host: the real one in
//! `switchyard-runtime` and [`crate::testing::MockHost`].
//!
//! A host implements [`HostCalls`], one safe method per host call taking decoded Rust
//! arguments, and lends it to a plugin with [`with_ctx`]. The one static table
//! [`HOST_API`] decodes the raw arguments (pointers, lengths, `SyStr`, addresses, flag
//! bits), refuses malformed ones with `SY_ERR_INVALID` before any host code runs, and
//! writes results to the plugin's out-pointers. Why one table: when the mock carried
//! its own `extern "C"` shims, it decoded and checked arguments differently from the
//! host, so a plugin could pass its unit tests and misbehave when loaded. Now a mock
//! and the host differ only in what their methods do, never at the ABI level.
//!
//! The opaque `SyHostCtx` pointer a plugin gets points to a `Lent` slot: a `*mut dyn
//! HostCalls` that lives for the duration of one call, so the same table serves config
//! checks (which only log and report errors), running instances (which own sockets,
//! timers and files) and mocks. Every entry catches panics of the host's own code:
//! unwinding into a plugin's frames would be undefined behaviour.
//!
//! # Layout
//! - `calls`: the [`HostCalls`] trait, and the slot a context is lent through.
//! - `at_once`: [`answer_at_once`], a storage operation by the synchronous calls.
//! - `decode`: checking and decoding a plugin's raw arguments, for both tables.
//! - `store_table`: the `extern "C"` storage operation entries of [`HOST_API`].
//! - `bus_table`: the `extern "C"` cluster bus entries of [`HOST_API`].
//! - `table`: argument decoding and the `extern "C"` functions of [`HOST_API`].
//! - this file: [`with_ctx`], which lends a context to a plugin for one call.

use crate::abi::{SyHostApi, SyHostCtx};

mod at_once;
mod bus_table;
mod calls;
mod decode;
mod store_table;
mod table;
#[cfg(test)]
mod tests;

pub use at_once::{Listing, answer_at_once};
pub use calls::HostCalls;
pub(crate) use calls::Lent;
pub use table::HOST_API;

/// Run `f` with the raw `(api, ctx)` pair that lends `calls` to a plugin for one call.
pub fn with_ctx<R>(
    calls: &mut dyn HostCalls,
    f: impl FnOnce(*const SyHostApi, *mut SyHostCtx) -> R,
) -> R {
    let mut lent = Lent(calls);
    f(&HOST_API, lent.as_ctx())
}
