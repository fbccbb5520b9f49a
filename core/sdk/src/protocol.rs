//! The [`Protocol`] trait a plugin implements, and what it declares to the host.

use serde::de::DeserializeOwned;

use crate::abi;
use crate::ctx::Ctx;
use crate::event::Event;
use crate::port::Port;

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

    /// Build an instance from its configuration. An `Err` refuses the handler.
    fn new(config: Self::Config, ctx: &mut Ctx<'_>) -> Result<Self, String>;

    /// Handle one event.
    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: Event<'_>);

    /// Sessions still in flight, consulted while the host drains.
    fn active_sessions(&self) -> u64 {
        0
    }
}
