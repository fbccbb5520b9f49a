//! Topology files: RON parsing that keeps positions, and the compiler into a checked
//! graph of listeners, handlers and message routes.
//!
//! Modelled on Vector's config loading: parse, then compile, collecting **every**
//! problem in one pass (syntax, unknown or missing fields, bad values and addresses,
//! unknown plugins, plugin config errors, dangling or ill-typed routes, listener routing,
//! cycles, address conflicts), each at its `file:line:col` with a caret
//! ([`render`]). An operator fixes the file in one round instead of one error per run.
//!
//! ```text
//! let src = topology::load(path)?;                 // I/O errors are diagnostics too
//! let topo = topology::compile(&src, &catalog)?;   // catalog: the host's dlopen side
//! ```
//!
//! Relative paths in a topology (`plugin_dirs`, `plugins`, `root`) resolve against the
//! current working directory, not against the file's directory.
//!
//! # Layout
//! - `source.rs`: [`SourceFile`]; byte offsets <-> line/column; the file as miette's
//!   source (columns in characters).
//! - `raw.rs`: one level of RON at a time, values left as slices of the file.
//! - `reader.rs`: field checks (unknown/missing/duplicate), typed leaf values, ron errors
//!   as diagnostics.
//! - `document.rs`: the format itself: top level, listeners, handlers, routes.
//! - `named.rs`: the entries of a `{ "name": value }` section, names checked alike.
//! - `access_log.rs`: the top-level `access_log` field.
//! - `admin.rs`: the `admin` address and `admin_token_env` (a token required off
//!   loopback, read from the environment variable named).
//! - `handler_limits.rs`: a handler's `restart` and `limits`.
//! - `storages.rs`: the top-level `storages` section (`dir` and `s3` backends).
//! - `bus.rs`: the top-level `bus` section (NATS servers, credentials' variables,
//!   subject prefix, host name, queue bound).
//! - `bus_streams.rs`: the bus's `streams` (JetStream streams: subjects, size, age
//!   and deduplication bounds; no subject in two streams).
//! - `bus_routes.rs`: routes between ports and bus subjects (`bus:subject`), their
//!   types checked against every other route of the subject.
//! - `service_url.rs`: the check of a service's URL (S3 endpoint, NATS server) that
//!   `storages.rs` and `bus.rs` share.
//! - `handler_storage.rs`: a handler's `root`, `storage` and `symlinks`.
//! - `object_storage.rs`: handlers on an `s3` storage: their plugin, their spool.
//! - `bind.rs`: a listener's `bind` (`ip:port` or `host:port`) and `dual_stack`, and
//!   resolving host names (at compile time: start, reload, `validate`).
//! - `resolution.rs`: host names in `bind` resolved to addresses (start, reload,
//!   `validate`).
//! - `catalog.rs`: [`PluginCatalog`], what the compiler asks the host about plugins,
//!   and [`PluginProblem`], why one cannot be used, by class.
//! - `plugins.rs`: each plugin described (load failures reported by class, at the
//!   path to fix) and each handler's config checked by its plugin.
//! - `route_ends.rs`: a route's `handler.port` ends resolved against the plugins'
//!   ports (direction, suggestions), shared by `routes.rs` and `bus_routes.rs`.
//! - `routes.rs`: listener and handler-to-handler routes, port types, listener kinds.
//! - `cycles.rs`: cycles among handler port routes.
//! - `addresses.rs`: two listeners claiming one address (every resolved address,
//!   dual stack included).
//! - `roots.rs`: private storage roots kept apart from served ones.
//! - [`workers`]: a handler's `workers`, checked against its plugin's sharding, and
//!   its default.
//! - `compile.rs`: [`load`], [`compile`]: the pass that runs all of the above.
//! - `model.rs`: the compiled [`Topology`].
//! - `collect.rs`: problems collected while compiling, then turned into diagnostics.
//! - `diagnostic.rs`: [`Diagnostic`], [`DiagnosticKind`], [`TopologyErrors`].
//! - `render.rs`: [`render`], the graphical report the CLI prints.
//! - `tests/`: the compiler's tests against a fake catalog.

mod access_log;
mod addresses;
mod admin;
mod bind;
mod bus;
mod bus_routes;
mod bus_streams;
mod catalog;
mod collect;
mod compile;
mod cycles;
mod diagnostic;
mod document;
mod handler_limits;
mod handler_storage;
mod model;
mod named;
mod object_storage;
mod plugins;
mod raw;
mod reader;
mod render;
mod resolution;
mod roots;
mod route_ends;
mod routes;
mod service_url;
mod source;
mod storages;
pub mod workers;

#[cfg(test)]
mod tests;

pub use catalog::{
    ConfigDiagnostic, LoadFailure, PluginCatalog, PluginDescription, PluginProblem,
    PortDescription, PortDirection, StorageKind,
};
pub use compile::{compile, load};
pub use diagnostic::{Diagnostic, DiagnosticKind, TopologyErrors};
pub use model::{
    AccessLogFormat, AccessLogSpec, AdminToken, BusCredentials, BusInputRoute, BusOutputRoute,
    BusSpec, HandlerSpec, Limits, ListenerKind, ListenerSpec, OutputRoute, RestartPolicy,
    S3Binding, S3StorageSpec, StorageBackend, StorageSpec, StreamSpec, Topology,
};
pub use plugins::{PluginLookup, plugin_lookup};
pub use render::render;
pub use source::SourceFile;
