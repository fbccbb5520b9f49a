//! # switchyard-audit — typed messages to a JSON-lines transcript
//!
//! A handler with no listener and one input port, `events`, accepting any message
//! type. Every message it receives becomes one line
//! `{"at_ms":..,"handler_port":..,"type":..,"data":<the message JSON>}` in a file
//! under its storage root: route `chat.messages` (and the file plugins'
//! `TransferCompleted` ports) to `audit.events` and you have a transcript.
//! `at_ms` is Unix time in milliseconds when the record was received;
//! `handler_port` is the sender's `handler.port` (e.g. `chat.messages`).
//!
//! With `stream: Some("transcript")` it also reads that stream of the topology's bus
//! (`bus.streams`) and writes each message once, with its `"seq"` and publisher
//! `"from"`: the cluster's transcript, exactly once across kills and NATS restarts
//! ([`cursor`]).
//!
//! The storage capability has no append, so the transcript is a series of segments
//! `transcript-000001.jsonl`, `-000002`, ... each rewritten atomically on every
//! flush; see [`segments`] for why that is sound.
//!
//! # Layout
//! - [`config`]: the handler's config and the split of `file` into dir/stem/ext.
//! - [`record`]: encoding one record line (the codec).
//! - [`cursor`]: the position in a stream, read back from the transcript (skip, gap).
//! - [`segments`]: when to commit what, on a manual clock (the state machine).
//! - `from_stream.rs`: the stream read's host calls around the cursor (start, retry,
//!   take once, the last committed sequence read from the newest segments).
//! - `plugin`: the `Protocol` impl, a thin adapter doing the storage and bus calls,
//!   and the stream position handed over across a reload.
//! - `stream_tests.rs`: the stream read on `MockHost` (cursor, restart, skip, gap).

pub mod config;
pub mod cursor;
mod from_stream;
mod plugin;
pub mod record;
pub mod segments;
#[cfg(test)]
mod stream_tests;

pub use plugin::{Audit, EVENTS_PORT};

switchyard_sdk::declare_plugin!(Audit);
