//! The host's side of the cluster bus (issue 22): one NATS connection per host, over
//! `async-nats`, with what the host needs from it and nothing a plugin could see.
//!
//! Plugins stay sans-I/O: they never link a NATS client. The runtime owns a [`Bus`]
//! (`switchyard_runtime::bus`) and serves the topology's bus routes and the bus calls
//! of the ABI from it; this crate does not depend on the runtime (only on the SDK's
//! subject checks), so it is tested on its own against a real `nats-server`
//! (`tests/tests/bus.rs`). Why `async-nats` and how its buffers are bounded:
//! `docs/decisions/nats-client.md`.
//!
//! - Subjects are always under the topology's `subject_prefix`, so two clusters (or a
//!   cluster and something else) can share one NATS account.
//! - Each message carries the publishing host's name in a header, so a host does not
//!   receive its own messages back unless it asks to ([`Bus::subscribe`]).
//! - Every queue is bounded: a publish that cannot be queued within the configured time
//!   fails with [`BusError::Backlogged`] instead of growing memory while NATS is away.
//!
//! # Layout
//! - `error.rs`: [`BusError`], what every call can fail with.
//! - `subject.rs`: subject and token checks, and the prefix applied to names.
//! - `options.rs`: [`BusOptions`] and [`Credentials`]: servers, prefix, host name,
//!   capacities, timeouts.
//! - `connection.rs`: [`Bus`]: connect (at once, or in the background), publish (raw or
//!   typed), subscribe, connection state and events.
//! - `subscription.rs`: [`Subscription`]: messages of a subject, own ones skipped.
//! - `kv.rs`: [`KvBucket`]: get, put and compare-and-set in a JetStream key-value
//!   bucket whose entries expire (the claim primitive), and its live keys and
//!   records (the hosts of a cluster).
//! - `stream.rs`: [`ensure_stream`] and [`Bus::publish_stored`]: the topology's
//!   JetStream streams, bounded by size and age, with publishes deduplicated by
//!   message id (the cluster transcript); [`EventStream`], one stream over a subject
//!   tree.
//! - `stream_read.rs`: [`StreamCursor`]: a stream read in order from a sequence,
//!   taken up again after any failure at the message after the last one given.

mod connection;
mod error;
mod kv;
mod options;
mod stream;
mod stream_read;
mod subject;
mod subscription;

pub use connection::{Bus, BusEvent, ConnectionState, Typed};
pub use error::BusError;
pub use kv::{KvBucket, KvEntry, KvRecord};
pub use options::{BusOptions, Credentials};
pub use stream::{EventStream, Stored, StreamLimits, ensure_stream};
pub use stream_read::{StoredMessage, StreamCursor};
pub use subject::{HOST_HEADER, SOURCE_HEADER, TYPE_HEADER, subject_problem, token_problem};
pub use subscription::{BusMessage, Subscription};
