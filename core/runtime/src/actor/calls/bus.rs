//! The cluster bus calls of a plugin: publish through the handler's outbox (never
//! waiting), and subscriptions and stream reads made on the bus thread whose
//! confirmation and messages come back to this actor as `BUS_DONE` and
//! `BUS_MESSAGE` (`BUS_STREAM_MESSAGE`) events, in order.
//!
//! A subscription's messages cross threads through a bounded channel: a plugin slower
//! than its subject holds the subscription back, so messages wait in the NATS client's
//! buffer and beyond it are dropped as a slow consumer, never piling up in memory.

use std::sync::Arc;

use std::time::Duration;

use actix::{ActorFutureExt, ActorStreamExt, AsyncContext};
use slog::debug;
use switchyard_bus::BusError;
use switchyard_sdk::KvOp;
use switchyard_sdk::abi;
use tokio::sync::mpsc;

use super::Calls;
use crate::actor::InstanceActor;
use crate::actor::event::HostEvent;
use crate::bus::access::{KvFailure, KvRequest, SubscriptionItem};
use crate::bus::outbox::Outgoing;
use crate::bus::stream_read::StreamItem;
use switchyard_bus::BusMessage;

/// Largest message a plugin may publish (NATS's default payload limit).
const MAX_MESSAGE: usize = 1024 * 1024;
/// Most bus subscriptions per instance.
const MAX_SUBSCRIPTIONS: usize = 1024;
/// Messages of one subscription waiting for the handler thread, at most.
const PENDING: usize = 64;

pub fn publish(calls: &mut Calls<'_>, subject: &str, type_name: &str, data: &[u8]) -> u32 {
    let shared = &calls.actor.shared;
    let Some(bus) = &shared.bus else {
        return abi::SY_ERR_UNSUPPORTED;
    };
    if data.len() > MAX_MESSAGE {
        return abi::SY_ERR_LIMIT;
    }
    let queued = bus.outbox.offer(Outgoing {
        subject: Arc::from(subject),
        type_name: Arc::from(type_name),
        source: Arc::from(shared.name.as_str()),
        payload: bytes::Bytes::copy_from_slice(data),
    });
    if queued { abi::SY_OK } else { abi::SY_ERR_BUSY }
}

/// Whether a new subscription or stream read as `token` may start: `SY_OK`, or why not.
fn token_free(calls: &Calls<'_>, token: u64) -> u32 {
    let subs = &calls.actor.res.bus_subs;
    if subs.contains_key(&token) {
        abi::SY_ERR_EXISTS
    } else if subs.len() >= MAX_SUBSCRIPTIONS {
        abi::SY_ERR_LIMIT
    } else {
        abi::SY_OK
    }
}

pub fn subscribe(calls: &mut Calls<'_>, subject: &str, own: bool, token: u64) -> u32 {
    let Some(bus) = calls.actor.shared.bus.clone() else {
        return abi::SY_ERR_UNSUPPORTED;
    };
    let free = token_free(calls, token);
    if free != abi::SY_OK {
        return free;
    }
    let (tx, rx) = mpsc::channel(PENDING);
    let task = bus.subscribe(subject.to_owned(), own, tx);
    let subject: Arc<str> = Arc::from(subject);
    deliver_items(calls, token, rx, task, move |item, act, ctx| match item {
        SubscriptionItem::Done(result) => done(act, ctx, token, result, &subject),
        SubscriptionItem::Message(msg) => {
            let source = source_of(&msg);
            let event = HostEvent::BusMessage {
                token,
                subject: &msg.subject,
                type_name: msg.type_name.as_deref().unwrap_or(""),
                source: &source,
                data: &msg.payload,
            };
            act.deliver(event, ctx);
        }
    })
}

/// `bus_stream_read`: like a subscription (the same tokens, `bus_unsubscribe` ends
/// it), but from a stream sequence on, each message with its sequence.
pub fn stream_read(calls: &mut Calls<'_>, stream: &str, start: u64, token: u64) -> u32 {
    let Some(bus) = calls.actor.shared.bus.clone() else {
        return abi::SY_ERR_UNSUPPORTED;
    };
    if !bus.has_stream(stream) {
        return abi::SY_ERR_NOT_FOUND;
    }
    let free = token_free(calls, token);
    if free != abi::SY_OK {
        return free;
    }
    let (tx, rx) = mpsc::channel(PENDING);
    let task = bus.stream_read(stream.to_owned(), start, tx);
    let stream: Arc<str> = Arc::from(stream);
    deliver_items(calls, token, rx, task, move |item, act, ctx| match item {
        StreamItem::Done(result) => done(act, ctx, token, result, &stream),
        StreamItem::Message(stored) => {
            let msg = &stored.message;
            let source = source_of(msg);
            let event = HostEvent::BusStreamMessage {
                token,
                sequence: stored.sequence,
                subject: &msg.subject,
                type_name: msg.type_name.as_deref().unwrap_or(""),
                source: &source,
                data: &msg.payload,
            };
            act.deliver(event, ctx);
        }
    })
}

/// A message's source as plugins see it: `host/handler.port` (or `host/handler`).
fn source_of(msg: &BusMessage) -> String {
    format!(
        "{}/{}",
        msg.host.as_deref().unwrap_or("?"),
        msg.source.as_deref().unwrap_or("?")
    )
}

/// `BUS_DONE` for `token`; a failure forgets the token.
fn done(
    act: &mut InstanceActor,
    ctx: &mut actix::Context<InstanceActor>,
    token: u64,
    result: Result<(), BusError>,
    what: &str,
) {
    let status = match result {
        Ok(()) => abi::SY_OK,
        Err(e) => {
            debug!(act.shared.log, "bus subscription or stream read failed"; "subject" => what, "error" => %e);
            act.res.bus_subs.remove(&token);
            abi::SY_ERR_IO
        }
    };
    act.deliver(HostEvent::BusDone { token, status }, ctx);
}

/// Hand what `rx` brings to this actor, in order, through `each`, kept under `token`
/// with the bus thread's `task` (which `bus_unsubscribe` ends). The channel's bound
/// holds the task back when the handler is slow.
fn deliver_items<T: Send + 'static>(
    calls: &mut Calls<'_>,
    token: u64,
    rx: mpsc::Receiver<T>,
    task: tokio::task::JoinHandle<()>,
    mut each: impl FnMut(T, &mut InstanceActor, &mut actix::Context<InstanceActor>) + 'static,
) -> u32 {
    let items = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let delivery = actix::fut::wrap_stream::<_, InstanceActor>(items)
        .map(move |item, act: &mut InstanceActor, ctx| each(item, act, ctx))
        .finish();
    let delivery = calls.ctx.spawn(delivery);
    calls
        .actor
        .res
        .bus_subs
        .insert(token, (delivery, task.abort_handle()));
    abi::SY_PENDING
}

pub fn kv_begin(calls: &mut Calls<'_>, op: KvOp<'_>, token: u64) -> u32 {
    let Some(bus) = calls.actor.shared.bus.clone() else {
        return abi::SY_ERR_UNSUPPORTED;
    };
    if op.value.len() > MAX_MESSAGE || calls.actor.res.bus_kv_ops.len() >= MAX_SUBSCRIPTIONS {
        return abi::SY_ERR_LIMIT;
    }
    if !crate::bus::presence::plugin_may_use(op.bucket) {
        slog::warn!(calls.actor.shared.log, "bus key-value bucket refused: it is the host's own";
            "bucket" => op.bucket);
        return abi::SY_ERR_INVALID;
    }
    let job = bus.kv(KvRequest {
        kind: op.kind,
        bucket: op.bucket.to_owned(),
        key: op.key.to_owned(),
        value: bytes::Bytes::copy_from_slice(op.value),
        revision: op.revision,
        max_age: Duration::from_secs(op.max_age_secs.into()),
    });
    let id = crate::ids::next_id();
    let handle = calls
        .ctx
        .spawn(actix::fut::wrap_future::<_, InstanceActor>(job).map(
            move |joined, act: &mut InstanceActor, ctx| {
                act.res.bus_kv_ops.remove(&id);
                let (status, revision, value) = match joined {
                    Ok(Ok((revision, value))) => (abi::SY_OK, revision, value),
                    Ok(Err(KvFailure::NotFound)) => (abi::SY_ERR_NOT_FOUND, 0, Default::default()),
                    Ok(Err(KvFailure::Bus(BusError::Conflict { .. }))) => {
                        (abi::SY_ERR_EXISTS, 0, Default::default())
                    }
                    Ok(Err(e)) => {
                        debug!(act.shared.log, "bus key-value operation failed"; "error" => ?e);
                        (abi::SY_ERR_IO, 0, Default::default())
                    }
                    Err(_) => (abi::SY_ERR_IO, 0, Default::default()),
                };
                let event = HostEvent::BusKvDone {
                    token,
                    status,
                    revision,
                    value: &value,
                };
                act.deliver(event, ctx);
            },
        ));
    calls.actor.res.bus_kv_ops.insert(id, handle);
    abi::SY_PENDING
}

/// `host/handler`: the name other hosts see as this handler's messages' source.
pub fn identity(calls: &mut Calls<'_>) -> Result<String, u32> {
    let shared = &calls.actor.shared;
    let bus = shared.bus.as_ref().ok_or(abi::SY_ERR_UNSUPPORTED)?;
    let host = bus.host_name().ok_or(abi::SY_ERR_UNSUPPORTED)?;
    Ok(format!("{host}/{}", shared.name))
}

pub fn unsubscribe(calls: &mut Calls<'_>, token: u64) -> u32 {
    let Some((delivery, task)) = calls.actor.res.bus_subs.remove(&token) else {
        return abi::SY_ERR_NOT_FOUND;
    };
    calls.ctx.cancel_future(delivery);
    task.abort();
    abi::SY_OK
}
