//! The cluster bus on the mock: publishes recorded as actions, subscriptions kept
//! until a test confirms them ([`MockHost::bus_confirm`]) and delivers messages on
//! them ([`MockHost::bus_deliver`]), as the host would after a round trip to NATS.

use super::{Action, MockHost};
use crate::abi;
use crate::error::HostError;
use crate::event::Event;
use crate::protocol::Protocol;
use crate::{KvKind, KvOp};

/// Largest bus message, as on the host.
const MAX_MESSAGE: usize = 1024 * 1024;

pub(super) fn publish(host: &mut MockHost, subject: &str, type_name: &str, data: &[u8]) -> u32 {
    if data.len() > MAX_MESSAGE {
        return abi::SY_ERR_LIMIT;
    }
    host.actions.push(Action::BusPublish {
        subject: subject.into(),
        type_name: type_name.into(),
        data: data.to_vec(),
    });
    host.bus_refuses.map_or(abi::SY_OK, HostError::status)
}

/// Whether `token` names a subscription or a stream read already.
fn token_taken(host: &MockHost, token: u64) -> bool {
    host.bus_subscriptions.contains_key(&token) || host.bus_stream_reads.contains_key(&token)
}

pub(super) fn subscribe(host: &mut MockHost, subject: &str, own: bool, token: u64) -> u32 {
    if token_taken(host, token) {
        return abi::SY_ERR_EXISTS;
    }
    host.bus_subscriptions
        .insert(token, (subject.to_owned(), own));
    host.actions.push(Action::BusSubscribe {
        subject: subject.into(),
        own,
        token,
    });
    abi::SY_PENDING
}

pub(super) fn stream_read(host: &mut MockHost, stream: &str, start: u64, token: u64) -> u32 {
    if token_taken(host, token) {
        return abi::SY_ERR_EXISTS;
    }
    host.bus_stream_reads
        .insert(token, (stream.to_owned(), start));
    host.actions.push(Action::BusStreamRead {
        stream: stream.into(),
        start,
        token,
    });
    abi::SY_PENDING
}

pub(super) fn unsubscribe(host: &mut MockHost, token: u64) -> u32 {
    let read = host.bus_stream_reads.remove(&token).is_some();
    if host.bus_subscriptions.remove(&token).is_none() && !read {
        return abi::SY_ERR_NOT_FOUND;
    }
    host.actions.push(Action::BusUnsubscribe { token });
    abi::SY_OK
}

/// A [`KvOp`] kept past the call that began it.
#[derive(Debug, Clone)]
pub(super) struct OwnedKvOp {
    kind: KvKind,
    bucket: String,
    key: String,
    value: Vec<u8>,
    revision: u64,
}

impl From<KvOp<'_>> for OwnedKvOp {
    fn from(op: KvOp<'_>) -> OwnedKvOp {
        OwnedKvOp {
            kind: op.kind,
            bucket: op.bucket.into(),
            key: op.key.into(),
            value: op.value.to_vec(),
            revision: op.revision,
        }
    }
}

impl MockHost {
    /// Run every key-value operation in flight on [`MockHost::bus_kv`], in order, and
    /// deliver each [`Event::BusKvDone`]; how many there were. A write's revision is
    /// above every live entry's, as a stream's sequence is.
    pub fn bus_kv_complete<P: Protocol>(&mut self, proto: &mut P, now_ms: u64) -> usize {
        let ops = std::mem::take(&mut self.bus_kv_in_flight);
        let n = ops.len();
        for (token, op) in ops {
            let result = self.run_kv(&op);
            let (result, value) = match result {
                Ok((revision, value)) => (Ok(revision), value),
                Err(e) => (Err(e), Vec::new()),
            };
            let event = Event::BusKvDone {
                token,
                result: result.map(|revision| (revision, &value[..])),
            };
            self.deliver(proto, now_ms, event);
        }
        n
    }

    /// One operation on the map: the revision and (for a get) the value.
    fn run_kv(&mut self, op: &OwnedKvOp) -> Result<(u64, Vec<u8>), HostError> {
        let at = (op.bucket.clone(), op.key.clone());
        let current = self.bus_kv.get(&at).cloned();
        let next = self.bus_kv.values().map(|(_, r)| *r).max().unwrap_or(0) + 1;
        match (op.kind, current) {
            (KvKind::Get, Some((value, revision))) => Ok((revision, value)),
            (KvKind::Get, None) => Err(HostError::NotFound),
            (KvKind::Create, Some(_)) => Err(HostError::Exists),
            (KvKind::Update, Some((_, revision))) if revision != op.revision => {
                Err(HostError::Exists)
            }
            (KvKind::Update, None) => Err(HostError::Exists),
            (KvKind::Delete, _) => {
                self.bus_kv.remove(&at);
                Ok((next, Vec::new()))
            }
            (KvKind::Put | KvKind::Create | KvKind::Update, _) => {
                self.bus_kv.insert(at, (op.value.clone(), next));
                Ok((next, Vec::new()))
            }
        }
    }

    /// Deliver [`Event::BusDone`] for subscription or stream read `token` (as the host does once
    /// NATS has it, or with the error it failed with).
    pub fn bus_confirm<P: Protocol>(
        &mut self,
        proto: &mut P,
        now_ms: u64,
        token: u64,
        result: Result<(), HostError>,
    ) {
        if result.is_err() {
            self.bus_subscriptions.remove(&token);
            self.bus_stream_reads.remove(&token);
        }
        self.deliver(proto, now_ms, Event::BusDone { token, result });
    }

    /// Deliver a message on subscription `token` from `from` (`host/handler`), as the
    /// host would. Panics when the plugin has no such subscription: the host never
    /// delivers one after `bus_unsubscribe`.
    pub fn bus_deliver<P: Protocol>(
        &mut self,
        proto: &mut P,
        now_ms: u64,
        token: u64,
        (type_name, from): (&str, &str),
        data: &[u8],
    ) {
        let Some((subject, _)) = self.bus_subscriptions.get(&token).cloned() else {
            panic!("no bus subscription {token}: the host delivers nothing for it");
        };
        let event = Event::BusMessage {
            token,
            subject: &subject,
            type_name,
            from,
            data,
        };
        self.deliver(proto, now_ms, event);
    }

    /// Deliver message `sequence` of stream read `token`, on `subject` from `from`
    /// (`host/handler`), as the host would. Panics when the plugin reads no such
    /// stream: the host delivers nothing after `bus_unsubscribe`.
    pub fn bus_stream_deliver<P: Protocol>(
        &mut self,
        proto: &mut P,
        now_ms: u64,
        (token, sequence): (u64, u64),
        (subject, type_name, from): (&str, &str, &str),
        data: &[u8],
    ) {
        assert!(
            self.bus_stream_reads.contains_key(&token),
            "no stream read {token}: the host delivers nothing for it"
        );
        let event = Event::StreamMessage {
            token,
            sequence,
            subject,
            type_name,
            from,
            data,
        };
        self.deliver(proto, now_ms, event);
    }
}
