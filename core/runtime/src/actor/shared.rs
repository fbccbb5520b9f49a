//! What every actor of one worker of a handler shares: its plan, logger, storage root,
//! routes, and (through [`HandlerWide`]) what all the handler's workers share.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

pub use super::handler_wide::ConnSlot;
use super::handler_wide::HandlerWide;
use super::handover::Predecessor;
use super::refusal::RefusalLog;
use crate::bus::access::BusAccess;
use crate::loader::Plugin;
use crate::metrics::HandlerMetrics;
use crate::storage::Root;
use crate::topology::{HandlerSpec, Limits, OutputRoute, RestartPolicy};

/// Everything needed to start one handler: its compiled spec (the topology's own
/// types, limits, restart policy and routes included), its loaded plugin and its
/// listener sockets.
#[derive(Debug)]
pub struct HandlerPlan {
    pub spec: HandlerSpec,
    pub plugin: Plugin,
    /// Listener sockets, bound before anything starts (so a taken port fails fast).
    pub udp: Vec<SharedListener<std::net::UdpSocket>>,
    pub tcp: Vec<SharedListener<std::net::TcpListener>>,
    /// Set when the instance it replaces hands its state over: the actor then holds
    /// back (no listener, no instance) until the handover arrives (`actor::handover`).
    pub predecessor: Option<Predecessor>,
}

/// A listener socket the server shares with a handler (a duplicate of its own).
#[derive(Debug)]
pub struct SharedListener<S> {
    /// The listener's name in the topology.
    pub name: String,
    /// The socket's id, stable across reloads (given when the server bound it).
    pub id: u64,
    pub socket: S,
}

/// State shared by a worker's handler actor and its per-connection actors (one thread).
#[derive(Debug)]
pub struct Shared {
    pub name: String,
    pub plugin: Plugin,
    pub config_text: String,
    pub log: slog::Logger,
    pub root: Option<Arc<Root>>,
    /// The handler's `s3` storage; then `root` is its private spool, and the storage
    /// operations go to the store (`actor::calls::store`).
    pub objects: Option<Arc<crate::objects::ObjectBackend>>,
    pub limits: Limits,
    pub restart: RestartPolicy,
    /// Output routes indexed by output port index.
    pub outputs: HashMap<u32, Vec<OutputRoute>>,
    /// Bus subjects each output port publishes on, by output port index.
    pub bus_outputs: HashMap<u32, Vec<Arc<str>>>,
    /// Where messages for the bus go (`None`: the topology has no bus); set by the
    /// worker's start, like `objects`.
    pub bus: Option<BusAccess>,
    pub clock_origin: Instant,
    pub stopped: Cell<bool>,
    pub draining: Cell<bool>,
    pub type_names: Vec<Arc<str>>,
    pub metrics: HandlerMetrics,
    /// The handler actor has stopped (its connection actors may still run).
    pub handler_stopped: Cell<bool>,
    /// Actors alive across the whole server, so a shutdown can wait for all of them.
    pub live: Arc<std::sync::atomic::AtomicUsize>,
    /// What every worker of the handler shares (limits, restarts, loads, counters).
    pub wide: Arc<HandlerWide>,
    /// This worker's index among the handler's workers.
    pub worker: usize,
    /// Connections refused for a limit, per address, to log each address once a while
    /// (only worker 0 accepts, so this is the handler's).
    pub refusals: RefCell<RefusalLog>,
}

impl Shared {
    pub fn new(
        plan: &HandlerPlan,
        log: slog::Logger,
        root: Option<Arc<Root>>,
        metrics: HandlerMetrics,
        live: Arc<std::sync::atomic::AtomicUsize>,
        (wide, worker): (Arc<HandlerWide>, usize),
    ) -> Shared {
        let mut outputs: HashMap<u32, Vec<OutputRoute>> = HashMap::new();
        let spec = &plan.spec;
        for r in &spec.outputs {
            outputs.entry(r.port).or_default().push(r.clone());
        }
        let mut bus_outputs: HashMap<u32, Vec<Arc<str>>> = HashMap::new();
        for r in &spec.bus_outputs {
            bus_outputs
                .entry(r.port)
                .or_default()
                .push(Arc::from(r.subject.as_str()));
        }
        let type_names = plan
            .plugin
            .info()
            .ports
            .iter()
            .map(|p| Arc::from(p.type_name.as_str()))
            .collect();
        Shared {
            name: spec.name.clone(),
            plugin: plan.plugin.clone(),
            config_text: spec.config_text.clone(),
            log,
            root,
            objects: None,
            limits: spec.limits.clone(),
            restart: spec.restart,
            outputs,
            bus_outputs,
            bus: None,
            clock_origin: Instant::now(),
            stopped: Cell::new(false),
            draining: Cell::new(false),
            type_names,
            metrics,
            handler_stopped: Cell::new(false),
            live,
            wide,
            worker,
            refusals: RefCell::default(),
        }
    }

    /// Milliseconds since the handler started: the plugin's clock.
    pub fn now_ms(&self) -> u64 {
        self.clock_origin.elapsed().as_millis() as u64
    }

    /// A fresh id for a socket, connection or file: unique in the process, so it stays
    /// valid when a reload hands the instance's state to a successor (`crate::ids`).
    pub fn next_id(&self) -> u64 {
        crate::ids::next_id()
    }

    /// Record a restart (counted across the handler's workers); `false` when the
    /// intensity limit is exceeded.
    pub fn record_restart(&self) -> bool {
        self.wide.record_restart()
    }

    /// Restarts counted in the current window, across the handler's workers.
    pub fn recent_restarts(&self) -> usize {
        self.wide.recent_restarts()
    }

    /// Take a connection slot for `ip` on `worker` (limits counted across workers), or
    /// say which limit refuses it.
    pub fn take_conn_slot(&self, ip: IpAddr, worker: usize) -> Result<ConnSlot, &'static str> {
        self.wide.take_conn_slot(ip, worker, false)
    }

    /// A slot on this worker for a connection moved here from a replaced instance: it
    /// had one there, so no limit refuses it; not counted as a new connection.
    pub fn adopt_conn_slot(&self, ip: IpAddr) -> ConnSlot {
        self.wide
            .take_conn_slot(ip, self.worker, true)
            .expect("an adopted connection is never refused")
    }

    /// Connections open across the handler's workers.
    pub fn open_conns(&self) -> usize {
        self.wide.open_conns()
    }
}
