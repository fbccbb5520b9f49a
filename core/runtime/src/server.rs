//! Turning a compiled topology into running actors; reloading it; draining it.
//!
//! Listener sockets are bound first, all of them, before any actor starts: a taken
//! port or a bad address fails the start (or the reload) with the listener's name,
//! and nothing is left half-changed. The server keeps every listener socket itself and
//! hands each handler actor a duplicate, so a reload can give the *same* socket to a
//! replacement handler: no port is ever closed, and no datagram or connection waiting
//! in the kernel is lost while handlers change. A listener has one socket per address
//! (a host name in `bind` resolves to several), all on one port.
//!
//! # Reload
//! A start is a reload from nothing, and a reload is a value: [`plan::ReloadPlan`]
//! diffs what runs with the new topology, without I/O. A handler whose spec, plugin
//! library and listeners are unchanged keeps running untouched. A changed one is
//! replaced: the new actor starts on the same sockets, the old one *retires* — it
//! stops listening, is told to drain, keeps the sessions it has (on its own sockets
//! and connections: on the old plugin library, which stays loaded while its instances
//! live) until they end, and stops when idle; `reload_drain_timeout_secs`, when set,
//! cuts what is left then. Removed handlers retire the same way. When both the old and
//! the new plugin hand state over, the new actor holds back and the old one *hands
//! over* instead (`actor::handover`): its state and connections move to the new
//! instance. The server then carries the plan out in two steps: *prepare* everything
//! that can fail (plugins, sockets, roots, the admin endpoint), collecting every error,
//! and *switch*, which cannot fail.
//!
//! # Layout
//! - `plan.rs`: [`plan::ReloadPlan`], the pure diff, and [`ReloadSummary`].
//! - `errors.rs`: [`StartError`], one reason, and [`StartErrors`], all of them.
//! - `sockets.rs`: binding one address, a listener's addresses on one port, and taking
//!   running sockets over as the plan says.
//! - `admin.rs`: the admin endpoint, bound at prepare and served at the switch.
//! - `prepare.rs`: the first half of carrying a plan out.
//! - `drain.rs`: draining on SIGINT/SIGTERM, and at its deadline cutting what is left
//!   (each session logged and told: `actor::DrainDeadline`).
//! - this file: the [`Server`] and the switch; `tests.rs`, its tests.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use actix::{Actor, Addr};
use slog::{Logger, debug, info, o};

use crate::actor::handover::{self, Predecessor, Successor};
use crate::actor::{
    HandOver, HandlerPlan, InstanceActor, Registry, Retire, Shared, SharedListener,
};
use crate::catalog::Catalog;
use crate::loader::Plugin;
use crate::metrics::Metrics;
use crate::storage::Root;
use crate::topology::{HandlerSpec, ListenerSpec, Topology};

mod admin;
mod drain;
mod errors;
pub mod plan;
mod prepare;
mod sockets;

use admin::AdminEndpoint;
pub use errors::{StartError, StartErrors};
pub use plan::ReloadSummary;
use plan::{HandlerStep, ReloadPlan, Running, RunningHandler, RunningListener};
use prepare::{Plugins, Prepared, prepare};
use sockets::ListenerSocket;
pub use sockets::{BoundSocket, bind, bind_socket};

/// A handler's listener sockets of one kind.
type Listeners<S> = Vec<SharedListener<S>>;

#[derive(Debug)]
struct LiveListener {
    spec: ListenerSpec,
    /// One per address of `spec.binds`, in that order.
    sockets: Vec<ListenerSocket>,
}

#[derive(Debug)]
struct LiveHandler {
    spec: HandlerSpec,
    plugin: Plugin,
    addr: Addr<InstanceActor>,
}

/// The running handlers and the listener sockets they share.
#[derive(Debug)]
pub struct Server {
    listeners: HashMap<String, LiveListener>,
    handlers: HashMap<String, LiveHandler>,
    /// Replaced or removed handlers still finishing their work.
    retiring: Vec<Addr<InstanceActor>>,
    /// The admin endpoint, when the topology has one.
    admin: Option<AdminEndpoint>,
    registry: Registry,
    drain_timeout: Duration,
    metrics: Arc<Metrics>,
    /// Actors alive, per-connection ones included.
    live: Arc<AtomicUsize>,
    log: Logger,
}

impl Server {
    /// Bind every listener, then start every handler. Must run inside an actix system.
    pub fn start(
        topology: &Topology,
        catalog: &Catalog,
        log: &Logger,
    ) -> Result<Server, StartErrors> {
        let mut server = Server {
            listeners: HashMap::new(),
            handlers: HashMap::new(),
            retiring: Vec::new(),
            admin: None,
            registry: Registry::default(),
            drain_timeout: topology.drain_timeout,
            metrics: Metrics::new(),
            live: Arc::default(),
            log: log.clone(),
        };
        server.change_to(topology, catalog)?;
        Ok(server)
    }

    /// The host's metrics (for counting reloads and tests).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Move to `topology`, changing only what changed. On error nothing changed, and
    /// the error lists every reason.
    ///
    /// A changed `admin` address is bound before anything else changes (a taken
    /// address refuses the reload) and replaces the old endpoint once the rest is
    /// applied; removing `admin` stops the endpoint.
    pub fn reload(
        &mut self,
        topology: &Topology,
        catalog: &Catalog,
    ) -> Result<ReloadSummary, StartErrors> {
        let result = self.change_to(topology, catalog);
        self.metrics
            .reload(if result.is_ok() { "ok" } else { "refused" });
        result
    }

    /// Plan, prepare, switch. Plugins load first because the plan compares libraries;
    /// one that fails to load counts as changed, so the plan and the preparation still
    /// run and its error is reported together with every other.
    fn change_to(
        &mut self,
        topology: &Topology,
        catalog: &Catalog,
    ) -> Result<ReloadSummary, StartErrors> {
        let plugins = Plugins::load(topology, catalog);
        self.forget_dead_listeners();
        let plan = ReloadPlan::new(&self.running(), topology, &plugins.libraries());
        let prepared = prepare(&plan, topology, plugins, |name, i| {
            self.listeners.get(name)?.sockets.get(i)
        })?;
        self.switch(&plan, prepared, topology);
        Ok(plan.summary())
    }

    /// Listeners a down handler shut (`actor/down.rs`) are no longer running: the plan
    /// binds them afresh, as new ones, for the handler's replacement.
    fn forget_dead_listeners(&mut self) {
        self.listeners.retain(|name, l| {
            let alive = l.sockets.iter().all(ListenerSocket::listening);
            if !alive {
                debug!(self.log, "listener of a down handler to be bound again"; "listener" => name);
            }
            alive
        });
    }

    /// What the plan needs to know of what runs.
    fn running(&self) -> Running<'_> {
        let down: Vec<String> = self
            .metrics
            .down_handlers()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        Running {
            handlers: self
                .handlers
                .values()
                .map(|h| RunningHandler {
                    spec: &h.spec,
                    library: h.plugin.library_id(),
                    // A down handler's actor lives on (dropping its datagrams).
                    stopped: !h.addr.connected() || down.contains(&h.spec.name),
                })
                .collect(),
            listeners: self
                .listeners
                .values()
                .map(|l| RunningListener {
                    spec: &l.spec,
                    sockets: l.sockets.iter().map(ListenerSocket::addrs).collect(),
                })
                .collect(),
            admin: self.admin.as_ref().map(|a| a.addr),
        }
    }

    /// Carry out a prepared plan. Nothing can fail from here on.
    fn switch(&mut self, plan: &ReloadPlan, prepared: Prepared, topology: &Topology) {
        let Prepared {
            mut plugins,
            mut sockets,
            mut roots,
            admin,
        } = prepared;
        let mut handlers = HashMap::new();
        for (spec, (_, step)) in topology.handlers.iter().zip(&plan.handlers) {
            let plugin = plugins
                .remove(&spec.name)
                .expect("prepared for every handler");
            if *step == HandlerStep::Keep {
                let old = self.handlers.remove(&spec.name).expect("planned as kept");
                handlers.insert(spec.name.clone(), old);
                continue;
            }
            let mut udp = Vec::new();
            let mut tcp = Vec::new();
            // Every socket of a listener goes in under its name: the actor keys sockets
            // by id, so a reply leaves by the socket its datagram came in on.
            for l in topology.listeners.iter().filter(|l| l.handler == spec.name) {
                for s in sockets.get(&l.name).into_iter().flatten() {
                    let (name, id) = (l.name.clone(), s.id);
                    match s.socket.try_clone() {
                        Ok(BoundSocket::Udp(socket)) => {
                            udp.push(SharedListener { name, id, socket })
                        }
                        Ok(BoundSocket::Tcp(socket)) => {
                            tcp.push(SharedListener { name, id, socket })
                        }
                        Err(e) => {
                            slog::error!(self.log, "cannot share listener socket"; "listener" => &l.name, "addr" => %s.wanted, "error" => %e)
                        }
                    }
                }
            }
            let root = roots.remove(&spec.name);
            let old = self.handlers.remove(&spec.name);
            let (successor, predecessor) = old
                .as_ref()
                .and_then(|o| handover::channel_for(&o.plugin, &plugin, &spec.name, &self.log))
                .unzip();
            let addr = self.start_handler(spec, plugin.clone(), root, (udp, tcp), predecessor);
            if let Some(old) = old {
                self.retire(old.addr, topology.reload_drain_timeout, true, successor);
            }
            self.registry
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(spec.name.clone(), addr.clone());
            handlers.insert(
                spec.name.clone(),
                LiveHandler {
                    spec: spec.clone(),
                    plugin,
                    addr,
                },
            );
        }
        // What is left is what the plan retires.
        for (name, old) in std::mem::take(&mut self.handlers) {
            self.registry
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&name);
            self.retire(old.addr, topology.reload_drain_timeout, false, None);
        }
        self.handlers = handlers;
        self.retiring.retain(|a| a.connected());
        self.listeners = topology
            .listeners
            .iter()
            .filter_map(|l| {
                let sockets = sockets.remove(&l.name)?;
                Some((
                    l.name.clone(),
                    LiveListener {
                        spec: l.clone(),
                        sockets,
                    },
                ))
            })
            .collect();
        self.drain_timeout = topology.drain_timeout;
        // The old listeners just dropped: what no listener took over is closed (its
        // retiring handler's duplicate goes when it stops listening).
        for addr in &plan.closed {
            debug!(self.log, "listener socket closed"; "addr" => %addr);
        }
        // One `listening` line per socket bound now (tools and tests learn ports here).
        for l in &topology.listeners {
            let Some(running) = self.listeners.get(&l.name) else {
                continue;
            };
            for s in running.sockets.iter().filter(|s| s.fresh) {
                info!(self.log, "listening"; "listener" => &l.name, "kind" => l.kind.as_str(), "addr" => %s.local,
                    "handler" => &l.handler, "dual_stack" => l.dual_stack);
            }
        }
        if plan.admin.closes_running()
            && let Some(old) = self.admin.take()
        {
            old.close(&self.log);
        }
        if let (Some(bound), Some(addr)) = (admin, plan.admin.to_bind()) {
            self.admin = Some(bound.serve(addr, &self.metrics, &self.log));
        }
    }

    /// Tell a replaced or removed handler to stop listening and finish its sessions
    /// (cut at `deadline`, when there is one); a replaced one whose successor takes
    /// state hands it over to `successor` first.
    fn retire(
        &mut self,
        addr: Addr<InstanceActor>,
        deadline: Option<Duration>,
        replaced: bool,
        successor: Option<Successor>,
    ) {
        let retire = Retire { deadline, replaced };
        match successor {
            Some(successor) => addr.do_send(HandOver { successor, retire }),
            None => addr.do_send(retire),
        }
        self.retiring.push(addr);
    }

    fn start_handler(
        &self,
        h: &HandlerSpec,
        plugin: Plugin,
        root: Option<Root>,
        (udp, tcp): (
            Listeners<std::net::UdpSocket>,
            Listeners<std::net::TcpListener>,
        ),
        predecessor: Option<Predecessor>,
    ) -> Addr<InstanceActor> {
        let plan = HandlerPlan {
            spec: h.clone(),
            plugin,
            udp,
            tcp,
            predecessor,
        };
        let hlog = self
            .log
            .new(o!("handler" => h.name.clone(), "plugin" => plan.plugin.info().name.clone()));
        if let Some(root) = &root
            && root.swept() > 0
        {
            info!(hlog, "removed temp files left by a crash"; "root" => %root.path().display(), "count" => root.swept());
        }
        let metrics = self.metrics.handler(&h.name);
        metrics.set_down(None);
        let registry = Arc::clone(&self.registry);
        let live = Arc::clone(&self.live);
        // Each handler on its own thread: a handler busy hashing a large upload never
        // delays another's datagrams, and the host uses every core.
        let busy = h.busy_poll;
        let arbiter = actix::Arbiter::with_tokio_rt(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .on_thread_park(crate::busy_poll::before_park)
                .build()
                .expect("a tokio runtime for the handler thread")
        });
        InstanceActor::start_in_arbiter(&arbiter.handle(), move |_| {
            crate::busy_poll::enable(busy);
            let shared = Rc::new(Shared::new(&plan, hlog, root.map(Rc::new), metrics, live));
            InstanceActor::handler(plan, shared, registry)
        })
    }

    /// Names of the handlers that are running.
    pub fn handler_names(&self) -> impl Iterator<Item = &str> {
        self.handlers.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests;
