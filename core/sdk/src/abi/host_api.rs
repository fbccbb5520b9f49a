//! [`SyHostApi`]: what the host offers a plugin, one `extern "C"` entry per call.

use std::ffi::c_void;

use super::data::*;

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
    /// `not_found`, `aborted`, `partial`, `timeout`, `invalid`, `error`, `other`,
    /// `probe`; anything else counts as `other`): the metrics' bounded `result` label. A session
    /// never described may be ended too (a request refused at once): it is counted.
    pub session_end: unsafe extern "C" fn(ctx: *mut SyHostCtx, session: u64, result: SyStr) -> u32,
    /// Only during `export_state`: the instance's state as bytes, tagged with the
    /// plugin's state version. The host copies it.
    pub hand_over_state:
        unsafe extern "C" fn(ctx: *mut SyHostCtx, version: u32, data: SyBytes) -> u32,
    /// A counter shared by every worker of the handler, across reloads, named by the
    /// plugin: take one unit of `name` if fewer than `limit` are taken (`SY_ERR_LIMIT`
    /// otherwise, nothing taken); `out_value` is the count after the call. What an
    /// instance still holds is given back when it is destroyed.
    pub counter_take: unsafe extern "C" fn(
        ctx: *mut SyHostCtx,
        name: SyStr,
        limit: u64,
        out_value: *mut u64,
    ) -> u32,
    /// Give back one unit of `name` this instance took (`SY_ERR_INVALID` if none).
    pub counter_give: unsafe extern "C" fn(ctx: *mut SyHostCtx, name: SyStr) -> u32,
    /// The sha256 of the whole of `file` (from `open_read`) into the 32 bytes at
    /// `out_sha256`, as the host knows it for that exact version of the file (device,
    /// inode, size, modification and change times, taken at open): cached, else read
    /// from the digest side file (`crate::sums`) if that still matches.
    /// `SY_ERR_NOT_FOUND` when unknown; `SY_ERR_INVALID` for a temp or an unknown id.
    pub file_digest:
        unsafe extern "C" fn(ctx: *mut SyHostCtx, file: u64, out_sha256: *mut u8) -> u32,
    /// As `open_udp`, on a port within `port_lo..=port_hi` (tried from a random one,
    /// wrapping). `SY_ERR_BUSY` when every port of the range is taken;
    /// `SY_ERR_INVALID` for an empty range or port 0.
    pub open_udp_in: unsafe extern "C" fn(
        ctx: *mut SyHostCtx,
        like_socket: u64,
        port_lo: u16,
        port_hi: u16,
        out_socket: *mut u64,
        out_local: *mut SyAddr,
    ) -> u32,
    /// Start storage operation `op`, answered by `token`: `SY_OK` done now (`out` says
    /// what it gave), `SY_PENDING` done later by `SY_EV_STORAGE_DONE`, else failed now.
    pub storage_begin: unsafe extern "C" fn(
        ctx: *mut SyHostCtx,
        op: *const SyStorageOp,
        token: u64,
        out: *mut SyStorageDone,
    ) -> u32,
    /// The entries of `SY_STORE_LIST` `token`, during the call in which it finished.
    pub storage_listing: unsafe extern "C" fn(
        ctx: *mut SyHostCtx,
        token: u64,
        each: SyListFn,
        user: *mut c_void,
    ) -> u32,
    /// Publish `data` on bus `subject`, typed `type_name`: `SY_OK` queued (at most
    /// once), `SY_ERR_BUSY` dropped (the queue towards NATS is full).
    pub bus_publish: unsafe extern "C" fn(
        ctx: *mut SyHostCtx,
        subject: SyStr,
        type_name: SyStr,
        data: SyBytes,
    ) -> u32,
    /// Subscribe to `subject` as `token` (`SY_BUS_OWN`: own messages too): `SY_PENDING`,
    /// then `SY_EV_BUS_DONE`, then `SY_EV_BUS_MESSAGE`s.
    pub bus_subscribe:
        unsafe extern "C" fn(ctx: *mut SyHostCtx, subject: SyStr, flags: u32, token: u64) -> u32,
    /// End subscription `token`: no message of it after the call.
    pub bus_unsubscribe: unsafe extern "C" fn(ctx: *mut SyHostCtx, token: u64) -> u32,
    /// Start key-value operation `op` as `token`: `SY_PENDING`, then
    /// `SY_EV_BUS_KV_DONE`.
    pub bus_kv_begin:
        unsafe extern "C" fn(ctx: *mut SyHostCtx, op: *const SyBusKvOp, token: u64) -> u32,
    /// This handler's name on the bus, `host/handler`, copied into `buf` (`cap`
    /// bytes), its length in `*len`: `SY_ERR_LIMIT` when `cap` is too small.
    pub bus_identity:
        unsafe extern "C" fn(ctx: *mut SyHostCtx, buf: *mut u8, cap: usize, len: *mut usize) -> u32,
    /// Read topology stream `stream` from sequence `start` as `token`: `SY_PENDING`,
    /// then `SY_EV_BUS_DONE`, then `SY_EV_BUS_STREAM_MESSAGE`s in stream order.
    pub bus_stream_read:
        unsafe extern "C" fn(ctx: *mut SyHostCtx, stream: SyStr, start: u64, token: u64) -> u32,
}
