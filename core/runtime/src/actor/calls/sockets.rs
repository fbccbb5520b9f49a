//! Datagram sockets a plugin sends on and opens: sends (plain and from file ranges,
//! see `udp_out`), transfer sockets bound like a listener (on an ephemeral port, or
//! on a free port of a range: `open_udp_in`), and closing them.

use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::ops::RangeInclusive;
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
        file: f,
        version,
        spool,
        ..
    }) = actor.res.files.get(&file)
    else {
        return Err(abi::SY_ERR_INVALID);
    };
    if header.len() + len as usize > MAX_DATAGRAM_OUT {
        return Err(abi::SY_ERR_INVALID);
    }
    // Not spooled yet: nothing goes out; the plugin prefetches it and sends again.
    if let Some(spool) = spool
        && !spool.ready(offset.saturating_add(len.into()))?
    {
        return Err(abi::SY_PENDING);
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

/// A transfer socket on the local IP of `like_socket`: on an ephemeral port, or on a
/// free port of `ports` (`open_udp_in`).
pub fn open_udp(
    actor: &mut InstanceActor,
    ctx: &mut Context<InstanceActor>,
    like_socket: u64,
    ports: Option<RangeInclusive<u16>>,
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
    let sock = crate::server::udp_socket(bind, dual_stack).map_err(|e| io_status(&e))?;
    match ports {
        None => sock.bind(&bind.into()).map_err(|e| io_status(&e))?,
        Some(ports) => {
            let start = RandomState::new().hash_one(like_socket);
            if bind_in_range(&sock, bind, ports, start)
                .map_err(|e| io_status(&e))?
                .is_none()
            {
                return Err(abi::SY_ERR_BUSY);
            }
        }
    }
    let id = actor.shared.next_id();
    actor
        .res
        .attach_udp(id, sock.into(), None, ctx)
        .map_err(|e| io_status(&e))
}

/// Bind `sock` to `addr` on the first port of `ports` it can have, trying them from
/// the one `start` picks and wrapping: workers (and handlers) sharing a range start at
/// different ports instead of all contending for the lowest. `None` when every port is
/// taken; another error (e.g. `EACCES` for a privileged port) ends the search.
fn bind_in_range(
    sock: &socket2::Socket,
    mut addr: SocketAddr,
    ports: RangeInclusive<u16>,
    start: u64,
) -> std::io::Result<Option<u16>> {
    let (lo, hi) = (u64::from(*ports.start()), u64::from(*ports.end()));
    let count = hi + 1 - lo;
    for i in 0..count {
        let port = (lo + (start.wrapping_add(i)) % count) as u16;
        addr.set_port(port);
        match sock.bind(&addr.into()) {
            Ok(()) => return Ok(Some(port)),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Two neighbouring ports both held here (retried until such a pair is found).
    fn held_pair() -> (std::net::UdpSocket, std::net::UdpSocket, u16) {
        for _ in 0..64 {
            let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let p = a.local_addr().unwrap().port();
            if p == u16::MAX {
                continue;
            }
            if let Ok(b) = std::net::UdpSocket::bind(("127.0.0.1", p + 1)) {
                return (a, b, p);
            }
        }
        panic!("no two neighbouring free ports on loopback");
    }

    fn fresh() -> socket2::Socket {
        crate::server::udp_socket("127.0.0.1:0".parse().unwrap(), false).unwrap()
    }

    #[test]
    fn a_range_whose_every_port_is_taken_gives_none_then_the_freed_one() {
        let (a, b, p) = held_pair();
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        for start in [0, 1, u64::MAX] {
            assert_eq!(
                bind_in_range(&fresh(), addr, p..=p + 1, start).unwrap(),
                None
            );
        }
        drop(b);
        let sock = fresh();
        assert_eq!(
            bind_in_range(&sock, addr, p..=p + 1, 0).unwrap(),
            Some(p + 1)
        );
        assert_eq!(
            sock.local_addr().unwrap().as_socket().unwrap().port(),
            p + 1
        );
        drop(a);
    }

    #[test]
    fn the_search_starts_where_start_says_and_wraps() {
        let (a, b, p) = held_pair();
        drop((a, b));
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        // Both free: the start picks which is tried first.
        let first = fresh();
        assert_eq!(
            bind_in_range(&first, addr, p..=p + 1, 1).unwrap(),
            Some(p + 1)
        );
        // p + 1 now taken: from the same start the search wraps to p.
        let second = fresh();
        assert_eq!(bind_in_range(&second, addr, p..=p + 1, 1).unwrap(), Some(p));
    }
}
