//! The host's one connection to NATS: connected with bounded queues and reconnecting by
//! itself, publishing under the prefix with the host's name in a header.

use std::time::Duration;

use async_nats::{ConnectOptions, HeaderMap, ServerAddr};
use bytes::Bytes;

use crate::error::BusError;
use crate::options::{BusOptions, Credentials};
use crate::subject::{HOST_HEADER, prefixed, subject_problem};
use crate::subscription::Subscription;

/// Where the connection stands (for metrics and the health endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Connected to a server.
    Connected,
    /// Lost, being re-established (publishes queue within the bound meanwhile).
    Disconnected,
    /// Not yet connected.
    Pending,
}

/// A connection to the bus. Cheap to clone (clones share the connection).
#[derive(Debug, Clone)]
pub struct Bus {
    client: async_nats::Client,
    prefix: String,
    host: String,
    publish_timeout: Duration,
}

impl Bus {
    /// Connect to the first server of `options.servers` that answers. Fails (does not
    /// wait forever) when none does within the connect timeout; once connected, the
    /// client reconnects by itself, without limit, backing off up to
    /// `max_reconnect_delay`, and re-subscribes every live subscription.
    pub async fn connect(options: &BusOptions) -> Result<Bus, BusError> {
        if let Some(problem) = subject_problem(&options.subject_prefix) {
            return Err(BusError::Invalid {
                what: "subject prefix",
                value: options.subject_prefix.clone(),
                problem,
            });
        }
        let servers_text = options.servers.join(", ");
        let addrs = options
            .servers
            .iter()
            .map(|s| {
                s.parse::<ServerAddr>().map_err(|e| BusError::Invalid {
                    what: "server",
                    value: s.clone(),
                    problem: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let max_delay = options.max_reconnect_delay;
        let mut connect = match &options.credentials {
            Credentials::None => ConnectOptions::new(),
            Credentials::UserPassword { user, password } => {
                ConnectOptions::with_user_and_password(user.clone(), password.clone())
            }
            Credentials::Token(token) => ConnectOptions::with_token(token.clone()),
        };
        connect = connect
            .name(format!("switchyard:{}", options.host_name))
            .client_capacity(options.client_capacity)
            .subscription_capacity(options.subscription_capacity)
            .connection_timeout(options.connect_timeout)
            .max_reconnects(None)
            // Quick first retries (a restarted server is back in a moment), then at
            // most `max_delay` apart.
            .reconnect_delay_callback(move |attempts| {
                (Duration::from_millis(50) * attempts.min(1000) as u32).min(max_delay)
            });
        let attempt = tokio::time::timeout(options.connect_timeout, connect.connect(addrs));
        let client = match attempt.await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => return Err(connect_error(&servers_text, e)),
            Err(_) => return Err(connect_error(&servers_text, "timed out")),
        };
        Ok(Bus {
            client,
            prefix: options.subject_prefix.clone(),
            host: options.host_name.clone(),
            publish_timeout: options.publish_timeout,
        })
    }

    /// This host's name, as written in [`HOST_HEADER`].
    pub fn host_name(&self) -> &str {
        &self.host
    }

    /// Where the connection stands now.
    pub fn state(&self) -> ConnectionState {
        match self.client.connection_state() {
            async_nats::connection::State::Connected => ConnectionState::Connected,
            async_nats::connection::State::Disconnected => ConnectionState::Disconnected,
            async_nats::connection::State::Pending => ConnectionState::Pending,
        }
    }

    /// Publish `payload` on `prefix.subject`. Queued, not confirmed (core NATS is
    /// at-most-once); [`BusError::Backlogged`] when the outgoing queue stays full for
    /// the publish timeout, the message then being dropped.
    pub async fn publish(&self, subject: &str, payload: Bytes) -> Result<(), BusError> {
        let full = prefixed(&self.prefix, subject, "subject")?;
        let mut headers = HeaderMap::new();
        headers.insert(HOST_HEADER, self.host.as_str());
        let send = self
            .client
            .publish_with_headers(full.clone(), headers, payload);
        match tokio::time::timeout(self.publish_timeout, send).await {
            Ok(sent) => sent.map_err(|e| BusError::nats("publish", e)),
            Err(_) => Err(BusError::Backlogged {
                subject: full,
                waited_ms: self.publish_timeout.as_millis() as u64,
            }),
        }
    }

    /// Wait until everything queued so far has been written to the server.
    pub async fn flush(&self) -> Result<(), BusError> {
        self.client
            .flush()
            .await
            .map_err(|e| BusError::nats("flush", e))
    }

    /// Subscribe to `prefix.subject`. With `own: false` the messages this host
    /// published are skipped (a host fans out locally before publishing, so getting
    /// them back would deliver them twice). Returns once the server has the
    /// subscription, so whatever any host publishes afterwards is delivered.
    pub async fn subscribe(&self, subject: &str, own: bool) -> Result<Subscription, BusError> {
        let full = prefixed(&self.prefix, subject, "subject")?;
        let inner = self
            .client
            .subscribe(full)
            .await
            .map_err(|e| BusError::nats("subscribe", e))?;
        self.round_trip().await?;
        let skip = (!own).then(|| self.host.clone());
        Ok(Subscription::new(inner, self.prefix.len() + 1, skip))
    }

    /// Wait until the server has processed everything sent so far. A flush only
    /// writes; the server answers a request in order, so one to a subject nobody
    /// serves ("no responders") proves the earlier commands were handled.
    async fn round_trip(&self) -> Result<(), BusError> {
        let nobody = self.client.new_inbox();
        match self.client.request(nobody, Bytes::new()).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => Ok(()),
            Err(e) => Err(BusError::nats("subscribe (confirm)", e)),
        }
    }

    /// JetStream on this connection (key-value buckets and streams).
    pub(crate) fn jetstream(&self) -> async_nats::jetstream::Context {
        async_nats::jetstream::new(self.client.clone())
    }

    /// `prefix.name` for JetStream names derived from the prefix.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }
}

fn connect_error(servers: &str, reason: impl std::fmt::Display) -> BusError {
    BusError::Connect {
        servers: servers.into(),
        reason: reason.to_string(),
    }
}
