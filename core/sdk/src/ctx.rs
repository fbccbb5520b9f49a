//! [`Ctx`]: the host API, made safe, for the duration of one call into the plugin.

use std::ffi::c_void;
use std::fmt::Display;
use std::net::SocketAddr;
use std::time::Duration;

use crate::abi::{self, SyBytes, SyHostApi, SyHostCtx, SyStr};
use crate::error::HostError;
use crate::event::{ConnId, FileId, SocketId};
use crate::messages::Message;
use crate::port::Port;
use crate::stat::Stat;

/// The `SyListFn` that collects a listing into the `Vec<(String, Stat)>` at `user`.
pub(crate) unsafe extern "C" fn collect_entry(
    user: *mut c_void,
    name: SyStr,
    stat: *const abi::SyStat,
) {
    // SAFETY: `user` is the caller's Vec; `name`/`stat` are lent for the call.
    let out = unsafe { &mut *(user as *mut Vec<(String, Stat)>) };
    let name = unsafe { name.to_string_lossy() }.into_owned();
    if let Some(stat) = unsafe { stat.as_ref() } {
        out.push((name, Stat::from(*stat)));
    }
}

/// Log levels, as slog orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// An operator must act.
    Error = abi::SY_LOG_ERROR as isize,
    Warn = abi::SY_LOG_WARN as isize,
    Info = abi::SY_LOG_INFO as isize,
    Debug = abi::SY_LOG_DEBUG as isize,
    Trace = abi::SY_LOG_TRACE as isize,
}

/// The host, during one call. Not `Send`, not storable: it borrows the host's context.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub(crate) api: &'a SyHostApi,
    pub(crate) raw: *mut SyHostCtx,
    now_ms: u64,
    wall_ms: u64,
    ports: &'static [Port],
}

/// `text` as the ABI's borrowed string, for one call.
pub(crate) fn s(text: &str) -> SyStr {
    SyStr {
        ptr: text.as_ptr(),
        len: text.len(),
    }
}

impl<'a> Ctx<'a> {
    /// Wrap the raw host pointers of one call.
    ///
    /// # Safety
    /// `api` and `raw` must be the pointers the host passed to this call.
    pub unsafe fn from_raw(
        api: &'a SyHostApi,
        raw: *mut SyHostCtx,
        now_ms: u64,
        wall_ms: u64,
        ports: &'static [Port],
    ) -> Ctx<'a> {
        Ctx {
            api,
            raw,
            now_ms,
            wall_ms,
            ports,
        }
    }

    /// Wall-clock milliseconds since the Unix epoch, as of this event: for timestamps
    /// in records. Timeouts use [`Ctx::now_ms`], which never jumps.
    pub fn now_unix_ms(&self) -> u64 {
        self.wall_ms
    }

    /// Milliseconds on the host's monotonic clock, as of this event.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Log a line into the host's logger, tagged with this handler's name.
    pub fn log(&mut self, level: Level, msg: impl Display) {
        let text = msg.to_string();
        // SAFETY: `raw` is this call's context; `text` outlives the call.
        unsafe { (self.api.log)(self.raw, level as u32, s(&text)) }
    }
    pub fn error(&mut self, msg: impl Display) {
        self.log(Level::Error, msg)
    }
    pub fn warn(&mut self, msg: impl Display) {
        self.log(Level::Warn, msg)
    }
    pub fn info(&mut self, msg: impl Display) {
        self.log(Level::Info, msg)
    }
    pub fn debug(&mut self, msg: impl Display) {
        self.log(Level::Debug, msg)
    }

    /// Report a configuration error at a 1-based line/column of the config text.
    pub fn config_error(&mut self, msg: impl Display, line: u32, col: u32) {
        let text = msg.to_string();
        // SAFETY: as in `log`.
        unsafe { (self.api.config_error)(self.raw, s(&text), line, col) }
    }

    // ---- datagrams ----------------------------------------------------------------

    /// Send one datagram from `socket` to `to`.
    pub fn send_datagram(
        &mut self,
        socket: SocketId,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), HostError> {
        let to = abi::SyAddr::from(to);
        // SAFETY: every pointer is valid for the call.
        HostError::check(unsafe {
            (self.api.send_datagram)(self.raw, socket.0, &to, SyBytes::from_slice(data))
        })
    }

    /// Send `header` then `len` bytes of `file` at `offset`, as one datagram, without
    /// copying the file through the plugin. Returns `len` when sent. A datagram is sent
    /// only whole: when the file holds fewer than `len` bytes there (it ends, or it
    /// shrank since it was opened), nothing is sent and the count it holds is returned.
    pub fn send_datagram_file(
        &mut self,
        socket: SocketId,
        to: SocketAddr,
        header: &[u8],
        file: FileId,
        offset: u64,
        len: u32,
    ) -> Result<u32, HostError> {
        let to = abi::SyAddr::from(to);
        let mut sent = 0u32;
        // SAFETY: every pointer is valid for the call.
        HostError::check(unsafe {
            (self.api.send_datagram_file)(
                self.raw,
                socket.0,
                &to,
                SyBytes::from_slice(header),
                file.0,
                offset,
                len,
                &mut sent,
            )
        })?;
        Ok(sent)
    }

    /// Bind a new UDP socket on the same local IP as `like`, on an ephemeral port
    /// (TFTP's per-transfer TID). Its datagrams arrive as [`crate::Event::Datagram`].
    pub fn open_udp(&mut self, like: SocketId) -> Result<(SocketId, SocketAddr), HostError> {
        let mut id = 0u64;
        let mut local = abi::SyAddr::default();
        // SAFETY: out-pointers are valid locals.
        HostError::check(unsafe { (self.api.open_udp)(self.raw, like.0, &mut id, &mut local) })?;
        let local = local.to_socket_addr().ok_or(HostError::Invalid)?;
        Ok((SocketId(id), local))
    }

    /// As [`Ctx::open_udp`], on a port within `ports` (e.g. `50000..=50100`, for a
    /// firewall that lets only those through): the host tries them from a random one,
    /// wrapping, so the workers of a handler do not contend for the same ports.
    /// [`HostError::Busy`] when every port of the range is taken; an empty range or
    /// port 0 is [`HostError::Invalid`].
    pub fn open_udp_in(
        &mut self,
        like: SocketId,
        ports: std::ops::RangeInclusive<u16>,
    ) -> Result<(SocketId, SocketAddr), HostError> {
        let (lo, hi) = (*ports.start(), *ports.end());
        let mut id = 0u64;
        let mut local = abi::SyAddr::default();
        // SAFETY: out-pointers are valid locals.
        HostError::check(unsafe {
            (self.api.open_udp_in)(self.raw, like.0, lo, hi, &mut id, &mut local)
        })?;
        let local = local.to_socket_addr().ok_or(HostError::Invalid)?;
        Ok((SocketId(id), local))
    }

    /// Close a socket opened with [`Ctx::open_udp`] or [`Ctx::open_udp_in`].
    pub fn close_socket(&mut self, socket: SocketId) -> Result<(), HostError> {
        // SAFETY: plain values.
        HostError::check(unsafe { (self.api.close_socket)(self.raw, socket.0) })
    }

    // ---- connections --------------------------------------------------------------

    /// Queue bytes for a connection (the host buffers; see [`Ctx::notify_drained`]).
    pub fn write(&mut self, conn: ConnId, data: &[u8]) -> Result<(), HostError> {
        // SAFETY: `data` is valid for the call; the host copies what it cannot send now.
        HostError::check(unsafe { (self.api.write)(self.raw, conn.0, SyBytes::from_slice(data)) })
    }

    /// Get [`crate::Event::Drained`] with `token` once all queued bytes are written.
    pub fn notify_drained(&mut self, conn: ConnId, token: u64) -> Result<(), HostError> {
        // SAFETY: plain values.
        HostError::check(unsafe { (self.api.notify_drained)(self.raw, conn.0, token) })
    }

    /// Shut down our write side after the queued bytes are sent.
    pub fn shutdown_write(&mut self, conn: ConnId) -> Result<(), HostError> {
        // SAFETY: plain values.
        HostError::check(unsafe { (self.api.shutdown_write)(self.raw, conn.0) })
    }

    /// Close a connection after the queued bytes are sent.
    pub fn close(&mut self, conn: ConnId) -> Result<(), HostError> {
        // SAFETY: plain values.
        HostError::check(unsafe { (self.api.close)(self.raw, conn.0) })
    }

    /// Pause (`false`) or resume (`true`) reading from a connection.
    pub fn set_reading(&mut self, conn: ConnId, on: bool) -> Result<(), HostError> {
        // SAFETY: plain values.
        HostError::check(unsafe { (self.api.set_reading)(self.raw, conn.0, on as u32) })
    }

    /// Send a file range after the queued bytes, with `sendfile(2)`.
    pub fn send_file(
        &mut self,
        conn: ConnId,
        file: FileId,
        offset: u64,
        len: u64,
        token: u64,
    ) -> Result<(), HostError> {
        // SAFETY: plain values.
        HostError::check(unsafe {
            (self.api.send_file)(self.raw, conn.0, file.0, offset, len, token)
        })
    }

    /// Receive exactly `len` more bytes from `conn` straight into a temp `file`,
    /// optionally hashing the whole file with sha256. Completion is
    /// [`crate::Event::FileReceived`]; bytes that follow the `len`, and the peer's EOF,
    /// arrive after it, and the file does not change after it. The host may reserve
    /// disk space ahead, so a disk that is too full can fail the call itself with
    /// [`HostError::NoSpace`].
    pub fn recv_to_file(
        &mut self,
        conn: ConnId,
        file: FileId,
        len: u64,
        sha256: bool,
        token: u64,
    ) -> Result<(), HostError> {
        let flags = if sha256 { abi::SY_RECV_SHA256 } else { 0 };
        // SAFETY: plain values.
        HostError::check(unsafe {
            (self.api.recv_to_file)(self.raw, conn.0, file.0, len, flags, token)
        })
    }

    // ---- timers and messages --------------------------------------------------------

    /// Arm (or re-arm) timer `token` to fire after `delay`.
    pub fn set_timer(&mut self, token: u64, delay: Duration) -> Result<(), HostError> {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        // SAFETY: plain values.
        HostError::check(unsafe { (self.api.set_timer)(self.raw, token, ms) })
    }

    /// Cancel timer `token` (no error if it is not armed).
    pub fn cancel_timer(&mut self, token: u64) -> Result<(), HostError> {
        // SAFETY: plain values.
        HostError::check(unsafe { (self.api.cancel_timer)(self.raw, token) })
    }

    /// Emit raw bytes on the output port named `port`.
    pub fn emit_raw(&mut self, port: &str, data: &[u8]) -> Result<(), HostError> {
        let index = self
            .ports
            .iter()
            .position(|p| p.direction == abi::SY_PORT_OUT && p.name_str() == port)
            .ok_or(HostError::Invalid)?;
        // SAFETY: `data` is valid for the call.
        HostError::check(unsafe {
            (self.api.emit)(self.raw, index as u32, SyBytes::from_slice(data))
        })
    }

    /// Emit a typed message (JSON-encoded, readable from C too) on output port `port`.
    pub fn emit<M: Message>(&mut self, port: &str, msg: &M) -> Result<(), HostError> {
        let data = serde_json::to_vec(msg).map_err(|_| HostError::Invalid)?;
        self.emit_raw(port, &data)
    }
}
