//! Typed messages on their way from handler threads to the bus: a bounded queue that a
//! handler offers to without ever waiting, and the one task that publishes from it.
//!
//! A handler thread must never wait for NATS, so [`Outbox::offer`] is a `try_send`:
//! when `max_queued` messages wait already (NATS away or slow), the message is dropped
//! and counted. The publishing task hands each message to the client, which queues it
//! while reconnecting within its own bound and waits for room at most the publish
//! timeout; past that, dropped and counted too. Drops are said in the log by
//! [`DropLog`], one line per second at most.
//!
//! A message on a subject a stream captures (`streams.rs`) is not left to the client:
//! the task waits for the stream's acknowledgement and re-sends it with the same
//! message id until it is stored, so it is stored exactly once, and in order (the
//! messages behind it wait in the queue meanwhile, within the same bound).

use std::sync::{Arc, RwLock};

use bytes::Bytes;
use switchyard_bus::{Bus, BusError, Typed};
use tokio::sync::{mpsc, watch};

use super::drops::DropLog;
use super::streams::{StreamSpecs, ToStore, capturing, publish_until_stored};
use crate::metrics::BusMetrics;

/// One typed message to publish.
#[derive(Debug)]
pub struct Outgoing {
    pub subject: Arc<str>,
    /// Its type with the schema version (the output port's type).
    pub type_name: Arc<str>,
    /// `handler.port` that emitted it.
    pub source: Arc<str>,
    pub payload: Bytes,
}

/// Where handlers put messages for the bus. Cheap to clone; shared by every handler.
#[derive(Debug, Clone)]
pub struct Outbox {
    /// Replaced when a reload changes `max_queued` (the old queue is published out).
    tx: Arc<RwLock<mpsc::Sender<Outgoing>>>,
    metrics: BusMetrics,
    drops: Arc<DropLog>,
}

impl Outbox {
    /// A queue of `capacity` messages and its receiving end, for [`publish_all`].
    pub(super) fn new(
        capacity: usize,
        metrics: BusMetrics,
        drops: Arc<DropLog>,
    ) -> (Outbox, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let tx = Arc::new(RwLock::new(tx));
        (Outbox { tx, metrics, drops }, rx)
    }

    /// A new queue of `capacity` messages for every holder of this outbox; the old one's
    /// receiver ends once what it holds is published.
    pub(super) fn resize(&self, capacity: usize) -> mpsc::Receiver<Outgoing> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        *self.tx.write().unwrap_or_else(|e| e.into_inner()) = tx;
        rx
    }

    /// How many messages the queue holds at most.
    pub(super) fn capacity(&self) -> usize {
        self.tx
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .max_capacity()
    }

    /// Queue `msg` for publishing, or drop it (counted, logged within a second) when
    /// the queue is full: `false`. Never waits.
    pub fn offer(&self, msg: Outgoing) -> bool {
        let subject = Arc::clone(&msg.subject);
        let sent = self
            .tx
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .try_send(msg);
        match sent {
            Ok(()) => {
                self.metrics.queued.inc();
                return true;
            }
            Err(mpsc::error::TrySendError::Full(_)) => self.drop_one("queue_full", &subject),
            Err(mpsc::error::TrySendError::Closed(_)) => self.drop_one("no_bus", &subject),
        };
        false
    }

    fn drop_one(&self, why: &'static str, subject: &str) {
        self.metrics.dropped(why);
        self.drops.add(why, subject);
    }
}

/// Publish every message of `rx` on the bus `current` holds (none: dropped), in order;
/// those on a subject of one of `streams` until the stream has stored them.
pub(super) async fn publish_all(
    mut rx: mpsc::Receiver<Outgoing>,
    current: watch::Receiver<Option<Bus>>,
    streams: watch::Receiver<StreamSpecs>,
    outbox: Outbox,
) {
    while let Some(msg) = rx.recv().await {
        outbox.metrics.queued.dec();
        let typed = Typed {
            type_name: &msg.type_name,
            source: &msg.source,
        };
        if capturing(&streams.borrow(), &msg.subject).is_some() {
            let to_store = ToStore {
                subject: &msg.subject,
                typed,
                payload: &msg.payload,
            };
            match publish_until_stored(&current, to_store, &outbox.metrics).await {
                Ok(()) => {
                    outbox.metrics.published.inc();
                }
                Err(why) => outbox.drop_one(why, &msg.subject),
            }
            continue;
        }
        let bus = current.borrow().clone();
        let Some(bus) = bus else {
            outbox.drop_one("no_bus", &msg.subject);
            continue;
        };
        match bus.publish_typed(&msg.subject, typed, msg.payload).await {
            Ok(()) => {
                outbox.metrics.published.inc();
            }
            Err(BusError::Backlogged { .. }) => outbox.drop_one("backlogged", &msg.subject),
            Err(_) => outbox.drop_one("error", &msg.subject),
        }
    }
}
