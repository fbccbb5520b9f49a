//! Turning a compiled topology into running actors; reloading it; draining it.
//!
//! Listener sockets are bound first, all of them, before any actor starts: a taken
//! port or a bad address fails the start (or the reload) with the listener's name,
//! and nothing is left half-changed. The server keeps every listener socket itself and
//! hands each handler actor a duplicate, so a reload can give the *same* socket to a
//! replacement handler: no port is ever closed, and no datagram or connection waiting
//! in the kernel is lost while handlers change. A listener has one socket per address
//! (a host name in `bind` resolves to several), all on one port; `server/sockets.rs`
//! binds them and matches them across reloads address by address.
//!
//! # Reload
//! [`Server::reload`] diffs the running topology with a new one. A handler whose spec,
//! plugin library and listeners are unchanged keeps running untouched. A changed one
//! is replaced: the new actor starts on the same sockets, the old one *retires* — it
//! stops listening, is told to drain, finishes its in-flight work (on the old plugin
//! library, which stays loaded while its instances live) and stops when idle or at
//! the drain deadline. Removed handlers retire the same way.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix::{Actor, Addr};
use slog::{Logger, info, o};

use crate::actor::{
    Abort, Busy, Drain, HandlerLimits, HandlerPlan, InstanceActor, OutputRoute, Registry,
    RestartPolicy, Retire, Shared,
};
use crate::catalog::Catalog;
use crate::loader::Plugin;
use crate::metrics::{Metrics, serve_admin};
use crate::storage::Root;
use crate::topology::{HandlerSpec, ListenerKind, ListenerSpec, Topology};

mod sockets;

use sockets::ListenerSocket;
pub use sockets::{BoundSocket, bind, bind_socket};

/// Why the server could not start, or a reload was refused (the old topology then
/// keeps running unchanged).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener's address could not be bound (in use, not local, no permission).
    #[error("listener `{listener}` cannot bind {addr}: {source}")]
    Bind {
        listener: String,
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// A handler's storage root could not be opened or created.
    #[error("handler `{handler}`: storage root {root}: {reason}")]
    Root {
        handler: String,
        root: String,
        reason: String,
    },
    /// A plugin named by the topology could not be loaded (it was at validation).
    #[error("handler `{handler}`: {reason}")]
    Plugin { handler: String, reason: String },
}

/// The admin endpoint's socket, bound but not yet served.
#[derive(Debug)]
struct BoundAdmin {
    /// As configured (port 0 stays 0: the same topology keeps the same endpoint).
    addr: SocketAddr,
    local: SocketAddr,
    listener: tokio::net::TcpListener,
}

/// The running admin endpoint.
#[derive(Debug)]
struct AdminEndpoint {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct RunningListener {
    spec: ListenerSpec,
    /// One per address of `spec.binds`, in that order.
    sockets: Vec<ListenerSocket>,
}

#[derive(Debug)]
struct RunningHandler {
    spec: HandlerSpec,
    plugin: Plugin,
    addr: Addr<InstanceActor>,
}

/// What a reload did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadSummary {
    pub kept: Vec<String>,
    pub started: Vec<String>,
    pub replaced: Vec<String>,
    pub retired: Vec<String>,
}

/// The running handlers and the listener sockets they share.
#[derive(Debug)]
pub struct Server {
    listeners: HashMap<String, RunningListener>,
    handlers: HashMap<String, RunningHandler>,
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
    ) -> Result<Server, StartError> {
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
        if let Some(addr) = topology.admin {
            let bound = server.bind_admin(addr)?;
            server.admin = Some(server.serve_admin(bound));
        }
        server.apply(topology, catalog)?;
        Ok(server)
    }

    /// Bind the admin endpoint's socket (`/metrics`, `/health`), not serving yet.
    fn bind_admin(&self, addr: SocketAddr) -> Result<BoundAdmin, StartError> {
        let bind_err = |source| StartError::Bind {
            listener: "(admin)".into(),
            addr,
            source,
        };
        let BoundSocket::Tcp(std_listener) = bind(ListenerKind::Tcp, addr).map_err(bind_err)?
        else {
            unreachable!("a TCP bind gives a TCP socket")
        };
        std_listener.set_nonblocking(true).map_err(bind_err)?;
        let local = std_listener.local_addr().unwrap_or(addr);
        let listener = tokio::net::TcpListener::from_std(std_listener).map_err(bind_err)?;
        Ok(BoundAdmin {
            addr,
            local,
            listener,
        })
    }

    /// Serve a bound admin socket on the system.
    fn serve_admin(&self, bound: BoundAdmin) -> AdminEndpoint {
        let task = actix_rt::spawn(serve_admin(bound.listener, Arc::clone(&self.metrics)));
        info!(self.log, "listening"; "listener" => "(admin)", "kind" => "tcp", "addr" => %bound.local);
        AdminEndpoint {
            addr: bound.addr,
            task,
        }
    }

    /// The host's metrics (for counting reloads and tests).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Move to `topology`, changing only what changed. On error nothing changed.
    ///
    /// A changed `admin` address is bound before anything else changes (a taken
    /// address refuses the reload) and replaces the old endpoint once the rest is
    /// applied; removing `admin` stops the endpoint.
    pub fn reload(
        &mut self,
        topology: &Topology,
        catalog: &Catalog,
    ) -> Result<ReloadSummary, StartError> {
        let result = self.reload_admin_and_apply(topology, catalog);
        self.metrics
            .reload(if result.is_ok() { "ok" } else { "refused" });
        result
    }

    fn reload_admin_and_apply(
        &mut self,
        topology: &Topology,
        catalog: &Catalog,
    ) -> Result<ReloadSummary, StartError> {
        let admin_changed = self.admin.as_ref().map(|a| a.addr) != topology.admin;
        let new_admin = match topology.admin {
            Some(addr) if admin_changed => Some(self.bind_admin(addr)?),
            _ => None,
        };
        let summary = self.apply(topology, catalog)?;
        if admin_changed {
            if let Some(old) = self.admin.take() {
                old.task.abort();
                info!(self.log, "admin endpoint closed"; "addr" => %old.addr);
            }
            self.admin = new_admin.map(|b| self.serve_admin(b));
        }
        Ok(summary)
    }

    fn apply(
        &mut self,
        topology: &Topology,
        catalog: &Catalog,
    ) -> Result<ReloadSummary, StartError> {
        // 1. Sockets: reuse each address whose kind and mode are unchanged, bind the rest.
        let mut sockets: HashMap<String, Vec<ListenerSocket>> = HashMap::new();
        for l in &topology.listeners {
            let running = self
                .listeners
                .values()
                .map(|old| (&old.spec, old.sockets.as_slice()));
            let socks = sockets::open(l, running).map_err(|(addr, source)| StartError::Bind {
                listener: l.name.clone(),
                addr,
                source,
            })?;
            sockets.insert(l.name.clone(), socks);
        }
        // 2. Plugins and roots, before anything changes.
        let mut prepared = Vec::new();
        for h in &topology.handlers {
            let plugin = catalog
                .load(&h.plugin.path)
                .map_err(|reason| StartError::Plugin {
                    handler: h.name.clone(),
                    reason,
                })?;
            // A handler stopped by its restart intensity counts as changed: a reload
            // is how an operator restarts it.
            let unchanged = self.handlers.get(&h.name).is_some_and(|old| {
                old.addr.connected()
                    && old.spec == *h
                    && old.plugin.same_library(&plugin)
                    && self.listener_specs_of(&h.name) == listener_specs(topology, &h.name)
            });
            let root = match (&h.root, unchanged) {
                (Some(path), false) => {
                    let root_err = |e: crate::storage::StorageError| StartError::Root {
                        handler: h.name.clone(),
                        root: path.display().to_string(),
                        reason: e.to_string(),
                    };
                    let root = Root::open(path).map_err(root_err)?;
                    for dir in &h.create_dirs {
                        root.create_dir_all(dir).map_err(root_err)?;
                    }
                    Some(root)
                }
                (None, _) if !h.create_dirs.is_empty() => {
                    return Err(StartError::Root {
                        handler: h.name.clone(),
                        root: "(none)".into(),
                        reason: "`create_dirs` needs a `root`".into(),
                    });
                }
                _ => None,
            };
            prepared.push((h, plugin, unchanged, root));
        }

        // 3. Nothing can fail from here on: switch.
        let mut summary = ReloadSummary::default();
        let mut handlers = HashMap::new();
        for (spec, plugin, unchanged, root) in prepared {
            if unchanged {
                let old = self.handlers.remove(&spec.name).expect("checked unchanged");
                summary.kept.push(spec.name.clone());
                handlers.insert(spec.name.clone(), old);
                continue;
            }
            let mut udp = Vec::new();
            let mut tcp = Vec::new();
            // Every socket of a listener goes in under its name: the actor keys sockets
            // by id, so a reply leaves by the socket its datagram came in on.
            for l in topology.listeners.iter().filter(|l| l.handler == spec.name) {
                for s in sockets.get(&l.name).into_iter().flatten() {
                    match s.socket.try_clone() {
                        Ok(BoundSocket::Udp(s)) => udp.push((l.name.clone(), s)),
                        Ok(BoundSocket::Tcp(s)) => tcp.push((l.name.clone(), s)),
                        Err(e) => {
                            slog::error!(self.log, "cannot share listener socket"; "listener" => &l.name, "addr" => %s.wanted, "error" => %e)
                        }
                    }
                }
            }
            let addr = self.start_handler(spec, plugin.clone(), root, udp, tcp);
            if let Some(old) = self.handlers.remove(&spec.name) {
                old.addr.do_send(Retire {
                    deadline: topology.drain_timeout,
                });
                self.retiring.push(old.addr);
                summary.replaced.push(spec.name.clone());
            } else {
                summary.started.push(spec.name.clone());
            }
            self.registry
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(spec.name.clone(), addr.clone());
            handlers.insert(
                spec.name.clone(),
                RunningHandler {
                    spec: spec.clone(),
                    plugin,
                    addr,
                },
            );
        }
        for (name, old) in self.handlers.drain() {
            old.addr.do_send(Retire {
                deadline: topology.drain_timeout,
            });
            self.registry
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&name);
            self.retiring.push(old.addr);
            summary.retired.push(name);
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
                    RunningListener {
                        spec: l.clone(),
                        sockets,
                    },
                ))
            })
            .collect();
        self.drain_timeout = topology.drain_timeout;
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
        Ok(summary)
    }

    fn listener_specs_of(&self, handler: &str) -> Vec<ListenerSpec> {
        let mut v: Vec<ListenerSpec> = self
            .listeners
            .values()
            .filter(|l| l.spec.handler == handler)
            .map(|l| l.spec.clone())
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    fn start_handler(
        &self,
        h: &HandlerSpec,
        plugin: Plugin,
        root: Option<Root>,
        udp: Vec<(String, std::net::UdpSocket)>,
        tcp: Vec<(String, std::net::TcpListener)>,
    ) -> Addr<InstanceActor> {
        let plan = HandlerPlan {
            name: h.name.clone(),
            plugin,
            config_text: h.config_text.clone(),
            root: h.root.clone(),
            restart: RestartPolicy {
                max_restarts: h.restart.max_restarts,
                within: h.restart.within,
            },
            limits: HandlerLimits {
                max_connections: h.limits.max_connections,
                max_connections_per_ip: h.limits.max_connections_per_ip,
                max_write_buffer: h.limits.max_write_buffer,
            },
            outputs: h
                .outputs
                .iter()
                .map(|r| OutputRoute {
                    port: r.port,
                    to_handler: r.to_handler.clone(),
                    to_port: r.to_port,
                    type_name: r.type_name.clone(),
                })
                .collect(),
            udp,
            tcp,
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
        metrics.set_stopped(false);
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
            let shared = Rc::new(Shared::new(
                &plan,
                hlog,
                root.map(Rc::new),
                registry,
                metrics,
                live,
            ));
            InstanceActor::handler(plan, shared)
        })
    }

    /// Stop accepting, let in-flight work finish until the drain deadline, then stop
    /// every actor. Says whether all work finished in time.
    pub async fn drain(&self) -> bool {
        let deadline = self.drain_timeout;
        let all: Vec<&Addr<InstanceActor>> = self
            .handlers
            .values()
            .map(|h| &h.addr)
            .chain(&self.retiring)
            .collect();
        for addr in &all {
            addr.do_send(Drain);
        }
        let start = Instant::now();
        let finished = loop {
            let busy = busy_total(&all).await;
            if busy == 0 {
                info!(self.log, "drained"; "secs" => start.elapsed().as_secs_f64());
                break true;
            }
            if start.elapsed() >= deadline {
                info!(self.log, "drain deadline reached; aborting what is left"; "in_flight" => busy);
                break false;
            }
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        };
        self.abort(&all).await;
        finished
    }

    /// Stop every actor now: each drops its instance, connections and temp files
    /// (nothing partial stays visible). Waits (2 s at most) until no actor is alive,
    /// per-connection ones included, so the process exits after their cleanup.
    async fn abort(&self, all: &[&Addr<InstanceActor>]) {
        for addr in all {
            addr.do_send(Abort);
        }
        let start = Instant::now();
        while self.live.load(Ordering::Acquire) > 0 && start.elapsed() < Duration::from_secs(2) {
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Names of the handlers that are running.
    pub fn handler_names(&self) -> impl Iterator<Item = &str> {
        self.handlers.keys().map(String::as_str)
    }
}

/// Work in flight across `all`. A handler that does not answer within a second (stuck
/// in plugin code, or in a slow fsync) counts as busy: the drain deadline still holds.
async fn busy_total(all: &[&Addr<InstanceActor>]) -> u64 {
    let mut busy = 0u64;
    for addr in all {
        busy += match tokio::time::timeout(Duration::from_secs(1), addr.send(Busy)).await {
            Ok(Ok(n)) => n,
            // Stopped: nothing left in flight.
            Ok(Err(_)) => 0,
            Err(_) => 1,
        };
    }
    busy
}

fn listener_specs(topology: &Topology, handler: &str) -> Vec<ListenerSpec> {
    let mut v: Vec<ListenerSpec> = topology
        .listeners
        .iter()
        .filter(|l| l.handler == handler)
        .cloned()
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}
