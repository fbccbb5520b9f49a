//! The compiled topology: a checked graph the runtime can start without re-checking.
//!
//! Everything here derives `PartialEq` so that a reload can diff the old and the new
//! topology and restart only the handlers that changed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::catalog::PluginDescription;
use crate::storage::Symlinks;

/// A checked topology. Listeners and handlers keep the file's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    /// Every listener, each routed to exactly one handler.
    pub listeners: Vec<ListenerSpec>,
    /// Every handler, with its plugin already described and its config accepted.
    pub handlers: Vec<HandlerSpec>,
    /// How long a drain may take before the host exits anyway (`drain_timeout_secs`).
    pub drain_timeout: Duration,
    /// How long a handler retired by a reload may keep its sessions before they are
    /// cut (`reload_drain_timeout_secs`); `None`: until they end by themselves.
    pub reload_drain_timeout: Option<Duration>,
    /// Metrics and health endpoint (`admin`), off when `None`.
    pub admin: Option<SocketAddr>,
    /// The admin token, read from the environment variable `admin_token_env` names
    /// (never written in the file); `None`: no console actions, loopback only.
    pub admin_token: Option<AdminToken>,
    /// User to switch to after binding (`user`), `None` to stay as started.
    pub user: Option<String>,
    /// The topology's `plugin_dirs`, resolved against the working directory.
    pub plugin_dirs: Vec<PathBuf>,
    /// Where per-session lines go (`access_log`); `None`: to the main log, at `debug`.
    pub access_log: Option<AccessLogSpec>,
    /// The named storages (`storages`), in file order; `dir` paths resolved against
    /// the working directory. A handler on a `dir` storage has its path as `root`.
    pub storages: Vec<StorageSpec>,
    /// The cluster bus (`bus`), `None` when this host runs on its own.
    pub bus: Option<BusSpec>,
    /// Routes from a bus subject to an input port (`from: "bus:subject"`), in file
    /// order; empty without a bus.
    pub bus_inputs: Vec<BusInputRoute>,
}

/// The `bus` section: how this host reaches NATS (`topology::bus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusSpec {
    /// `nats://host[:port]` (or `tls://`) URLs, checked.
    pub servers: Vec<String>,
    /// This host's name (one subject token), in every message it publishes.
    pub name: String,
    /// Dotted subject tokens every subject is under.
    pub subject_prefix: String,
    /// Where the credentials are.
    pub credentials: BusCredentials,
    /// Typed messages waiting to be published, at most, while NATS is slow or away;
    /// beyond it they are dropped and counted (`max_queued`).
    pub max_queued: usize,
    /// JetStream streams (`streams`), in file order: what is published on their
    /// subjects is stored, acknowledged and deduplicated (`topology::bus_streams`).
    pub streams: Vec<StreamSpec>,
}

/// One of the bus's `streams`: a JetStream stream on the host's NATS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    /// Its name (letters, digits, `_`, `-`), which `bus_stream_read` names.
    pub name: String,
    /// The subjects it captures, exactly (under the bus's prefix); no subject is in
    /// two streams.
    pub subjects: Vec<String>,
    /// Bytes kept at most; the oldest messages go first.
    pub max_bytes: u64,
    /// Messages older than this are removed.
    pub max_age: std::time::Duration,
    /// How long a message id is remembered: a publish re-sent within it is stored once.
    pub duplicate_window: std::time::Duration,
}

/// The environment variables holding the bus credentials (never the secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusCredentials {
    /// No authentication.
    None,
    /// A user and a password.
    UserPassword {
        user_env: String,
        password_env: String,
    },
    /// A token.
    Token { token_env: String },
}

/// A route from an output port to a bus subject (`to: "bus:subject"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusOutputRoute {
    /// Index of the output port in the plugin's port list.
    pub port: u32,
    /// The subject, under the bus's prefix.
    pub subject: String,
    /// The message type carried, with its schema version (the port's type).
    pub type_name: String,
}

/// A route from a bus subject to an input port (`from: "bus:subject"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusInputRoute {
    /// The subject, under the bus's prefix.
    pub subject: String,
    /// The receiving handler.
    pub handler: String,
    /// Index of the input port in its plugin's port list.
    pub port: u32,
    /// The type the port accepts (`*`: any); a message of another type is refused.
    pub type_name: String,
    /// Whether this host's own messages on the subject are delivered too (`own: true`).
    pub own: bool,
}

/// The admin token: a secret, so its `Debug` never shows it (a topology may be
/// logged or printed in a test failure).
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(pub String);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// One entry of `storages`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageSpec {
    /// Its name, which handlers give as `storage: "name"`.
    pub name: String,
    /// Where the files are.
    pub backend: StorageBackend,
}

/// Where a storage keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageBackend {
    /// A local directory (`kind: dir, path: "..."`), the same as a handler's `root`.
    Dir(PathBuf),
    /// A prefix of a bucket on an S3-compatible store (`kind: s3`).
    S3(S3StorageSpec),
}

/// A handler's `s3` storage: its name (for errors and logs) and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Binding {
    pub name: String,
    pub spec: S3StorageSpec,
}

/// An `s3` storage as the topology gives it; see `topology::storages`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3StorageSpec {
    /// `http(s)://host[:port]`, checked: no path, query, fragment or user info.
    pub endpoint: String,
    /// The bucket, checked against S3's naming rules.
    pub bucket: String,
    /// Names live under this prefix (no trailing `/`; empty: the whole bucket).
    pub prefix: String,
    /// The signing region (`us-east-1` when not given).
    pub region: String,
    /// The environment variable holding the access key id; `None` (with
    /// `secret_key_env`): anonymous requests.
    pub access_key_env: Option<String>,
    /// The environment variable holding the secret access key.
    pub secret_key_env: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`, the default) or virtual-host
    /// style (`bucket.endpoint/key`).
    pub path_style: bool,
}

/// The access log (`access_log: Some((path: "...", ...))`): one line per finished
/// session, buffered and written off the handler threads (`crate::access_log`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogSpec {
    /// The file, resolved against the working directory; appended to, created 0640.
    pub path: PathBuf,
    /// Lines are written once this many bytes are waiting (`buffer_kib`)...
    pub buffer_bytes: usize,
    /// ...or this long after the first of them (`flush_ms`), whichever comes first.
    pub flush: Duration,
    /// One line per session as `key=value` text, or as a JSON object.
    pub format: AccessLogFormat,
}

/// The form of an access log line (`format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessLogFormat {
    /// `<time> handler=... peer=... resource="..." ...`: for people and grep.
    #[default]
    Text,
    /// One JSON object per line, each field its own key: for log shippers.
    Json,
}

/// A socket the host binds and hands to one handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSpec {
    /// The listener's name in the topology.
    pub name: String,
    /// UDP socket or TCP acceptor.
    pub kind: ListenerKind,
    /// Every address to bind, one socket each: the literal `ip:port`, or each address
    /// a host name resolved to when the topology was compiled (each once, sorted: IPv4
    /// first). Never empty. All share one port; port 0 picks one ephemeral
    /// port for all of them, so `name:port` means the same service on every address.
    pub binds: Vec<SocketAddr>,
    /// Bind the (IPv6) address with `IPV6_V6ONLY` off, so IPv4 peers reach it too, as
    /// `::ffff:a.b.c.d`. Off by default: `[::]:P` is IPv6-only and `0.0.0.0:P` can be
    /// bound beside it.
    pub dual_stack: bool,
    /// The handler the route sends it to.
    pub handler: String,
}

/// The transport of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerKind {
    /// A UDP socket; datagrams go to the handler's single instance.
    Udp,
    /// A TCP acceptor; each accepted connection goes to the handler.
    Tcp,
}

impl ListenerKind {
    /// The bit of `switchyard_sdk::abi::SY_LISTEN_*` a plugin sets to accept this kind.
    pub fn abi_bit(self) -> u32 {
        match self {
            ListenerKind::Udp => switchyard_sdk::abi::SY_LISTEN_UDP,
            ListenerKind::Tcp => switchyard_sdk::abi::SY_LISTEN_TCP,
        }
    }

    /// The word used in topology files and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ListenerKind::Udp => "udp",
            ListenerKind::Tcp => "tcp",
        }
    }
}

impl std::fmt::Display for ListenerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A plugin instance (or family of instances) with its configuration and wiring.
#[derive(Debug, Clone, PartialEq)]
pub struct HandlerSpec {
    /// The handler's name in the topology.
    pub name: String,
    /// The plugin serving it.
    pub plugin: PluginDescription,
    /// Storage root, resolved against the working directory; `None` = no storage. On
    /// an `s3` storage: the host's private spool directory (see `object_storage`).
    pub root: Option<PathBuf>,
    /// The `s3` storage the handler's files are on (`storage: "name"`), if any.
    pub object_storage: Option<S3Binding>,
    /// Whether symlinks beneath `root` are followed inside it (`symlinks`; default
    /// `follow_inside`). See `crate::storage::Symlinks`.
    pub symlinks: Symlinks,
    /// The exact RON text of `config:` (empty when absent), already accepted by the plugin.
    pub config_text: String,
    /// Directories created under `root` when the handler starts (`create_dirs`).
    pub create_dirs: Vec<String>,
    /// How long the handler thread busy-polls its recently used sockets before it
    /// sleeps (`busy_poll_us`; zero = never). See `crate::busy_poll`.
    pub busy_poll: Duration,
    /// Threads running the handler, each with its own instances (`workers`; default:
    /// the CPUs for a plugin that shards, else 1). See `crate::actor::workers`.
    pub workers: usize,
    /// How often the instance may be recreated after panics before the handler stops.
    pub restart: RestartPolicy,
    /// Resource limits the host enforces for this handler.
    pub limits: Limits,
    /// Names of the listeners routed to this handler, in file order.
    pub listeners: Vec<String>,
    /// Where each message emitted on an output port goes.
    pub outputs: Vec<OutputRoute>,
    /// Output ports whose messages are published on the bus, and on which subjects.
    pub bus_outputs: Vec<BusOutputRoute>,
}

/// Restart intensity, as in OTP: more than `max_restarts` within `within` stops the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Restarts tolerated inside the window.
    pub max_restarts: u32,
    /// The sliding window.
    pub within: Duration,
}

impl Default for RestartPolicy {
    /// 5 restarts in 10 seconds: survives a burst of bad inputs, stops a crash loop.
    fn default() -> Self {
        RestartPolicy {
            max_restarts: 5,
            within: Duration::from_secs(10),
        }
    }
}

/// Per-handler resource limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Open TCP connections at once, over all the handler's listeners.
    pub max_connections: usize,
    /// Open TCP connections at once from one peer IP.
    pub max_connections_per_ip: usize,
    /// Bytes queued for writing on one connection before writes are refused.
    pub max_write_buffer: usize,
    /// The line (without its LF) written to a TCP peer refused by one of the two
    /// connection limits, before the close (`refusal`); `None`: the host's own
    /// (`actor::refusal`), plain text naming the limit.
    pub refusal: Option<String>,
}

impl Default for Limits {
    /// 1024 connections, 64 per IP, 8 MiB write buffer per connection.
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            max_connections_per_ip: 64,
            max_write_buffer: 8 * 1024 * 1024,
            refusal: None,
        }
    }
}

/// One route from an output port of a handler to an input port of another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRoute {
    /// Index of the output port in the source plugin's port list.
    pub port: u32,
    /// The receiving handler.
    pub to_handler: String,
    /// Index of the input port in the receiving plugin's port list.
    pub to_port: u32,
    /// The message type carried (the output port's type).
    pub type_name: String,
}
