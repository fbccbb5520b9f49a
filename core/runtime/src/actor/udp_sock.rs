//! A UDP socket of the handler, with what it keeps for ordered, non-blocking sends
//! (see `udp_out`): the backlog behind a deferred file read, and the read-ahead
//! buffer. Kept apart from `udp_out` so `resources`, which holds the sockets, stands
//! below the code that sends on them.

use std::cell::Cell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;

use actix::{Actor, AsyncContext, Context, SpawnHandle};
use tokio::net::UdpSocket;

use super::streams::Gate;

/// A UDP socket of the handler.
#[derive(Debug)]
pub struct UdpSock {
    pub sock: Rc<UdpSocket>,
    /// Set for listener sockets, which outlive instances.
    pub listener: Option<Rc<str>>,
    pub local: SocketAddr,
    pub handle: SpawnHandle,
    /// Closed before the receive stream is cancelled (see [`Gate`]).
    pub gate: Gate,
    /// Bytes waiting in spawned sends after `EWOULDBLOCK`.
    pub queued: Rc<Cell<usize>>,
    /// Datagrams behind a file read that missed the page cache, in send order.
    pub backlog: VecDeque<Deferred>,
    /// Sequence number of the last backlog entry.
    pub backlog_seq: u64,
    /// The file range most likely sent next, already read (and the send buffer).
    pub ahead: ReadAhead,
}

impl UdpSock {
    /// Stop taking datagrams: the gate first, so the stream reads nothing more even
    /// in the poll actix makes after the cancel.
    pub fn stop_receiving<A: Actor<Context = Context<A>>>(&self, ctx: &mut Context<A>) {
        self.gate.close();
        ctx.cancel_future(self.handle);
    }
}

/// A datagram waiting in a socket's ordered backlog.
#[derive(Debug)]
pub struct Deferred {
    pub seq: u64,
    pub to: SocketAddr,
    /// `None` while its file read is still running.
    pub data: Option<Vec<u8>>,
}

/// Room kept before the payload in [`ReadAhead::buf`] for the plugin's header, so
/// header and payload go out in one `sendto` without another copy.
pub const HEADROOM: usize = 128;

/// The range a socket most likely sends next, read right after the last send.
///
/// Why: a lock-step transfer (TFTP) sends block n+1 when ACK n arrives. tftpd-hpa
/// reads block n+1 while it waits for that ACK; doing the same takes the read off the
/// round trip's critical path (~10 us for 64 KiB here). It is a cached-only read, so it
/// never blocks, and the buffer doubles as the send buffer: no extra copy, no
/// allocation per packet.
#[derive(Debug, Default)]
pub struct ReadAhead {
    /// `HEADROOM` bytes, then the payload.
    buf: Vec<u8>,
    /// (file id, offset, requested length, bytes read) of the payload, when valid.
    pub holds: Option<(u64, u64, usize, usize)>,
}

impl ReadAhead {
    /// Make room for a payload of `len` and forget what was held.
    pub fn room(&mut self, len: usize) -> &mut [u8] {
        self.holds = None;
        if self.buf.len() < HEADROOM + len {
            self.buf.resize(HEADROOM + len, 0);
        }
        &mut self.buf[HEADROOM..HEADROOM + len]
    }

    /// The datagram `header` + the `got` payload bytes.
    pub fn datagram(&mut self, header: &[u8], got: usize) -> &[u8] {
        let start = HEADROOM - header.len();
        self.buf[start..HEADROOM].copy_from_slice(header);
        &self.buf[start..HEADROOM + got]
    }
}
