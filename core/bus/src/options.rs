//! How to reach NATS and how far the host lets its queues grow. The topology gives the
//! servers, the credentials' environment variables, the prefix and the host name; the
//! capacities have defaults sized for a chat host and are options so tests can make
//! them small.

use std::time::Duration;

/// How the host authenticates, read from the environment variables the topology names
/// (the secrets are never in the file).
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// No authentication.
    None,
    /// `user` / `password`.
    UserPassword {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// A token.
    Token(String),
}

impl std::fmt::Debug for Credentials {
    /// Never prints a secret (options end up in logs and panics).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::None => f.write_str("None"),
            Credentials::UserPassword { user, .. } => write!(f, "UserPassword({user}, ***)"),
            Credentials::Token(_) => f.write_str("Token(***)"),
        }
    }
}

/// Everything [`crate::Bus::connect`] needs.
#[derive(Debug, Clone)]
pub struct BusOptions {
    /// `nats://host:port` URLs; the client tries them in turn and on reconnect.
    pub servers: Vec<String>,
    /// Credentials for every server.
    pub credentials: Credentials,
    /// Every subject the host uses is `subject_prefix.<subject>` (dotted tokens).
    pub subject_prefix: String,
    /// This host's name, carried in [`crate::HOST_HEADER`] of each message.
    pub host_name: String,
    /// Commands (publishes, subscribes) queued towards the server, at most; while
    /// disconnected they wait here, and a publish finding it full waits
    /// [`BusOptions::publish_timeout`] and then fails.
    pub client_capacity: usize,
    /// Messages buffered per subscription, at most; beyond it the client drops them
    /// and reports a slow consumer (never the host's memory).
    pub subscription_capacity: usize,
    /// How long a publish may wait for room in the outgoing queue.
    pub publish_timeout: Duration,
    /// How long the first connection may take.
    pub connect_timeout: Duration,
    /// The longest pause between reconnection attempts (the client backs off up to it).
    pub max_reconnect_delay: Duration,
}

impl BusOptions {
    /// Options with the defaults for one server list, prefix and host name.
    pub fn new(servers: Vec<String>, subject_prefix: &str, host_name: &str) -> BusOptions {
        BusOptions {
            servers,
            credentials: Credentials::None,
            subject_prefix: subject_prefix.into(),
            host_name: host_name.into(),
            client_capacity: 4096,
            subscription_capacity: 8192,
            publish_timeout: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(5),
            max_reconnect_delay: Duration::from_secs(2),
        }
    }
}
