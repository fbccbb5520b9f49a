//! A JetStream stream bounded by size and age: the cluster transcript. Every host
//! publishes its audit events to it with a message id, so a publish re-sent after a
//! lost acknowledgement (NATS restarted, a timeout) is stored once: the server drops a
//! second message with an id it has seen within the duplicate window.

use std::time::Duration;

use async_nats::jetstream::{message::PublishMessage, stream};
use bytes::Bytes;

use crate::connection::Bus;
use crate::error::BusError;
use crate::subject::prefixed;

/// How much a stream keeps; the oldest messages go first when either bound is hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Bytes kept at most.
    pub max_bytes: u64,
    /// Messages older than this are removed.
    pub max_age: Duration,
    /// How long a message id is remembered for deduplication.
    pub duplicate_window: Duration,
}

/// What the server did with a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// The stream sequence of the message (of the first copy, for a duplicate).
    pub sequence: u64,
    /// Whether the server had the id already and did not store it again.
    pub duplicate: bool,
}

/// A stream over `prefix.subject.>`.
#[derive(Debug)]
pub struct EventStream {
    bus: Bus,
    js: async_nats::jetstream::Context,
    stream: stream::Stream,
    subject: String,
}

impl EventStream {
    /// Create (or update to `limits`) stream `name` holding every subject under
    /// `subject` (prefixed). Stored on disk, so it outlives a server restart.
    pub async fn open(
        bus: &Bus,
        name: &str,
        subject: &str,
        limits: StreamLimits,
    ) -> Result<EventStream, BusError> {
        let full = prefixed(bus.prefix(), subject, "stream subject")?;
        let js = bus.jetstream();
        let config = stream::Config {
            name: format!("{}_{name}", bus.prefix().replace('.', "_")),
            subjects: vec![format!("{full}.>")],
            max_bytes: i64::try_from(limits.max_bytes).unwrap_or(i64::MAX),
            max_age: limits.max_age,
            duplicate_window: limits.duplicate_window,
            storage: stream::StorageType::File,
            ..Default::default()
        };
        js.create_or_update_stream(config.clone())
            .await
            .map_err(|e| BusError::nats("stream create", e))?;
        let stream = js
            .get_stream(&config.name)
            .await
            .map_err(|e| BusError::nats("stream open", e))?;
        Ok(EventStream {
            bus: bus.clone(),
            js,
            stream,
            subject: subject.into(),
        })
    }

    /// Publish `payload` on `subject.event` with message id `id`, and wait for the
    /// server to store it (or to say it is a duplicate).
    pub async fn publish(&self, event: &str, id: &str, payload: Bytes) -> Result<Stored, BusError> {
        let full = prefixed(
            self.bus.prefix(),
            &format!("{}.{event}", self.subject),
            "event subject",
        )?;
        let publish = PublishMessage::build()
            .payload(payload)
            .message_id(id)
            .header(crate::HOST_HEADER, self.bus.host_name());
        let ack = self
            .js
            .send_publish(full, publish)
            .await
            .map_err(|e| BusError::nats("stream publish", e))?
            .await
            .map_err(|e| BusError::nats("stream ack", e))?;
        Ok(Stored {
            sequence: ack.sequence,
            duplicate: ack.duplicate,
        })
    }

    /// Messages stored now.
    pub async fn message_count(&self) -> Result<u64, BusError> {
        let info = self
            .stream
            .get_info()
            .await
            .map_err(|e| BusError::nats("stream info", e))?;
        Ok(info.state.messages)
    }
}
