//! Tests of the topology compiler against a fake plugin catalog.
//!
//! # Layout
//! - `access_log.rs`: the top-level `access_log` field.
//! - `admin.rs`: `admin` and `admin_token_env`.
//! - `fake.rs`: the fake catalog (plugins as data; configs checked with the SDK's real
//!   `parse_config`, so positions are the ones a real plugin reports) and helpers.
//! - `valid.rs`: topologies that compile, and the graph they compile to.
//! - `syntax.rs`: syntax, field, value and address errors (the reading stage).
//! - `semantic.rs`: plugin, config, route, cycle and address-conflict errors.
//! - `render.rs`: the miette report and `Display`.
//! - `roots.rs`: private storage roots inside served ones.
//! - `bind.rs`: host names in `bind` (resolved, or not), `dual_stack`, their clashes.
//! - `plugins.rs`: load failures by class, and where they are reported.
//! - `storages.rs`: the `storages` section and a handler's `storage`.
//! - `bus.rs`: the `bus` section, each field checked at its value.
//! - `bus_routes.rs`: routes between ports and bus subjects, and their types.
//! - `workers.rs`: `workers` against the plugin's sharding, and its default.

mod access_log;
mod admin;
mod bind;
mod bus;
mod bus_routes;
mod fake;
mod plugins;
mod render;
mod roots;
mod semantic;
mod storages;
mod syntax;
mod valid;
mod workers;
