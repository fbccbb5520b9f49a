//! Datagram sockets a plugin sends on and opens: sends (plain and from file ranges,
//! see `udp_out`), transfer sockets bound like a listener, and closing them.

use std::net::SocketAddr;
use std::sync::Arc;

use actix::Context;
use switchyard_sdk::abi;

use crate::actor::InstanceActor;
use crate::actor::io::io_status;
use crate::actor::resources::OpenFile;
use crate::actor::{udp_out, udp_send};

/// Most UDP sockets one instance may open.
const MAX_SOCKETS: usize = 4_096;
/// Largest datagram `send_datagram_file` builds (UDP's maximum payload).
const MAX_DATAGRAM_OUT: usize = 65_535;

pub fn send_datagram(
    actor: &mut InstanceActor,
    ctx: &mut Context<InstanceActor>,
    socket: u64,
    to: SocketAddr,
    data: &[u8],
) -> u32 {
    let Some(s) = actor.res.sockets.get_mut(&socket) else {
        return abi::SY_ERR_INVALID;
    };
    udp_out::send(s, &actor.shared.metrics, to, data, ctx)
}

/// `header` + `len` bytes of `file` at `offset` (the range as one argument).
pub fn send_datagram_file(
    actor: &mut InstanceActor,
    ctx: &mut Context<InstanceActor>,
    socket: u64,
    to: SocketAddr,
    header: &[u8],
    (file, offset, len): (u64, u64, u32),
) -> Result<u32, u32> {
    let Some(OpenFile::Read {
        file: f, version, ..
    }) = actor.res.files.get(&file)
    else {
        return Err(abi::SY_ERR_INVALID);
    };
    if header.len() + len as usize > MAX_DATAGRAM_OUT {
        return Err(abi::SY_ERR_INVALID);
    }
    let range = udp_out::FileRange {
        id: file,
        file: Arc::clone(f),
        size: version.size,
        offset,
        len: len as usize,
    };
    udp_out::send_file_range(actor, socket, to, header, range, ctx)
}

pub fn open_udp(
    actor: &mut InstanceActor,
    ctx: &mut Context<InstanceActor>,
    like_socket: u64,
) -> Result<(u64, SocketAddr), u32> {
    let Some(like) = actor.res.sockets.get(&like_socket) else {
        return Err(abi::SY_ERR_INVALID);
    };
    if actor.res.sockets.len() >= MAX_SOCKETS {
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
    let id = actor.shared.next_id();
    actor
        .res
        .attach_udp(id, sock, None, ctx)
        .map_err(|e| io_status(&e))
}

pub fn close_socket(
    actor: &mut InstanceActor,
    ctx: &mut Context<InstanceActor>,
    socket: u64,
) -> u32 {
    // What the plugin sent before closing goes out first.
    udp_send::flush_socket(actor, socket, ctx);
    if actor.res.close_socket(socket, ctx) {
        abi::SY_OK
    } else {
        abi::SY_ERR_INVALID
    }
}
