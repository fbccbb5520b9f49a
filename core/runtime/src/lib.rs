//! # switchyard-runtime
//!
//! Loads plugins, compiles a topology into a checked graph and runs it on actix.
//!
//! # Layout
//! - `topology`: RON parsing with positions, and the compiler into a checked graph.
//! - `loader`: `dlopen`, the version handshake, and `Plugin` (which keeps its library alive).
//! - `storage`: the host storage capability confined to a handler's root.

pub mod loader;
pub mod storage;
pub mod topology;
pub mod actor;
pub mod hostapi;
pub mod instance;
