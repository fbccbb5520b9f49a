//! [`Status`]: what `GET /api/status` answers and `GET /api/events` streams, as plain
//! data (no locks, no actors), so the JSON schema is one serde derive and its tests
//! need no running host.
//!
//! The schema is versioned by [`SCHEMA`]: a field may be added within a version; a
//! field renamed, removed or changed in meaning bumps it (docs/operations.md lists the
//! fields). What it never carries: chat text, file contents, secrets (the admin token,
//! storage credentials) — only names, numbers and states plugins describe.

use serde::Serialize;

/// The schema's name and version, the first field of every status document.
pub const SCHEMA: &str = "switchyard.status/1";
/// Reloads kept in [`Status::reloads`].
pub const RELOADS_KEPT: usize = 20;
/// Finished transfers kept in [`Status::finished`].
pub const FINISHED_KEPT: usize = 100;
/// Log records (WARN and above) kept in [`Status::log`].
pub const LOG_KEPT: usize = 100;

/// The whole state, as one JSON document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    pub host: HostStatus,
    /// The last [`RELOADS_KEPT`] reloads, newest first (the start is generation 0).
    pub reloads: Vec<ReloadRecord>,
    /// In topology order, then handlers still draining after a reload removed them.
    pub handlers: Vec<HandlerStatus>,
    /// Sessions in flight, as plugins describe them (`session_update`), oldest first.
    pub sessions: Vec<SessionView>,
    /// The last [`FINISHED_KEPT`] ended sessions, newest first.
    pub finished: Vec<FinishedSession>,
    /// The last [`LOG_KEPT`] log records at WARN and above, newest first.
    pub log: Vec<LogRecord>,
    /// The cluster bus and the hosts of the cluster; `null` without a bus.
    pub bus: Option<BusStatus>,
    /// Each `s3` storage in use, by name (empty without one).
    pub storages: Vec<StorageStatus>,
}

/// The host itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostStatus {
    pub version: String,
    pub pid: u32,
    pub started_unix_ms: u64,
    pub uptime_secs: u64,
    /// The topology file as given on the command line (empty when not known).
    pub topology_file: String,
    /// Whether the admin listener asks for a token to read (`admin_token_env`, a
    /// non-loopback address); actions always need it.
    pub token_required_to_read: bool,
    /// Whether actions (POST) are possible at all: a token is configured.
    pub actions_enabled: bool,
}

/// What became of one reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReloadOutcome {
    Started,
    Applied,
    Refused,
}

/// One reload (or the start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReloadRecord {
    pub generation: u64,
    pub at_unix_ms: u64,
    pub outcome: ReloadOutcome,
    /// What asked for it: `start`, `signal` (SIGHUP) or `console`.
    pub trigger: &'static str,
    /// One line per error, each starting with `file:line:col` when it has one.
    pub errors: Vec<String>,
    /// The summary of an applied reload (kept, started, replaced, retired handlers).
    pub summary: String,
}

/// How a handler stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum HandlerState {
    /// Serving; `draining_old` instances of a replaced generation still finish
    /// their sessions.
    Running { draining_old: usize },
    /// Removed by a reload; its instances finish their sessions.
    Draining,
    /// Down: restart intensity exceeded, or no instance could be created.
    Stopped { reason: String },
}

/// One handler of the topology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandlerStatus {
    pub name: String,
    pub plugin: String,
    pub plugin_version: String,
    #[serde(flatten)]
    pub state: HandlerState,
    pub workers: usize,
    /// Plugin instances recreated after a panic, since the host started.
    pub restarts: u64,
    pub connections_open: u64,
    pub sessions: u64,
    pub limits: LimitsView,
    pub listeners: Vec<String>,
    /// Where its files are: `dir PATH`, `s3 ENDPOINT/BUCKET/PREFIX (storage NAME)`, or
    /// empty (no storage). Never credentials.
    pub storage: String,
}

/// A handler's limits, as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitsView {
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub max_write_buffer: usize,
}

/// Where a session's bytes go.
pub type DirectionWord = &'static str;

/// One session in flight, as its plugin last described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionView {
    /// `worker.actor.key`: what `POST /api/sessions/cancel` names, with `handler`.
    pub id: String,
    pub handler: String,
    /// `ip:port`, or empty.
    pub peer: String,
    /// What it works on (a file name), as the plugin says; never its content.
    pub resource: String,
    /// The plugin's word (`sending`, `waiting`, `joined`, or a short `key=value` list).
    pub state: String,
    /// `send` (a download), `receive` (an upload) or `none`.
    pub direction: DirectionWord,
    pub bytes_done: u64,
    pub bytes_total: Option<u64>,
    /// Bytes per second, averaged since it was first described.
    pub rate_bps: u64,
    pub elapsed_ms: u64,
}

/// One ended session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FinishedSession {
    pub handler: String,
    pub peer: String,
    pub resource: String,
    pub direction: DirectionWord,
    pub bytes: u64,
    /// The outcome word (`ok`, `not_found`, `aborted` (cancelled), ... or `other`).
    pub result: &'static str,
    pub elapsed_ms: u64,
    pub ended_unix_ms: u64,
}

/// One log record at WARN or above.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogRecord {
    pub at_unix_ms: u64,
    /// `warn`, `error` or `critical`.
    pub level: &'static str,
    pub msg: String,
    /// The record's key-value pairs, in order, as text.
    pub fields: Vec<(String, String)>,
}

/// The cluster bus as this host sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BusStatus {
    pub servers: Vec<String>,
    /// This host's name on the bus.
    pub name: String,
    pub subject_prefix: String,
    /// `connected`, `connecting` (the first connection) or `disconnected` (lost,
    /// reconnecting).
    pub state: &'static str,
    /// Since when it is in that state.
    pub since_unix_ms: u64,
    /// Typed messages waiting in the outbox for NATS.
    pub queued: u64,
    /// Typed messages dropped so far (queue full, backlogged, no bus, refused).
    pub dropped: u64,
    /// The hosts of the cluster (the hosts bucket's live records), by name.
    pub hosts: Vec<ClusterHost>,
    /// When the hosts were last listed (`null`: not yet).
    pub hosts_listed_unix_ms: Option<u64>,
    /// Why this host's last heartbeat failed (`null` when it worked).
    pub presence_error: Option<String>,
}

/// One host of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterHost {
    pub name: String,
    pub version: String,
    pub started_unix_ms: u64,
    /// Its admin listener's address (`null`: none).
    pub admin: Option<String>,
    /// How long ago its record was written, by this host's clock.
    pub last_seen_ms: u64,
    pub this_host: bool,
}

/// One `s3` storage, over every handler using it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StorageStatus {
    pub name: String,
    pub endpoint: String,
    pub bucket: String,
    pub prefix: String,
    /// `ok`, or `failing` (its last operation or probe failed).
    pub state: &'static str,
    /// Since when it fails (`null` when ok).
    pub failing_since_unix_ms: Option<u64>,
    /// The last failure's text (kept once the store is back), never credentials.
    pub last_error: Option<String>,
    pub last_error_unix_ms: Option<u64>,
    /// When an operation (or probe) last got an answer.
    pub last_ok_unix_ms: Option<u64>,
    /// Operations waiting on the store now.
    pub in_flight: u64,
    /// Bytes of objects in the local spool (read and kept for reuse).
    pub spooled_bytes: u64,
}

#[cfg(test)]
mod tests;
