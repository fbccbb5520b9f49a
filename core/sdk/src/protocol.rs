//! The [`Protocol`] trait a plugin implements, and what it declares to the host.

use serde::de::DeserializeOwned;

use crate::abi;
use crate::ctx::Ctx;
use crate::event::Event;
use crate::port::Port;
use crate::workers::{InputDelivery, Sharding};

/// The listener kinds a plugin serves, checked by `switchyard validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listeners(pub u32);

impl Listeners {
    /// No listener: the handler only exchanges typed messages.
    pub const NONE: Listeners = Listeners(0);
    pub const UDP: Listeners = Listeners(abi::SY_LISTEN_UDP);
    pub const TCP: Listeners = Listeners(abi::SY_LISTEN_TCP);
    pub const UDP_AND_TCP: Listeners = Listeners(abi::SY_LISTEN_UDP | abi::SY_LISTEN_TCP);
}

/// How many instances the host creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceMode {
    /// One instance serves the whole handler (UDP protocols, shared state such as rooms).
    PerHandler,
    /// A fresh instance per TCP connection: simple code, and a panic costs one connection.
    PerConnection,
}

impl InstanceMode {
    pub const fn raw(self) -> u32 {
        match self {
            InstanceMode::PerHandler => abi::SY_INSTANCE_PER_HANDLER,
            InstanceMode::PerConnection => abi::SY_INSTANCE_PER_CONNECTION,
        }
    }
}

/// Who reads the files under a handler's root. The topology refuses a private root
/// that equals, lies inside or contains a served one (unless `allow_nested_roots`):
/// a served root would hand private files to any peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    /// Peers are served files from the root (TFTP, files, bulk). The default, because
    /// it is the safe assumption about a plugin that says nothing.
    Served,
    /// Only the plugin reads the root (audit transcripts, state).
    Private,
}

impl StorageKind {
    pub const fn raw(self) -> u32 {
        match self {
            StorageKind::Served => abi::SY_STORAGE_SERVED,
            StorageKind::Private => abi::SY_STORAGE_PRIVATE,
        }
    }
}

/// A protocol, written as a sans-I/O state machine.
///
/// The host owns every socket, timer and file; the plugin sees [`Event`]s and acts
/// through [`Ctx`] during the call. Time comes only from [`Ctx::now_ms`], which makes
/// an implementation deterministic and testable with [`crate::testing::MockHost`].
pub trait Protocol: Sized + 'static {
    /// The handler's `config: (...)` section, parsed from RON. Use
    /// `#[serde(deny_unknown_fields)]` so that a typo is an error, not a silent default.
    type Config: DeserializeOwned;

    /// Plugin name, as topologies refer to it.
    const NAME: &'static str;
    /// Plugin version, shown by `switchyard plugins`.
    const VERSION: &'static str = "0.0.0";
    /// One line saying what the plugin does.
    const DESCRIPTION: &'static str = "";
    /// Listener kinds this plugin serves.
    const LISTENERS: Listeners;
    /// Instance per handler (default) or per TCP connection.
    const MODE: InstanceMode = InstanceMode::PerHandler;
    /// Typed message ports.
    const PORTS: &'static [Port] = &[];
    /// Whether peers read the files under the handler's root ([`StorageKind`]).
    const STORAGE: StorageKind = StorageKind::Served;
    /// Whether every storage call of this plugin that may wait goes through
    /// [`Ctx::storage_begin`] (or a [`crate::StorageWaits`]), and its reads are ready
    /// for [`crate::HostError::Pending`]. Only such a plugin can serve a storage that
    /// waits on the network (an s3 storage); the host refuses the others there.
    const STORAGE_WAITS: bool = false;
    /// Whether a handler may run on several workers (`workers:` in the topology), and
    /// which worker gets what ([`Sharding`]). One worker unless the plugin says so.
    const SHARDING: Sharding = Sharding::None;
    /// Where typed messages to a sharded handler go ([`InputDelivery`]).
    const INPUT_DELIVERY: InputDelivery = InputDelivery::OneWorker;

    /// Build an instance from its configuration. An `Err` refuses the handler.
    fn new(config: Self::Config, ctx: &mut Ctx<'_>) -> Result<Self, String>;

    /// Handle one event.
    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: Event<'_>);

    /// Sessions still in flight, consulted while the host drains.
    fn active_sessions(&self) -> u64 {
        0
    }

    /// What a panic costs a per-handler instance. By default (`false`) everything: the
    /// instance is dropped with every connection it held, and a fresh one is created,
    /// because a panic may have left any of its state half-changed. A plugin that keeps
    /// its state per connection, and changes shared state only in steps a panic cannot
    /// interrupt halfway, may set `true`: a panic while handling an event of one
    /// connection then closes that connection only (the plugin gets its `ConnClosed`,
    /// and drops what it kept for it), and the instance serves on. Ignored for
    /// per-connection plugins (a panic costs their one connection anyway) and for events
    /// of no connection (datagrams, timers: the instance is recreated).
    const PANIC_COSTS_CONNECTION: bool = false;

    /// Whether this plugin hands its state over across a reload ([`Protocol::export_state`]
    /// and [`Protocol::import_state`]). Why: a replaced instance's sessions on a shared
    /// listener socket (chat members, a key/value store's keys) cannot stay with it, since
    /// the socket now delivers to its successor; handing the state over keeps them, and
    /// the host then moves the instance's connections to the successor too.
    const HANDS_OVER_STATE: bool = false;

    /// The instance's state as bytes, tagged with a state version the plugin chooses
    /// (start at 1, bump it when the format changes). Called once, when a reload
    /// replaces the instance and the host has quiesced it; the connections then move
    /// to the successor (same [`crate::ConnId`]s). If the successor takes the state,
    /// the instance is destroyed without another event; if it refuses it, the instance
    /// gets [`Event::ConnClosed`] for each moved connection, then [`Event::Replaced`]
    /// and [`Event::Drain`]. Timers, files and sockets of its own do not move: the
    /// successor re-arms what it needs. Each instance has its own clock
    /// ([`Ctx::now_ms`] starts anew in the successor): hand deadlines over as time
    /// left. `None`: nothing to hand over; the instance keeps its sessions and retires
    /// as without the hook.
    fn export_state(&mut self, ctx: &mut Ctx<'_>) -> Option<(u32, Vec<u8>)> {
        let _ = ctx;
        None
    }

    /// Take a predecessor's state (from the same or an older build of this plugin),
    /// right after [`Protocol::new`] and before any event. Migrate an older `version`;
    /// refuse one you do not know with `Err(why)`, leaving `self` as `new` made it: the
    /// instance then starts fresh, and the host logs `why`.
    fn import_state(
        &mut self,
        ctx: &mut Ctx<'_>,
        version: u32,
        state: &[u8],
    ) -> Result<(), String> {
        let _ = (ctx, state);
        Err(format!(
            "state version {version} is not taken by this plugin"
        ))
    }
}
