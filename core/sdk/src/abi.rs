//! The raw C ABI between the Switchyard host and a plugin library.
//!
//! This module is the Rust mirror of `include/switchyard.h`; the header is the
//! specification, and the layout pins at the end of this module repeat the header's
//! `_Static_assert`s, so both agree on every size. Plugin authors writing Rust never touch this module: they use
//! [`crate::Protocol`] and [`crate::declare_plugin!`].
//!
//! # Rules of the boundary (see `docs/decisions/plugin-boundary.md`)
//! - Only `#[repr(C)]` structs and fixed-width integers cross it. Tags are `u32`
//!   constants, never Rust enums: an unknown discriminant would be undefined behaviour.
//! - Every struct that may grow starts with a `struct_size` field; a reader checks it
//!   before touching a field it knows of.
//! - Data is *borrowed for the duration of one call*: no allocation ever changes owner,
//!   so host and plugin may use different allocators (or languages).
//! - A plugin links neither actix nor tokio: every socket, timer, file and log line goes
//!   through [`SyHostApi`].
#![allow(missing_docs)] // the header documents every field

use std::ffi::c_void;

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

/// A borrowed UTF-8 string (not NUL-terminated). `ptr` may be null when `len` is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SyStr {
    pub ptr: *const u8,
    pub len: usize,
}

/// A borrowed byte slice. `ptr` may be null when `len` is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SyBytes {
    pub ptr: *const u8,
    pub len: usize,
}

/// A socket address. `family` is 4 or 6; for IPv4 only `ip[0..4]` is used.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyAddr {
    pub family: u16,
    pub port: u16,
    pub flowinfo: u32,
    pub scope_id: u32,
    pub ip: [u8; 16],
}

/// What a session is doing, as a plugin describes it with `session_update`. The host
/// keeps a copy (strings included): for the lines it logs about a session it cuts,
/// for metrics and for the operator's view.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SySession {
    pub struct_size: u32,
    /// `SY_DIR_*`.
    pub direction: u32,
    /// The peer (family 0: none).
    pub peer: SyAddr,
    /// The connection the session runs on (0: none). The host then counts the bytes
    /// it moves on it for the session, file sends and receives included.
    pub conn: u64,
    /// What the session works on (a file name), or empty.
    pub resource: SyStr,
    /// A short word for its state ("sending", "waiting", "joined"), or empty.
    pub state: SyStr,
    pub bytes_done: u64,
    /// 0: unknown.
    pub bytes_total: u64,
}

/// Metadata of a file under the handler's root.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SyStat {
    pub struct_size: u32,
    /// 1 = regular file, 2 = directory, 3 = other.
    pub kind: u32,
    pub size: u64,
    /// Seconds since the Unix epoch.
    pub modified_unix: i64,
}

pub const SY_FILE_REGULAR: u32 = 1;
pub const SY_FILE_DIR: u32 = 2;
pub const SY_FILE_OTHER: u32 = 3;

/// One event delivered to a plugin instance. Which fields are set depends on `tag`
/// (see the `SY_EV_*` constants); the others are zero.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SyEvent {
    pub struct_size: u32,
    pub tag: u32,
    /// Milliseconds on the host's monotonic clock. Plugins read time only from here.
    pub now_ms: u64,
    pub socket: u64,
    pub conn: u64,
    pub token: u64,
    /// Bytes sent or received (`FILE_SENT`, `FILE_RECEIVED`).
    pub amount: u64,
    pub status: u32,
    /// Input port index (`MESSAGE`).
    pub port: u32,
    pub peer: SyAddr,
    pub local: SyAddr,
    /// Listener name (`CONN_OPENED`, `DATAGRAM`).
    pub listener: SyStr,
    pub type_name: SyStr,
    pub data: SyBytes,
    /// sha256 of the received bytes (`FILE_RECEIVED` with `SY_RECV_SHA256`).
    pub digest: [u8; 32],
    /// Wall-clock milliseconds since the Unix epoch, for records and logs (never for
    /// timeouts: use `now_ms`, which cannot jump).
    pub wall_ms: u64,
    /// Where a typed message came from, as `handler.port` (`MESSAGE`).
    pub source: SyStr,
}

/// A typed message port a plugin declares.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SyPortDecl {
    pub direction: u32,
    pub name: SyStr,
    /// Type name, e.g. `switchyard.TransferCompleted/1`, or `*` for an input accepting all.
    pub type_name: SyStr,
}

/// Opaque host context passed to every call; only the host reads it.
#[repr(C)]
#[derive(Debug)]
pub struct SyHostCtx {
    _private: [u8; 0],
}

/// Opaque plugin instance; only the plugin reads it.
#[repr(C)]
#[derive(Debug)]
pub struct SyInstance {
    _private: [u8; 0],
}

/// Callback of [`SyHostApi::list_dir`], called once per entry during the call.
pub type SyListFn = unsafe extern "C" fn(user: *mut c_void, name: SyStr, stat: *const SyStat);

/// What the host offers a plugin. Every function takes the `ctx` of the current call and
/// is valid only during that call. Functions return an `SY_OK`/`SY_ERR_*` status.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SyHostApi {
    pub struct_size: u32,
    pub abi_version: u32,
    pub log: unsafe extern "C" fn(ctx: *mut SyHostCtx, level: u32, msg: SyStr),
    /// Report a configuration error at `line`/`col` (1-based, 0 = unknown) of the config text.
    pub config_error: unsafe extern "C" fn(ctx: *mut SyHostCtx, msg: SyStr, line: u32, col: u32),

    pub send_datagram: unsafe extern "C" fn(
        ctx: *mut SyHostCtx,
        socket: u64,
        to: *const SyAddr,
        data: SyBytes,
    ) -> u32,
    /// Send `header` followed by `len` bytes of `file` from `offset` as one datagram.
    /// Returns the number of file bytes sent in `out_sent` (fewer at end of file).
    pub send_datagram_file: unsafe extern "C" fn(
        ctx: *mut SyHostCtx,
        socket: u64,
        to: *const SyAddr,
        header: SyBytes,
        file: u64,
        offset: u64,
        len: u32,
        out_sent: *mut u32,
    ) -> u32,
    /// Bind a new UDP socket on the same local IP as `like_socket`, ephemeral port.
    pub open_udp: unsafe extern "C" fn(
        ctx: *mut SyHostCtx,
        like_socket: u64,
        out_socket: *mut u64,
        out_local: *mut SyAddr,
    ) -> u32,
    pub close_socket: unsafe extern "C" fn(ctx: *mut SyHostCtx, socket: u64) -> u32,

    pub write: unsafe extern "C" fn(ctx: *mut SyHostCtx, conn: u64, data: SyBytes) -> u32,
    /// Ask for an `SY_EV_DRAINED` with `token` once everything queued so far is written.
    pub notify_drained: unsafe extern "C" fn(ctx: *mut SyHostCtx, conn: u64, token: u64) -> u32,
    pub shutdown_write: unsafe extern "C" fn(ctx: *mut SyHostCtx, conn: u64) -> u32,
    pub close: unsafe extern "C" fn(ctx: *mut SyHostCtx, conn: u64) -> u32,
    /// Stop (0) or resume (1) reading from a connection: backpressure.
    pub set_reading: unsafe extern "C" fn(ctx: *mut SyHostCtx, conn: u64, on: u32) -> u32,
    /// Send `len` bytes of `file` from `offset` after what is queued (sendfile). Completion:
    /// `SY_EV_FILE_SENT` with `token`.
    pub send_file: unsafe extern "C" fn(
        ctx: *mut SyHostCtx,
        conn: u64,
        file: u64,
        offset: u64,
        len: u64,
        token: u64,
    ) -> u32,
    /// Receive exactly `len` bytes from `conn` straight into `file` (a temp file from
    /// `create_temp`), at its current end. Bytes already delivered are not included.
    /// Completion: `SY_EV_FILE_RECEIVED` with `token`.
    pub recv_to_file: unsafe extern "C" fn(
        ctx: *mut SyHostCtx,
        conn: u64,
        file: u64,
        len: u64,
        flags: u32,
        token: u64,
    ) -> u32,

    pub set_timer: unsafe extern "C" fn(ctx: *mut SyHostCtx, token: u64, delay_ms: u64) -> u32,
    pub cancel_timer: unsafe extern "C" fn(ctx: *mut SyHostCtx, token: u64) -> u32,
    /// Emit a typed message on output port `port` (index into the plugin's port list).
    pub emit: unsafe extern "C" fn(ctx: *mut SyHostCtx, port: u32, data: SyBytes) -> u32,

    // ---- storage, confined to the handler's root ---------------------------------------
    pub open_read: unsafe extern "C" fn(
        ctx: *mut SyHostCtx,
        path: SyStr,
        out_file: *mut u64,
        out_size: *mut u64,
    ) -> u32,
    pub read_file: unsafe extern "C" fn(
        ctx: *mut SyHostCtx,
        file: u64,
        offset: u64,
        buf: *mut u8,
        len: usize,
        out_read: *mut usize,
    ) -> u32,
    /// Create a hidden temporary file in the directory of `path` (which is checked now).
    pub create_temp:
        unsafe extern "C" fn(ctx: *mut SyHostCtx, path: SyStr, out_file: *mut u64) -> u32,
    /// Append `data` to a temp file.
    pub write_file: unsafe extern "C" fn(ctx: *mut SyHostCtx, file: u64, data: SyBytes) -> u32,
    /// fsync the temp file, move it to `path` (refusing to replace unless
    /// `SY_COMMIT_OVERWRITE`), fsync the directory, close the handle.
    pub commit_file:
        unsafe extern "C" fn(ctx: *mut SyHostCtx, file: u64, path: SyStr, flags: u32) -> u32,
    /// Close a file; a temp file not committed is deleted.
    pub close_file: unsafe extern "C" fn(ctx: *mut SyHostCtx, file: u64) -> u32,
    pub stat: unsafe extern "C" fn(ctx: *mut SyHostCtx, path: SyStr, out: *mut SyStat) -> u32,
    pub list_dir: unsafe extern "C" fn(
        ctx: *mut SyHostCtx,
        path: SyStr,
        each: SyListFn,
        user: *mut c_void,
    ) -> u32,
    pub remove_file: unsafe extern "C" fn(ctx: *mut SyHostCtx, path: SyStr) -> u32,
    pub free_space: unsafe extern "C" fn(ctx: *mut SyHostCtx, out_bytes: *mut u64) -> u32,
    /// Bring `len` bytes of a file opened with `open_read`, from `offset`, into the page
    /// cache off the handler thread (`read_file` is synchronous: on a cold cache it would
    /// stall every session of the handler). Completion: `SY_EV_FILE_PREFETCHED` with
    /// `token`; `read_file` of the range is then served from memory.
    pub prefetch_file: unsafe extern "C" fn(
        ctx: *mut SyHostCtx,
        file: u64,
        offset: u64,
        len: u64,
        token: u64,
    ) -> u32,
    /// Continue the hidden file `path` (name starting with `.`, e.g. a partial upload
    /// committed earlier) in place: `out_file` is a temp-file handle positioned at its
    /// end, `out_size` its size. `write_file` and `recv_to_file` append (a receive's
    /// sha256 covers the file from byte 0); `commit_file` moves it to its final name.
    /// Unlike a temp, `close_file` keeps it with what was appended (`remove_file`
    /// deletes it). `SY_ERR_BUSY` while another handle continues the same file.
    pub open_partial: unsafe extern "C" fn(
        ctx: *mut SyHostCtx,
        path: SyStr,
        out_file: *mut u64,
        out_size: *mut u64,
    ) -> u32,
    /// Describe session `session` (a key the plugin chooses, unique within the
    /// instance), or update its description. Cheap: the host copies the numbers, and
    /// the strings only when they changed.
    pub session_update:
        unsafe extern "C" fn(ctx: *mut SyHostCtx, session: u64, info: *const SySession) -> u32,
    /// Session `session` ended with `result`, one of the outcome words (`ok`, `refused`,
    /// `not_found`, `aborted`, `partial`, `timeout`, `invalid`, `error`, `other`;
    /// anything else counts as `other`): the metrics' bounded `result` label. A session
    /// never described may be ended too (a request refused at once): it is counted.
    pub session_end: unsafe extern "C" fn(ctx: *mut SyHostCtx, session: u64, result: SyStr) -> u32,
    /// Only during `export_state`: the instance's state as bytes, tagged with the
    /// plugin's state version. The host copies it.
    pub hand_over_state:
        unsafe extern "C" fn(ctx: *mut SyHostCtx, version: u32, data: SyBytes) -> u32,
}

/// What a plugin's entry function returns. Static for the library's lifetime.
#[repr(C)]
#[derive(Debug)]
pub struct SyPluginVTable {
    pub struct_size: u32,
    pub abi_version: u32,
    pub name: SyStr,
    pub version: SyStr,
    pub description: SyStr,
    /// `SY_LISTEN_*` bit mask of the listener kinds this plugin serves (0 = none).
    pub listener_kinds: u32,
    /// `SY_INSTANCE_*`.
    pub instance_mode: u32,
    pub ports: *const SyPortDecl,
    pub port_count: u32,
    /// Check a configuration (RON text) without creating anything. Errors are reported
    /// with `config_error`. May be null: every configuration is accepted.
    pub check_config: Option<
        unsafe extern "C" fn(api: *const SyHostApi, ctx: *mut SyHostCtx, config: SyStr) -> u32,
    >,
    /// Create an instance from a configuration (RON text).
    pub create: Option<
        unsafe extern "C" fn(
            api: *const SyHostApi,
            ctx: *mut SyHostCtx,
            config: SyStr,
            out: *mut *mut SyInstance,
        ) -> u32,
    >,
    /// Destroy an instance. Called exactly once per created instance, also after a panic.
    pub destroy: Option<unsafe extern "C" fn(inst: *mut SyInstance)>,
    /// Deliver one event. The plugin answers by calling `api` functions during the call.
    pub on_event: Option<
        unsafe extern "C" fn(
            inst: *mut SyInstance,
            api: *const SyHostApi,
            ctx: *mut SyHostCtx,
            event: *const SyEvent,
        ) -> u32,
    >,
    /// Number of sessions still in flight (used while draining). May be null.
    pub active_sessions: Option<unsafe extern "C" fn(inst: *mut SyInstance) -> u64>,
    /// `SY_STORAGE_*`: whether peers are served files from the handler's root. Added
    /// after the first vtable of ABI version 1: a vtable whose `struct_size` ends before
    /// it ([`SY_VTABLE_SIZE_V1`]) is read as `SY_STORAGE_SERVED`.
    pub storage: u32,
    /// State handover across a reload (Erlang/OTP's `code_change`), added after
    /// `storage`: both null, or both set. `export_state` hands the instance's state out
    /// with `hand_over_state` during the call; its connections move to the successor.
    /// If the successor takes the state, the host then destroys the instance without
    /// another event; if it refuses, the instance gets `SY_EV_CONN_CLOSED`
    /// (`SY_ERR_CLOSED`) for each moved connection, then `SY_EV_REPLACED` and
    /// `SY_EV_DRAIN`. Handing nothing over keeps everything here (the instance retires
    /// as without the hook). May be null.
    /// `now_ms` is the instance's clock, as in its events: state holding deadlines
    /// should hand them over as time left.
    pub export_state: Option<
        unsafe extern "C" fn(
            inst: *mut SyInstance,
            api: *const SyHostApi,
            ctx: *mut SyHostCtx,
            now_ms: u64,
        ) -> u32,
    >,
    /// Take the state a predecessor (the same or an older build) handed over, right
    /// after `create` and before any event. `SY_OK` takes it (migrating an older
    /// `version`); any other status refuses it, and the instance must then be as
    /// `create` left it: it starts fresh. `now_ms` is the new instance's clock (which
    /// starts anew). May be null.
    pub import_state: Option<
        unsafe extern "C" fn(
            inst: *mut SyInstance,
            api: *const SyHostApi,
            ctx: *mut SyHostCtx,
            now_ms: u64,
            version: u32,
            data: SyBytes,
        ) -> u32,
    >,
    /// `SY_CONFIG_*`: the form `check_config` and `create` get the config in. Added
    /// after `import_state`: an older vtable reads as `SY_CONFIG_RON`.
    pub config_format: u32,
}

/// `struct_size` of a vtable built before `storage` was added: the host still loads
/// such plugins, and takes their storage as served.
pub const SY_VTABLE_SIZE_V1: u32 = std::mem::offset_of!(SyPluginVTable, storage) as u32;
/// `struct_size` of a vtable built before the state handover was added: the host still
/// loads such plugins, as plugins that hand no state over.
pub const SY_VTABLE_SIZE_V2: u32 = std::mem::offset_of!(SyPluginVTable, export_state) as u32;
/// `struct_size` of a vtable built before `config_format` was added: its config is RON.
pub const SY_VTABLE_SIZE_V3: u32 = std::mem::offset_of!(SyPluginVTable, config_format) as u32;

// SAFETY: the vtable is immutable static data; its pointers point to static data too.
unsafe impl Sync for SyPluginVTable {}
unsafe impl Send for SyPluginVTable {}
// SAFETY: port declarations are immutable static data.
unsafe impl Sync for SyPortDecl {}
unsafe impl Send for SyPortDecl {}

/// The declaration data symbol, read by the host before any plugin code runs.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SyPluginDecl {
    pub magic: u32,
    pub abi_version: u32,
    pub struct_size: u32,
    /// `SY_FLAG_*`.
    pub flags: u32,
}

/// Type of the entry function. Returns null to refuse this host.
pub type SyEntryFn = unsafe extern "C" fn(host_abi_version: u32) -> *const SyPluginVTable;

impl SyStr {
    pub const EMPTY: SyStr = SyStr {
        ptr: std::ptr::null(),
        len: 0,
    };

    pub const fn from_str(s: &str) -> SyStr {
        SyStr {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// # Safety
    /// `ptr` must point to `len` readable bytes valid for `'a`.
    pub unsafe fn as_bytes<'a>(&self) -> &'a [u8] {
        if self.ptr.is_null() || self.len == 0 {
            &[]
        } else {
            // SAFETY: guaranteed by the caller.
            unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
        }
    }

    /// Lossy UTF-8 view (a C plugin may hand over anything).
    ///
    /// # Safety
    /// As [`SyStr::as_bytes`].
    pub unsafe fn to_string_lossy<'a>(&self) -> std::borrow::Cow<'a, str> {
        // SAFETY: guaranteed by the caller.
        String::from_utf8_lossy(unsafe { self.as_bytes() })
    }
}

impl SyBytes {
    pub const EMPTY: SyBytes = SyBytes {
        ptr: std::ptr::null(),
        len: 0,
    };

    pub fn from_slice(s: &[u8]) -> SyBytes {
        SyBytes {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// # Safety
    /// `ptr` must point to `len` readable bytes valid for `'a`.
    pub unsafe fn as_slice<'a>(&self) -> &'a [u8] {
        if self.ptr.is_null() || self.len == 0 {
            &[]
        } else {
            // SAFETY: guaranteed by the caller.
            unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
        }
    }
}

// SAFETY: a SyStr in a static vtable points to static string data.
unsafe impl Sync for SyStr {}
unsafe impl Send for SyStr {}

impl SyEvent {
    /// An event with every field zeroed but the size, tag and clock.
    pub fn new(tag: u32, now_ms: u64) -> SyEvent {
        SyEvent {
            struct_size: std::mem::size_of::<SyEvent>() as u32,
            tag,
            now_ms,
            socket: 0,
            conn: 0,
            token: 0,
            amount: 0,
            status: SY_OK,
            port: 0,
            peer: SyAddr::default(),
            local: SyAddr::default(),
            listener: SyStr::EMPTY,
            type_name: SyStr::EMPTY,
            data: SyBytes::EMPTY,
            digest: [0; 32],
            wall_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            source: SyStr::EMPTY,
        }
    }
}

impl From<std::net::SocketAddr> for SyAddr {
    fn from(addr: std::net::SocketAddr) -> SyAddr {
        match addr {
            std::net::SocketAddr::V4(a) => {
                let mut ip = [0u8; 16];
                ip[..4].copy_from_slice(&a.ip().octets());
                SyAddr {
                    family: 4,
                    port: a.port(),
                    flowinfo: 0,
                    scope_id: 0,
                    ip,
                }
            }
            std::net::SocketAddr::V6(a) => SyAddr {
                family: 6,
                port: a.port(),
                flowinfo: a.flowinfo(),
                scope_id: a.scope_id(),
                ip: a.ip().octets(),
            },
        }
    }
}

impl SyAddr {
    /// The standard address, or `None` for an unknown family.
    pub fn to_socket_addr(&self) -> Option<std::net::SocketAddr> {
        use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
        match self.family {
            4 => {
                let ip = Ipv4Addr::new(self.ip[0], self.ip[1], self.ip[2], self.ip[3]);
                Some(SocketAddr::V4(SocketAddrV4::new(ip, self.port)))
            }
            6 => Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(self.ip),
                self.port,
                self.flowinfo,
                self.scope_id,
            ))),
            _ => None,
        }
    }
}

/// A short human name for a status code, for logs and error messages.
pub fn status_name(status: u32) -> &'static str {
    match status {
        SY_OK => "ok",
        SY_ERR_PANICKED => "plugin panicked",
        SY_ERR_INVALID => "invalid argument",
        SY_ERR_NOT_FOUND => "not found",
        SY_ERR_ACCESS => "access denied",
        SY_ERR_EXISTS => "already exists",
        SY_ERR_NO_SPACE => "no space left",
        SY_ERR_IO => "I/O error",
        SY_ERR_CLOSED => "closed",
        SY_ERR_LIMIT => "limit reached",
        SY_ERR_CONFIG => "configuration refused",
        SY_ERR_UNSUPPORTED => "unsupported",
        SY_ERR_IS_DIR => "is a directory",
        SY_ERR_BUSY => "in use",
        SY_ERR_PANICKED_CONN => "plugin panicked on a connection",
        _ => "unknown status",
    }
}

// Layout pins, the same numbers as the `_Static_assert`s in `include/switchyard.h`.
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(std::mem::size_of::<SyStr>() == 16);
    assert!(std::mem::size_of::<SyAddr>() == 28);
    assert!(std::mem::size_of::<SyStat>() == 24);
    assert!(std::mem::size_of::<SyEvent>() == 216);
    assert!(std::mem::size_of::<SyPortDecl>() == 40);
    assert!(std::mem::size_of::<SyPluginDecl>() == 16);
    // Grows only at its end; a plugin's table as short as the first one still loads.
    assert!(std::mem::size_of::<SyPluginVTable>() == 152);
    assert!(SY_VTABLE_SIZE_V1 == 120);
    assert!(SY_VTABLE_SIZE_V2 == 128);
    assert!(SY_VTABLE_SIZE_V3 == 144);
    assert!(std::mem::size_of::<SySession>() == 96);
    // Grows only at its end (new calls), so older plugins keep reading a valid prefix.
    assert!(std::mem::size_of::<SyHostApi>() == 256);
};
