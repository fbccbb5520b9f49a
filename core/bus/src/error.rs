//! What a bus call can fail with. Errors of `async-nats` are kept as text: callers act
//! on the kind (retry, report a lost claim, count a drop), not on the client's types.

/// A failed bus call.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// A subject, prefix, bucket or key that NATS would refuse or misread.
    #[error("invalid {what} `{value}`: {problem}")]
    Invalid {
        /// What was checked (`subject`, `key`, ...).
        what: &'static str,
        /// The value as given.
        value: String,
        /// Why it is refused.
        problem: String,
    },
    /// No server of the list accepted the connection within the connect timeout.
    #[error("cannot connect to NATS ({servers}): {reason}")]
    Connect {
        /// The servers tried, comma-separated.
        servers: String,
        /// The client's reason.
        reason: String,
    },
    /// The client's outgoing queue stayed full for the publish timeout (NATS away or
    /// too slow): the message was not queued and is dropped, so memory stays bounded.
    #[error("bus backlog full: publish to `{subject}` dropped after {waited_ms} ms")]
    Backlogged {
        /// The full subject.
        subject: String,
        /// How long the publish waited for room.
        waited_ms: u64,
    },
    /// A compare-and-set whose expected revision is no longer the key's (someone else
    /// wrote or claimed it first).
    #[error("key `{key}` changed meanwhile (lost the compare-and-set)")]
    Conflict {
        /// The key.
        key: String,
    },
    /// A stream that the server does not have (not made yet, or its store lost).
    #[error("no stream `{name}` on the server")]
    NoStream {
        /// The stream's name on the server.
        name: String,
    },
    /// Any other failure of the client or the server (JetStream off, timeouts...).
    #[error("NATS {op} failed: {reason}")]
    Nats {
        /// The operation (`publish`, `kv get`, ...).
        op: &'static str,
        /// The client's reason.
        reason: String,
    },
}

impl BusError {
    /// A client error of operation `op`, kept as text.
    pub(crate) fn nats(op: &'static str, err: impl std::fmt::Display) -> BusError {
        BusError::Nats {
            op,
            reason: err.to_string(),
        }
    }
}
