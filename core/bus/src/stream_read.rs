//! [`StreamCursor`]: a stream read in order from a sequence, by pulls, that can be
//! taken up again after any failure at the message after the last one it gave.
//!
//! Messages are given one by one as the server sends them (a pull of up to 64 stays
//! open for a second, so a trickle is not held back until a batch fills).
//!
//! Why not the client's ordered consumer as it is: after a failure before its first
//! message it starts again from the stream's first message (async-nats 0.46 recreates
//! it with `DeliverPolicy::All` while its sequence is 0), and it finds a restarted
//! server only after two missed heartbeats (30 s). Here the position is ours: each
//! batch is a pull of an ephemeral consumer without acknowledgements (the server keeps
//! nothing for the reader), every message's consumer sequence must follow the one
//! before (else a message was lost in flight and the consumer is made again from the
//! position), and any failure drops the consumer; the next pull makes a new one from
//! the position. Messages at or below the position are never given twice.

use std::time::Duration;

use async_nats::jetstream::consumer::pull::{self, Batch};
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer};
use futures_util::StreamExt;

use crate::connection::Bus;
use crate::error::BusError;
use crate::stream::server_name;
use crate::subject::{HOST_HEADER, SOURCE_HEADER, TYPE_HEADER};
use crate::subscription::BusMessage;

/// Messages asked for by one pull, at most (what the client may hold for the reader).
const BATCH: usize = 64;
/// How long the server holds a pull open waiting for messages.
const PULL_WAIT: Duration = Duration::from_secs(1);
/// A pull whose answer has not ended this much after [`PULL_WAIT`] counts as lost
/// (the server went away under it).
const PULL_GRACE: Duration = Duration::from_secs(1);
/// A consumer the reader left (a failed connection) is removed by the server after
/// this long.
const INACTIVE: Duration = Duration::from_secs(30);

/// One stored message and its place in the stream.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    /// The stream sequence: it only grows; a gap means the stream no longer held the
    /// messages between (its size or age bound removed them).
    pub sequence: u64,
    /// The message, its subject without the prefix.
    pub message: BusMessage,
}

/// A read of stream `name` of the topology from a sequence on.
pub struct StreamCursor {
    bus: Bus,
    stream: String,
    /// The next sequence to give.
    next: u64,
    consumer: Option<PullConsumer>,
    /// The consumer sequence of the last message of `consumer`.
    delivered: u64,
    /// The pull under way: its messages, when it counts as lost, messages so far.
    batch: Option<(Batch, tokio::time::Instant, usize)>,
}

impl std::fmt::Debug for StreamCursor {
    /// The client's pull has no `Debug`: the stream and the position say enough.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamCursor")
            .field("stream", &self.stream)
            .field("next", &self.next)
            .field("pulling", &self.batch.is_some())
            .finish()
    }
}

impl StreamCursor {
    /// A read of topology stream `name` (on the server, under the prefix) from
    /// `start` (1: the oldest message kept; 0 is taken as 1). Nothing is asked of the
    /// server until [`StreamCursor::next`].
    pub fn new(bus: &Bus, name: &str, start: u64) -> StreamCursor {
        StreamCursor {
            bus: bus.clone(),
            stream: server_name(bus, name),
            next: start.max(1),
            consumer: None,
            delivered: 0,
            batch: None,
        }
    }

    /// The sequence the next message given will have at least.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Carry on with connection `bus` (a reload replaced it), from the position.
    pub fn rebind(&mut self, bus: &Bus) {
        self.bus = bus.clone();
        self.consumer = None;
        self.batch = None;
    }

    /// Make sure the read can start: the stream exists and a consumer is made.
    pub async fn open(&mut self) -> Result<(), BusError> {
        self.consumer().await.map(|_| ())
    }

    /// The next message from the position on, as soon as the stream has it; `None`
    /// when none came for about a second (the caller may look at other things and
    /// call again). On an error the consumer is dropped and the next call starts
    /// again at the position.
    pub async fn next(&mut self) -> Result<Option<StoredMessage>, BusError> {
        let result = self.pull().await;
        if result.is_err() {
            self.consumer = None;
            self.batch = None;
        }
        result
    }

    async fn pull(&mut self) -> Result<Option<StoredMessage>, BusError> {
        loop {
            if self.batch.is_none() {
                let pull = self
                    .consumer()
                    .await?
                    .batch()
                    .max_messages(BATCH)
                    .expires(PULL_WAIT)
                    .messages()
                    .await
                    .map_err(|e| BusError::nats("stream pull", e))?;
                self.batch = Some((
                    pull,
                    tokio::time::Instant::now() + PULL_WAIT + PULL_GRACE,
                    0,
                ));
            }
            let (pull, deadline, got) = self.batch.as_mut().expect("just made");
            let item = match tokio::time::timeout_at(*deadline, pull.next()).await {
                Ok(Some(item)) => item.map_err(|e| BusError::nats("stream pull", e))?,
                // The pull is done: full (pull again at once) or expired empty (idle).
                Ok(None) => {
                    let idle = *got == 0;
                    self.batch = None;
                    if idle {
                        return Ok(None);
                    }
                    continue;
                }
                Err(_) => return Err(BusError::nats("stream pull", "no answer to the pull")),
            };
            *got += 1;
            let info = item
                .info()
                .map_err(|e| BusError::nats("stream message", e))?;
            let (sequence, consumer_sequence) = (info.stream_sequence, info.consumer_sequence);
            if consumer_sequence != self.delivered + 1 {
                // A message of the consumer was lost in flight: make it again from
                // the position.
                self.consumer = None;
                self.batch = None;
                continue;
            }
            self.delivered = consumer_sequence;
            if sequence < self.next {
                continue;
            }
            self.next = sequence + 1;
            let message = to_bus_message(&item.message, self.bus.prefix().len() + 1);
            return Ok(Some(StoredMessage { sequence, message }));
        }
    }

    /// The consumer, made from the position when there is none.
    async fn consumer(&mut self) -> Result<&PullConsumer, BusError> {
        if self.consumer.is_none() {
            let config = pull::Config {
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: self.next,
                },
                ack_policy: AckPolicy::None,
                inactive_threshold: INACTIVE,
                memory_storage: true,
                num_replicas: 1,
                ..Default::default()
            };
            let made = self
                .bus
                .jetstream()
                .create_consumer_on_stream(config, &self.stream)
                .await
                .map_err(|e| match e.kind() {
                    async_nats::jetstream::stream::ConsumerErrorKind::JetStream(js)
                        if js.error_code()
                            == async_nats::jetstream::ErrorCode::STREAM_NOT_FOUND =>
                    {
                        BusError::NoStream {
                            name: self.stream.clone(),
                        }
                    }
                    _ => BusError::nats("stream consumer", e),
                })?;
            self.consumer = Some(made);
            self.delivered = 0;
        }
        Ok(self.consumer.as_ref().expect("just made"))
    }
}

/// A stored message as [`BusMessage`], the prefix (`prefix_len` bytes) taken off.
fn to_bus_message(msg: &async_nats::Message, prefix_len: usize) -> BusMessage {
    let header = |name: &str| {
        msg.headers
            .as_ref()
            .and_then(|h| h.get(name))
            .map(|v| v.as_str().to_owned())
    };
    BusMessage {
        subject: msg
            .subject
            .as_str()
            .get(prefix_len..)
            .unwrap_or("")
            .to_owned(),
        host: header(HOST_HEADER),
        type_name: header(TYPE_HEADER),
        source: header(SOURCE_HEADER),
        payload: msg.payload.clone(),
    }
}
