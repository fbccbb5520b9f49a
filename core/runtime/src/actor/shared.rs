//! What every actor of one handler shares: its plan, logger, storage root, routes,
//! connection counters and restart history.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use super::handover::Predecessor;
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

/// State shared by the handler actor and its per-connection actors.
#[derive(Debug)]
pub struct Shared {
    pub name: String,
    pub plugin: Plugin,
    pub config_text: String,
    pub log: slog::Logger,
    pub root: Option<Rc<Root>>,
    pub limits: Limits,
    pub restart: RestartPolicy,
    /// Output routes indexed by output port index.
    pub outputs: HashMap<u32, Vec<OutputRoute>>,
    pub clock_origin: Instant,
    restarts: RefCell<VecDeque<Instant>>,
    pub stopped: Cell<bool>,
    pub draining: Cell<bool>,
    open_conns: Cell<usize>,
    per_ip: RefCell<HashMap<IpAddr, usize>>,
    pub type_names: Vec<Arc<str>>,
    pub metrics: HandlerMetrics,
    /// The handler actor has stopped (its connection actors may still run).
    pub handler_stopped: Cell<bool>,
    /// Actors alive across the whole server, so a shutdown can wait for all of them.
    pub live: Arc<std::sync::atomic::AtomicUsize>,
}

impl Shared {
    pub fn new(
        plan: &HandlerPlan,
        log: slog::Logger,
        root: Option<Rc<Root>>,
        metrics: HandlerMetrics,
        live: Arc<std::sync::atomic::AtomicUsize>,
    ) -> Shared {
        let mut outputs: HashMap<u32, Vec<OutputRoute>> = HashMap::new();
        let spec = &plan.spec;
        for r in &spec.outputs {
            outputs.entry(r.port).or_default().push(r.clone());
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
            limits: spec.limits,
            restart: spec.restart,
            outputs,
            clock_origin: Instant::now(),
            restarts: RefCell::new(VecDeque::new()),
            stopped: Cell::new(false),
            draining: Cell::new(false),
            open_conns: Cell::new(0),
            per_ip: RefCell::new(HashMap::new()),
            type_names,
            metrics,
            handler_stopped: Cell::new(false),
            live,
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

    /// Record a restart; `false` when the intensity limit is exceeded.
    pub fn record_restart(&self) -> bool {
        let now = Instant::now();
        let mut r = self.restarts.borrow_mut();
        r.push_back(now);
        while r
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.restart.within)
        {
            r.pop_front();
        }
        r.len() <= self.restart.max_restarts as usize
    }

    /// Restarts counted in the current window.
    pub fn recent_restarts(&self) -> usize {
        self.restarts.borrow().len()
    }

    /// Take a connection slot for `ip`, or say which limit refuses it.
    pub fn take_conn_slot(self: &Rc<Self>, ip: IpAddr) -> Result<ConnSlot, &'static str> {
        // One peer is one IP whether it came in over IPv4 or as `::ffff:a.b.c.d` through
        // a dual-stack listener of the same handler.
        let ip = ip.to_canonical();
        if self.open_conns.get() >= self.limits.max_connections {
            return Err("max_connections");
        }
        let mut per_ip = self.per_ip.borrow_mut();
        let n = per_ip.entry(ip).or_insert(0);
        if *n >= self.limits.max_connections_per_ip {
            return Err("max_connections_per_ip");
        }
        *n += 1;
        self.open_conns.set(self.open_conns.get() + 1);
        self.metrics.conns_total.inc();
        self.metrics.conns_open.inc();
        Ok(ConnSlot {
            shared: Rc::clone(self),
            ip,
        })
    }

    /// A slot for a connection moved here from a replaced instance: it had one there,
    /// so no limit refuses it (a smaller new limit applies to new connections only).
    /// Not counted in `conns_total`: it is not a new connection.
    pub fn adopt_conn_slot(self: &Rc<Self>, ip: IpAddr) -> ConnSlot {
        let ip = ip.to_canonical();
        *self.per_ip.borrow_mut().entry(ip).or_insert(0) += 1;
        self.open_conns.set(self.open_conns.get() + 1);
        self.metrics.conns_open.inc();
        ConnSlot {
            shared: Rc::clone(self),
            ip,
        }
    }

    pub fn open_conns(&self) -> usize {
        self.open_conns.get()
    }
}

/// A taken connection slot; dropping it frees the slot, however the connection ends.
#[derive(Debug)]
pub struct ConnSlot {
    shared: Rc<Shared>,
    ip: IpAddr,
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let s = &self.shared;
        s.open_conns.set(s.open_conns.get().saturating_sub(1));
        s.metrics.conns_open.dec();
        let mut per_ip = s.per_ip.borrow_mut();
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}
