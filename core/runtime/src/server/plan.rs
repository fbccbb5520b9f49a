//! A reload as a value: what changes between the running topology and a new one.
//!
//! [`ReloadPlan::new`] diffs what the server knows of what runs ([`Running`]) with a
//! compiled [`Topology`] and says, for every handler, listener address, storage root
//! and the admin endpoint, what happens to it. It does no I/O: the server carries the
//! plan out afterwards (prepare everything that can fail, then switch), and the rules
//! of a reload are tested here with plain data instead of sockets and plugins.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use crate::loader::LibraryId;
use crate::topology::{HandlerSpec, ListenerSpec, Topology};

/// What the server knows of the topology it runs: the input of a plan.
#[derive(Debug, Clone, Default)]
pub struct Running<'a> {
    pub handlers: Vec<RunningHandler<'a>>,
    pub listeners: Vec<RunningListener<'a>>,
    /// The admin endpoint's address as configured (port 0 stays 0).
    pub admin: Option<SocketAddr>,
}

/// A running handler: its spec, the library it runs, and whether it still runs.
#[derive(Debug, Clone)]
pub struct RunningHandler<'a> {
    pub spec: &'a HandlerSpec,
    pub library: LibraryId,
    /// Stopped by its restart intensity: a reload is how an operator restarts it.
    pub stopped: bool,
}

/// A running listener and the addresses of its sockets, one per `spec.binds` entry.
#[derive(Debug, Clone)]
pub struct RunningListener<'a> {
    pub spec: &'a ListenerSpec,
    pub sockets: Vec<SocketAddrs>,
}

/// One socket's addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketAddrs {
    /// As the topology asked for it (port 0 stays 0).
    pub wanted: SocketAddr,
    /// As really bound (the port picked for port 0).
    pub local: SocketAddr,
}

/// What happens to one handler of the new topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandlerStep {
    /// Unchanged and running: left alone, its connections do not notice.
    Keep,
    /// New in this topology.
    Start,
    /// Changed (or stopped): a new instance starts, the old one retires.
    Replace,
}

/// Where one address of a listener gets its socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketStep {
    /// A duplicate of a running socket: nothing waiting in the kernel is lost.
    Reuse {
        /// The running listener holding it (maybe under another name).
        listener: String,
        /// Its index in that listener's sockets.
        index: usize,
        /// The address it is bound to.
        local: SocketAddr,
    },
    /// Bound now.
    Bind,
}

/// The sockets of one listener of the new topology, one per address of its `binds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerStep {
    pub name: String,
    pub sockets: Vec<SocketStep>,
}

impl ListenerStep {
    /// The port a port-0 listener already has (from a socket it keeps): its new
    /// addresses are bound on it, so `name:port` stays one service.
    pub fn kept_port(&self) -> Option<u16> {
        self.sockets.iter().find_map(|s| match s {
            SocketStep::Reuse { local, .. } => Some(local.port()),
            SocketStep::Bind => None,
        })
    }
}

/// What happens to the admin endpoint (`/metrics`, `/health`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminStep {
    /// None before, none after.
    Absent,
    /// Same address: the endpoint keeps serving.
    Keep(SocketAddr),
    /// None before: bound and served.
    Open(SocketAddr),
    /// Another address: the new one is bound first, the old one closes after the switch.
    Rebind { from: SocketAddr, to: SocketAddr },
    /// Removed from the topology.
    Close(SocketAddr),
}

impl AdminStep {
    /// The address to bind before switching, if any.
    pub fn to_bind(self) -> Option<SocketAddr> {
        match self {
            AdminStep::Open(to) | AdminStep::Rebind { to, .. } => Some(to),
            _ => None,
        }
    }

    /// Whether the running endpoint closes at the switch.
    pub fn closes_running(self) -> bool {
        matches!(self, AdminStep::Rebind { .. } | AdminStep::Close(_))
    }
}

/// What a reload did, handler by handler.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadSummary {
    pub kept: Vec<String>,
    pub started: Vec<String>,
    pub replaced: Vec<String>,
    pub retired: Vec<String>,
}

/// Everything a move from the running topology to a new one changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadPlan {
    /// Every handler of the new topology, in its order.
    pub handlers: Vec<(String, HandlerStep)>,
    /// Running handlers absent from the new topology (sorted): they drain and stop.
    pub retired: Vec<String>,
    /// Every listener of the new topology, in its order.
    pub listeners: Vec<ListenerStep>,
    /// Running sockets no listener takes over (by bound address): they close.
    pub closed: Vec<SocketAddr>,
    /// Handlers whose storage root is opened (those starting, with a `root`).
    pub roots: Vec<String>,
    pub admin: AdminStep,
}

impl ReloadPlan {
    /// Diff `running` with `topology`. `libraries` holds the library each new handler
    /// would run; a handler missing there (its plugin failed to load) counts as changed.
    pub fn new(
        running: &Running<'_>,
        topology: &Topology,
        libraries: &HashMap<String, LibraryId>,
    ) -> ReloadPlan {
        let running_listeners: Vec<&ListenerSpec> =
            running.listeners.iter().map(|l| l.spec).collect();
        let new_listeners: Vec<&ListenerSpec> = topology.listeners.iter().collect();
        let handlers: Vec<(String, HandlerStep)> = topology
            .handlers
            .iter()
            .map(|h| {
                let step = match running.handlers.iter().find(|r| r.spec.name == h.name) {
                    None => HandlerStep::Start,
                    Some(old)
                        if !old.stopped
                            && old.spec == h
                            && libraries.get(&h.name) == Some(&old.library)
                            && listeners_of(&running_listeners, &h.name)
                                == listeners_of(&new_listeners, &h.name) =>
                    {
                        HandlerStep::Keep
                    }
                    Some(_) => HandlerStep::Replace,
                };
                (h.name.clone(), step)
            })
            .collect();
        let mut retired: Vec<String> = running
            .handlers
            .iter()
            .map(|r| r.spec.name.clone())
            .filter(|name| topology.handlers.iter().all(|h| h.name != *name))
            .collect();
        retired.sort();
        let roots = topology
            .handlers
            .iter()
            .zip(&handlers)
            .filter(|(h, (_, step))| h.root.is_some() && *step != HandlerStep::Keep)
            .map(|(h, _)| h.name.clone())
            .collect();
        let listeners: Vec<ListenerStep> = topology
            .listeners
            .iter()
            .map(|l| listener_step(l, &running.listeners))
            .collect();
        let reused: HashSet<(&str, usize)> = listeners
            .iter()
            .flat_map(|l| &l.sockets)
            .filter_map(|s| match s {
                SocketStep::Reuse {
                    listener, index, ..
                } => Some((listener.as_str(), *index)),
                SocketStep::Bind => None,
            })
            .collect();
        let closed = running
            .listeners
            .iter()
            .flat_map(|l| {
                let name = l.spec.name.as_str();
                let reused = &reused;
                l.sockets
                    .iter()
                    .enumerate()
                    .filter(move |(i, _)| !reused.contains(&(name, *i)))
                    .map(|(_, s)| s.local)
            })
            .collect();
        let admin = match (running.admin, topology.admin) {
            (None, None) => AdminStep::Absent,
            (Some(from), Some(to)) if from == to => AdminStep::Keep(to),
            (None, Some(to)) => AdminStep::Open(to),
            (Some(from), Some(to)) => AdminStep::Rebind { from, to },
            (Some(from), None) => AdminStep::Close(from),
        };
        ReloadPlan {
            handlers,
            retired,
            listeners,
            closed,
            roots,
            admin,
        }
    }

    /// What happens to handler `name` of the new topology.
    pub fn step(&self, name: &str) -> Option<HandlerStep> {
        self.handlers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, step)| *step)
    }

    /// Whether handler `name` gets its storage root opened.
    pub fn opens_root(&self, name: &str) -> bool {
        self.roots.iter().any(|r| r == name)
    }

    /// The plan as the operator sees it (logged, and in the reload answer).
    pub fn summary(&self) -> ReloadSummary {
        let named = |want: HandlerStep| {
            self.handlers
                .iter()
                .filter(|(_, step)| *step == want)
                .map(|(name, _)| name.clone())
                .collect()
        };
        ReloadSummary {
            kept: named(HandlerStep::Keep),
            started: named(HandlerStep::Start),
            replaced: named(HandlerStep::Replace),
            retired: self.retired.clone(),
        }
    }
}

/// The listeners routed to `handler`, by name: a handler whose listeners changed in
/// any way (renamed, another address or kind) is replaced.
fn listeners_of<'a>(all: &[&'a ListenerSpec], handler: &str) -> Vec<&'a ListenerSpec> {
    let mut v: Vec<&ListenerSpec> = all
        .iter()
        .copied()
        .filter(|l| l.handler == handler)
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// Where each address of `spec` gets its socket. An address already bound by a running
/// listener of the same kind and dual-stack mode is taken over: `ip:P` takes over the
/// socket really bound there, whatever the topology said before (`P` was maybe picked
/// for a port 0), under any listener name; `ip:0` only the `ip:0` of the listener of
/// the same name, since another listener's port-0 socket is its own ephemeral port.
fn listener_step(spec: &ListenerSpec, running: &[RunningListener<'_>]) -> ListenerStep {
    let sockets = spec
        .binds
        .iter()
        .map(|&wanted| {
            running
                .iter()
                .filter(|old| old.spec.kind == spec.kind && old.spec.dual_stack == spec.dual_stack)
                .find_map(|old| {
                    let index = old.sockets.iter().position(|s| match wanted.port() {
                        0 => old.spec.name == spec.name && s.wanted == wanted,
                        _ => s.local == wanted,
                    })?;
                    Some(SocketStep::Reuse {
                        listener: old.spec.name.clone(),
                        index,
                        local: old.sockets[index].local,
                    })
                })
                .unwrap_or(SocketStep::Bind)
        })
        .collect();
    ListenerStep {
        name: spec.name.clone(),
        sockets,
    }
}

#[cfg(test)]
pub(super) mod tests;
