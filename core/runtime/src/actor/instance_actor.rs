//! [`InstanceActor`]: the actor, its two roles, and what it does on its own —
//! starting, attaching listeners, accepting, taking datagrams, restarting after a
//! panic, stopping. Lending itself to the plugin (`deliver`) is `calls`'s; the other
//! inputs (connections, messages) are in the files named for them.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, RwLock};

use actix::{Actor, ActorContext, Addr, AsyncContext, Context, StreamHandler};
use slog::{error, info, warn};
use switchyard_sdk::abi;
use tokio::net::TcpStream;

use super::event::HostEvent;
use super::handler_wide::HandlerWide;
use super::handover::{Phase, Predecessor};
use super::resources::{Conn, ConnOrigin, Resources};
use super::shard::Peers;
use super::shared::{ConnSlot, HandlerPlan, Shared, SharedListener};
use super::streams::{Accepted, ConnItem, ConnRead, Gate, ReadControl, UdpItem};
use crate::instance::Instance;

/// Handler name -> its workers, for typed messages. Replaced entries take effect at
/// once. Shared across handler threads; read on every emit, written only at (re)load.
pub type Registry = Arc<RwLock<HashMap<String, Workers>>>;

/// A handler's workers' actors, and where a typed message for it goes.
#[derive(Debug, Clone)]
pub struct Workers {
    pub addrs: Vec<Addr<InstanceActor>>,
    /// The plugin asked for a copy of each message in every worker (`SY_INPUT_*`).
    pub every: bool,
    pub wide: Arc<HandlerWide>,
}

impl Workers {
    /// The workers a typed message goes to: all, or the next one in turn.
    pub fn for_message(&self) -> &[Addr<InstanceActor>] {
        if self.every || self.addrs.len() <= 1 {
            &self.addrs
        } else {
            let k = self.wide.next_in_turn();
            &self.addrs[k..=k]
        }
    }
}

/// A handler's per-connection actors, by connection id. Not in [`Shared`], which
/// stands below this actor and so cannot name it.
pub(super) type Children = Rc<std::cell::RefCell<HashMap<u64, Addr<InstanceActor>>>>;

/// A connection accepted for a per-connection actor: stream, peer, listener, slot.
pub(super) type PendingConn = (TcpStream, std::net::SocketAddr, Rc<str>, ConnSlot);

/// Read size of a connection in normal operation.
pub(super) const READ_CHUNK: usize = 64 * 1024;

#[derive(Debug)]
pub(super) enum Role {
    Handler,
    Connection { id: u64 },
}

/// Runs one plugin instance (or, for a per-connection handler, only its listeners).
#[derive(Debug)]
pub struct InstanceActor {
    pub(super) shared: Rc<Shared>,
    /// Every handler's actor, for typed messages (see [`Registry`]).
    pub(super) registry: Registry,
    /// The handler's per-connection actors alive, by connection id: shared by the
    /// handler actor and those actors (each removes itself when it stops).
    pub(super) children: Children,
    pub(super) role: Role,
    pub(super) instance: Option<Instance>,
    pub(super) res: Resources,
    /// Listener sockets waiting to be attached (in `started`, or after a handover).
    pub(super) pending_udp: Vec<SharedListener<std::net::UdpSocket>>,
    pub(super) pending_tcp: Vec<SharedListener<std::net::TcpListener>>,
    /// The connection a per-connection actor was made for, until `started`.
    pending_conn: Option<PendingConn>,
    /// Listener accept streams, each with the gate closed before it is cancelled.
    pub(super) accept_handles: Vec<(actix::SpawnHandle, Gate)>,
    /// Duplicates of the TCP listener sockets being accepted on, so that a handler that
    /// goes down can make its listeners refuse connections (`down.rs`).
    pub(super) tcp_listening: Vec<std::net::TcpListener>,
    /// The replaced instance whose state this handler waits for, until `started`.
    predecessor: Option<Predecessor>,
    /// Where the instance stands in a state handover (what its host calls may do).
    pub(super) phase: Phase,
    /// The drain deadline cut this actor's sessions (once; see `deadline`).
    pub(super) cut: bool,
    /// This actor's share of the sessions gauge, as last added to it.
    sessions_reported: i64,
    /// The handler's other workers (`shard`), once all have started.
    pub(super) peers: Option<Peers>,
    /// Worker 0 of several waits for [`Peers`] before it reads its listeners (what it
    /// reads may belong to another worker).
    pub(super) listen_on_peers: bool,
}

impl InstanceActor {
    /// A handler actor; its listeners start with the actor.
    pub fn handler(plan: HandlerPlan, shared: Rc<Shared>, registry: Registry) -> InstanceActor {
        InstanceActor {
            shared,
            registry,
            children: Children::default(),
            role: Role::Handler,
            instance: None,
            res: Resources::default(),
            pending_udp: plan.udp,
            pending_tcp: plan.tcp,
            pending_conn: None,
            accept_handles: Vec::new(),
            tcp_listening: Vec::new(),
            predecessor: plan.predecessor,
            phase: Phase::Serving,
            cut: false,
            sessions_reported: 0,
            peers: None,
            listen_on_peers: false,
        }
    }

    /// A per-connection actor for `conn`, on this worker's thread.
    pub(super) fn connection_actor(&self, id: u64, conn: PendingConn) -> InstanceActor {
        InstanceActor {
            shared: Rc::clone(&self.shared),
            registry: Arc::clone(&self.registry),
            children: Rc::clone(&self.children),
            role: Role::Connection { id },
            instance: None,
            res: Resources::default(),
            pending_udp: Vec::new(),
            pending_tcp: Vec::new(),
            pending_conn: Some(conn),
            accept_handles: Vec::new(),
            tcp_listening: Vec::new(),
            predecessor: None,
            phase: Phase::Serving,
            cut: false,
            sessions_reported: 0,
            peers: None,
            listen_on_peers: false,
        }
    }

    pub(super) fn per_connection(&self) -> bool {
        self.shared.plugin.info().instance_mode == abi::SY_INSTANCE_PER_CONNECTION
    }

    /// The instance panicked and is gone: free what it owned, then restart or stop.
    pub(super) fn on_panic(&mut self, ctx: &mut Context<Self>) {
        self.res.release_instance_resources(ctx);
        self.shared.metrics.restarts.inc();
        self.shared.metrics.error("plugin_panic");
        let within_limit = self.shared.record_restart();
        let restarts = self.shared.recent_restarts();
        let policy = self.shared.restart;
        match &self.role {
            Role::Handler if !within_limit => {
                error!(self.shared.log, "handler stopped: plugin restart intensity exceeded";
                    "hint" => "reload the topology to restart it",
                    "restarts" => restarts, "max_restarts" => policy.max_restarts,
                    "within_secs" => policy.within.as_secs_f64());
                let why = format!(
                    "restart intensity exceeded ({restarts} restarts within {} s)",
                    policy.within.as_secs()
                );
                self.go_down(&why, ctx);
            }
            Role::Handler => {
                warn!(self.shared.log, "plugin panicked; instance recreated";
                    "restarts" => restarts, "max_restarts" => policy.max_restarts);
                if !self.create_instance(ctx) {
                    self.go_down("its instance could not be recreated after a panic", ctx);
                }
            }
            // A panic costs its own connection only. Stopping the whole handler here
            // would let a few crafted requests take the service down for everyone, so
            // past the intensity limit this is an ERROR for the operator, not a stop.
            Role::Connection { .. } if !within_limit => {
                error!(self.shared.log, "plugin keeps panicking on connections; each costs only its connection";
                    "restarts" => restarts, "max_restarts" => policy.max_restarts,
                    "within_secs" => policy.within.as_secs_f64());
                ctx.stop();
            }
            Role::Connection { .. } => {
                warn!(self.shared.log, "plugin panicked; its connection is closed";
                    "restarts" => restarts, "max_restarts" => policy.max_restarts);
                ctx.stop();
            }
        }
    }

    /// The instance panicked on an event of `conn` and, keeping its state per
    /// connection, asked that it cost that connection only (`PANIC_COSTS_CONNECTION`):
    /// the instance serves on, the connection is closed (its `CONN_CLOSED` tells the
    /// plugin to drop what it kept for it). Counted like any panic.
    pub(super) fn on_connection_panic(&mut self, conn: u64, ctx: &mut Context<Self>) {
        self.shared.metrics.restarts.inc();
        self.shared.metrics.error("plugin_panic");
        warn!(self.shared.log, "plugin panicked on a connection; only it is closed"; "conn" => conn);
        self.drop_conn(conn, abi::SY_ERR_PANICKED, ctx);
    }

    /// Attach an accepted connection to this actor and tell the instance.
    pub(super) fn open_conn(
        &mut self,
        stream: TcpStream,
        peer: std::net::SocketAddr,
        listener: Rc<str>,
        slot: ConnSlot,
        ctx: &mut Context<Self>,
    ) -> u64 {
        let id = self.shared.next_id();
        let local = stream.local_addr().unwrap_or(peer);
        let _ = stream.set_nodelay(true);
        let stream = Rc::new(stream);
        let read = Rc::new(ReadControl::new(READ_CHUNK));
        let handle = ctx.add_stream(ConnRead::new(Rc::clone(&stream), id, Rc::clone(&read)));
        let origin = ConnOrigin {
            peer,
            local,
            listener: Rc::clone(&listener),
        };
        self.res
            .conns
            .insert(id, Conn::new(stream, origin, handle, read, slot));
        self.announce_opened(id, ctx);
        id
    }

    /// Tell the instance connection `id` is open, as its origin describes it (on
    /// accept, and for a connection moved to an instance that did not take the state).
    pub(super) fn announce_opened(&mut self, id: u64, ctx: &mut Context<Self>) {
        let Some(origin) = self.res.conns.get(&id).map(|c| c.origin.clone()) else {
            return;
        };
        let ev = HostEvent::ConnOpened {
            conn: id,
            peer: origin.peer,
            local: origin.local,
            listener: &origin.listener,
        };
        self.deliver(ev, ctx);
    }

    /// Sessions in flight, for draining: those the instance described or, for a
    /// plugin that describes none, the ones it counts (`active_sessions`), plus its
    /// connections and connection actors.
    pub(super) fn busy(&self) -> u64 {
        let counted = self.instance.as_ref().map_or(0, Instance::active_sessions);
        let own = counted.max(self.res.sessions.count() as u64);
        own + self.res.conns.len() as u64 + self.children.borrow().len() as u64
    }
}

impl Actor for InstanceActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.shared
            .live
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        match self.role {
            Role::Handler => {
                // The sessions gauge: sampled, so the event path pays nothing for it.
                // Each handler actor adds its own share, so a retired instance still
                // finishing its sessions and its successor both count.
                let worker_busy = self.shared.metrics.worker_busy(self.shared.worker);
                ctx.run_interval(std::time::Duration::from_secs(1), move |act, _| {
                    let now = act.busy() as i64;
                    let delta = now - act.sessions_reported;
                    act.shared.metrics.sessions.inc_by(delta);
                    worker_busy.inc_by(delta);
                    act.sessions_reported = now;
                });
                if let Some(predecessor) = self.predecessor.take() {
                    // Listeners and instance wait for the replaced instance's state.
                    self.await_predecessor(predecessor, ctx);
                    return;
                }
                self.attach_listeners(ctx);
                if !self.per_connection() && !self.create_instance(ctx) {
                    self.go_down("its instance could not be created", ctx);
                }
            }
            Role::Connection { .. } => {
                if !self.create_instance(ctx) {
                    ctx.stop();
                    return;
                }
                if let Some((stream, peer, listener, slot)) = self.pending_conn.take() {
                    self.open_conn(stream, peer, listener, slot, ctx);
                }
            }
        }
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        // Destroy the instance before the files and sockets it used go away.
        self.instance = None;
        self.shared.metrics.sessions.dec_by(self.sessions_reported);
        if let Role::Handler = self.role {
            let worker_busy = self.shared.metrics.worker_busy(self.shared.worker);
            worker_busy.dec_by(self.sessions_reported);
        }
        self.shared
            .live
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        match self.role {
            Role::Handler => {
                self.shared.handler_stopped.set(true);
                if self.shared.stopped.get() {
                    info!(self.shared.log, "handler stopped");
                }
            }
            Role::Connection { id, .. } => {
                self.children.borrow_mut().remove(&id);
            }
        }
        // The handler's thread (see `server::start`) ends with the last actor
        // on it: the handler, or its last per-connection actor after it.
        if self.shared.handler_stopped.get() && self.children.borrow().is_empty() {
            actix::Arbiter::current().stop();
        }
    }
}

impl StreamHandler<UdpItem> for InstanceActor {
    fn handle(&mut self, item: UdpItem, ctx: &mut Context<Self>) {
        self.on_datagram(item, ctx);
    }
    fn finished(&mut self, _ctx: &mut Context<Self>) {}
}

impl StreamHandler<Accepted> for InstanceActor {
    fn handle(&mut self, item: Accepted, ctx: &mut Context<Self>) {
        self.on_accepted(item, ctx);
    }
    fn finished(&mut self, _ctx: &mut Context<Self>) {}
}

impl StreamHandler<ConnItem> for InstanceActor {
    fn handle(&mut self, item: ConnItem, ctx: &mut Context<Self>) {
        self.on_conn_input(item, ctx);
    }
    fn finished(&mut self, _ctx: &mut Context<Self>) {}
}
