//! The host's one connection to NATS: connected with bounded queues and reconnecting by
//! itself, publishing under the prefix with the host's name in a header.

use std::sync::Arc;
use std::time::Duration;

use async_nats::{ConnectOptions, HeaderMap, ServerAddr};
use bytes::Bytes;
use futures_util::FutureExt;

use crate::error::BusError;
use crate::options::{BusOptions, Credentials};
use crate::subject::{HOST_HEADER, SOURCE_HEADER, TYPE_HEADER, prefixed, subject_problem};
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

/// What happened to a connection started with [`Bus::start`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusEvent {
    /// Connected (first time, or again after a loss).
    Connected,
    /// The connection was lost; the client is reconnecting.
    Disconnected,
    /// A subscription's buffer was full and the client dropped messages of it.
    SlowConsumer,
    /// Anything else the client reports (server errors, lame duck mode), as text.
    Other(String),
}

impl From<async_nats::Event> for BusEvent {
    fn from(event: async_nats::Event) -> BusEvent {
        match event {
            async_nats::Event::Connected => BusEvent::Connected,
            async_nats::Event::Disconnected => BusEvent::Disconnected,
            async_nats::Event::SlowConsumer(_) => BusEvent::SlowConsumer,
            other => BusEvent::Other(other.to_string()),
        }
    }
}

/// What a typed message says of itself on the bus.
#[derive(Debug, Clone, Copy)]
pub struct Typed<'a> {
    /// The type with its schema version, e.g. `switchyard.ChatMessage/1`.
    pub type_name: &'a str,
    /// The `handler.port` that emitted it.
    pub source: &'a str,
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
        let (connect, addrs) = connect_options(options, None)?;
        let servers_text = options.servers.join(", ");
        let attempt = tokio::time::timeout(options.connect_timeout, connect.connect(addrs));
        let client = match attempt.await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => return Err(connect_error(&servers_text, e)),
            Err(_) => return Err(connect_error(&servers_text, "timed out")),
        };
        Ok(Bus::new(client, options))
    }

    /// A connection that is made in the background: returns at once, whether or not
    /// any server answers, and keeps trying (backing off up to `max_reconnect_delay`)
    /// until one does. Until then publishes and subscriptions queue within
    /// `client_capacity`. What a host does when NATS is down at start (it serves its
    /// own handlers meanwhile). `on_event` is told of each connection, loss and slow
    /// consumer. Must be called within a tokio runtime, whose tasks then carry the
    /// connection; fails only on options NATS would refuse.
    pub fn start(
        options: &BusOptions,
        on_event: impl Fn(BusEvent) + Send + Sync + 'static,
    ) -> Result<Bus, BusError> {
        let on_event: EventHook = Arc::new(on_event);
        let (connect, addrs) = connect_options(options, Some(on_event))?;
        // With `retry_on_initial_connect` the client spawns its connection task and
        // returns without awaiting anything (async-nats 0.46, `connect_with_options`),
        // so the future is ready at its first poll.
        let client = connect
            .retry_on_initial_connect()
            .connect(addrs)
            .now_or_never()
            .ok_or_else(|| connect_error(&options.servers.join(", "), "did not start"))?
            .map_err(|e| connect_error(&options.servers.join(", "), e))?;
        Ok(Bus::new(client, options))
    }

    fn new(client: async_nats::Client, options: &BusOptions) -> Bus {
        Bus {
            client,
            prefix: options.subject_prefix.clone(),
            host: options.host_name.clone(),
            publish_timeout: options.publish_timeout,
        }
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
        self.publish_with(subject, HeaderMap::new(), payload).await
    }

    /// [`Bus::publish`] of a typed message: its type (with the schema version) and the
    /// `handler.port` that emitted it go in headers, so a receiver can refuse a type it
    /// does not know.
    pub async fn publish_typed(
        &self,
        subject: &str,
        typed: Typed<'_>,
        payload: Bytes,
    ) -> Result<(), BusError> {
        let mut headers = HeaderMap::new();
        // Untyped bytes (a plugin's `bus_publish` with no type) carry no type header.
        if !typed.type_name.is_empty() {
            headers.insert(TYPE_HEADER, typed.type_name);
        }
        headers.insert(SOURCE_HEADER, typed.source);
        self.publish_with(subject, headers, payload).await
    }

    async fn publish_with(
        &self,
        subject: &str,
        mut headers: HeaderMap,
        payload: Bytes,
    ) -> Result<(), BusError> {
        let full = prefixed(&self.prefix, subject, "subject")?;
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

    /// The client, for JetStream contexts with their own timeouts.
    pub(crate) fn client(&self) -> async_nats::Client {
        self.client.clone()
    }

    /// `prefix.name` for JetStream names derived from the prefix.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// What [`Bus::start`] calls on connection events.
type EventHook = Arc<dyn Fn(BusEvent) + Send + Sync>;

/// The client's options from ours, and the parsed server addresses.
fn connect_options(
    options: &BusOptions,
    on_event: Option<EventHook>,
) -> Result<(ConnectOptions, Vec<ServerAddr>), BusError> {
    if let Some(problem) = subject_problem(&options.subject_prefix) {
        return Err(BusError::Invalid {
            what: "subject prefix",
            value: options.subject_prefix.clone(),
            problem,
        });
    }
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
    if let Some(hook) = on_event {
        connect = connect.event_callback(move |event| {
            let hook = Arc::clone(&hook);
            async move { hook(BusEvent::from(event)) }
        });
    }
    Ok((connect, addrs))
}

fn connect_error(servers: &str, reason: impl std::fmt::Display) -> BusError {
    BusError::Connect {
        servers: servers.into(),
        reason: reason.to_string(),
    }
}
