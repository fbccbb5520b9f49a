//! Every `SY_*` constant: versions, flags, statuses, kinds, modes, event tags.

/// Major version of this ABI. The host refuses a plugin whose major version differs.
pub const SY_ABI_VERSION: u32 = 1;
/// `"SWYD"`: marks the declaration symbol as a Switchyard one.
pub const SY_MAGIC: u32 = 0x5357_5944;

/// Name of the data symbol the host reads before any plugin code runs.
pub const SY_DECL_SYMBOL: &[u8] = b"switchyard_plugin_decl\0";
/// Name of the entry function returning the plugin's vtable.
pub const SY_ENTRY_SYMBOL: &[u8] = b"switchyard_plugin_entry\0";

// ---- declaration flags -------------------------------------------------------------
/// Built with `panic = "unwind"`: the SDK can catch a panic and report it.
pub const SY_FLAG_PANIC_UNWIND: u32 = 1 << 0;
/// Written in a language without unwinding (C): nothing to catch.
pub const SY_FLAG_NO_UNWIND: u32 = 1 << 1;

// ---- status codes (returned by host and plugin functions) --------------------------
pub const SY_OK: u32 = 0;
/// A Rust panic was caught inside the plugin; the instance is poisoned.
pub const SY_ERR_PANICKED: u32 = 1;
/// An argument was malformed (null pointer, bad size, unknown id).
pub const SY_ERR_INVALID: u32 = 2;
pub const SY_ERR_NOT_FOUND: u32 = 3;
/// The path escapes the root, or the operation is not permitted.
pub const SY_ERR_ACCESS: u32 = 4;
pub const SY_ERR_EXISTS: u32 = 5;
pub const SY_ERR_NO_SPACE: u32 = 6;
pub const SY_ERR_IO: u32 = 7;
/// The peer or socket is gone.
pub const SY_ERR_CLOSED: u32 = 8;
/// A configured limit was reached (buffer, files, sockets).
pub const SY_ERR_LIMIT: u32 = 9;
/// The plugin refused its configuration.
pub const SY_ERR_CONFIG: u32 = 10;
pub const SY_ERR_UNSUPPORTED: u32 = 11;
pub const SY_ERR_IS_DIR: u32 = 12;
/// The file is in use by another handle (`open_partial`: another upload continues it).
pub const SY_ERR_BUSY: u32 = 13;
/// Returned by `on_event` only: a panic was caught while handling an event of the
/// connection `event.conn`, and the plugin (per handler, keeping its state per
/// connection) asked that it cost only that connection: the instance is intact; the
/// host closes that connection (`SY_EV_CONN_CLOSED` follows) and serves on.
pub const SY_ERR_PANICKED_CONN: u32 = 14;
/// Not an error: `storage_begin` started an operation whose result comes by
/// `SY_EV_STORAGE_DONE`; `read_file` / `send_datagram_file` on a storage that may wait:
/// the range is not in memory yet (prefetch it, try again after `SY_EV_FILE_PREFETCHED`).
pub const SY_PENDING: u32 = 15;

// ---- listener kinds (bit mask) -------------------------------------------------------
pub const SY_LISTEN_UDP: u32 = 1 << 0;
pub const SY_LISTEN_TCP: u32 = 1 << 1;

// ---- instance modes ----------------------------------------------------------------
/// One instance serves every listener routed to the handler.
pub const SY_INSTANCE_PER_HANDLER: u32 = 0;
/// A fresh instance for each TCP connection (TCP listeners only).
pub const SY_INSTANCE_PER_CONNECTION: u32 = 1;

// ---- port directions -----------------------------------------------------------------
pub const SY_PORT_IN: u32 = 1;
pub const SY_PORT_OUT: u32 = 2;

// ---- storage kinds (`SyPluginVTable::storage`) ----------------------------------------
/// Peers read files from the handler's root (TFTP, files, bulk). Zero, so a vtable that
/// does not set the field, or predates it, is *served*: the safe side for the topology's
/// check that no private root lies inside a served one.
pub const SY_STORAGE_SERVED: u32 = 0;
/// Only the plugin itself reads its root (audit transcripts): it must not lie inside,
/// or contain, a served root.
pub const SY_STORAGE_PRIVATE: u32 = 1;
// ---- config formats (`SyPluginVTable::config_format`) ---------------------------------
/// `check_config` and `create` get the handler's `config:` section as written (RON).
/// Zero: what every plugin built before the field gets.
pub const SY_CONFIG_RON: u32 = 0;
/// They get it converted to JSON by the host (an object; `{}` for none), so that a C
/// plugin needs no RON parser. Bare words (unit enum variants) have no JSON form: such
/// configs should use strings. Positions in `config_error` then refer to the JSON text,
/// which the operator never sees: report line 0, col 0, and name the field in the
/// message as "`field`: why", which the host places on that field's value.
pub const SY_CONFIG_JSON: u32 = 1;
// ---- sharding (`SyPluginVTable::sharding`) -------------------------------------------
/// One worker: the instance's state is global (chat rooms). Zero: what a vtable built
/// before the field gets.
pub const SY_SHARD_NONE: u32 = 0;
/// Any worker: connections go to the least loaded one, a peer's datagrams to the worker
/// its address hashes to.
pub const SY_SHARD_ANY: u32 = 1;
/// Everything from one client IP goes to one worker, so per-client limits of the
/// plugin's own stay exact (TFTP).
pub const SY_SHARD_PEER_IP: u32 = 2;
// ---- typed messages to a sharded handler (`SyPluginVTable::input_delivery`) -----------
/// Each message to one worker, in turn. Zero: the default.
pub const SY_INPUT_ONE_WORKER: u32 = 0;
/// Each message to every worker, a copy each.
pub const SY_INPUT_EVERY_WORKER: u32 = 1;
/// Type name of an input port that accepts every message type.
pub const SY_TYPE_ANY: &str = "*";

// ---- log levels (slog's order) ---------------------------------------------------------
pub const SY_LOG_ERROR: u32 = 1;
pub const SY_LOG_WARN: u32 = 2;
pub const SY_LOG_INFO: u32 = 3;
pub const SY_LOG_DEBUG: u32 = 4;
pub const SY_LOG_TRACE: u32 = 5;

// ---- event tags ------------------------------------------------------------------------
/// The instance was created and may arm timers. No other field is set.
pub const SY_EV_START: u32 = 1;
/// `socket`, `peer`, `local`, `data`: one datagram arrived.
pub const SY_EV_DATAGRAM: u32 = 2;
/// `conn`, `peer`, `local`, `listener`: a TCP connection was accepted.
pub const SY_EV_CONN_OPENED: u32 = 3;
/// `conn`, `data`: bytes arrived on a connection.
pub const SY_EV_BYTES: u32 = 4;
/// `conn`: the peer shut its write side (EOF). Writing may go on.
pub const SY_EV_PEER_EOF: u32 = 5;
/// `conn`, `status`: the connection is gone (closed by either side or failed).
pub const SY_EV_CONN_CLOSED: u32 = 6;
/// `token`: a timer armed with `set_timer` fired.
pub const SY_EV_TIMER: u32 = 7;
/// `conn`, `token`: all bytes queued before `notify_drained` were written.
pub const SY_EV_DRAINED: u32 = 8;
/// `conn`, `token`, `status`, `amount`: a `send_file` finished.
pub const SY_EV_FILE_SENT: u32 = 9;
/// `conn`, `token`, `status`, `amount`, `digest`: a `recv_to_file` finished.
pub const SY_EV_FILE_RECEIVED: u32 = 10;
/// `port`, `type_name`, `data`: a typed message arrived on an input port.
pub const SY_EV_MESSAGE: u32 = 11;
/// The host is draining: finish in-flight work, start no new work.
pub const SY_EV_DRAIN: u32 = 12;
/// `socket`, `status`: a socket failed (e.g. ICMP error); the socket stays open.
pub const SY_EV_SOCKET_ERROR: u32 = 13;
/// `token`, `status`: a `prefetch_file` finished; the range is in the page cache.
pub const SY_EV_FILE_PREFETCHED: u32 = 14;
/// A reload replaced this instance and its successor did not take its state: the
/// listener sockets now deliver to the successor. Sessions that live on them (datagram
/// peers of a shared socket) are gone from here: tell them now (sending on a listener
/// socket still works). Sessions on the instance's own sockets and connections stay
/// with it until they end. `SY_EV_DRAIN` follows.
pub const SY_EV_REPLACED: u32 = 15;
/// `status` (`SY_CUT_*`): the drain deadline passed. Every session still open is cut
/// when this call returns: send each its protocol's goodbye now (an error to the peer).
/// File sends in flight were stopped where they were (no `SY_EV_FILE_SENT` follows), so
/// what is written now goes out next.
pub const SY_EV_DRAIN_DEADLINE: u32 = 16;
/// `token`, `status`, `amount` (the stat's size), `data` (an `SyStorageDone`): a
/// `storage_begin` that answered `SY_PENDING` is done.
pub const SY_EV_STORAGE_DONE: u32 = 17;
/// `token` = the session key given to `session_update`: the operator cancelled that
/// session (admin console). Tell its peer in the protocol's terms, then end it.
pub const SY_EV_SESSION_CANCEL: u32 = 18;
/// `token` (the subscription's), `status`: a `bus_subscribe` is done (`SY_OK`: the
/// server has it, `SY_EV_BUS_MESSAGE` follows for each message).
pub const SY_EV_BUS_DONE: u32 = 19;
/// `token` (the subscription's), `listener` (the subject), `type_name` (the
/// publisher's type and version, empty when untyped), `source` (`host/handler`),
/// `data`: a message on a subscribed subject.
pub const SY_EV_BUS_MESSAGE: u32 = 20;

/// `token`, `status`, `amount` (the key's revision), `data` (GET: the value): a
/// `bus_kv_begin` is done (`SY_ERR_NOT_FOUND`: no live value; `SY_ERR_EXISTS`: lost a
/// create or compare-and-set).
pub const SY_EV_BUS_KV_DONE: u32 = 21;
/// `token` (the stream read's), `amount` (the stream sequence), `listener` (the
/// subject), `type_name`, `source`, `data`: the next message of a `bus_stream_read`.
pub const SY_EV_BUS_STREAM_MESSAGE: u32 = 22;

// ---- key-value operations on the bus (`SyBusKvOp::kind`) ------------------------------
/// `key` -> value, revision.
pub const SY_BUS_KV_GET: u32 = 1;
/// `key`, `value` -> revision, whatever was there.
pub const SY_BUS_KV_PUT: u32 = 2;
/// `key`, `value` -> revision, only if the key has no live value (a claim).
pub const SY_BUS_KV_CREATE: u32 = 3;
/// `key`, `value`, `revision` -> revision, only if the key is still at `revision`.
pub const SY_BUS_KV_UPDATE: u32 = 4;
/// `key`: remove it (a released claim).
pub const SY_BUS_KV_DELETE: u32 = 5;

// ---- bus_subscribe flags ---------------------------------------------------------------
/// This host's own messages too (else other hosts' only).
pub const SY_BUS_OWN: u32 = 1 << 0;

// ---- storage operations that may wait (`SyStorageOp::kind`) ---------------------------
/// `path` -> `file`, `stat` (its size): `open_read`'s counterpart.
pub const SY_STORE_OPEN_READ: u32 = 1;
/// `path` -> `stat`.
pub const SY_STORE_STAT: u32 = 2;
/// `path` -> entries, read with `storage_listing`.
pub const SY_STORE_LIST: u32 = 3;
/// `path` -> `file`: a hidden upload, invisible until committed.
pub const SY_STORE_CREATE_TEMP: u32 = 4;
/// `path` -> `file`, `stat` (its size so far): continue a kept partial upload.
pub const SY_STORE_OPEN_PARTIAL: u32 = 5;
/// `file`, `path`, `flags` (`SY_COMMIT_*`): make an upload visible.
pub const SY_STORE_COMMIT: u32 = 6;
/// `path`: remove a file.
pub const SY_STORE_REMOVE: u32 = 7;

// ---- which storage calls a plugin makes (`SyPluginVTable::storage_calls`) -------------
/// Synchronous calls only (every vtable that predates the field): refused on a storage
/// that may wait (s3), served on a dir.
pub const SY_STORAGE_CALLS_SYNC: u32 = 0;
/// `storage_begin` for everything that may wait, and `read_file` /
/// `send_datagram_file` ready for `SY_PENDING`.
pub const SY_STORAGE_CALLS_WAIT: u32 = 1;

// ---- why sessions are cut (`SY_EV_DRAIN_DEADLINE`'s `status`) -------------------------
/// The host is shutting down (`drain_timeout_secs` passed).
pub const SY_CUT_SHUTDOWN: u32 = 0;
/// A reload retired this instance and `reload_drain_timeout_secs` passed.
pub const SY_CUT_RELOAD: u32 = 1;

// ---- session directions (`SySession::direction`) ---------------------------------------
/// Neither (a chat member, a control connection).
pub const SY_DIR_NONE: u32 = 0;
/// Bytes go to the peer (a download).
pub const SY_DIR_SEND: u32 = 1;
/// Bytes come from the peer (an upload).
pub const SY_DIR_RECEIVE: u32 = 2;

// ---- flags for host calls ----------------------------------------------------------
/// `commit_file`: replace an existing file of the same name.
pub const SY_COMMIT_OVERWRITE: u32 = 1 << 0;
/// `recv_to_file`: compute the sha256 of the received bytes.
pub const SY_RECV_SHA256: u32 = 1 << 0;

// ---- file kinds (`SyStat::kind`) ------------------------------------------------------
pub const SY_FILE_REGULAR: u32 = 1;
pub const SY_FILE_DIR: u32 = 2;
pub const SY_FILE_OTHER: u32 = 3;
