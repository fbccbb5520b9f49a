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
//! - `start.rs`: starting a handler's workers, each a thread with its own instances.
//! - `prepare.rs`: the first half of carrying a plan out.
//! - `drain.rs`: draining on SIGINT/SIGTERM, and at its deadline cutting what is left
//!   (each session logged and told: `actor::DrainDeadline`).
//! - this file: the [`Server`] and the switch; `tests.rs`, its tests.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use actix::Addr;
use slog::{Logger, debug, info};

use crate::actor::handover::{self, Successor};
use crate::actor::{Counters, HandOver, InstanceActor, Registry, Retire, SharedListener, Workers};
use crate::bus::BusLink;
use crate::catalog::Catalog;
use crate::console::{Console, Journal};
use crate::loader::Plugin;
use crate::metrics::Metrics;
use crate::topology::{HandlerSpec, ListenerSpec, Topology};

mod admin;
mod drain;
mod errors;
pub mod plan;
mod prepare;
mod sockets;
mod start;

use admin::AdminEndpoint;
pub use errors::{StartError, StartErrors};
pub use plan::ReloadSummary;
use plan::{HandlerStep, ReloadPlan, Running, RunningHandler, RunningListener};
use prepare::{Plugins, Prepared, prepare};
use sockets::ListenerSocket;
pub use sockets::{BoundSocket, bind, bind_socket, udp_socket};
use start::{HandlerStart, start_handler};

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
    workers: Workers,
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
    /// Each handler's plugin counters (`counter_take`), kept across its reloads.
    counters: HashMap<String, Arc<Counters>>,
    /// The cluster bus, from the first topology that has one on.
    bus: Option<BusLink>,
    /// What the operator console shows (served on the admin endpoint).
    console: Arc<Console>,
    log: Logger,
}

impl Server {
    /// Bind every listener, then start every handler. Must run inside an actix system.
    pub fn start(
        topology: &Topology,
        catalog: &Catalog,
        log: &Logger,
    ) -> Result<Server, StartErrors> {
        Server::start_with_journal(topology, catalog, log, Arc::default())
    }

    /// [`Server::start`], with the console's journal made beforehand (the host's log
    /// drain writes WARN+ records there from its first line on).
    pub fn start_with_journal(
        topology: &Topology,
        catalog: &Catalog,
        log: &Logger,
        journal: Arc<Journal>,
    ) -> Result<Server, StartErrors> {
        let metrics = Metrics::new();
        let registry = Registry::default();
        let console = Console::new(journal, Arc::clone(&metrics), Arc::clone(&registry));
        let mut server = Server {
            listeners: HashMap::new(),
            handlers: HashMap::new(),
            retiring: Vec::new(),
            admin: None,
            registry,
            drain_timeout: topology.drain_timeout,
            metrics,
            live: Arc::default(),
            counters: HashMap::new(),
            bus: None,
            console,
            log: log.clone(),
        };
        server.change_to(topology, catalog)?;
        Ok(server)
    }

    /// The host's metrics (for counting reloads and tests).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The operator console's state (the host records reloads there).
    pub fn console(&self) -> &Arc<Console> {
        &self.console
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
        let bus = BusLink::prepare_for(
            &mut self.bus,
            topology.bus.as_ref(),
            (&self.metrics, self.console.bus_board()),
            &self.registry,
            &self.log,
        )
        .map_err(|reason| StartError::Bus { reason });
        let prepared = prepare(
            &plan,
            topology,
            plugins,
            |name, i| self.listeners.get(name)?.sockets.get(i),
            &self.log,
        );
        let (prepared, fresh_bus) = match (prepared, bus) {
            (Ok(p), Ok(b)) => (p, b),
            (Err(mut errors), Err(e)) => {
                errors.0.push(e);
                return Err(errors);
            }
            (Err(errors), _) => return Err(errors),
            (_, Err(e)) => return Err(StartErrors(vec![e])),
        };
        if let Some(bus) = &mut self.bus {
            bus.switch(topology.bus.as_ref(), fresh_bus, &topology.bus_inputs);
        }
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
                    // A down handler's actors live on (dropping its datagrams).
                    stopped: !h.workers.addrs.iter().any(Addr::connected)
                        || down.contains(&h.spec.name),
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
            mut objects,
            admin,
        } = prepared;
        self.console.add_storages(objects.values());
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
            let root = (roots.remove(&spec.name), objects.remove(&spec.name));
            let old = self.handlers.remove(&spec.name);
            let (successors, predecessors) = old
                .as_ref()
                .map(|o| self.handover_channels(o, &plugin, spec))
                .unwrap_or_default();
            let env = HandlerStart {
                log: &self.log,
                metrics: &self.metrics,
                registry: &self.registry,
                live: &self.live,
                counters: Arc::clone(self.counters.entry(spec.name.clone()).or_default()),
                bus: self.bus.as_ref().map(BusLink::access),
                journal: self.console.journal(),
            };
            let workers = start_handler(env, spec, plugin.clone(), root, (udp, tcp), predecessors);
            if let Some(old) = old {
                self.console
                    .add_retiring(&spec.name, old.workers.addrs.clone());
                self.retire(
                    &old.workers,
                    topology.reload_drain_timeout,
                    true,
                    successors,
                );
            }
            self.registry
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(spec.name.clone(), workers.clone());
            handlers.insert(
                spec.name.clone(),
                LiveHandler {
                    spec: spec.clone(),
                    plugin,
                    workers,
                },
            );
        }
        // What is left is what the plan retires.
        for (name, old) in std::mem::take(&mut self.handlers) {
            self.registry
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&name);
            self.console.add_retiring(&name, old.workers.addrs.clone());
            self.retire(
                &old.workers,
                topology.reload_drain_timeout,
                false,
                Vec::new(),
            );
            self.counters.remove(&name);
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
        admin::describe(&self.console, topology, |name| {
            self.handlers.get(name).map(|h| &h.plugin)
        });
        if let (Some(bound), Some(addr)) = (admin, plan.admin.to_bind()) {
            self.admin = Some(bound.serve(addr, &self.console, &self.log));
        }
    }

    /// Tell a replaced or removed handler's workers to stop listening and finish their
    /// sessions (cut at `deadline`, when there is one); a replaced one whose successor
    /// takes state hands it over, worker `k` to `successors[k]`.
    fn retire(
        &mut self,
        old: &Workers,
        deadline: Option<Duration>,
        replaced: bool,
        successors: Vec<Successor>,
    ) {
        let mut successors = successors.into_iter();
        for addr in &old.addrs {
            let retire = Retire { deadline, replaced };
            match successors.next() {
                Some(successor) => addr.do_send(HandOver { successor, retire }),
                None => addr.do_send(retire),
            }
            self.retiring.push(addr.clone());
        }
    }

    /// One handover channel per worker when the old and the new plugin both hand state
    /// over and the worker count is unchanged (a peer's shard stays the same worker,
    /// so worker `k`'s state is exactly what worker `k` will be asked about). Otherwise
    /// none: the old workers retire with their sessions.
    fn handover_channels(
        &self,
        old: &LiveHandler,
        plugin: &Plugin,
        spec: &HandlerSpec,
    ) -> (Vec<Successor>, Vec<handover::Predecessor>) {
        let n = old.workers.addrs.len();
        if handover::channel_for(&old.plugin, plugin, &spec.name, &self.log).is_none() {
            return Default::default();
        }
        if n != spec.workers {
            info!(self.log, "state not handed over"; "handler" => &spec.name,
                "reason" => format!("workers changed from {n} to {}: each worker's state belongs to its shard", spec.workers));
            return Default::default();
        }
        (0..n).map(|_| handover::channel()).unzip()
    }

    /// Names of the handlers that are running.
    pub fn handler_names(&self) -> impl Iterator<Item = &str> {
        self.handlers.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests;
