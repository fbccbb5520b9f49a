//! The actix actors that run plugins.
//!
//! One actor type, [`InstanceActor`], in two roles:
//! - **handler**: one per worker of a topology handler (`workers`, one by default for
//!   a plugin that does not shard; see `shard`). It owns the listener sockets (UDP sockets
//!   and TCP acceptors) routed to the handler and, for a per-handler plugin, the
//!   plugin instance and everything that instance opened (sockets, connections,
//!   timers, files).
//! - **connection**: for a per-connection plugin, one per accepted TCP connection, with
//!   its own instance; a panic there costs that one connection.
//!
//! Plugins do no I/O: the actor delivers events to the instance and executes what the
//! instance asks through [`crate::hostapi::HostCalls`] (see `calls`). Each worker of a handler runs
//! on its own arbiter (a thread with a current-thread runtime, see
//! `server::start`), together with its per-connection actors: one handler busy
//! never delays another, and within a handler a call into a plugin never happens
//! inside another.
//!
//! # Supervision
//! A plugin panic is caught by the SDK and reported as `SY_ERR_PANICKED`. The actor
//! then destroys the instance and everything it owned, counts a restart against the
//! handler's policy, and creates a fresh instance (per-handler) or closes the
//! connection (per-connection). Past `max_restarts` within `within`, the handler stops
//! alone with an ERROR log line; every other handler keeps serving.
//!
//! # Layout
//! Each file uses only files listed before it (`tests/import_cycles.rs` checks it).
//! - `io`: the ABI status for an I/O error.
//! - `event`: `HostEvent`, what the host tells a plugin, and its
//!   one lowering to the ABI's `SyEvent`.
//! - `file_cache`: whether a file range is in the page cache (before a `sendfile`).
//! - `writeback`: starting the disk early on files being written.
//! - `udp_io`: the system calls under a UDP socket: read-only registration, batched
//!   receives (`recvmmsg`), sends that wait for room only when they must.
//! - `streams`: UDP datagram, TCP accept and TCP read streams.
//! - `handover`: state handed over across a reload: what moves, the channel it moves
//!   through, whether both plugins can, and the checks that need no socket.
//! - `handler_wide`: what every worker of a handler shares across threads: connection
//!   counts against its limits, restart history, each worker's load, the plugin's
//!   named counters.
//! - `shared`: state shared by a handler's actors (plan, limits, counters, restart
//!   history); limits, restart policy and routes are the topology's own types.
//! - `shard`: which worker owns a datagram or a connection, and the messages carrying
//!   them there.
//! - `udp_sock`: a UDP socket, with its send backlog and read-ahead buffer.
//! - `sessions`: the sessions an instance described, as the host keeps them (and
//!   counts the bytes of those on a connection).
//! - `resources`: what an instance owns (sockets, connections, timers, files,
//!   sessions), and releasing it all at once.
//! - `instance_actor`: [`InstanceActor`] itself: its roles, starting, accepting,
//!   datagrams in, restarts after a panic, stopping; the handler [`Registry`].
//! - `refusal`: a connection refused for a limit: the handler's line to the peer
//!   before the close, and one log line per address per period.
//! - `intake`: datagrams and connections from the listeners, taken or handed to the
//!   worker that owns them; attaching and giving up listener sockets.
//! - `prefetch`: `prefetch_file`, reading file ranges in off the actor's thread.
//! - `udp_send`: putting a socket's datagrams on the wire: one at once, a batch with
//!   `sendmmsg`, the rest later in order when the send buffer is full.
//! - `udp_out`: sending datagrams, also from file ranges (read ahead, cached-only),
//!   without blocking, in order behind a deferred read.
//! - `conn`: connection input: bytes to the plugin, held bytes, receives into files.
//! - `conn_out`: connection output: the ordered write queue (bytes, `sendfile`,
//!   drain notices, shutdown, close) and dropping a connection.
//! - `messages`: actix messages the actor handles: typed messages between handlers,
//!   deferred flushes, drain, retire, abort and status queries.
//! - `conn_move`: a TCP connection detached from a replaced actor and adopted by its
//!   successor under the same id.
//! - `hand_over`: the replaced actor's side of a handover ([`HandOver`]): quiesce,
//!   export, send state and connections, end as the successor answers.
//! - `take_over`: the successor's side: hold back, create, import, adopt, then listen.
//! - `deadline`: the drain deadline: sessions left are logged, told, given a grace for
//!   their goodbyes, and cut.
//! - `down`: a handler that cannot serve made visibly down (listeners refuse, datagrams
//!   dropped and counted).
//! - `console_query`: what the operator console asks an actor: its sessions, and to
//!   cancel one (`SY_EV_SESSION_CANCEL`).
//! - `calls`: the actor lent to its plugin (`deliver`, the `HostCalls`
//!   implementation), dispatching each call to the owner of its resource:
//!   `calls::sockets`, `calls::conns`, `calls::files`, `calls::timers`,
//!   `calls::messages`, `calls::sessions`.

mod calls;
mod conn;
mod conn_move;
mod conn_out;
mod console_query;
mod deadline;
mod down;
mod event;
mod file_cache;
mod hand_over;
pub mod handler_wide;
pub mod handover;
mod instance_actor;
mod intake;
mod io;
mod messages;
mod prefetch;
mod refusal;
mod resources;
mod sessions;
mod shard;
pub mod shared;
mod streams;
mod take_over;
mod udp_io;
mod udp_out;
mod udp_send;
mod udp_sock;
mod writeback;

pub use console_query::{CancelSession, ListSessions};
pub use deadline::{DrainDeadline, GRACE};
pub use hand_over::HandOver;
pub use handler_wide::{Counters, HandlerWide};
pub use instance_actor::{InstanceActor, Registry, Workers};
pub use messages::{Abort, Busy, Drain, Retire, StopHandler, TypedMessage};
pub use shard::Peers;
pub use shared::{HandlerPlan, Shared, SharedListener};
