//! [`HostCalls`], what a host offers a plugin, and the slot that lends one for a call.
//!
//! Below the table (`table.rs`) and [`with_ctx`](super::with_ctx), which both use it.

use std::net::SocketAddr;

use crate::abi::{SY_ERR_UNSUPPORTED, SyHostCtx, SyStat, SyStorageDone};
use crate::session::Session;
use crate::store_op::StoreOp;

/// What a plugin may ask of the host: one method per [`SyHostApi`] call, with its
/// arguments decoded and checked. A method returns the call's `SY_OK`/`SY_ERR_*`
/// status, or `Ok` with the values the table writes to the plugin's out-pointers.
///
/// Every method but `log` has a default that refuses with `SY_ERR_UNSUPPORTED` (through
/// [`HostCalls::unsupported`]), so a context implements only what it offers (a config
/// check offers logs and errors).
#[allow(unused_variables)]
pub trait HostCalls {
    /// A log line; the table turns non-UTF-8 into replacement characters.
    fn log(&mut self, level: u32, msg: &str);
    /// A configuration error at `line`/`col` (1-based, 0 = unknown).
    fn config_error(&mut self, msg: &str, line: u32, col: u32) {}
    fn send_datagram(&mut self, socket: u64, to: SocketAddr, data: &[u8]) -> u32 {
        self.unsupported("send_datagram")
    }
    /// `header` then `len` bytes of `file` from `offset` as one datagram; `Ok` is the
    /// number of file bytes sent (fewer at the end of the file).
    fn send_datagram_file(
        &mut self,
        socket: u64,
        to: SocketAddr,
        header: &[u8],
        file: u64,
        offset: u64,
        len: u32,
    ) -> Result<u32, u32> {
        Err(self.unsupported("send_datagram_file"))
    }
    /// A new UDP socket like `like_socket`: its id and local address.
    fn open_udp(&mut self, like_socket: u64) -> Result<(u64, SocketAddr), u32> {
        Err(self.unsupported("open_udp"))
    }
    fn close_socket(&mut self, socket: u64) -> u32 {
        self.unsupported("close_socket")
    }
    /// As [`HostCalls::open_udp`], on a free port of `ports` (never empty, never
    /// port 0: the table checked); `SY_ERR_BUSY` when every one is taken.
    fn open_udp_in(
        &mut self,
        like_socket: u64,
        ports: std::ops::RangeInclusive<u16>,
    ) -> Result<(u64, SocketAddr), u32> {
        Err(self.unsupported("open_udp_in"))
    }
    fn write(&mut self, conn: u64, data: &[u8]) -> u32 {
        self.unsupported("write")
    }
    fn notify_drained(&mut self, conn: u64, token: u64) -> u32 {
        self.unsupported("notify_drained")
    }
    fn shutdown_write(&mut self, conn: u64) -> u32 {
        self.unsupported("shutdown_write")
    }
    fn close(&mut self, conn: u64) -> u32 {
        self.unsupported("close")
    }
    fn set_reading(&mut self, conn: u64, on: bool) -> u32 {
        self.unsupported("set_reading")
    }
    fn send_file(&mut self, conn: u64, file: u64, offset: u64, len: u64, token: u64) -> u32 {
        self.unsupported("send_file")
    }
    /// `sha256` is the `SY_RECV_SHA256` flag.
    fn recv_to_file(&mut self, conn: u64, file: u64, len: u64, sha256: bool, token: u64) -> u32 {
        self.unsupported("recv_to_file")
    }
    fn set_timer(&mut self, token: u64, delay_ms: u64) -> u32 {
        self.unsupported("set_timer")
    }
    fn cancel_timer(&mut self, token: u64) -> u32 {
        self.unsupported("cancel_timer")
    }
    fn emit(&mut self, port: u32, data: &[u8]) -> u32 {
        self.unsupported("emit")
    }
    /// A file id and its size.
    fn open_read(&mut self, path: &str) -> Result<(u64, u64), u32> {
        Err(self.unsupported("open_read"))
    }
    /// Bytes read into `buf`.
    fn read_file(&mut self, file: u64, offset: u64, buf: &mut [u8]) -> Result<usize, u32> {
        Err(self.unsupported("read_file"))
    }
    fn create_temp(&mut self, path: &str) -> Result<u64, u32> {
        Err(self.unsupported("create_temp"))
    }
    fn write_file(&mut self, file: u64, data: &[u8]) -> u32 {
        self.unsupported("write_file")
    }
    /// `overwrite` is the `SY_COMMIT_OVERWRITE` flag.
    fn commit_file(&mut self, file: u64, path: &str, overwrite: bool) -> u32 {
        self.unsupported("commit_file")
    }
    fn close_file(&mut self, file: u64) -> u32 {
        self.unsupported("close_file")
    }
    fn stat(&mut self, path: &str) -> Result<SyStat, u32> {
        Err(self.unsupported("stat"))
    }
    /// The entries of a directory. The plugin's callback is called with them only
    /// after this returns, so a callback that calls the host never aliases `self`.
    fn list_dir(&mut self, path: &str) -> Result<Vec<(String, SyStat)>, u32> {
        Err(self.unsupported("list_dir"))
    }
    fn remove_file(&mut self, path: &str) -> u32 {
        self.unsupported("remove_file")
    }
    fn free_space(&mut self) -> Result<u64, u32> {
        Err(self.unsupported("free_space"))
    }
    fn prefetch_file(&mut self, file: u64, offset: u64, len: u64, token: u64) -> u32 {
        self.unsupported("prefetch_file")
    }
    /// A temp-file id positioned at the end of the partial, and its size.
    fn open_partial(&mut self, path: &str) -> Result<(u64, u64), u32> {
        Err(self.unsupported("open_partial"))
    }
    /// Describe (or update) session `session`; strings checked UTF-8 by the table.
    fn session_update(&mut self, session: u64, info: &Session<'_>) -> u32 {
        self.unsupported("session_update")
    }
    /// Session `session` ended with `result` (an outcome word; the host bounds it).
    fn session_end(&mut self, session: u64, result: &str) -> u32 {
        self.unsupported("session_end")
    }
    /// The instance's state, during `export_state` only.
    fn hand_over_state(&mut self, version: u32, data: &[u8]) -> u32 {
        self.unsupported("hand_over_state")
    }
    /// Take one unit of the handler-wide counter `name` below `limit`: the count after.
    fn counter_take(&mut self, name: &str, limit: u64) -> Result<u64, u32> {
        Err(self.unsupported("counter_take"))
    }
    /// Give back one unit of `name` this instance holds.
    fn counter_give(&mut self, name: &str) -> u32 {
        self.unsupported("counter_give")
    }
    /// The sha256 of the whole of open file `file`, if the host knows it
    /// (`SY_ERR_NOT_FOUND` if not).
    fn file_digest(&mut self, file: u64) -> Result<[u8; 32], u32> {
        Err(self.unsupported("file_digest"))
    }
    /// Start storage operation `op` for `token`: `Ok(Some(done))` when it is done now
    /// (a dir storage: see [`answer_at_once`](super::answer_at_once), whose listing the
    /// context keeps for [`HostCalls::storage_listing`]), `Ok(None)` when its
    /// `SY_EV_STORAGE_DONE` follows, `Err` when it failed now.
    fn storage_begin(&mut self, op: StoreOp<'_>, token: u64) -> Result<Option<SyStorageDone>, u32> {
        Err(self.unsupported("storage_begin"))
    }
    /// The entries of listing `token`, during the call in which it finished.
    fn storage_listing(&mut self, token: u64) -> Result<Vec<(String, SyStat)>, u32> {
        Err(self.unsupported("storage_listing"))
    }
    /// Publish `data` on bus `subject` (checked: a plain dotted subject), typed
    /// `type_name` (empty: untyped): `SY_OK` queued, `SY_ERR_BUSY` dropped.
    fn bus_publish(&mut self, subject: &str, type_name: &str, data: &[u8]) -> u32 {
        self.unsupported("bus_publish")
    }
    /// Subscribe to bus `subject` (checked) as `token`; `own`: this host's messages
    /// too. `SY_PENDING`: `SY_EV_BUS_DONE` follows.
    fn bus_subscribe(&mut self, subject: &str, own: bool, token: u64) -> u32 {
        self.unsupported("bus_subscribe")
    }
    /// End subscription `token`.
    fn bus_unsubscribe(&mut self, token: u64) -> u32 {
        self.unsupported("bus_unsubscribe")
    }
    /// Start key-value operation `op` (checked) as `token`: `SY_PENDING`, then
    /// `SY_EV_BUS_KV_DONE`.
    fn bus_kv_begin(&mut self, op: crate::KvOp<'_>, token: u64) -> u32 {
        self.unsupported("bus_kv_begin")
    }
    /// This handler's name on the bus, `host/handler`.
    fn bus_identity(&mut self) -> Result<String, u32> {
        Err(self.unsupported("bus_identity"))
    }
    /// Read topology stream `stream` from sequence `start` as `token`: `SY_PENDING`,
    /// then `SY_EV_BUS_DONE` and `SY_EV_BUS_STREAM_MESSAGE`s.
    fn bus_stream_read(&mut self, stream: &str, start: u64, token: u64) -> u32 {
        self.unsupported("bus_stream_read")
    }
    /// The plugin made call `call`, which this context does not offer: every default
    /// method answers through here. A context that must know (the dry `create` run at
    /// `validate`, whose refusal only counts when the plugin asked for nothing it was
    /// refused) overrides it.
    fn unsupported(&mut self, call: &'static str) -> u32 {
        let _ = call;
        SY_ERR_UNSUPPORTED
    }
    /// The plugin made call `call` with arguments that cannot be decoded (a null pointer
    /// with a length, a bad address, a non-UTF-8 path); it got `SY_ERR_INVALID`. A
    /// context that logs should say so: it is a bug in the plugin.
    fn malformed(&mut self, call: &'static str) {}
}

/// What the `ctx` of every call through [`HOST_API`] points at: the context lent for
/// the call. A fat pointer does not fit a C `void *`, so the plugin gets a thin pointer
/// to this slot instead.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lent<'a>(pub(crate) *mut (dyn HostCalls + 'a));

impl Lent<'_> {
    /// The `ctx` pointer for this slot.
    pub(crate) fn as_ctx(&mut self) -> *mut SyHostCtx {
        (self as *mut Self).cast()
    }
}
