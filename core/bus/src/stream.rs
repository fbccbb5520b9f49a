//! A JetStream stream bounded by size and age: the cluster transcript. Every host
//! publishes its audit events to it with a message id, so a publish re-sent after a
//! lost acknowledgement (NATS restarted, a timeout) is stored once: the server drops a
//! second message with an id it has seen within the duplicate window.
//!
//! Two ways in: [`ensure_stream`] and [`Bus::publish_stored`] serve the topology's
//! streams (exact subjects, typed messages, what the runtime uses); [`EventStream`]
//! is one stream over a subject tree with its own publish (what the bus tests use).

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, message::PublishMessage, stream};
use bytes::Bytes;

use crate::connection::{Bus, Typed};
use crate::error::BusError;
use crate::subject::{HOST_HEADER, SOURCE_HEADER, TYPE_HEADER, prefixed};

/// How long a stored publish waits for the server's acknowledgement before it counts
/// as failed (and is re-sent with the same id by the caller).
const ACK_TIMEOUT: Duration = Duration::from_secs(2);

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
        let config = config(bus, name, vec![format!("{full}.>")], limits);
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
        send_stored(&self.js, full, publish).await
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

/// The server's name of stream `name`: under the prefix (dots made `_`, which stream
/// names may not hold), so two clusters sharing an account keep apart.
pub(crate) fn server_name(bus: &Bus, name: &str) -> String {
    format!("{}_{name}", bus.prefix().replace('.', "_"))
}

/// A stream's configuration: on disk, bounded by `limits`.
fn config(bus: &Bus, name: &str, subjects: Vec<String>, limits: StreamLimits) -> stream::Config {
    stream::Config {
        name: server_name(bus, name),
        subjects,
        max_bytes: i64::try_from(limits.max_bytes).unwrap_or(i64::MAX),
        max_age: limits.max_age,
        duplicate_window: limits.duplicate_window,
        storage: stream::StorageType::File,
        ..Default::default()
    }
}

/// Create stream `name` capturing exactly `subjects` (each under the prefix), or bring
/// an existing one to these subjects and limits. Stored on disk, so it outlives a
/// server restart; run again at every connection, so a server that lost it (a fresh
/// store) has it again before the first publish is retried.
pub async fn ensure_stream(
    bus: &Bus,
    name: &str,
    subjects: &[String],
    limits: StreamLimits,
) -> Result<(), BusError> {
    let full = subjects
        .iter()
        .map(|s| prefixed(bus.prefix(), s, "stream subject"))
        .collect::<Result<Vec<_>, _>>()?;
    bus.jetstream()
        .create_or_update_stream(config(bus, name, full, limits))
        .await
        .map(|_| ())
        .map_err(|e| BusError::nats("stream create", e))
}

impl Bus {
    /// Publish a typed message on `prefix.subject`, which a stream captures, with
    /// message id `id`, and wait for the server to store it: at least once from here,
    /// and exactly once in the stream when a failure is retried with the same `id`
    /// within the stream's duplicate window. Fails on a lost connection, a missing
    /// stream or no acknowledgement within [`ACK_TIMEOUT`].
    pub async fn publish_stored(
        &self,
        subject: &str,
        typed: Typed<'_>,
        id: &str,
        payload: Bytes,
    ) -> Result<Stored, BusError> {
        let full = prefixed(self.prefix(), subject, "subject")?;
        let mut headers = HeaderMap::new();
        if !typed.type_name.is_empty() {
            headers.insert(TYPE_HEADER, typed.type_name);
        }
        headers.insert(SOURCE_HEADER, typed.source);
        headers.insert(HOST_HEADER, self.host_name());
        let publish = PublishMessage::build()
            .payload(payload)
            .headers(headers)
            .message_id(id);
        let js = jetstream::ContextBuilder::new()
            .timeout(ACK_TIMEOUT)
            .build(self.client());
        send_stored(&js, full, publish).await
    }
}

/// Send `publish` on `subject` and wait for the stream's acknowledgement.
async fn send_stored(
    js: &jetstream::Context,
    subject: String,
    publish: PublishMessage,
) -> Result<Stored, BusError> {
    let ack = js
        .send_publish(subject, publish)
        .await
        .map_err(|e| BusError::nats("stream publish", e))?
        .await
        .map_err(|e| BusError::nats("stream ack", e))?;
    Ok(Stored {
        sequence: ack.sequence,
        duplicate: ack.duplicate,
    })
}
