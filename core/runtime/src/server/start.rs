//! Starting one handler: its workers, each a thread (an actix arbiter with a
//! current-thread tokio runtime) running a handler actor with its own instances, all
//! on duplicates of the handler's listener sockets.
//!
//! Why a thread per worker and not a multi-threaded runtime: a plugin instance is
//! single-threaded by contract (calls into one instance are never concurrent), and an
//! actor with its instance, connections and files on one thread needs no lock on the
//! event path. A handler busy hashing a large upload never delays another's
//! datagrams, and `workers: N` lets one protocol use N cores.

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use actix::{Actor, Addr};
use slog::{Logger, info, o};
use switchyard_sdk::abi;

use crate::actor::handover::Predecessor;
use crate::actor::{
    Counters, HandlerPlan, HandlerWide, InstanceActor, Peers, Registry, Shared, SharedListener,
    Workers,
};
use crate::bus::access::BusAccess;
use crate::console::journal::Journal;
use crate::loader::Plugin;
use crate::metrics::Metrics;
use crate::objects::ObjectBackend;
use crate::storage::Root;
use crate::topology::HandlerSpec;

/// A handler's listener sockets: UDP and TCP.
pub(super) type ListenerSockets = (
    Vec<SharedListener<std::net::UdpSocket>>,
    Vec<SharedListener<std::net::TcpListener>>,
);

/// What a handler's workers are started with, besides its spec and plugin.
pub(super) struct HandlerStart<'a> {
    pub log: &'a Logger,
    pub metrics: &'a Arc<Metrics>,
    pub registry: &'a Registry,
    pub live: &'a Arc<AtomicUsize>,
    /// The plugin's named counters, kept across reloads of the handler.
    pub counters: Arc<Counters>,
    /// The bus (publishing, run-time subscriptions), when the topology has one.
    pub bus: Option<BusAccess>,
    /// The console's journal, where ended sessions go.
    pub journal: &'a Arc<Journal>,
}

/// A duplicate of each listener socket, for one more worker.
fn duplicate(sockets: &ListenerSockets, log: &Logger) -> ListenerSockets {
    fn dup<S>(
        l: &SharedListener<S>,
        clone: fn(&S) -> std::io::Result<S>,
        log: &Logger,
    ) -> Option<SharedListener<S>> {
        match clone(&l.socket) {
            Ok(socket) => Some(SharedListener {
                name: l.name.clone(),
                id: l.id,
                socket,
            }),
            Err(e) => {
                slog::error!(log, "cannot share listener socket with a worker"; "listener" => &l.name, "error" => %e);
                None
            }
        }
    }
    (
        sockets
            .0
            .iter()
            .filter_map(|l| dup(l, std::net::UdpSocket::try_clone, log))
            .collect(),
        sockets
            .1
            .iter()
            .filter_map(|l| dup(l, std::net::TcpListener::try_clone, log))
            .collect(),
    )
}

/// Start the handler's `spec.workers` workers; `predecessors`, one per worker when the
/// replaced handler hands its state over (worker `k` to worker `k`).
pub(super) fn start_handler(
    env: HandlerStart<'_>,
    h: &HandlerSpec,
    plugin: Plugin,
    (root, objects): (Option<Root>, Option<Arc<ObjectBackend>>),
    sockets: ListenerSockets,
    mut predecessors: Vec<Predecessor>,
) -> Workers {
    let n = h.workers.max(1);
    let name = plugin.info().name.clone();
    let hlog = env
        .log
        .new(o!("handler" => h.name.clone(), "plugin" => name));
    if let Some(root) = &root
        && root.swept() > 0
    {
        info!(hlog, "removed temp files left by a crash"; "root" => %root.path().display(), "count" => root.swept());
    }
    let root = root.map(Arc::new);
    let metrics = env.metrics.handler(&h.name);
    metrics.set_down(None);
    let wide = HandlerWide::new(
        n,
        h.limits.clone(),
        h.restart,
        env.counters,
        (metrics.clone(), Arc::clone(env.journal)),
    );
    let mut sockets = Some(sockets);
    let mut addrs = Vec::with_capacity(n);
    for worker in 0..n {
        // The last worker takes the server's duplicates; the others, duplicates of those.
        let own = match sockets.as_ref() {
            Some(s) if worker + 1 < n => duplicate(s, &hlog),
            _ => sockets.take().unwrap_or_default(),
        };
        let plan = HandlerPlan {
            spec: h.clone(),
            plugin: plugin.clone(),
            udp: own.0,
            tcp: own.1,
            predecessor: (!predecessors.is_empty()).then(|| predecessors.remove(0)),
        };
        let log = if n > 1 {
            hlog.new(o!("worker" => worker))
        } else {
            hlog.clone()
        };
        let wiring = WorkerWiring {
            root: root.clone(),
            objects: objects.clone(),
            metrics: metrics.clone(),
            live: Arc::clone(env.live),
            wide: Arc::clone(&wide),
            registry: Arc::clone(env.registry),
            bus: env.bus.clone(),
        };
        addrs.push(start_worker(plan, log, worker, wiring));
    }
    if n > 1 {
        let peers = Peers {
            datagrams: addrs.iter().map(|a| a.clone().recipient()).collect(),
            conns: addrs.iter().map(|a| a.clone().recipient()).collect(),
            down: addrs.iter().map(|a| a.clone().recipient()).collect(),
        };
        for a in &addrs {
            a.do_send(peers.clone());
        }
    }
    Workers {
        addrs,
        every: plugin.info().input_delivery == abi::SY_INPUT_EVERY_WORKER,
        wide,
    }
}

/// What one worker shares with the others (all `Send`, crossing to its thread).
struct WorkerWiring {
    root: Option<Arc<Root>>,
    objects: Option<Arc<ObjectBackend>>,
    metrics: crate::metrics::HandlerMetrics,
    live: Arc<AtomicUsize>,
    wide: Arc<HandlerWide>,
    registry: Registry,
    bus: Option<BusAccess>,
}

/// One worker: its own thread, its handler actor there.
fn start_worker(
    plan: HandlerPlan,
    log: Logger,
    worker: usize,
    w: WorkerWiring,
) -> Addr<InstanceActor> {
    let busy = plan.spec.busy_poll;
    let arbiter = actix::Arbiter::with_tokio_rt(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .on_thread_park(crate::busy_poll::before_park)
            .build()
            .expect("a tokio runtime for the handler thread")
    });
    InstanceActor::start_in_arbiter(&arbiter.handle(), move |_| {
        crate::busy_poll::enable(busy);
        let WorkerWiring {
            root,
            objects,
            metrics,
            live,
            wide,
            registry,
            bus,
        } = w;
        let mut shared = Shared::new(&plan, log, root, metrics, live, (wide, worker));
        shared.objects = objects;
        shared.bus = bus;
        let shared = Rc::new(shared);
        InstanceActor::handler(plan, shared, registry)
    })
}
