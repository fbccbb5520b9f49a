//! The cluster bus's metrics: whether the host is connected, what waits to be
//! published, and what was published, dropped, received and refused. Labels are small
//! fixed sets (`why`), never a subject or a type name from the wire.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WhyLabel {
    why: &'static str,
}

/// Handles on the bus's metrics (cheap clones of shared atomics).
#[derive(Debug, Clone, Default)]
pub struct BusMetrics {
    /// 1 while connected to a NATS server, 0 otherwise (not yet, or lost).
    pub connected: Gauge,
    /// Connections made, the first one and each reconnection.
    pub connections: Counter,
    /// Typed messages waiting to be published (bounded by `max_queued`).
    pub queued: Gauge,
    /// Typed messages handed to the NATS client.
    pub published: Counter,
    /// Typed messages delivered to an input port from the bus.
    pub received: Counter,
    /// Times the client dropped messages of a subscription whose buffer was full.
    pub slow_consumer: Counter,
    /// Typed messages a stream acknowledged as stored (or as a duplicate of one stored).
    pub stored: Counter,
    /// Stream publishes sent again, with the same message id, after a failure.
    pub resent: Counter,
    dropped: Family<WhyLabel, Counter>,
    /// `dropped` over every reason, for the console (not exported: the family is).
    dropped_all: Counter,
    refused: Family<WhyLabel, Counter>,
}

impl BusMetrics {
    /// Register every bus metric under `registry` (prefix `switchyard_bus_`).
    pub fn register(&self, registry: &mut Registry) {
        let bus = registry.sub_registry_with_prefix("bus");
        bus.register(
            "connected",
            "1 while connected to a NATS server, 0 while not (not yet, or lost and reconnecting)",
            self.connected.clone(),
        );
        bus.register(
            "connections",
            "Connections to NATS made (the first and each reconnection)",
            self.connections.clone(),
        );
        bus.register(
            "queued",
            "Typed messages waiting to be published (at most the bus's max_queued)",
            self.queued.clone(),
        );
        bus.register(
            "published",
            "Typed messages handed to the NATS client",
            self.published.clone(),
        );
        bus.register(
            "dropped",
            "Typed messages not published, by why: queue_full (max_queued reached), backlogged (the client's queue stayed full), no_bus, error",
            self.dropped.clone(),
        );
        bus.register(
            "received",
            "Typed messages from the bus delivered to an input port",
            self.received.clone(),
        );
        bus.register(
            "refused",
            "Messages from the bus not delivered, by why: type (a type or schema version the port does not accept), untyped, no_handler",
            self.refused.clone(),
        );
        bus.register(
            "slow_consumer",
            "Times the client dropped messages of a subscription that was not read fast enough",
            self.slow_consumer.clone(),
        );
        bus.register(
            "stored",
            "Typed messages on a stream's subject that the stream acknowledged (published_total counts them too)",
            self.stored.clone(),
        );
        bus.register(
            "resent",
            "Publishes to a stream sent again with the same message id after a failure (NATS away, no acknowledgement in time)",
            self.resent.clone(),
        );
    }

    /// Count a message not published, for `why`.
    pub fn dropped(&self, why: &'static str) {
        self.dropped.get_or_create(&WhyLabel { why }).inc();
        self.dropped_all.inc();
    }

    /// Messages not published so far, whatever the reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_all.get()
    }

    /// Count a message from the bus not delivered, for `why`.
    pub fn refused(&self, why: &'static str) {
        self.refused.get_or_create(&WhyLabel { why }).inc();
    }
}
