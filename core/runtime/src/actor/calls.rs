//! [`Calls`]: the plugin's actions, executed by the actor that owns its resources.
//!
//! These run *inside* a call into the plugin, so they never call the plugin back:
//! anything that produces an event (a completed receive, a fired timer, a flush) is
//! scheduled on the actor's context and delivered after the current call returns.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::{AsyncContext, Context};
use sha2::Digest;
use slog::{debug, error, info, trace, warn};
use switchyard_sdk::abi::{self, SyStat};
use switchyard_sdk::host::HostCalls;
use switchyard_sdk::messages::{Message, TransferCompleted};

use super::InstanceActor;
use super::event::HostEvent;
use super::io::io_status;
use super::messages::{Flush, ReplayHeld, TypedMessage};
use super::resources::{OpenFile, Out, RecvToFile};
use super::udp_out;
use super::writeback::Writeback;
use crate::storage::StorageError;
use switchyard_direct_io::DirectSink;

/// Most timers one instance may have armed.
const MAX_TIMERS: usize = 65_536;
/// Most UDP sockets one instance may open.
const MAX_SOCKETS: usize = 4_096;
/// Most files one instance may have open.
const MAX_FILES: usize = 1_024;
/// How long a closed connection may take to send what was queued before it.
const CLOSE_LINGER: Duration = Duration::from_secs(5);
/// Largest datagram `send_datagram_file` builds (UDP's maximum payload).
const MAX_DATAGRAM_OUT: usize = 65_535;
/// Largest typed message.
const MAX_MESSAGE: usize = 1024 * 1024;
/// Longest timer: a year (longer is a plugin bug).
const MAX_TIMER_MS: u64 = 365 * 24 * 3600 * 1000;

/// A sha256 state over everything already in `file`: a receive's digest covers the
/// whole file (the plain path; a direct receive hashes on its own thread).
fn hash_whole(file: &std::fs::File) -> io::Result<sha2::Sha256> {
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut off = 0u64;
    loop {
        match file.read_at(&mut buf, off) {
            Ok(0) => return Ok(h),
            Ok(n) => {
                h.update(&buf[..n]);
                off += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The actor, lent to a plugin for one call.
pub struct Calls<'a> {
    pub actor: &'a mut InstanceActor,
    pub ctx: &'a mut Context<InstanceActor>,
}

impl Calls<'_> {
    /// A temp a direct receive writes into must not change under its writer, nor
    /// after the plugin commits it. So before the plugin reads, writes, commits or
    /// receives into such a temp, a receive still running into it is ended (its
    /// `FILE_RECEIVED` follows, with `CLOSED`) and the call waits for the writer. The
    /// wait blocks this thread, but briefly: the writer's queue is a few MiB. It
    /// happens only when a plugin touches a temp mid-receive (e.g. keeping a partial
    /// on a timeout, or after the connection was dropped).
    fn settle_direct(&mut self, file: u64) {
        let Some(done) = self.actor.res.direct_writers.remove(&file) else {
            return;
        };
        if done.is_done() {
            return;
        }
        let receiving = self
            .actor
            .res
            .conns
            .iter()
            .find(|(_, c)| c.recv.as_ref().is_some_and(|r| r.file == file))
            .map(|(id, _)| *id);
        if let Some(id) = receiving {
            self.actor
                .finish_recv(id, Err(abi::SY_ERR_CLOSED), self.ctx);
        }
        done.wait();
    }

    fn storage_err(&self, what: &str, path: &str, e: &StorageError) -> u32 {
        let status = e.status();
        self.actor
            .shared
            .metrics
            .error(if status == abi::SY_ERR_IO {
                "storage_io"
            } else {
                "storage_refused"
            });
        if status == abi::SY_ERR_IO {
            warn!(self.actor.shared.log, "storage error"; "op" => what, "path" => path, "error" => %e);
        } else {
            debug!(self.actor.shared.log, "storage refused"; "op" => what, "path" => path, "error" => %e);
        }
        status
    }

    fn new_file(&mut self, file: OpenFile) -> Result<u64, u32> {
        if self.actor.res.files.len() >= MAX_FILES {
            return Err(abi::SY_ERR_LIMIT);
        }
        let id = self.actor.shared.next_id();
        self.actor.res.files.insert(id, file);
        Ok(id)
    }

    fn queue(&mut self, conn: u64, item: Out) -> u32 {
        let Some(c) = self.actor.res.conns.get_mut(&conn) else {
            return abi::SY_ERR_INVALID;
        };
        if c.write_closed {
            return abi::SY_ERR_CLOSED;
        }
        if matches!(item, Out::Shutdown | Out::Close) {
            c.write_closed = true;
        }
        c.out.push_back(item);
        self.ctx.notify(Flush(conn));
        abi::SY_OK
    }
}

impl HostCalls for Calls<'_> {
    fn log(&mut self, level: u32, msg: &str) {
        let log = &self.actor.shared.log;
        let line = crate::logfmt::parse(msg);
        let fields = crate::logfmt::Fields(&line.fields);
        let msg = line.msg;
        match level {
            abi::SY_LOG_ERROR => error!(log, "{}", msg; fields),
            abi::SY_LOG_WARN => warn!(log, "{}", msg; fields),
            abi::SY_LOG_INFO => info!(log, "{}", msg; fields),
            abi::SY_LOG_DEBUG => debug!(log, "{}", msg; fields),
            _ => trace!(log, "{}", msg; fields),
        }
    }

    fn malformed(&mut self, call: &'static str) {
        self.actor.shared.metrics.error("malformed_call");
        warn!(self.actor.shared.log, "plugin call refused: malformed arguments"; "call" => call);
    }

    fn config_error(&mut self, msg: &str, line: u32, col: u32) {
        error!(self.actor.shared.log, "plugin configuration error"; "message" => msg, "line" => line, "col" => col);
    }

    fn send_datagram(&mut self, socket: u64, to: SocketAddr, data: &[u8]) -> u32 {
        let Some(s) = self.actor.res.sockets.get_mut(&socket) else {
            return abi::SY_ERR_INVALID;
        };
        udp_out::send(s, &self.actor.shared.metrics, to, data, self.ctx)
    }

    fn send_datagram_file(
        &mut self,
        socket: u64,
        to: SocketAddr,
        header: &[u8],
        file: u64,
        offset: u64,
        len: u32,
    ) -> Result<u32, u32> {
        let Some(OpenFile::Read { file: f, size }) = self.actor.res.files.get(&file) else {
            return Err(abi::SY_ERR_INVALID);
        };
        if header.len() + len as usize > MAX_DATAGRAM_OUT {
            return Err(abi::SY_ERR_INVALID);
        }
        let range = udp_out::FileRange {
            id: file,
            file: Arc::clone(f),
            size: *size,
            offset,
            len: len as usize,
        };
        udp_out::send_file_range(self.actor, socket, to, header, range, self.ctx)
    }

    fn open_udp(&mut self, like_socket: u64) -> Result<(u64, SocketAddr), u32> {
        let Some(like) = self.actor.res.sockets.get(&like_socket) else {
            return Err(abi::SY_ERR_INVALID);
        };
        if self.actor.res.sockets.len() >= MAX_SOCKETS {
            return Err(abi::SY_ERR_LIMIT);
        }
        // Same address family, IP and (IPv6) scope as the listener, and v6-only like it:
        // a transfer socket opened for a peer that reached a dual-stack listener as
        // `::ffff:a.b.c.d` must be dual stack too, or it could not answer that peer.
        let bind = match like.local {
            SocketAddr::V6(v6) => {
                SocketAddr::V6(std::net::SocketAddrV6::new(*v6.ip(), 0, 0, v6.scope_id()))
            }
            SocketAddr::V4(v4) => SocketAddr::new((*v4.ip()).into(), 0),
        };
        let dual_stack = bind.is_ipv6()
            && !socket2::SockRef::from(like.sock.as_ref())
                .only_v6()
                .unwrap_or(true);
        let kind = crate::topology::ListenerKind::Udp;
        let sock = match crate::server::bind_socket(kind, bind, dual_stack) {
            Ok(crate::server::BoundSocket::Udp(s)) => s,
            Ok(_) => return Err(abi::SY_ERR_IO),
            Err(e) => return Err(io_status(&e)),
        };
        let shared = Rc::clone(&self.actor.shared);
        self.actor
            .res
            .attach_udp(&shared, sock, None, self.ctx)
            .map_err(|e| io_status(&e))
    }

    fn close_socket(&mut self, socket: u64) -> u32 {
        if self.actor.res.close_socket(socket, self.ctx) {
            abi::SY_OK
        } else {
            abi::SY_ERR_INVALID
        }
    }

    fn write(&mut self, conn: u64, data: &[u8]) -> u32 {
        let max = self.actor.shared.limits.max_write_buffer;
        let Some(c) = self.actor.res.conns.get_mut(&conn) else {
            return abi::SY_ERR_INVALID;
        };
        if c.write_closed {
            return abi::SY_ERR_CLOSED;
        }
        if data.is_empty() {
            return abi::SY_OK;
        }
        // LIMIT means "nothing was written": decide before writing a byte. An empty
        // queue accepts any write (what the socket does not take now is queued once).
        if !c.out.is_empty() && c.pending + data.len() > max {
            return abi::SY_ERR_LIMIT;
        }
        let mut written = 0;
        if c.out.is_empty() {
            match c.stream.try_write(data) {
                Ok(n) => {
                    self.actor.shared.metrics.bytes_out.inc_by(n as u64);
                    written = n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return io_status(&e),
            }
        }
        let rest = &data[written..];
        if rest.is_empty() {
            return abi::SY_OK;
        }
        c.pending += rest.len();
        c.out.push_back(Out::Bytes {
            data: rest.to_vec(),
            pos: 0,
        });
        self.ctx.notify(Flush(conn));
        abi::SY_OK
    }

    fn notify_drained(&mut self, conn: u64, token: u64) -> u32 {
        self.queue(conn, Out::Drained { token })
    }

    fn shutdown_write(&mut self, conn: u64) -> u32 {
        self.queue(conn, Out::Shutdown)
    }

    fn close(&mut self, conn: u64) -> u32 {
        let Some(c) = self.actor.res.conns.get_mut(&conn) else {
            return abi::SY_ERR_INVALID;
        };
        if c.closing {
            return abi::SY_OK;
        }
        // Nothing more is read or delivered; what is queued gets CLOSE_LINGER to go out,
        // so a peer that never reads cannot hold the connection (or its slot) open.
        c.closing = true;
        c.write_closed = true;
        c.read.pause();
        c.held.clear();
        c.out.push_back(Out::Close);
        self.ctx.notify(Flush(conn));
        self.ctx.run_later(CLOSE_LINGER, move |act, ctx| {
            if act.res.conns.get(&conn).is_some_and(|c| c.closing) {
                act.drop_conn(conn, abi::SY_OK, ctx);
            }
        });
        abi::SY_OK
    }

    fn set_reading(&mut self, conn: u64, on: bool) -> u32 {
        let Some(c) = self.actor.res.conns.get_mut(&conn) else {
            return abi::SY_ERR_INVALID;
        };
        if c.closing {
            return abi::SY_OK;
        }
        c.want_read = on;
        if !on {
            c.read.pause();
        } else if c.recv_finishing {
            // Resumed (held bytes first) after the receive's FILE_RECEIVED.
        } else if c.held.is_empty() {
            c.read.resume();
        } else {
            // Held bytes go first; the stream resumes after them (`replay_held`).
            self.ctx.notify(ReplayHeld(conn));
        }
        abi::SY_OK
    }

    fn send_file(&mut self, conn: u64, file: u64, offset: u64, len: u64, token: u64) -> u32 {
        let Some(OpenFile::Read { file, .. }) = self.actor.res.files.get(&file) else {
            return abi::SY_ERR_INVALID;
        };
        // A duplicate descriptor: the plugin may close its handle before the send ends.
        let Ok(file) = file.try_clone() else {
            return abi::SY_ERR_IO;
        };
        self.queue(
            conn,
            Out::File {
                file,
                offset,
                remaining: len,
                sent: 0,
                token,
                cached_until: 0,
            },
        )
    }

    fn recv_to_file(&mut self, conn: u64, file: u64, len: u64, sha256: bool, token: u64) -> u32 {
        self.settle_direct(file);
        let Some(OpenFile::Temp(temp, _)) = self.actor.res.files.get(&file) else {
            return abi::SY_ERR_INVALID;
        };
        let Some(c) = self.actor.res.conns.get(&conn) else {
            return abi::SY_ERR_INVALID;
        };
        if c.recv.is_some() || c.recv_finishing {
            return abi::SY_ERR_INVALID;
        }
        let direct = if c.eof {
            None
        } else {
            match DirectSink::open_direct(temp.file(), len, sha256) {
                Ok(d) => d.map(|d| Rc::new(RefCell::new(d))),
                Err(e) => return io_status(&e),
            }
        };
        let (hasher, writeback) = if direct.is_some() {
            (None, None)
        } else {
            let hasher = if sha256 {
                match hash_whole(temp.file()) {
                    Ok(h) => Some(h),
                    Err(e) => return io_status(&e),
                }
            } else {
                None
            };
            // A second descriptor for the blocking pool; without it, no early writeback.
            (hasher, temp.file().try_clone().ok().map(Writeback::new))
        };
        let Some(c) = self.actor.res.conns.get_mut(&conn) else {
            return abi::SY_ERR_INVALID;
        };
        match &direct {
            Some(d) => {
                if d.borrow().is_direct() {
                    self.actor.shared.metrics.receives_direct.inc();
                }
                c.read.set_direct(Some(Rc::clone(d)));
                let done = d.borrow().writer_done();
                self.actor.res.direct_writers.insert(file, done);
            }
            None => c.read.set_chunk(super::conn::FILE_READ_CHUNK),
        }
        c.recv = Some(RecvToFile {
            file,
            remaining: len,
            received: 0,
            token,
            hasher,
            writeback,
            direct,
        });
        if len == 0 || c.eof {
            let status = if len == 0 {
                Ok(())
            } else {
                Err(abi::SY_ERR_CLOSED)
            };
            self.ctx.run_later(Duration::ZERO, move |act, ctx| {
                act.finish_recv(conn, status, ctx)
            });
        }
        abi::SY_OK
    }

    fn set_timer(&mut self, token: u64, delay_ms: u64) -> u32 {
        if let Some(old) = self.actor.res.timers.remove(&token) {
            self.ctx.cancel_future(old);
        } else if self.actor.res.timers.len() >= MAX_TIMERS {
            return abi::SY_ERR_LIMIT;
        }
        let delay = Duration::from_millis(delay_ms.min(MAX_TIMER_MS));
        let handle = self.ctx.run_later(delay, move |act, ctx| {
            act.res.timers.remove(&token);
            act.deliver(HostEvent::Timer { token }, ctx);
        });
        self.actor.res.timers.insert(token, handle);
        abi::SY_OK
    }

    fn cancel_timer(&mut self, token: u64) -> u32 {
        if let Some(h) = self.actor.res.timers.remove(&token) {
            self.ctx.cancel_future(h);
        }
        abi::SY_OK
    }

    fn emit(&mut self, port: u32, data: &[u8]) -> u32 {
        let shared = &self.actor.shared;
        let Some(decl) = shared.plugin.info().ports.get(port as usize) else {
            return abi::SY_ERR_INVALID;
        };
        if decl.input {
            return abi::SY_ERR_INVALID;
        }
        if data.len() > MAX_MESSAGE {
            return abi::SY_ERR_LIMIT;
        }
        if &*shared.type_names[port as usize] == TransferCompleted::TYPE {
            // Transfers by outcome, for the metrics, whoever emits them. A result
            // outside the fixed set counts as `other` (bounded label); said once.
            let event = serde_json::from_slice::<TransferCompleted>(data);
            let result = event.as_ref().ok().map(|t| t.result.as_str());
            if shared.metrics.transfer(result) {
                debug!(shared.log, "transfer result is not one of the outcomes (plugin built against an older SDK?): counted as `other`, logged once per handler";
                    "result" => result.unwrap_or("(unparsable event)"));
            }
        }
        let Some(routes) = shared.outputs.get(&port) else {
            return abi::SY_OK;
        };
        let data: Arc<[u8]> = Arc::from(data);
        let type_name = Arc::clone(&shared.type_names[port as usize]);
        let registry = shared.registry.read().unwrap_or_else(|e| e.into_inner());
        let source: Arc<str> = Arc::from(format!("{}.{}", shared.name, decl.name));
        for r in routes {
            if let Some(addr) = registry.get(&r.to_handler) {
                addr.do_send(TypedMessage {
                    port: r.to_port,
                    source: Arc::clone(&source),
                    type_name: Arc::clone(&type_name),
                    data: Arc::clone(&data),
                });
            }
        }
        abi::SY_OK
    }

    fn open_read(&mut self, path: &str) -> Result<(u64, u64), u32> {
        let Some(root) = self.actor.shared.root.clone() else {
            return Err(abi::SY_ERR_UNSUPPORTED);
        };
        let (file, size) = root
            .open_read(path)
            .map_err(|e| self.storage_err("open_read", path, &e))?;
        let id = self.new_file(OpenFile::Read {
            file: Arc::new(file),
            size,
        })?;
        Ok((id, size))
    }

    fn read_file(&mut self, file: u64, offset: u64, buf: &mut [u8]) -> Result<usize, u32> {
        self.settle_direct(file);
        let f = match self.actor.res.files.get(&file) {
            Some(OpenFile::Read { file, .. }) => file,
            Some(OpenFile::Temp(t, _)) => t.file(),
            None => return Err(abi::SY_ERR_INVALID),
        };
        udp_out::read_full(f, buf, offset).map_err(|e| io_status(&e))
    }

    fn create_temp(&mut self, path: &str) -> Result<u64, u32> {
        let Some(root) = self.actor.shared.root.clone() else {
            return Err(abi::SY_ERR_UNSUPPORTED);
        };
        let temp = root
            .create_temp(path)
            .map_err(|e| self.storage_err("create_temp", path, &e))?;
        let writeback = temp.file().try_clone().ok().map(Writeback::new);
        self.new_file(OpenFile::Temp(temp, writeback))
    }

    fn open_partial(&mut self, path: &str) -> Result<(u64, u64), u32> {
        let Some(root) = self.actor.shared.root.clone() else {
            return Err(abi::SY_ERR_UNSUPPORTED);
        };
        let (temp, size) = root
            .open_partial(path)
            .map_err(|e| self.storage_err("open_partial", path, &e))?;
        let writeback = temp.file().try_clone().ok().map(Writeback::new);
        Ok((self.new_file(OpenFile::Temp(temp, writeback))?, size))
    }

    fn write_file(&mut self, file: u64, data: &[u8]) -> u32 {
        self.settle_direct(file);
        match self.actor.res.files.get_mut(&file) {
            Some(OpenFile::Temp(t, writeback)) => match t.append(data) {
                Ok(()) => {
                    if let Some(w) = writeback {
                        w.wrote(data.len() as u64);
                    }
                    abi::SY_OK
                }
                Err(e) => self.storage_err("write", "", &e),
            },
            _ => abi::SY_ERR_INVALID,
        }
    }

    fn commit_file(&mut self, file: u64, path: &str, overwrite: bool) -> u32 {
        self.settle_direct(file);
        let Some(root) = self.actor.shared.root.clone() else {
            return abi::SY_ERR_UNSUPPORTED;
        };
        let Some(OpenFile::Temp(temp, _)) = self.actor.res.files.get_mut(&file) else {
            return abi::SY_ERR_INVALID;
        };
        match root.commit(temp, path, overwrite) {
            Ok(()) => {
                self.actor.res.files.remove(&file);
                abi::SY_OK
            }
            Err(e) => self.storage_err("commit", path, &e),
        }
    }

    fn close_file(&mut self, file: u64) -> u32 {
        // A continued partial is kept: its writer must be done before its lock goes.
        // A writer still running into a plain temp writes into the unlinked file,
        // harmlessly: no wait.
        if self
            .actor
            .res
            .files
            .get(&file)
            .is_some_and(OpenFile::is_continued_temp)
        {
            self.settle_direct(file);
        }
        self.actor.res.direct_writers.remove(&file);
        match self.actor.res.files.remove(&file) {
            Some(_) => abi::SY_OK,
            None => abi::SY_ERR_INVALID,
        }
    }

    fn stat(&mut self, path: &str) -> Result<SyStat, u32> {
        let Some(root) = self.actor.shared.root.clone() else {
            return Err(abi::SY_ERR_UNSUPPORTED);
        };
        root.stat(path)
            .map(|s| s.to_abi())
            .map_err(|e| self.storage_err("stat", path, &e))
    }

    fn list_dir(&mut self, path: &str) -> Result<Vec<(String, SyStat)>, u32> {
        let Some(root) = self.actor.shared.root.clone() else {
            return Err(abi::SY_ERR_UNSUPPORTED);
        };
        match root.list(path) {
            Ok(entries) => Ok(entries
                .into_iter()
                .map(|(name, st)| (name, st.to_abi()))
                .collect()),
            Err(e) => Err(self.storage_err("list", path, &e)),
        }
    }

    fn remove_file(&mut self, path: &str) -> u32 {
        let Some(root) = self.actor.shared.root.clone() else {
            return abi::SY_ERR_UNSUPPORTED;
        };
        match root.remove(path) {
            Ok(()) => abi::SY_OK,
            Err(e) => self.storage_err("remove", path, &e),
        }
    }

    fn free_space(&mut self) -> Result<u64, u32> {
        let Some(root) = self.actor.shared.root.clone() else {
            return Err(abi::SY_ERR_UNSUPPORTED);
        };
        root.free_space()
            .map_err(|e| self.storage_err("free_space", "", &e))
    }

    fn prefetch_file(&mut self, file: u64, offset: u64, len: u64, token: u64) -> u32 {
        let Some(OpenFile::Read { file, size }) = self.actor.res.files.get(&file) else {
            return abi::SY_ERR_INVALID;
        };
        let end = offset.saturating_add(len).min(*size);
        let file = Arc::clone(file);
        super::prefetch::spawn(self.actor, file, (offset, end), token, self.ctx)
    }
}
