//! # switchyard-runtime
//!
//! Loads plugins, compiles a topology into a checked graph and runs it on actix.
//! Plugins are sans-I/O state machines behind the C ABI of `switchyard-sdk`: every
//! socket, timer and file is owned here, by the actors.
//!
//! # Layout
//! - [`topology`]: RON parsing with positions, and the compiler into a checked graph.
//! - [`loader`]: `dlopen`, the declaration-first handshake, and [`loader::Plugin`]
//!   (which keeps its library alive).
//! - [`catalog`]: finding plugins by name, loading each once, answering the compiler.
//! - [`hostapi`]: the host's side of the ABI, re-exported from `switchyard_sdk::host`
//!   (shared with `MockHost`): one `extern "C"` table dispatching to a
//!   [`hostapi::HostCalls`] implementation (`actor::calls`, `instance::ConfigCollector`).
//! - [`logfmt`]: plugin log lines split into a message and fields (JSON keys).
//! - [`access_log`]: one line per finished session, buffered, in its own file.
//! - [`bus`]: the cluster bus (NATS): the connection, typed messages published from
//!   output ports and delivered to input ports, types checked, queues bounded.
//! - [`metrics`]: the Prometheus registry and the admin endpoint's responses.
//! - [`console`]: the operator console (page, JSON status, event stream, actions) on
//!   the admin listener.
//! - [`busy_poll`]: spinning before a handler thread sleeps (`busy_poll_us`).
//! - [`ids`]: ids for sockets, connections and files, unique across the process (so
//!   they stay valid when a reload hands state over to another handler thread).
//! - [`instance`]: one live plugin instance, and config checks through a plugin.
//! - [`storage`]: the storage capability confined to a handler's root.
//! - [`objects`]: handler storage on an S3-compatible object store (`s3` storages).
//! - [`actor`]: the actix actors running instances, listeners and connections (its
//!   own `# Layout` lists its files).
//! - [`server`]: starting and reloading a topology: [`server::plan::ReloadPlan`], a
//!   pure diff of what runs and what the new topology asks for, carried out in two
//!   steps (prepare everything that can fail, reporting every error; then switch);
//!   binding listeners; draining.

pub mod access_log;
pub mod actor;
pub mod bus;
pub mod busy_poll;
pub mod catalog;
pub mod console;
pub mod hostapi;
pub mod ids;
pub mod instance;
pub mod loader;
pub mod logfmt;
pub mod metrics;
pub mod objects;
pub mod server;
pub mod storage;
pub mod topology;
