//! A recording host for unit tests of a [`Protocol`] implementation — no sockets,
//! no files, no clock: feed events with a chosen `now`, then assert on [`Action`]s.
//!
//! ```ignore
//! let mut host = MockHost::new();
//! let mut echo = host.create::<Echo>("()").unwrap();
//! host.deliver(&mut echo, 0, Event::Bytes { conn: ConnId(1), data: b"hi" });
//! assert_eq!(host.take_io(), vec![Action::Write { conn: 1, data: b"hi".to_vec() }]);
//! ```
//!
//! Storage is an in-memory map of path -> bytes; temp files become visible only on
//! commit, as with the real host. `create` delivers `Start` as the host does;
//! [`MockHost::check_config`] runs what `switchyard validate` runs; writes can be made
//! to fail ([`MockHost::fail_writes`]) or to fill up ([`MockHost::write_capacity`]) to
//! test limit and backpressure paths; storage operations can be made to wait
//! ([`MockHost::storage_waits`], [`MockHost::complete_storage`]), and reads to wait
//! for a prefetch ([`MockHost::cold_reads`]); emits are kept by port name, decoded on demand
//! ([`MockHost::messages`]); bus subscriptions are kept until a test confirms them and
//! delivers messages ([`MockHost::bus_confirm`], [`MockHost::bus_deliver`]).
//! [`steps::StepDriver`] runs a connection machine's steps over storage that waits,
//! as the SDK's adapter does, for the same scenario on a dir and on a store.
//!
//! The mock is a [`crate::host::HostCalls`] behind the host's own `extern "C"` table,
//! so a plugin's calls are decoded, checked and refused exactly as in the real host;
//! only what each call then does is the mock's own (`calls`; `files`: the namespace
//! under the root).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::abi::{SyHostApi, SyHostCtx};
use crate::config::parse_config;
use crate::ctx::Ctx;
use crate::event::Event;
use crate::host::{HOST_API, Lent, with_ctx};
use crate::port::Port;
use crate::protocol::Protocol;

mod bus;
mod calls;
mod dry;
mod files;
pub mod steps;
mod waits;

/// One thing the plugin asked the host to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Log {
        level: u32,
        msg: String,
    },
    ConfigError {
        msg: String,
        line: u32,
        col: u32,
    },
    SendDatagram {
        socket: u64,
        to: SocketAddr,
        data: Vec<u8>,
    },
    OpenUdp {
        socket: u64,
    },
    CloseSocket {
        socket: u64,
    },
    Write {
        conn: u64,
        data: Vec<u8>,
    },
    NotifyDrained {
        conn: u64,
        token: u64,
    },
    ShutdownWrite {
        conn: u64,
    },
    Close {
        conn: u64,
    },
    SetReading {
        conn: u64,
        on: bool,
    },
    SendFile {
        conn: u64,
        file: u64,
        offset: u64,
        len: u64,
        token: u64,
    },
    RecvToFile {
        conn: u64,
        file: u64,
        len: u64,
        sha256: bool,
        token: u64,
    },
    SetTimer {
        token: u64,
        delay_ms: u64,
    },
    CancelTimer {
        token: u64,
    },
    Emit {
        port: u32,
        data: Vec<u8>,
    },
    Commit {
        path: String,
    },
    PrefetchFile {
        file: u64,
        offset: u64,
        len: u64,
        token: u64,
    },
    BusPublish {
        subject: String,
        type_name: String,
        data: Vec<u8>,
    },
    BusSubscribe {
        subject: String,
        own: bool,
        token: u64,
    },
    BusUnsubscribe {
        token: u64,
    },
    BusStreamRead {
        stream: String,
        start: u64,
        token: u64,
    },
}

/// A session as the plugin last described it ([`crate::Ctx::describe_session`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub direction: crate::Direction,
    pub peer: Option<SocketAddr>,
    pub conn: Option<u64>,
    pub resource: String,
    pub state: String,
    pub bytes_done: u64,
    pub bytes_total: Option<u64>,
}

#[derive(Debug)]
struct OpenFile {
    data: Vec<u8>,
    temp: bool,
    /// `open_partial`: the path it continues, where `close_file` puts it back.
    continues: Option<String>,
    /// `open_read`: the path it was opened at (whose side file `file_digest` reads).
    read_from: Option<String>,
}

/// A typed message a plugin emitted, by port name (what `ctx.emit` takes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emitted {
    pub port: String,
    pub type_name: String,
    pub data: Vec<u8>,
}

/// The recording host. Plain data: inspect `files` and the actions freely.
#[derive(Debug, Default)]
pub struct MockHost {
    actions: Vec<Action>,
    /// Committed files, by path.
    pub files: BTreeMap<String, Vec<u8>>,
    open: BTreeMap<u64, OpenFile>,
    next_id: u64,
    /// Answer for `free_space`.
    pub free_space: u64,
    /// `read_file` calls so far (to check when a plugin reads).
    pub reads: u64,
    /// The wall clock at `now_ms == 0` (`Ctx::now_unix_ms` is this plus `now_ms`).
    pub wall_origin_ms: u64,
    /// Sessions described and not ended, by the plugin's key. Kept apart from the
    /// actions so that describing sessions does not change what `take_io` shows.
    pub sessions: BTreeMap<u64, SessionRecord>,
    /// Sessions ended, in order: key and result.
    pub ended: Vec<(u64, String)>,
    /// What each session in `ended` was last described as (`None`: never), as the
    /// host's access log line for it would say.
    pub ended_as: Vec<Option<SessionRecord>>,
    /// What `hand_over_state` was given last.
    handed_over: Option<(u32, Vec<u8>)>,
    /// The handler-wide counters (`Ctx::take_count`), as if this instance were the
    /// only one: set a count to play other workers' share.
    pub counters: BTreeMap<String, u64>,
    /// The port list of the plugin being called (to name emits by port).
    ports: &'static [Port],
    /// Messages emitted, by port name, since the last [`MockHost::take_messages`].
    messages: Vec<Emitted>,
    /// Set: every `write` fails with it (a peer gone, a full buffer).
    pub fail_writes: Option<crate::HostError>,
    /// Set: bytes a connection's output buffer takes before `write` fails with
    /// `HostError::Limit` (the host's `max_write_buffer`); [`MockHost::flush_writes`]
    /// empties it, as the peer reading would.
    pub write_capacity: Option<usize>,
    /// Bytes queued per connection, against `write_capacity`.
    queued: BTreeMap<u64, usize>,
    /// Sockets opened with `open_udp_in` and not closed, with their ports.
    pub udp_ports: BTreeMap<u64, u16>,
    /// Set: storage operations wait (as on an s3 storage) until
    /// [`MockHost::complete_storage`]; unset, they answer at once (as on a dir).
    pub storage_waits: bool,
    /// Storage operations in flight, in the order begun.
    in_flight: Vec<(u64, waits::OwnedOp)>,
    /// Set: `read_file` and `send_datagram_file` answer `Pending` for a range not
    /// prefetched (`prefetch_file`), as on an s3 storage whose bytes are not in the
    /// host's memory yet; unset, every range is there (as on a dir).
    pub cold_reads: bool,
    /// Ranges brought in, by file (with [`MockHost::cold_reads`]): a `prefetch_file`'s
    /// once its `FilePrefetched` is delivered.
    warm: BTreeMap<u64, Vec<(u64, u64)>>,
    /// Prefetches asked for and not delivered yet: token, file and range.
    prefetching: BTreeMap<u64, (u64, u64, u64)>,
    /// The entries of finished listings, by token (`storage_listing`).
    listings: BTreeMap<u64, Vec<(String, crate::abi::SyStat)>>,
    /// Bus subscriptions of the plugin, by token: subject and `own`
    /// ([`MockHost::bus_confirm`], [`MockHost::bus_deliver`]).
    pub bus_subscriptions: BTreeMap<u64, (String, bool)>,
    /// Stream reads of the plugin, by token: stream and start sequence
    /// ([`MockHost::bus_confirm`], [`MockHost::bus_stream_deliver`]).
    pub bus_stream_reads: BTreeMap<u64, (String, u64)>,
    /// This handler's name on the bus (`bus_identity`); `None`: no bus.
    pub bus_identity: Option<String>,
    /// Set: `bus_publish` answers it (play a full queue with `HostError::Busy`).
    pub bus_refuses: Option<crate::HostError>,
    /// The bus's key-value entries, by (bucket, key): value and revision (set entries
    /// to play other hosts' writes; [`MockHost::bus_kv_complete`]).
    pub bus_kv: BTreeMap<(String, String), (Vec<u8>, u64)>,
    /// Key-value operations in flight, in the order begun.
    bus_kv_in_flight: Vec<(u64, bus::OwnedKvOp)>,
    /// Ports `open_udp_in` finds taken by someone else (set to play a busy range).
    pub ports_taken_elsewhere: std::collections::BTreeSet<u16>,
    /// What [`MockHost::raw_ctx`] points at: unlike `with_ctx`'s slot on the stack, it
    /// must outlive the call that made the pointer.
    raw_slot: RawSlot,
}

/// The `Lent` slot behind [`MockHost::raw_ctx`], holding the host's own address.
#[derive(Debug)]
struct RawSlot(Lent<'static>);

impl Default for RawSlot {
    fn default() -> RawSlot {
        RawSlot(Lent(std::ptr::null_mut::<MockHost>()))
    }
}

// SAFETY: the slot only caches the address of the host that holds it; the table reads
// it only during a call made with `raw_ctx`, which needs `&mut` of the host (so no other
// thread can use the host meanwhile). The host is as `Send`/`Sync` as before.
unsafe impl Send for RawSlot {}
// SAFETY: as for `Send`: `&RawSlot` gives no access to the pointer outside the crate.
unsafe impl Sync for RawSlot {}

impl MockHost {
    /// An empty host with 1 GiB of free space.
    pub fn new() -> MockHost {
        MockHost {
            free_space: 1 << 30,
            wall_origin_ms: 1_700_000_000_000,
            ..Default::default()
        }
    }

    /// The host API table the mock hands to plugins (usable to drive a raw vtable). It
    /// is the host's own table, [`crate::host::HOST_API`].
    pub fn api() -> &'static SyHostApi {
        &HOST_API
    }

    /// This host as the opaque context pointer of the raw API. Valid for calls through
    /// [`MockHost::api`] until the host is moved or used otherwise.
    pub fn raw_ctx(&mut self) -> *mut SyHostCtx {
        let me: *mut MockHost = self;
        // SAFETY: `me` is `self`, exclusively borrowed here; the slot and the pointer
        // stored in it both derive from `me`, so the write invalidates neither.
        unsafe {
            (*me).raw_slot.0 = Lent(me);
            (&raw mut (*me).raw_slot.0).cast()
        }
    }

    /// Run `f` with a `Ctx` lending this host, as the real host lends its contexts.
    fn lend<R>(
        &mut self,
        now_ms: u64,
        ports: &'static [Port],
        f: impl FnOnce(&mut Ctx<'_>) -> R,
    ) -> R {
        let wall = self.wall_origin_ms + now_ms;
        self.ports = ports;
        with_ctx(self, |api, raw| {
            // SAFETY: the pointers `with_ctx` made, lending `self` for the whole of `f`.
            let mut cx = unsafe { Ctx::from_raw(&*api, raw, now_ms, wall, ports) };
            f(&mut cx)
        })
    }

    /// Parse `config` (RON) and create `P`, then deliver [`Event::Start`], as the
    /// real host does.
    pub fn create<P: Protocol>(&mut self, config: &str) -> Result<P, String> {
        let config = parse_config::<P::Config>(config).map_err(|e| e.to_string())?;
        let mut proto = self.lend(0, P::PORTS, |cx| P::new(config, cx))?;
        self.deliver(&mut proto, 0, Event::Start);
        Ok(proto)
    }

    /// Check `config` as `switchyard validate` does: parse it (errors with their line
    /// and column in the text), then run `P::new` with no I/O. A refusal by `new`
    /// counts only when `new` asked for nothing it was refused; a message in
    /// [`crate::ConfigError::field`]'s form keeps naming its field.
    pub fn check_config<P: Protocol>(config: &str) -> Result<(), crate::ConfigError> {
        dry::check_config::<P>(config)
    }

    /// Messages emitted since the last call, by port name.
    pub fn take_messages(&mut self) -> Vec<Emitted> {
        std::mem::take(&mut self.messages)
    }

    /// The messages of type `M` emitted on `port` since the last [`MockHost::take_messages`]
    /// (they stay), decoded. A message of another type there, or one that does not
    /// decode, is a test failure.
    pub fn messages<M: crate::messages::Message>(&self, port: &str) -> Vec<M> {
        self.messages
            .iter()
            .filter(|m| m.port == port)
            .map(|m| {
                assert_eq!(m.type_name, M::TYPE, "port `{port}` carried another type");
                serde_json::from_slice(&m.data)
                    .unwrap_or_else(|e| panic!("undecodable {} on `{port}`: {e}", M::TYPE))
            })
            .collect()
    }

    /// The peer read everything queued on `conn` (against `write_capacity`).
    pub fn flush_writes(&mut self, conn: u64) {
        self.queued.remove(&conn);
    }

    /// Deliver one event at time `now_ms`. A `FilePrefetched` that went well brings
    /// its range in ([`MockHost::cold_reads`]).
    pub fn deliver<P: Protocol>(&mut self, proto: &mut P, now_ms: u64, event: Event<'_>) {
        if let Event::FilePrefetched { token, result } = event {
            self.prefetched(token, result.is_ok());
        }
        self.lend(now_ms, P::PORTS, |cx| proto.on_event(cx, event));
    }

    /// Ask `proto` for its state as a reload would ([`Protocol::export_state`]).
    pub fn export_state<P: Protocol>(
        &mut self,
        proto: &mut P,
        now_ms: u64,
    ) -> Option<(u32, Vec<u8>)> {
        self.handed_over = None;
        self.lend(now_ms, P::PORTS, |cx| proto.export_state(cx))
    }

    /// Give `proto` a predecessor's state as a reload would ([`Protocol::import_state`]).
    pub fn import_state<P: Protocol>(
        &mut self,
        proto: &mut P,
        now_ms: u64,
        version: u32,
        state: &[u8],
    ) -> Result<(), String> {
        self.lend(now_ms, P::PORTS, |cx| {
            proto.import_state(cx, version, state)
        })
    }

    /// What a plugin gave `hand_over_state` (through a raw vtable's `export_state`).
    pub fn take_handed_over(&mut self) -> Option<(u32, Vec<u8>)> {
        self.handed_over.take()
    }

    /// Run `f` with a `Ctx` on this host at `now_ms`, as during an event. A plugin's
    /// inner state machine takes its storage as `&mut dyn Storage` (which `Ctx` is), so
    /// this drives such a machine directly over the in-memory storage (tests, fuzzing)
    /// without a `Protocol` wrapper around it.
    pub fn with_ctx<R>(&mut self, now_ms: u64, f: impl FnOnce(&mut Ctx<'_>) -> R) -> R {
        self.lend(now_ms, &[], f)
    }

    /// The actions recorded since the last call, logs included.
    pub fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    /// The WARN lines logged since the last take of actions (which this is: every
    /// other action recorded meanwhile is dropped too).
    pub fn take_warnings(&mut self) -> Vec<String> {
        self.take_actions()
            .into_iter()
            .filter_map(|a| match a {
                Action::Log { level, msg } if level == crate::abi::SY_LOG_WARN => Some(msg),
                _ => None,
            })
            .collect()
    }

    /// The actions recorded since the last call, without log lines.
    pub fn take_io(&mut self) -> Vec<Action> {
        self.take_actions()
            .into_iter()
            .filter(|a| !matches!(a, Action::Log { .. }))
            .collect()
    }

    /// How many handles (files or temps) are still open.
    pub fn open_files(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests;
