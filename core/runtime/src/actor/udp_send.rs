//! Putting a socket's datagrams on the wire: one at once (`sendmsg` gathering header
//! and payload), a batch with as few `sendmmsg` calls as it takes, and, when the send
//! buffer is full, the rest later, in order, from a spawned send that waits for room.
//!
//! Why apart from `udp_out`: `udp_out` decides what a datagram is and when it may go
//! (file ranges, the read-ahead, the ordered backlog); this file only sends, and
//! counts what it sent. A batch lives for one call into the plugin: the datagrams a
//! TFTP window sends after its first are gathered in the socket's `batch` and leave
//! together when the call returns ([`flush_batches`]).

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use actix::{AsyncContext, Context};
use switchyard_sdk::abi;

use super::InstanceActor;
use super::io::io_status;
use super::udp_io::{self, UdpFd};
use super::udp_sock::UdpSock;
use crate::metrics::HandlerMetrics;

/// Most bytes of datagrams waiting (for a full socket buffer or behind a deferred
/// read), per socket.
pub const MAX_UDP_QUEUED: usize = 4 * 1024 * 1024;

/// `header` + `payload` as one datagram (`sendmsg` gathers them), now or, on a full
/// socket buffer, from a spawned send that waits for room (counted in `queued`).
pub fn send_parts(
    sock: &Rc<UdpFd>,
    queued: &Rc<Cell<usize>>,
    metrics: &HandlerMetrics,
    to: SocketAddr,
    (header, payload): (&[u8], &[u8]),
    ctx: &mut Context<InstanceActor>,
) -> u32 {
    let len = header.len() + payload.len();
    let sent = if header.is_empty() {
        udp_io::try_send_to(sock, payload, to)
    } else {
        udp_io::try_send_parts(sock, header, payload, to)
    };
    match sent {
        Ok(_) => {
            crate::busy_poll::sent_on(sock.as_raw_fd());
            metrics.datagrams_out.inc();
            metrics.bytes_out.inc_by(len as u64);
            abi::SY_OK
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            if queued.get() + len > MAX_UDP_QUEUED {
                return abi::SY_ERR_LIMIT;
            }
            let data = vec![(to, [header, payload].concat())];
            send_later(sock, queued, metrics, data, ctx);
            abi::SY_OK
        }
        Err(e) => io_status(&e),
    }
}

/// Send the batches gathered during a call into the plugin (it just returned).
pub fn flush_batches(actor: &mut InstanceActor, ctx: &mut Context<InstanceActor>) {
    let metrics = &actor.shared.metrics;
    for socket in actor.res.unflushed.drain(..) {
        if let Some(s) = actor.res.sockets.get_mut(&socket) {
            flush_batch(s, metrics, ctx);
            s.sent_in_call = false;
        }
    }
}

/// Send socket `socket`'s batch now (before it closes).
pub fn flush_socket(actor: &mut InstanceActor, socket: u64, ctx: &mut Context<InstanceActor>) {
    if let Some(s) = actor.res.sockets.get_mut(&socket) {
        flush_batch(s, &actor.shared.metrics, ctx);
    }
}

/// Send the socket's batch, in order, with as few `sendmmsg` calls as it takes. A
/// datagram the kernel refuses is dropped (the plugin's retransmission covers it, as
/// for any lost datagram); on a full send buffer the rest wait for room, in order.
pub fn flush_batch(s: &mut UdpSock, metrics: &HandlerMetrics, ctx: &mut Context<InstanceActor>) {
    if s.batch.is_empty() {
        return;
    }
    let mut done = 0;
    let mut sent_any = false;
    while done < s.batch.len() {
        let msgs: Vec<udp_io::Outgoing<'_>> = s.batch[done..]
            .iter()
            .take(udp_io::SEND_BATCH)
            .map(|b| (b.to, b.header(), b.payload(&s.ahead)))
            .collect();
        let (sent, err) = udp_io::try_send_batch(&s.sock, &msgs);
        for (_, header, payload) in &msgs[..sent] {
            metrics.datagrams_out.inc();
            metrics
                .bytes_out
                .inc_by((header.len() + payload.len()) as u64);
        }
        sent_any |= sent > 0;
        done += sent;
        match err {
            None => {}
            Some(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let rest = s.batch[done..]
                    .iter()
                    .map(|b| (b.to, [b.header(), b.payload(&s.ahead)].concat()))
                    .collect();
                send_later(&s.sock, &s.queued, metrics, rest, ctx);
                break;
            }
            Some(_) => done += 1,
        }
    }
    s.batch.clear();
    if sent_any {
        crate::busy_poll::sent_on(s.sock.as_raw_fd());
    }
}

/// Send `datagrams` in order once the socket has room (after `WouldBlock`), counted in
/// `queued` meanwhile; those over [`MAX_UDP_QUEUED`] are dropped.
fn send_later(
    sock: &Rc<UdpFd>,
    queued: &Rc<Cell<usize>>,
    metrics: &HandlerMetrics,
    mut datagrams: Vec<(SocketAddr, Vec<u8>)>,
    ctx: &mut Context<InstanceActor>,
) {
    let mut total = 0;
    datagrams.retain(|(_, d)| {
        total += d.len();
        queued.get() + total <= MAX_UDP_QUEUED
    });
    let total: usize = datagrams.iter().map(|(_, d)| d.len()).sum();
    queued.set(queued.get() + total);
    let (sock, queued, metrics) = (Rc::clone(sock), Rc::clone(queued), metrics.clone());
    ctx.spawn(actix::fut::wrap_future(async move {
        for (to, data) in datagrams {
            if udp_io::send_when_writable(&sock, &data, to).await.is_ok() {
                metrics.datagrams_out.inc();
                metrics.bytes_out.inc_by(data.len() as u64);
            }
            queued.set(queued.get() - data.len());
        }
    }));
}
