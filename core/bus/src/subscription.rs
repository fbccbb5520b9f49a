//! A subscription's messages with the prefix taken off and, unless asked, the host's
//! own messages skipped (compared on [`crate::HOST_HEADER`]).

use bytes::Bytes;
use futures_util::StreamExt;

use crate::subject::{HOST_HEADER, SOURCE_HEADER, TYPE_HEADER};

/// One message from the bus.
#[derive(Debug, Clone)]
pub struct BusMessage {
    /// The subject without the prefix (as the host published it).
    pub subject: String,
    /// The host that published it, if it said (messages from outside Switchyard may not).
    pub host: Option<String>,
    /// The type and schema version the publisher declared ([`crate::TYPE_HEADER`]);
    /// `None` for an untyped message.
    pub type_name: Option<String>,
    /// The `handler.port` that emitted it ([`crate::SOURCE_HEADER`]), if said.
    pub source: Option<String>,
    /// The bytes.
    pub payload: Bytes,
}

/// Messages of one subject; unsubscribes on drop.
#[derive(Debug)]
pub struct Subscription {
    inner: async_nats::Subscriber,
    prefix_len: usize,
    skip_host: Option<String>,
}

impl Subscription {
    pub(crate) fn new(
        inner: async_nats::Subscriber,
        prefix_len: usize,
        skip_host: Option<String>,
    ) -> Subscription {
        Subscription {
            inner,
            prefix_len,
            skip_host,
        }
    }

    /// The next message, `None` once the connection is closed for good.
    pub async fn next(&mut self) -> Option<BusMessage> {
        loop {
            let msg = self.inner.next().await?;
            let header = |name: &str| {
                msg.headers
                    .as_ref()
                    .and_then(|h| h.get(name))
                    .map(|v| v.as_str().to_owned())
            };
            let host = header(HOST_HEADER);
            if host.is_some() && host == self.skip_host {
                continue;
            }
            return Some(BusMessage {
                subject: msg.subject.as_str()[self.prefix_len..].to_owned(),
                host,
                type_name: header(TYPE_HEADER),
                source: header(SOURCE_HEADER),
                payload: msg.payload,
            });
        }
    }
}
