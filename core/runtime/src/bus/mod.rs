//! The cluster bus as the runtime runs it (issue 22): the host's one NATS connection,
//! typed messages from output ports published on subjects, and subjects delivered to
//! input ports, as the topology's `bus` and `bus:subject` routes say.
//!
//! Everything runs on one thread of its own ("bus", a current-thread tokio runtime):
//! the client's connection, the publishing task, one task per subscribed subject and
//! the drop reporter. Handler threads only ever `try_send` into the [`Outbox`].
//!
//! **NATS down at start: the host starts degraded.** The connection is made in the
//! background ([`switchyard_bus::Bus::start`]); the host serves its own handlers
//! meanwhile, `switchyard_bus_connected` is 0, typed messages for the bus queue up to
//! `max_queued` and are dropped (counted, logged) beyond it, and each subscription is
//! made once NATS answers. Why not refuse: a host's local service should not depend
//! on the bus being up first (a restart of both would need an order), and the same
//! code path serves a NATS restart mid-stream. The operator sees it in the metrics and
//! a WARN line after the connect timeout. `docs/operations.md`, "The cluster bus".
//!
//! # Layout
//! - `credentials.rs`: connection options from the topology and the environment.
//! - `outbox.rs`: [`Outbox`], the bounded queue from handlers, and the publishing task.
//! - `drops.rs`: what was dropped, one WARN line per reason and subject per second.
//! - `inbox.rs`: subscriptions delivering to input ports, types checked.
//! - `streams.rs`: the topology's JetStream streams made at every connection, and
//!   publishes to their subjects re-sent with one message id until stored.
//! - `stream_read.rs`: a plugin's read of a stream from a sequence (`bus_stream_read`),
//!   taken up again after NATS restarts.
//! - `access.rs`: [`access::BusAccess`], a handler's side: the outbox, and the
//!   subscriptions its plugin makes at run time (the ABI's bus calls).
//! - `board.rs`: [`board::BusBoard`], what the console shows of the bus (connection
//!   state and since when, the cluster's hosts), written by the bus thread.
//! - `presence.rs`: [`presence::Presence`], this host's record in the cluster's hosts
//!   bucket, refreshed by a heartbeat, and the listing of the others.
//! - this file: [`BusLink`], the connection and its tasks across reloads.

pub mod access;
pub mod board;
pub mod credentials;
mod drops;
mod inbox;
pub mod outbox;
pub mod presence;
pub mod stream_read;
pub mod streams;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use slog::{Logger, info, warn};
use switchyard_bus::{Bus, BusEvent, BusOptions, ConnectionState, Credentials};
use tokio::runtime::Handle;
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;

use crate::actor::Registry;
use crate::console::journal::now_unix_ms;
use crate::metrics::BusMetrics;
use crate::topology::{BusInputRoute, BusSpec};
use board::{BusBoard, LinkState};
use drops::DropLog;
pub use outbox::{Outbox, Outgoing};
use presence::Presence;
use streams::StreamSpecs;

/// How long a first connection may take before the log says the host runs without
/// the bus (the client's own connect timeout).
const SAY_NOT_CONNECTED_AFTER: Duration = Duration::from_secs(5);
/// How often dropped messages are reported in the log.
const DROP_REPORT_EVERY: Duration = Duration::from_secs(1);

/// What a connection was made with: a reload that changes any of it reconnects.
type ConnectedAs = (BusSpec, Credentials);

/// A connection started by [`BusLink::prepare`], not yet in use.
#[derive(Debug)]
pub struct FreshBus {
    bus: Bus,
    made_with: ConnectedAs,
    /// Made current at prepare (its first events count); given back to `previous` if
    /// the reload is refused and this connection never used.
    generation: u64,
    previous: u64,
    current: Arc<AtomicU64>,
    used: bool,
    /// Told of each connection made, so the streams are made again on it.
    connected: Arc<Notify>,
}

impl Drop for FreshBus {
    fn drop(&mut self) {
        if !self.used {
            let _ = self.current.compare_exchange(
                self.generation,
                self.previous,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }
}

/// The host's bus: its thread, connection, outbox and subscriptions.
#[derive(Debug)]
pub struct BusLink {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    current: watch::Sender<Option<Bus>>,
    /// The topology's streams, for the publishing task and the reads.
    streams: watch::Sender<StreamSpecs>,
    /// Makes the streams at each connection of the current bus.
    stream_keeper: Option<JoinHandle<()>>,
    connected_as: Option<ConnectedAs>,
    receivers: Vec<inbox::Receiver>,
    tasks: Vec<JoinHandle<()>>,
    /// Which connection is current: a replaced one's late events (its close) must not
    /// move the gauge.
    generation: Arc<AtomicU64>,
    outbox: Outbox,
    metrics: BusMetrics,
    registry: Registry,
    /// What the console shows of the bus; `presence`, the current connection's
    /// heartbeat in the hosts bucket.
    board: Arc<BusBoard>,
    presence: Mutex<Option<Presence>>,
    log: Logger,
}

impl BusLink {
    /// Start the bus thread with its publishing task and drop reporter; no connection
    /// yet. Fails only if the thread cannot be started.
    pub fn new(
        max_queued: usize,
        (metrics, board): (BusMetrics, Arc<BusBoard>),
        registry: Registry,
        log: &Logger,
    ) -> std::io::Result<BusLink> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("bus".into())
            .spawn(move || runtime.block_on(async move { stopped.await.ok() }))?;
        let log = log.new(slog::o!("part" => "bus"));
        let drops = Arc::new(DropLog::default());
        let (outbox, rx) = Outbox::new(max_queued, metrics.clone(), Arc::clone(&drops));
        let (current, watching) = watch::channel(None);
        let (streams, streams_watched) = watch::channel(StreamSpecs::from([]));
        handle.spawn(outbox::publish_all(
            rx,
            watching,
            streams_watched,
            outbox.clone(),
        ));
        let reporter_log = log.clone();
        handle.spawn(async move {
            let mut every = tokio::time::interval(DROP_REPORT_EVERY);
            loop {
                every.tick().await;
                drops.report(&reporter_log);
            }
        });
        Ok(BusLink {
            handle,
            stop: Some(stop),
            current,
            streams,
            stream_keeper: None,
            connected_as: None,
            receivers: Vec::new(),
            tasks: Vec::new(),
            generation: Arc::default(),
            outbox,
            metrics,
            registry,
            board,
            presence: Mutex::default(),
            log,
        })
    }

    /// What a start or reload needs of the bus before anything changes: the bus thread
    /// (started into `link` with the first topology that has a bus) and a new
    /// connection when the settings or credentials changed (`None`: keep it, or no
    /// bus). The reason in words when it cannot (a credentials variable not set).
    pub fn prepare_for(
        link: &mut Option<BusLink>,
        spec: Option<&BusSpec>,
        (metrics, board): (&crate::metrics::Metrics, &Arc<BusBoard>),
        registry: &Registry,
        log: &Logger,
    ) -> Result<Option<FreshBus>, String> {
        let Some(spec) = spec else {
            return Ok(None);
        };
        let options = credentials::options(spec, credentials::process_env)?;
        if link.is_none() {
            let made = BusLink::new(
                spec.max_queued,
                (metrics.bus.clone(), Arc::clone(board)),
                Arc::clone(registry),
                log,
            )
            .map_err(|e| format!("cannot start the bus thread: {e}"))?;
            *link = Some(made);
        }
        link.as_ref().expect("just made").prepare(spec, &options)
    }

    /// A handler's access to the bus: the outbox and the current connection.
    pub fn access(&self) -> access::BusAccess {
        access::BusAccess {
            outbox: self.outbox.clone(),
            handle: self.handle.clone(),
            current: self.current.subscribe(),
            streams: self.streams.subscribe(),
        }
    }

    /// A new connection when `spec` or the credentials differ from the running one's
    /// (`None`: keep it). Started in the background: NATS need not be up.
    pub fn prepare(
        &self,
        spec: &BusSpec,
        options: &BusOptions,
    ) -> Result<Option<FreshBus>, String> {
        let made_with = (spec.clone(), options.credentials.clone());
        if self.connected_as.as_ref() == Some(&made_with) {
            return Ok(None);
        }
        let _runtime = self.handle.enter();
        let previous = self.generation.load(Ordering::Relaxed);
        let generation = previous + 1;
        let connected = Arc::new(Notify::new());
        let on_event = self.on_event(generation, Arc::clone(&connected));
        let bus = Bus::start(options, on_event).map_err(|e| e.to_string())?;
        // From now on this connection's events count (it may connect before the switch).
        self.generation.store(generation, Ordering::Relaxed);
        Ok(Some(FreshBus {
            bus,
            made_with,
            generation,
            previous,
            current: Arc::clone(&self.generation),
            used: false,
            connected,
        }))
    }

    /// Use `fresh` (when given), the queue bound and subscriptions `spec` and `inputs`
    /// ask for; `spec` `None`: no bus any more (what is queued is dropped and counted).
    pub fn switch(
        &mut self,
        spec: Option<&BusSpec>,
        fresh: Option<FreshBus>,
        inputs: &[BusInputRoute],
    ) {
        let reconnected = fresh.is_some();
        if let Some(mut fresh) = fresh {
            fresh.used = true;
            let spec = &fresh.made_with.0;
            info!(self.log, "bus connecting"; "servers" => spec.servers.join(","),
                "name" => &spec.name, "prefix" => &spec.subject_prefix);
            let up = fresh.bus.state() == ConnectionState::Connected;
            self.metrics.connected.set(i64::from(up));
            let link = (
                spec.servers.clone(),
                spec.name.clone(),
                spec.subject_prefix.clone(),
            );
            let state = if up {
                LinkState::Connected
            } else {
                LinkState::Connecting
            };
            self.board.set_link(Some(link), state, now_unix_ms());
            let started = Presence::start(
                fresh.bus.clone(),
                Arc::clone(&self.board),
                self.log.clone(),
                &self.handle,
            );
            let running = self.presence.get_mut().unwrap_or_else(|e| e.into_inner());
            if let Some(old) = running.replace(started) {
                old.leave();
            }
            self.watch_first_connect(fresh.bus.clone(), spec.servers.join(","));
            self.current.send_replace(Some(fresh.bus.clone()));
            self.connected_as = Some(fresh.made_with.clone());
            self.keep_streams(fresh.bus.clone(), &spec.streams, &fresh.connected);
        }
        let Some(spec) = spec else {
            self.generation.fetch_add(1, Ordering::Relaxed);
            self.current.send_replace(None);
            self.connected_as = None;
            self.metrics.connected.set(0);
            self.leave();
            self.board
                .set_link(None, LinkState::Disconnected, now_unix_ms());
            self.restart_receivers(Vec::new());
            if let Some(keeper) = self.stream_keeper.take() {
                keeper.abort();
            }
            self.streams.send_replace(StreamSpecs::from([]));
            return;
        };
        if self.outbox.capacity() != spec.max_queued {
            let rx = self.outbox.resize(spec.max_queued);
            let (watching, streams) = (self.current.subscribe(), self.streams.subscribe());
            self.handle.spawn(outbox::publish_all(
                rx,
                watching,
                streams,
                self.outbox.clone(),
            ));
        }
        let receivers = inbox::receivers(inputs);
        if reconnected || receivers_differ(&self.receivers, &receivers) {
            self.restart_receivers(receivers);
        }
    }

    /// Stop this host's heartbeat and delete its record from the hosts bucket (a
    /// clean stop, a reload to another connection or none). The handle ends once the
    /// record is deleted, within a few seconds at most; `None` when there was no
    /// heartbeat.
    pub fn leave(&self) -> Option<JoinHandle<()>> {
        let mut presence = self.presence.lock().unwrap_or_else(|e| e.into_inner());
        presence.take().map(Presence::leave)
    }

    /// Make `specs` the streams, kept on `bus` at each connection `connected` tells of.
    fn keep_streams(
        &mut self,
        bus: Bus,
        specs: &[crate::topology::StreamSpec],
        connected: &Arc<Notify>,
    ) {
        if let Some(keeper) = self.stream_keeper.take() {
            keeper.abort();
        }
        let specs = StreamSpecs::from(specs);
        self.streams.send_replace(Arc::clone(&specs));
        let keep = streams::keep(bus, specs, Arc::clone(connected), self.log.clone());
        self.stream_keeper = Some(self.handle.spawn(keep));
    }

    /// Stop the subscriptions and start `receivers` on the current connection.
    fn restart_receivers(&mut self, receivers: Vec<inbox::Receiver>) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        let bus = self.current.borrow().clone();
        if let Some(bus) = bus {
            for receiver in &receivers {
                let task = inbox::receive(
                    bus.clone(),
                    receiver.clone(),
                    Arc::clone(&self.registry),
                    self.metrics.clone(),
                    self.log.clone(),
                );
                self.tasks.push(self.handle.spawn(task));
            }
        }
        self.receivers = receivers;
    }

    /// Say so once if the first connection is not made within the connect timeout.
    fn watch_first_connect(&self, bus: Bus, servers: String) {
        let log = self.log.clone();
        self.handle.spawn(async move {
            tokio::time::sleep(SAY_NOT_CONNECTED_AFTER).await;
            if bus.state() != ConnectionState::Connected {
                warn!(log, "bus not connected: serving without it until NATS answers";
                    "servers" => servers);
            }
        });
    }

    /// What the client's events do: the gauge, the counters, a log line; nothing once
    /// connection `generation` is no longer the current one.
    fn on_event(
        &self,
        generation: u64,
        connected: Arc<Notify>,
    ) -> impl Fn(BusEvent) + Send + Sync + 'static {
        let (metrics, log) = (self.metrics.clone(), self.log.clone());
        let (current, board) = (Arc::clone(&self.generation), Arc::clone(&self.board));
        move |event| match event {
            _ if current.load(Ordering::Relaxed) != generation => {}
            BusEvent::Connected => {
                board.set_state(LinkState::Connected, now_unix_ms());
                metrics.connected.set(1);
                metrics.connections.inc();
                connected.notify_one();
                info!(log, "bus connected");
            }
            BusEvent::Disconnected => {
                board.set_state(LinkState::Disconnected, now_unix_ms());
                metrics.connected.set(0);
                warn!(
                    log,
                    "bus connection lost: reconnecting; messages for it queue up to max_queued"
                );
            }
            BusEvent::SlowConsumer => {
                metrics.slow_consumer.inc();
                warn!(
                    log,
                    "bus subscription too slow: the client dropped messages of it"
                );
            }
            BusEvent::Other(what) => info!(log, "bus event"; "event" => what),
        }
    }
}

/// Whether two subscription lists differ (a reload then re-subscribes).
fn receivers_differ(a: &[inbox::Receiver], b: &[inbox::Receiver]) -> bool {
    a.len() != b.len()
        || a.iter()
            .zip(b)
            .any(|(x, y)| (&x.subject, x.own, &x.targets) != (&y.subject, y.own, &y.targets))
}

impl Drop for BusLink {
    fn drop(&mut self) {
        for task in self.tasks.drain(..).chain(self.stream_keeper.take()) {
            task.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
