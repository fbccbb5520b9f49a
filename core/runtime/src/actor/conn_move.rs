//! Moving a TCP connection from a replaced actor to its successor (state handover):
//! detaching it on one side, adopting it under the same id on the other.
//!
//! Only quiet connections move (`hand_over` waits for that): no write queued, no
//! receive into a file, reading paused by the host. What the host knew of one —
//! where it came from, bytes read but not delivered, whether the plugin paused
//! reading, EOF seen, write side shut — moves with it, so the successor's instance
//! sees the connection exactly as its predecessor left it.

use std::rc::Rc;

use actix::{AsyncContext, Context};
use slog::warn;
use switchyard_sdk::abi;
use tokio::net::TcpStream;

use super::InstanceActor;
use super::event::HostEvent;
use super::handover::MovedConn;
use super::instance_actor::READ_CHUNK;
use super::resources::{Conn, ConnOrigin};
use super::streams::{ConnRead, ReadControl};

impl InstanceActor {
    /// Take every connection off this actor, in id order, for a successor. Each leaves
    /// with its slot freed here (the successor takes one of its own) and its read
    /// stream cancelled; the socket stays open.
    pub(super) fn detach_conns(&mut self, ctx: &mut Context<Self>) -> Vec<MovedConn> {
        let mut ids: Vec<u64> = self.res.conns.keys().copied().collect();
        ids.sort_unstable();
        let mut moved = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(conn) = self.res.conns.remove(&id) else {
                continue;
            };
            conn.cancel_io(ctx);
            // A duplicate of the descriptor rather than `into_std`: the cancelled read
            // stream still holds the tokio stream until actix drops it. Dropping that
            // one later closes only its own descriptor (no shutdown), and deregisters
            // it from this thread's poller; the duplicate is registered by the
            // successor's.
            match socket2::SockRef::from(&*conn.stream).try_clone() {
                Ok(socket) => moved.push(MovedConn {
                    id,
                    peer: conn.origin.peer,
                    local: conn.origin.local,
                    listener: conn.origin.listener.to_string(),
                    stream: socket.into(),
                    held: conn.held,
                    want_read: conn.want_read,
                    eof: conn.eof,
                    write_closed: conn.write_closed,
                }),
                Err(e) => {
                    warn!(self.shared.log, "connection dropped at the state handover: cannot duplicate it";
                        "conn" => id, "peer" => %conn.origin.peer, "error" => %e);
                }
            }
        }
        moved
    }

    /// Make a moved connection this actor's, under its id. `announce`: the instance
    /// does not know it (it refused the state, or none came), so it gets `CONN_OPENED`
    /// and sees the connection as new; otherwise it is adopted silently, as its state
    /// expects. Reading stays paused while bytes are held: the caller replays them
    /// (`replay_held`) once listeners are attached, so their order is kept. Returns
    /// whether the connection was adopted.
    pub(super) fn adopt_conn(
        &mut self,
        moved: MovedConn,
        announce: bool,
        ctx: &mut Context<Self>,
    ) -> bool {
        let MovedConn {
            id,
            peer,
            local,
            listener,
            stream,
            held,
            want_read,
            eof,
            write_closed,
        } = moved;
        let stream = match stream
            .set_nonblocking(true)
            .and_then(|()| TcpStream::from_std(stream))
        {
            Ok(s) => s,
            Err(e) => {
                warn!(self.shared.log, "connection dropped at the state handover: cannot adopt it";
                    "conn" => id, "peer" => %peer, "error" => %e);
                if !announce {
                    // Its state names it: tell the instance it is gone.
                    let ev = HostEvent::ConnClosed {
                        conn: id,
                        status: abi::SY_ERR_IO,
                    };
                    self.deliver(ev, ctx);
                }
                return false;
            }
        };
        // A fresh instance reads from the start: what it wants, and the EOF again.
        let (want_read, eof) = if announce {
            (true, false)
        } else {
            (want_read, eof)
        };
        let slot = self.shared.adopt_conn_slot(peer.ip());
        let stream = Rc::new(stream);
        let read = Rc::new(ReadControl::new(READ_CHUNK));
        if !want_read || !held.is_empty() {
            read.pause();
        }
        let reader = ConnRead::new(Rc::clone(&stream), id, Rc::clone(&read));
        let reader = if eof { reader.past_eof() } else { reader };
        let handle = ctx.add_stream(reader);
        let origin = ConnOrigin {
            peer,
            local,
            listener: Rc::from(listener.as_str()),
        };
        let mut conn = Conn::new(stream, origin, handle, read, slot);
        conn.want_read = want_read;
        conn.held = held;
        conn.eof = eof;
        conn.write_closed = write_closed;
        self.res.conns.insert(id, conn);
        if announce {
            self.announce_opened(id, ctx);
        }
        true
    }
}
