//! The cluster bus on the mock: publishes recorded as actions, subscriptions kept
//! until a test confirms them ([`MockHost::bus_confirm`]) and delivers messages on
//! them ([`MockHost::bus_deliver`]), as the host would after a round trip to NATS.

use super::{Action, MockHost};
use crate::abi;
use crate::error::HostError;
use crate::event::Event;
use crate::protocol::Protocol;

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

pub(super) fn subscribe(host: &mut MockHost, subject: &str, own: bool, token: u64) -> u32 {
    if host.bus_subscriptions.contains_key(&token) {
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

pub(super) fn unsubscribe(host: &mut MockHost, token: u64) -> u32 {
    if host.bus_subscriptions.remove(&token).is_none() {
        return abi::SY_ERR_NOT_FOUND;
    }
    host.actions.push(Action::BusUnsubscribe { token });
    abi::SY_OK
}

impl MockHost {
    /// Deliver [`Event::BusDone`] for subscription `token` (as the host does once
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
}
