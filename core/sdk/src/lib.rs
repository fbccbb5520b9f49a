//! # switchyard-sdk
//!
//! Everything a protocol plugin needs, and nothing it must not have: this crate
//! depends on neither actix nor tokio, because a `cdylib` carries its own copies of
//! their thread-locals and cannot use the host's runtime (see
//! `docs/decisions/plugin-boundary.md`, "Context").
//! A plugin is a sans-I/O state machine: the host feeds it [`Event`]s and it answers
//! by calling [`Ctx`] methods during the call.
//!
//! ```ignore
//! use switchyard_sdk::prelude::*;
//!
//! #[derive(serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Config {}
//!
//! struct Echo;
//!
//! impl Protocol for Echo {
//!     type Config = Config;
//!     const NAME: &'static str = "echo";
//!     const LISTENERS: Listeners = Listeners::UDP;
//!     fn new(_config: Config, _ctx: &mut Ctx<'_>) -> Result<Self, String> { Ok(Echo) }
//!     fn on_event(&mut self, ctx: &mut Ctx<'_>, event: Event<'_>) {
//!         if let Event::Datagram { socket, peer, data, .. } = event {
//!             let _ = ctx.send_datagram(socket, peer, data);
//!         }
//!     }
//! }
//!
//! switchyard_sdk::declare_plugin!(Echo);
//! ```
//!
//! # Layout
//! - [`abi`]: the raw `#[repr(C)]` ABI, mirrored by `include/switchyard.h` (the spec).
//! - `protocol`: the [`Protocol`] trait a plugin implements, and its declarations.
//! - `port`: [`Port`], a typed message port (declared by `Protocol`, used by `Ctx`).
//! - `stat`: [`Stat`], what the host says of a file.
//! - `session`: [`Session`], what a plugin tells the host of one session, and the
//!   [`Ctx`] calls that describe and end it.
//! - `file_id`: [`FileId`], an open file's handle.
//! - `event`: [`Event`], the safe view of one host event.
//! - `ctx`: [`Ctx`], the safe view of the host API during one call.
//! - `error`: [`HostError`], a host call's failure.
//! - `config`: parsing the handler's RON config with positions for the host.
//! - [`conn`]: [`conn::ConnMachine`], a per-connection state machine, and
//!   [`conn::ConnAdapter`], the one adapter running it for a `PerConnection` plugin
//!   (its transfers described to the host as sessions, its goodbye at the drain
//!   deadline).
//! - `messages`: typed messages shared by the bundled plugins.
//! - `storage`: [`Storage`], the storage calls as a trait for sans-I/O state machines.
//! - `store_op`: [`StoreOp`] and [`StoreDone`], a storage operation that may wait.
//! - `ctx_files`: the [`Ctx`] calls on storage that answer during the call.
//! - `ctx_store`: the [`Ctx`] calls that start such operations and read listings.
//! - `ctx_bus`: the [`Ctx`] calls of the cluster bus: publish, subscribe, unsubscribe.
//! - [`bus_subject`]: what a bus subject, key or bucket may be (checked by the host table).
//! - `bus_kv`: [`KvOp`], a key-value operation on the bus (claims, presence).
//! - `storage_waits`: [`StorageWaits`], a [`Storage`] for a machine whose storage
//!   may wait: a step that waited is run again once the answer is in.
//! - `storage_watch`: [`WatchedStorage`], a step's storage noting whether a call
//!   waited (so the machine parks the step).
//! - [`sums`]: digest side files (`.NAME.sha256`), one format for every serving plugin.
//! - `digest_line`: that format's name and line, pure text (below `storage` and `sums`).
//! - `trampoline` / `declare_plugin!` (in `macros`): the generated `extern "C"` glue; every entry
//!   catches panics, so a plugin bug never unwinds into the host.
//! - `typed_port`: [`Output`] and [`Input`], port handles binding a name to a message
//!   type, so that a wrong name or type does not compile ([`Ctx::send`]).
//! - `workers`: [`Sharding`] and [`InputDelivery`], what a plugin declares to run on
//!   several workers, and the handler-wide counters its instances share
//!   ([`Ctx::take_count`]).
//! - [`host`]: the host side of the ABI, written once: the [`host::HostCalls`] trait and
//!   the one `extern "C"` table that decodes a plugin's calls into it. The runtime and
//!   [`testing::MockHost`] both implement the trait, so they cannot differ at the ABI.
//! - [`testing`]: a recording host for unit tests of a `Protocol` impl.

pub mod abi;
mod bus_kv;
pub mod bus_subject;
mod config;
pub mod conn;
mod ctx;
mod ctx_bus;
mod ctx_files;
mod ctx_store;
mod digest_line;
mod error;
mod event;
mod file_id;
pub mod host;
mod macros;
pub mod messages;
mod port;
mod protocol;
mod session;
mod stat;
mod storage;
mod storage_waits;
mod storage_watch;
mod store_op;
pub mod sums;
pub mod testing;
#[doc(hidden)]
pub mod trampoline;
mod typed_port;
mod workers;

pub use bus_kv::{KvKind, KvOp};
pub use config::{ConfigError, parse_config};
pub use ctx::{Ctx, Level};
pub use error::HostError;
pub use event::{ConnId, DrainCause, Event, FileId, SocketId};
pub use port::Port;
pub use protocol::{InstanceMode, Listeners, Protocol, StorageKind};
pub use session::{Direction, Outcome, Session};
pub use stat::Stat;
pub use storage::{Storage, is_hidden_path};
pub use storage_waits::{StorageWaits, WaitingStorage};
pub use storage_watch::WatchedStorage;
pub use store_op::{StoreDone, StoreOp, raw_done};
pub use typed_port::{Input, Output};
pub use workers::{InputDelivery, Sharding};

/// One `use` for plugin authors. It grows no further (a new name here could clash with
/// a plugin's own glob imports): newer items are imported by name.
pub mod prelude {
    pub use crate::messages::{ChatMessage, Message, TransferCompleted};
    pub use crate::{
        ConnId, Ctx, Event, FileId, HostError, InstanceMode, Level, Listeners, Port, Protocol,
        SocketId, Stat, StorageKind,
    };
}
