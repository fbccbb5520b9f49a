//! Prometheus metrics, as the admin endpoint serves them.
//!
//! Counters live in one [`Metrics`] registry; each handler gets its own pre-labelled
//! handles ([`HandlerMetrics`]) once, so the hot path is a relaxed atomic add, never a
//! label lookup. The admin endpoint (`crate::console::http`, on its own listener,
//! 127.0.0.1 unless configured otherwise, off unless configured) answers
//! `GET /metrics` (Prometheus text format 0.0.4, or OpenMetrics when asked for: see
//! [`exposition`]) and `GET /health` (`ok`).
//!
//! Every label value comes from a small fixed set, so the number of series is bounded
//! by the topology: a transfer's `result` is an [`Outcome`], never the plugin's reason.
//!
//! # Layout
//! - this file: [`Metrics`] and its per-handler [`HandlerMetrics`]; the text each
//!   format encodes to.
//! - `bus`: [`BusMetrics`], the cluster bus's connection state and message counts.
//! - `exposition`: Prometheus text 0.0.4 or OpenMetrics, as the scraper asked.
//! - `metrics/tests.rs`: the tests.

mod bus;
pub mod exposition;

pub use bus::BusMetrics;

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use switchyard_sdk::messages::Outcome;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandlerLabel {
    handler: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandlerResult {
    handler: String,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandlerWhy {
    handler: String,
    why: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandlerKind {
    handler: String,
    kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandlerWorker {
    handler: String,
    worker: u32,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

/// Every metric the host exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    conns_open: Family<HandlerLabel, Gauge>,
    conns_total: Family<HandlerLabel, Counter>,
    sessions: Family<HandlerLabel, Gauge>,
    worker_busy: Family<HandlerWorker, Gauge>,
    bytes_in: Family<HandlerLabel, Counter>,
    bytes_out: Family<HandlerLabel, Counter>,
    datagrams_in: Family<HandlerLabel, Counter>,
    datagrams_out: Family<HandlerLabel, Counter>,
    transfers: Family<HandlerResult, Counter>,
    sessions_cut: Family<HandlerWhy, Counter>,
    errors: Family<HandlerKind, Counter>,
    restarts: Family<HandlerLabel, Counter>,
    reads_deferred: Family<HandlerLabel, Counter>,
    receives_direct: Family<HandlerLabel, Counter>,
    reloads: Family<ResultLabel, Counter>,
    up: Family<HandlerLabel, Gauge>,
    /// The cluster bus's (registered whether or not the topology has a bus).
    pub bus: BusMetrics,
    /// Handlers down (restart intensity exceeded, instance not created), with why, for
    /// `/health`.
    down: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
}

/// One handler's metric handles (cheap clones of shared atomics).
#[derive(Debug, Clone)]
pub struct HandlerMetrics {
    name: String,
    metrics: Arc<Metrics>,
    pub conns_open: Gauge,
    pub conns_total: Counter,
    pub sessions: Gauge,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    pub datagrams_in: Counter,
    pub datagrams_out: Counter,
    pub restarts: Counter,
    pub reads_deferred: Counter,
    pub receives_direct: Counter,
    /// Set once a `result` outside [`Outcome`]'s strings was counted as `other`.
    free_text_seen: Arc<AtomicBool>,
}

impl HandlerMetrics {
    /// Count an error of `kind` (`conn_limit`, `send`, `storage`, `plugin_panic`, ...).
    pub fn error(&self, kind: &str) {
        let label = HandlerKind {
            handler: self.name.clone(),
            kind: kind.to_owned(),
        };
        self.metrics.errors.get_or_create(&label).inc();
    }

    /// The gauge of what worker `worker` of this handler has in flight.
    pub fn worker_busy(&self, worker: usize) -> Gauge {
        let label = HandlerWorker {
            handler: self.name.clone(),
            worker: worker as u32,
        };
        self.metrics.worker_busy.get_or_create(&label).clone()
    }

    /// Record that this handler is down, and why, or serving again (`None`): shown by
    /// `/health` and `switchyard_handler_up`.
    pub fn set_down(&self, why: Option<&str>) {
        let label = HandlerLabel {
            handler: self.name.clone(),
        };
        self.metrics
            .up
            .get_or_create(&label)
            .set(i64::from(why.is_none()));
        let mut down = self.metrics.down.lock().unwrap_or_else(|e| e.into_inner());
        match why {
            Some(why) => down.insert(self.name.clone(), why.to_owned()),
            None => down.remove(&self.name),
        };
    }

    /// Count a finished session (`session_end`) under the [`Outcome`] its plugin
    /// named. Anything outside the set (free text from a plugin built against an older
    /// SDK) counts as `other`, so the label stays bounded. Returns true the first time
    /// that happens for this handler, for the caller to log it once.
    pub fn transfer(&self, result: &str) -> bool {
        let known = result.parse::<Outcome>().ok();
        let label = HandlerResult {
            handler: self.name.clone(),
            result: known.unwrap_or(Outcome::Other).as_str(),
        };
        self.metrics.transfers.get_or_create(&label).inc();
        known.is_none() && !self.free_text_seen.swap(true, Ordering::Relaxed)
    }

    /// Count a session (or a connection no session described) cut at a drain
    /// deadline: `why` is `shutdown` or `reload`.
    pub fn session_cut(&self, why: &'static str) {
        let label = HandlerWhy {
            handler: self.name.clone(),
            why,
        };
        self.metrics.sessions_cut.get_or_create(&label).inc();
    }
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("switchyard");
        let m = Metrics {
            conns_open: Family::default(),
            conns_total: Family::default(),
            sessions: Family::default(),
            worker_busy: Family::default(),
            bytes_in: Family::default(),
            bytes_out: Family::default(),
            datagrams_in: Family::default(),
            datagrams_out: Family::default(),
            transfers: Family::default(),
            sessions_cut: Family::default(),
            errors: Family::default(),
            restarts: Family::default(),
            reads_deferred: Family::default(),
            receives_direct: Family::default(),
            reloads: Family::default(),
            up: Family::default(),
            bus: BusMetrics::default(),
            down: std::sync::Mutex::default(),
            registry: Registry::default(),
        };
        registry.register(
            "connections_open",
            "TCP connections open",
            m.conns_open.clone(),
        );
        registry.register(
            "connections",
            "TCP connections accepted",
            m.conns_total.clone(),
        );
        registry.register(
            "sessions_active",
            "Sessions in flight, as the plugin describes or counts them",
            m.sessions.clone(),
        );
        registry.register(
            "worker_busy",
            "Sessions and connections in flight on each worker of a handler (how evenly `workers` share the load)",
            m.worker_busy.clone(),
        );
        registry.register(
            "bytes_in",
            "Bytes received (TCP and UDP)",
            m.bytes_in.clone(),
        );
        registry.register("bytes_out", "Bytes sent (TCP and UDP)", m.bytes_out.clone());
        registry.register(
            "datagrams_in",
            "UDP datagrams received",
            m.datagrams_in.clone(),
        );
        registry.register(
            "datagrams_out",
            "UDP datagrams sent",
            m.datagrams_out.clone(),
        );
        registry.register(
            "transfers",
            "Transfers (sessions) finished, by result",
            m.transfers.clone(),
        );
        registry.register(
            "sessions_cut",
            "Sessions cut at a drain deadline (shutdown or reload), by why",
            m.sessions_cut.clone(),
        );
        registry.register("errors", "Errors, by kind", m.errors.clone());
        registry.register(
            "plugin_restarts",
            "Plugin instances recreated after a panic",
            m.restarts.clone(),
        );
        registry.register(
            "file_reads_deferred",
            "File reads (datagram ranges, sendfile ranges) that missed the page cache and ran off the actor thread",
            m.reads_deferred.clone(),
        );
        registry.register(
            "file_receives_direct",
            "Receives into a file written with O_DIRECT and hashed off the actor thread",
            m.receives_direct.clone(),
        );
        registry.register("reloads", "Topology reloads, by result", m.reloads.clone());
        registry.register(
            "handler_up",
            "1 while a handler serves, 0 while it is down (restart intensity exceeded, or no instance)",
            m.up.clone(),
        );
        m.bus.register(&mut registry);
        Arc::new(Metrics { registry, ..m })
    }

    /// Handles for handler `name`.
    pub fn handler(self: &Arc<Self>, name: &str) -> HandlerMetrics {
        let l = HandlerLabel {
            handler: name.to_owned(),
        };
        HandlerMetrics {
            name: name.to_owned(),
            metrics: Arc::clone(self),
            conns_open: self.conns_open.get_or_create(&l).clone(),
            conns_total: self.conns_total.get_or_create(&l).clone(),
            sessions: self.sessions.get_or_create(&l).clone(),
            bytes_in: self.bytes_in.get_or_create(&l).clone(),
            bytes_out: self.bytes_out.get_or_create(&l).clone(),
            datagrams_in: self.datagrams_in.get_or_create(&l).clone(),
            datagrams_out: self.datagrams_out.get_or_create(&l).clone(),
            restarts: self.restarts.get_or_create(&l).clone(),
            reads_deferred: self.reads_deferred.get_or_create(&l).clone(),
            receives_direct: self.receives_direct.get_or_create(&l).clone(),
            free_text_seen: Arc::default(),
        }
    }

    /// Handlers down, with why, by name.
    pub fn down_handlers(&self) -> Vec<(String, String)> {
        self.down
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(name, why)| (name.clone(), why.clone()))
            .collect()
    }

    /// Count a reload (`ok`, `invalid`, `refused`).
    pub fn reload(&self, result: &str) {
        self.reloads
            .get_or_create(&ResultLabel {
                result: result.to_owned(),
            })
            .inc();
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn encode(&self) -> String {
        exposition::to_prometheus_text(&self.encode_openmetrics())
    }

    /// The OpenMetrics text exposition, `# EOF` included.
    pub fn encode_openmetrics(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
            let _ = writeln!(out, "# encoding failed");
        }
        out
    }
}

#[cfg(test)]
mod tests;
