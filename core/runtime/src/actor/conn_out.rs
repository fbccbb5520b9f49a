//! TCP connection output: the ordered queue (bytes, `sendfile` ranges, drain notices,
//! shutdown, close), and forgetting a connection when it is done.
//!
//! Writes are attempted at once and queued only on `EWOULDBLOCK`; one writable-wait
//! per connection resumes the queue. `sendfile` runs through tokio's `try_io`, so a
//! `EWOULDBLOCK` clears tokio's readiness and the wait is real, not a busy loop.

use std::io;
use std::os::fd::AsFd;
use std::rc::Rc;
use std::sync::Arc;

use actix::{ActorContext, ActorFutureExt, AsyncContext, Context, WrapFuture};
use switchyard_sdk::abi;
use tokio::io::Interest;

use super::InstanceActor;
use super::event::HostEvent;
use super::instance_actor::Role;
use super::io::io_status;
use super::resources::Out;
use super::{file_cache, prefetch};

/// Files up to this size that follow bytes in the queue are sent with them.
const INLINE_BELOW: u64 = 16 * 1024;

/// Bytes followed by a small file range (a response header, then its body): read the
/// range from the page cache (`RWF_NOWAIT`: never waits for the disk) onto the end of
/// the bytes, so header and body leave in one `send` instead of a `send` and a
/// `sendfile` (one segment, one wake-up of the peer, one system call less: measured in
/// `docs/decisions/small-get-system-calls.md`). The file item stays, emptied, so its
/// `FILE_SENT` still follows the bytes. A range not wholly cached keeps `sendfile`.
fn inline_small_file(conn: &mut super::resources::Conn) {
    let mut items = conn.out.iter_mut();
    let (
        Some(Out::Bytes { data, .. }),
        Some(Out::File {
            file,
            offset,
            remaining,
            sent,
            spool,
            ..
        }),
    ) = (items.next(), items.next())
    else {
        return;
    };
    if *remaining == 0 || *remaining > INLINE_BELOW || *sent != 0 {
        return;
    }
    // Not spooled yet: a hole of the spool file would read as zeros.
    if spool
        .as_ref()
        .is_some_and(|s| s.ready(offset.saturating_add(*remaining)) != Ok(true))
    {
        return;
    }
    let len = *remaining as usize;
    let start = data.len();
    data.resize(start + len, 0);
    let read = rustix::io::preadv2(
        file.as_fd(),
        &mut [io::IoSliceMut::new(&mut data[start..])],
        *offset,
        rustix::io::ReadWriteFlags::NOWAIT,
    );
    if read != Ok(len) {
        data.truncate(start);
        return;
    }
    *offset += *remaining;
    *sent = *remaining;
    *remaining = 0;
    conn.pending += len;
}

impl InstanceActor {
    /// Write what can be written now; on `EWOULDBLOCK`, wait for writability once.
    pub(super) fn flush(&mut self, id: u64, ctx: &mut Context<Self>) {
        loop {
            let Some(conn) = self.res.conns.get_mut(&id) else {
                return;
            };
            inline_small_file(conn);
            let Some(front) = conn.out.front_mut() else {
                return;
            };
            let step: Result<Option<Done>, Stall> = match front {
                Out::Bytes { data, pos } => match conn.stream.try_write(&data[*pos..]) {
                    Ok(n) => {
                        self.shared.metrics.bytes_out.inc_by(n as u64);
                        // A field, not `Conn::count`: `pos` borrows the queue.
                        conn.moved.set(conn.moved.get() + n as u64);
                        *pos += n;
                        conn.pending -= n;
                        Ok((*pos == data.len()).then_some(Done::Plain))
                    }
                    Err(e) => Err(Stall::Io(e)),
                },
                // Emptied by `inline_small_file` (or asked for nothing): no system call.
                Out::File {
                    remaining: 0,
                    sent,
                    token,
                    ..
                } => Ok(Some(Done::FileSent {
                    token: *token,
                    sent: *sent,
                    status: abi::SY_OK,
                })),
                Out::File {
                    file,
                    offset,
                    remaining,
                    sent,
                    token,
                    cached_until,
                    spool,
                } => 'file: {
                    // An object being spooled: only its filled prefix may go out.
                    let spooled = match spool.as_ref().map(|s| s.filled()) {
                        None => u64::MAX,
                        Some(Ok(n)) => n,
                        Some(Err(status)) => {
                            break 'file Ok(Some(Done::FileSent {
                                token: *token,
                                sent: *sent,
                                status,
                            }));
                        }
                    };
                    if let Some(s) = spool
                        && spooled <= *offset
                    {
                        let want = offset.saturating_add((*remaining).min(file_cache::PROBE));
                        break 'file Err(Stall::Spooling(Arc::clone(s), want));
                    }
                    let ahead = (*remaining)
                        .min(file_cache::PROBE)
                        .min(spooled.saturating_sub(*offset));
                    if *offset >= *cached_until && !file_cache::is_cached(file, *offset, ahead) {
                        // Read it in off this thread first; `sendfile` would wait for it here.
                        Err(Stall::Cold(Arc::clone(file), *offset, ahead))
                    } else {
                        *cached_until = (*cached_until).max(offset.saturating_add(ahead));
                        let sock = Rc::clone(&conn.stream);
                        // No further than known cached: past it, sendfile could read the disk.
                        let chunk = (*remaining).min(*cached_until - *offset) as usize;
                        let mut off = *offset;
                        match sock.try_io(Interest::WRITABLE, || {
                            rustix::fs::sendfile(sock.as_fd(), file.as_fd(), Some(&mut off), chunk)
                                .map_err(io::Error::from)
                        }) {
                            Ok(0) => Ok(Some(Done::FileSent {
                                token: *token,
                                sent: *sent,
                                // The file shrank under us.
                                status: if *remaining > 0 {
                                    abi::SY_ERR_IO
                                } else {
                                    abi::SY_OK
                                },
                            })),
                            Ok(n) => {
                                self.shared.metrics.bytes_out.inc_by(n as u64);
                                conn.moved.set(conn.moved.get() + n as u64);
                                *offset = off;
                                *remaining -= n as u64;
                                *sent += n as u64;
                                Ok((*remaining == 0).then_some(Done::FileSent {
                                    token: *token,
                                    sent: *sent,
                                    status: abi::SY_OK,
                                }))
                            }
                            Err(e) => Err(Stall::Io(e)),
                        }
                    }
                }
                Out::Drained { token } => Ok(Some(Done::Drained { token: *token })),
                Out::Shutdown => Ok(Some(
                    match socket2::SockRef::from(&*conn.stream).shutdown(std::net::Shutdown::Write)
                    {
                        Ok(()) => Done::Plain,
                        Err(_) => Done::Plain, // already gone: nothing left to shut down
                    },
                )),
                Out::Close => Ok(Some(Done::Close)),
            };
            match step {
                Ok(None) => continue,
                Ok(Some(done)) => {
                    conn.out.pop_front();
                    match done {
                        Done::Plain => {
                            if conn.out.is_empty() {
                                self.close_if_finished(id, ctx);
                                return;
                            }
                        }
                        Done::Drained { token } => {
                            self.deliver(HostEvent::Drained { conn: id, token }, ctx);
                        }
                        Done::FileSent {
                            token,
                            sent,
                            status,
                        } => {
                            let ev = HostEvent::FileSent {
                                conn: id,
                                token,
                                sent,
                                status,
                            };
                            self.deliver(ev, ctx);
                        }
                        Done::Close => {
                            self.drop_conn(id, abi::SY_OK, ctx);
                            return;
                        }
                    }
                }
                Err(Stall::Cold(file, from, len)) => {
                    if conn.flush_wait.is_none() {
                        self.shared.metrics.reads_deferred.inc();
                        let read = tokio::task::spawn_blocking(move || {
                            prefetch::prefetch(&file, from, from.saturating_add(len))
                        });
                        let wait = actix::fut::wrap_future::<_, Self>(read).map(
                            move |_, act: &mut Self, ctx| {
                                let Some(c) = act.res.conns.get_mut(&id) else {
                                    return;
                                };
                                c.flush_wait = None;
                                // Read in (or failed: then `sendfile` reports it): go on.
                                // Only if the same send is still in front, at that range.
                                if let Some(Out::File {
                                    offset,
                                    cached_until,
                                    ..
                                }) = c.out.front_mut()
                                    && (from..from.saturating_add(len)).contains(offset)
                                {
                                    *cached_until = from.saturating_add(len);
                                }
                                act.flush(id, ctx);
                            },
                        );
                        let handle = ctx.spawn(wait);
                        if let Some(c) = self.res.conns.get_mut(&id) {
                            c.flush_wait = Some(handle);
                        }
                    }
                    return;
                }
                Err(Stall::Spooling(spool, want)) => {
                    if conn.flush_wait.is_none() {
                        // Spooled (or failed: the send then ends with it).
                        self.flush_after(id, async move { spool.wait(want).await }, ctx);
                    }
                    return;
                }
                Err(Stall::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    if conn.flush_wait.is_none() {
                        let stream = Rc::clone(&conn.stream);
                        self.flush_after(id, async move { stream.writable().await }, ctx);
                    }
                    return;
                }
                Err(Stall::Io(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(Stall::Io(e)) => {
                    self.drop_conn(id, io_status(&e), ctx);
                    return;
                }
            }
        }
    }

    /// Both directions are done (peer EOF seen, our write side shut and flushed):
    /// nothing more can happen on this connection, so it is closed and forgotten.
    /// Flush `id` again once `ready` is done, whatever its result (the flush finds out
    /// what changed); the wait is the connection's one `flush_wait`.
    fn flush_after<T: 'static>(
        &mut self,
        id: u64,
        ready: impl std::future::Future<Output = T> + 'static,
        ctx: &mut Context<Self>,
    ) {
        let wait = ready.into_actor(&*self).map(move |_, act: &mut Self, ctx| {
            if let Some(c) = act.res.conns.get_mut(&id) {
                c.flush_wait = None;
            }
            act.flush(id, ctx);
        });
        let handle = ctx.spawn(wait);
        if let Some(c) = self.res.conns.get_mut(&id) {
            c.flush_wait = Some(handle);
        }
    }

    pub(super) fn close_if_finished(&mut self, id: u64, ctx: &mut Context<Self>) {
        let finished = self
            .res
            .conns
            .get(&id)
            .is_some_and(|c| c.eof && c.write_closed && c.out.is_empty());
        if finished {
            self.drop_conn(id, abi::SY_OK, ctx);
        }
    }

    /// Forget a connection (closing its socket) and tell the plugin: first every
    /// queued `send_file` that will not finish, then `CONN_CLOSED`.
    pub(super) fn drop_conn(&mut self, id: u64, status: u32, ctx: &mut Context<Self>) {
        let Some(conn) = self.res.conns.remove(&id) else {
            return;
        };
        conn.cancel_io(ctx);
        let unsent: Vec<(u64, u64)> = conn
            .out
            .iter()
            .filter_map(|o| match o {
                Out::File { token, sent, .. } => Some((*token, *sent)),
                _ => None,
            })
            .collect();
        drop(conn);
        for (token, sent) in unsent {
            let ev = HostEvent::FileSent {
                conn: id,
                token,
                sent,
                status: abi::SY_ERR_CLOSED,
            };
            self.deliver(ev, ctx);
        }
        self.deliver(HostEvent::ConnClosed { conn: id, status }, ctx);
        if matches!(self.role, Role::Connection { .. }) && self.res.conns.is_empty() {
            ctx.stop();
        }
    }
}

/// Why the front of the output queue cannot go on now.
enum Stall {
    Io(io::Error),
    /// A file range to send is not in the page cache: read it in first (the file,
    /// the offset and length).
    Cold(Arc<std::fs::File>, u64, u64),
    /// An object's bytes at the send offset are not spooled yet: wait until they are
    /// in up to the given end (off this thread: the spool fills on the storage's own).
    Spooling(Arc<crate::objects::SpoolProgress>, u64),
}

/// What finishing the front of the output queue means.
enum Done {
    Plain,
    Drained {
        token: u64,
    },
    /// A send ended: whole (`SY_OK`), the file shorter than asked (`SY_ERR_IO`), or
    /// the object's spool failed (its status).
    FileSent {
        token: u64,
        sent: u64,
        status: u32,
    },
    Close,
}
