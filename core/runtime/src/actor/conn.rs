//! TCP connection input: bytes to the plugin, held while it paused reading, or
//! straight into a file (`recv_to_file`, plain or direct). The output side is
//! `conn_out`.

use std::cell::RefCell;
use std::io::{self, Seek, Write};
use std::pin::Pin;
use std::rc::Rc;

use actix::{ActorFutureExt, AsyncContext, Context};
use futures_util::FutureExt;
use sha2::Digest;
use switchyard_sdk::abi;

use super::InstanceActor;
use super::event::HostEvent;
use super::instance_actor::READ_CHUNK;
use super::io::io_status;
use super::resources::{ConnEnd, OpenFile};
use super::streams::{ConnInput, ConnItem};

/// Read size while receiving straight into a file: fewer syscalls per byte.
pub const FILE_READ_CHUNK: usize = 1024 * 1024;

impl InstanceActor {
    pub(super) fn on_conn_input(&mut self, item: ConnItem, ctx: &mut Context<Self>) {
        let id = item.conn;
        let Some(conn) = self.res.conns.get(&id) else {
            return;
        };
        let read = Rc::clone(&conn.read);
        match &item.input {
            ConnInput::Data(data) => conn.count(data.len() as u64),
            ConnInput::Direct(n) => conn.count(*n as u64),
            ConnInput::Eof | ConnInput::Failed(_) => {}
        }
        match item.input {
            ConnInput::Data(data) => {
                self.shared.metrics.bytes_in.inc_by(data.len() as u64);
                if !conn.closing {
                    self.process_input(id, &data, ctx);
                }
                read.recycle(data);
            }
            ConnInput::Direct(n) => {
                self.shared.metrics.bytes_in.inc_by(n as u64);
                self.recv_took(id, n as u64, ctx);
            }
            ConnInput::Eof => {
                if let Some(conn) = self.res.conns.get_mut(&id) {
                    conn.eof = true;
                }
                self.end_recv_at_stream_end(id, ctx);
                if self.defer_end(id, ConnEnd::Eof) {
                    return;
                }
                self.deliver_eof(id, ctx);
            }
            ConnInput::Failed(e) => {
                self.end_recv_at_stream_end(id, ctx);
                if self.defer_end(id, ConnEnd::Failed(io_status(&e))) {
                    return;
                }
                self.drop_conn(id, io_status(&e), ctx);
            }
        }
    }

    /// While a direct receive finishes, the connection's end waits behind its
    /// `FILE_RECEIVED` (see [`Self::direct_recv_finished`]). True when deferred.
    fn defer_end(&mut self, id: u64, end: ConnEnd) -> bool {
        match self.res.conns.get_mut(&id) {
            Some(c) if c.recv_finishing => {
                c.end_behind_recv = Some(end);
                true
            }
            _ => false,
        }
    }

    fn deliver_eof(&mut self, id: u64, ctx: &mut Context<Self>) {
        self.deliver(HostEvent::PeerEof { conn: id }, ctx);
        self.close_if_finished(id, ctx);
    }

    /// Route received bytes: into the active `recv_to_file` (as many receives as the
    /// plugin chains), to the plugin as `BYTES`, or — when the plugin paused reading
    /// in the middle of this chunk — into `held`, delivered when it resumes.
    pub(super) fn process_input(&mut self, id: u64, data: &[u8], ctx: &mut Context<Self>) {
        let mut data = data;
        while !data.is_empty() {
            let Some(conn) = self.res.conns.get_mut(&id) else {
                return;
            };
            if conn.closing {
                return;
            }
            if conn.recv.is_some() {
                data = self.absorb_into_file(id, data, ctx);
                continue;
            }
            if !conn.want_read || conn.recv_finishing {
                if conn.recv_finishing {
                    conn.read.pause(); // resumed after FILE_RECEIVED
                }
                conn.held.extend_from_slice(data);
                return;
            }
            self.deliver(HostEvent::Bytes { conn: id, data }, ctx);
            return;
        }
    }

    /// Reading was resumed: deliver what was held, then let the stream read again
    /// (in that order, so bytes and EOF keep their order).
    pub(super) fn replay_held(&mut self, id: u64, ctx: &mut Context<Self>) {
        let Some(conn) = self.res.conns.get_mut(&id) else {
            return;
        };
        if !conn.want_read || conn.recv_finishing {
            return;
        }
        let held = std::mem::take(&mut conn.held);
        let read = Rc::clone(&conn.read);
        self.process_input(id, &held, ctx);
        if let Some(conn) = self.res.conns.get(&id)
            && conn.held.is_empty()
            && conn.want_read
        {
            read.resume();
        }
    }

    /// While a `recv_to_file` is active, write `data` into its file; returns the bytes
    /// past the requested length (or all of `data` when no receive is active).
    fn absorb_into_file<'d>(
        &mut self,
        id: u64,
        data: &'d [u8],
        ctx: &mut Context<Self>,
    ) -> &'d [u8] {
        let Some(conn) = self.res.conns.get_mut(&id) else {
            return data;
        };
        let Some(recv) = conn.recv.as_mut() else {
            return data;
        };
        let take = (recv.remaining.min(data.len() as u64)) as usize;
        let (mine, rest) = data.split_at(take);
        if let Some(d) = &recv.direct {
            d.borrow_mut().push(mine);
            self.recv_took(id, take as u64, ctx);
            return rest;
        }
        let written = match self.res.files.get_mut(&recv.file) {
            Some(OpenFile::Temp(t, _)) => t.file_mut().write_all(mine).map_err(|e| io_status(&e)),
            _ => Err(abi::SY_ERR_INVALID),
        };
        match written {
            Ok(()) => {
                if let Some(h) = recv.hasher.as_mut() {
                    h.update(mine);
                }
                self.recv_took(id, take as u64, ctx);
            }
            Err(status) => self.finish_recv(id, Err(status), ctx),
        }
        rest
    }

    /// `n` more bytes of the active receive are in (written, or handed to its
    /// workers): count them, and end the receive when complete or when its writes
    /// failed.
    fn recv_took(&mut self, id: u64, n: u64, ctx: &mut Context<Self>) {
        let Some(recv) = self.res.conns.get_mut(&id).and_then(|c| c.recv.as_mut()) else {
            return;
        };
        if let Some(w) = recv.writeback.as_mut() {
            w.wrote(n);
        }
        recv.remaining -= n;
        recv.received += n;
        let write_error = recv.direct.as_ref().and_then(|d| d.borrow().take_error());
        if let Some(e) = write_error {
            self.finish_recv(id, Err(io_status(&e)), ctx);
        } else if recv.remaining == 0 {
            self.finish_recv(id, Ok(()), ctx);
        }
    }

    /// The stream ended (EOF or error) during a receive: `CLOSED`, unless nothing was
    /// left to receive (a zero-length receive whose completion is still queued, e.g. a
    /// resumed upload that was all kept): that one is complete.
    fn end_recv_at_stream_end(&mut self, id: u64, ctx: &mut Context<Self>) {
        let status = match self.res.conns.get(&id).and_then(|c| c.recv.as_ref()) {
            None => return,
            Some(r) if r.remaining == 0 => Ok(()),
            Some(_) => Err(abi::SY_ERR_CLOSED),
        };
        self.finish_recv(id, status, ctx);
    }

    /// End a `recv_to_file` and tell the plugin how it went. A direct receive that got
    /// all its bytes first waits for its writes and digest (input held meanwhile).
    pub(super) fn finish_recv(
        &mut self,
        id: u64,
        result: Result<(), u32>,
        ctx: &mut Context<Self>,
    ) {
        let Some(conn) = self.res.conns.get_mut(&id) else {
            return;
        };
        let Some(recv) = conn.recv.take() else { return };
        conn.read.set_chunk(READ_CHUNK);
        if let Some(d) = recv.direct {
            conn.read.set_direct(None);
            // The stream dropped its handle with `set_direct(None)`: this is the last.
            let Ok(d) = Rc::try_unwrap(d).map(RefCell::into_inner) else {
                debug_assert!(false, "a direct receive still shared at its end");
                let (token, n) = (recv.token, recv.received);
                self.deliver_file_received(id, (token, recv.file), n, Err(abi::SY_ERR_IO), ctx);
                return;
            };
            // Complete or not, the writer finishes first, so the plugin never sees the
            // file change after FILE_RECEIVED; input and the connection's end wait.
            conn.recv_finishing = true;
            conn.read.pause();
            let received = recv.received;
            let done: Finishing = match result {
                Ok(()) => Box::pin(d.finish().map(move |r| match r {
                    Ok(done) => (received, Ok(done.digest)),
                    Err(failed) => (failed.kept, Err(io_status(&failed.error))),
                })),
                // What the file holds of it: bytes not yet written were dropped.
                Err(status) => Box::pin(d.abandon().map(move |kept| (kept, Err(status)))),
            };
            let (token, file) = (recv.token, recv.file);
            ctx.spawn(actix::fut::wrap_future::<_, Self>(done).map(
                move |(amount, res), act, ctx| {
                    act.direct_recv_finished(id, token, file, amount, res, ctx)
                },
            ));
            return;
        }
        let result = result.map(|()| recv.hasher.map(|h| h.finalize().into()));
        self.deliver_file_received(id, (recv.token, recv.file), recv.received, result, ctx);
    }

    /// A direct receive's writer (and hasher) are done, and the temp has its final
    /// size: put the temp's cursor at its end, tell the plugin, then let what waited
    /// behind it go on, in order — held input, then the connection's end.
    fn direct_recv_finished(
        &mut self,
        id: u64,
        token: u64,
        file: u64,
        received: u64,
        result: RecvOutcome,
        ctx: &mut Context<Self>,
    ) {
        let Some(conn) = self.res.conns.get_mut(&id) else {
            return; // dropped meanwhile: the plugin was told CONN_CLOSED
        };
        conn.recv_finishing = false;
        let end = conn.end_behind_recv.take();
        let closing = conn.closing;
        self.res.direct_writers.remove(&file);
        let at_end = match self.res.files.get_mut(&file) {
            Some(OpenFile::Temp(t, _)) => t
                .file_mut()
                .seek(io::SeekFrom::End(0))
                .map(|_| ())
                .map_err(|e| io_status(&e)),
            _ => Err(abi::SY_ERR_INVALID), // the plugin closed it meanwhile
        };
        let result = result.and_then(|digest| at_end.map(|()| digest));
        self.deliver_file_received(id, (token, file), received, result, ctx);
        self.replay_held(id, ctx);
        match end {
            // Closed by the plugin meanwhile: no EOF to tell; the close goes on.
            Some(ConnEnd::Eof) if closing => {}
            Some(ConnEnd::Eof) => self.deliver_eof(id, ctx),
            Some(ConnEnd::Failed(status)) => self.drop_conn(id, status, ctx),
            None => {}
        }
    }

    /// Tell the plugin a receive into `file` ended. Its digest (of the whole file)
    /// is also kept for an upload to an object store, whose commit then needs no
    /// hashing pass of its own (`objects::EarlyParts`).
    fn deliver_file_received(
        &mut self,
        id: u64,
        (token, file): (u64, u64),
        received: u64,
        result: Result<Option<[u8; 32]>, u32>,
        ctx: &mut Context<Self>,
    ) {
        if let Ok(Some(digest)) = &result
            && let Some(early) = self.res.object_uploads.get_mut(&file)
            && let Some(OpenFile::Temp(t, _)) = self.res.files.get(&file)
            && let Ok(meta) = t.file().metadata()
        {
            early.received(meta.len(), *digest);
        }
        let ev = HostEvent::FileReceived {
            conn: id,
            token,
            received,
            result,
        };
        self.deliver(ev, ctx);
    }
}

/// How a receive ended: the digest (when asked), or a status.
type RecvOutcome = Result<Option<[u8; 32]>, u32>;
/// A direct receive's writer (and hasher) finishing: the bytes it stored, and how.
type Finishing = Pin<Box<dyn Future<Output = (u64, RecvOutcome)>>>;
