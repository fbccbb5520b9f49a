//! Messages from the bus delivered to input ports: one subscription per subject (and
//! `own` setting) of the topology's `bus:subject -> handler.port` routes.
//!
//! A message names its type and schema version (`Switchyard-Type`); a port that does
//! not accept it (another type, another version, or no type at all) never sees it: the
//! message is refused, counted in `switchyard_bus_refused_total{why}` and logged, at
//! most one line per subject and second, with how many were refused since.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::SendError;
use slog::{Logger, info, warn};
use switchyard_bus::{Bus, BusMessage, ConnectionState, Subscription};
use switchyard_sdk::abi;

use actix::Addr;

use crate::actor::{InstanceActor, Registry, TypedMessage, Workers};
use crate::metrics::BusMetrics;
use crate::topology::BusInputRoute;

/// How often a subscription waiting for a connection looks again.
const WAIT_STEP: Duration = Duration::from_millis(50);
/// How long a delivery waits before looking again at a full mailbox.
const MAILBOX_WAIT: Duration = Duration::from_millis(1);
/// Refusals of one subject are logged at most this often.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(1);

/// One subject's subscription and the ports it feeds.
#[derive(Debug, Clone)]
pub(super) struct Receiver {
    pub subject: String,
    pub own: bool,
    pub targets: Vec<BusInputRoute>,
}

/// The subscriptions `inputs` need: one per (subject, own), in file order.
pub(super) fn receivers(inputs: &[BusInputRoute]) -> Vec<Receiver> {
    let mut out: Vec<Receiver> = Vec::new();
    for input in inputs {
        match out
            .iter_mut()
            .find(|r| r.subject == input.subject && r.own == input.own)
        {
            Some(r) => r.targets.push(input.clone()),
            None => out.push(Receiver {
                subject: input.subject.clone(),
                own: input.own,
                targets: vec![input.clone()],
            }),
        }
    }
    out
}

/// Subscribe once connected (again after a failed attempt), then deliver every message
/// until the task is aborted (a reload changed the routes or the bus).
pub(super) async fn receive(
    bus: Bus,
    receiver: Receiver,
    registry: Registry,
    metrics: BusMetrics,
    log: Logger,
) {
    let mut sub = subscribe(&bus, &receiver, &log).await;
    let mut refusals = Refusals::default();
    let mut senders = Senders::default();
    while let Some(msg) = sub.next().await {
        for target in &receiver.targets {
            match deliver(&msg, target, &registry, &mut senders).await {
                Ok(()) => {
                    metrics.received.inc();
                }
                Err(why) => {
                    metrics.refused(why);
                    refusals.note(&log, &receiver.subject, &msg, target, why);
                }
            }
        }
    }
}

/// The subscription, made once the bus is connected and the server confirmed it.
async fn subscribe(bus: &Bus, receiver: &Receiver, log: &Logger) -> Subscription {
    loop {
        while bus.state() != ConnectionState::Connected {
            tokio::time::sleep(WAIT_STEP).await;
        }
        match bus.subscribe(&receiver.subject, receiver.own).await {
            Ok(sub) => {
                let handlers: Vec<String> =
                    receiver.targets.iter().map(|t| t.handler.clone()).collect();
                info!(log, "bus subscription ready"; "subject" => &receiver.subject,
                    "own" => receiver.own, "handlers" => handlers.join(","));
                return sub;
            }
            Err(e) => {
                info!(log, "bus subscription to retry"; "subject" => &receiver.subject, "error" => %e);
                tokio::time::sleep(WAIT_STEP * 4).await;
            }
        }
    }
}

/// Hand `msg` to `target`'s workers, or say why not. A worker whose mailbox is full
/// makes this wait (the subscription is then read no further: NATS messages wait in
/// the client's bounded buffer, and beyond it the client drops them and reports a slow
/// consumer), so a slow handler never grows the host's memory.
async fn deliver(
    msg: &BusMessage,
    target: &BusInputRoute,
    registry: &Registry,
    senders: &mut Senders,
) -> Result<(), &'static str> {
    let Some(type_name) = msg.type_name.as_deref() else {
        return Err("untyped");
    };
    if target.type_name != abi::SY_TYPE_ANY && target.type_name != type_name {
        return Err("type");
    }
    let addrs = {
        let registry = registry.read().unwrap_or_else(|e| e.into_inner());
        let Some(workers) = registry.get(&target.handler) else {
            return Err("no_handler");
        };
        senders.for_message(&target.handler, workers)
    };
    let source: Arc<str> = Arc::from(format!(
        "{}/{}",
        msg.host.as_deref().unwrap_or("?"),
        msg.source.as_deref().unwrap_or(&msg.subject)
    ));
    let type_name: Arc<str> = Arc::from(type_name);
    let data: Arc<[u8]> = Arc::from(&msg.payload[..]);
    for i in addrs {
        let Some(addr) = senders.get(&target.handler, i) else {
            continue;
        };
        let mut typed = TypedMessage {
            port: target.port,
            source: Arc::clone(&source),
            type_name: Arc::clone(&type_name),
            data: Arc::clone(&data),
        };
        loop {
            match addr.try_send(typed) {
                Ok(()) => break,
                Err(SendError::Full(back)) => {
                    typed = back;
                    tokio::time::sleep(MAILBOX_WAIT).await;
                }
                // A handler stopping (replaced or removed by a reload).
                Err(SendError::Closed(_)) => return Err("no_handler"),
            }
        }
    }
    Ok(())
}

/// The senders a subscription delivers through, one per worker, kept across messages.
///
/// Why kept: an actix address is a channel sender, and each *new* sender may put one
/// message past the mailbox's bound (as with futures' channels). Cloning the address
/// for every message would let a flood through unbounded; the same sender, once
/// parked on a full mailbox, answers `Full` until the actor makes room.
#[derive(Default)]
struct Senders {
    by_handler: std::collections::HashMap<String, Vec<Addr<InstanceActor>>>,
}

impl Senders {
    /// Which of the kept senders (by index) take a message: the workers `workers`
    /// picks (all, or one in turn). The kept ones are renewed when the handler's
    /// workers changed (a reload replaced them).
    fn for_message(&mut self, handler: &str, workers: &Workers) -> Vec<usize> {
        let kept = self.by_handler.entry(handler.to_owned()).or_default();
        if *kept != workers.addrs {
            *kept = workers.addrs.clone();
        }
        workers
            .for_message()
            .iter()
            .filter_map(|chosen| kept.iter().position(|k| k == chosen))
            .collect()
    }

    /// Kept sender `i` of `handler` (an index [`Senders::for_message`] gave).
    fn get(&self, handler: &str, i: usize) -> Option<&Addr<InstanceActor>> {
        self.by_handler.get(handler)?.get(i)
    }
}

/// Refusals of one subscription since its last log line.
#[derive(Debug, Default)]
struct Refusals {
    last_line: Option<Instant>,
    since: u64,
}

impl Refusals {
    fn note(
        &mut self,
        log: &Logger,
        subject: &str,
        msg: &BusMessage,
        target: &BusInputRoute,
        why: &str,
    ) {
        self.since += 1;
        if self
            .last_line
            .is_some_and(|at| at.elapsed() < REFUSAL_LOG_EVERY)
        {
            return;
        }
        warn!(log, "bus message refused"; "subject" => subject, "why" => why,
            "type" => msg.type_name.as_deref().unwrap_or("(none)"),
            "accepts" => &target.type_name, "handler" => &target.handler,
            "from_host" => msg.host.as_deref().unwrap_or("?"), "refused" => self.since);
        self.last_line = Some(Instant::now());
        self.since = 0;
    }
}
