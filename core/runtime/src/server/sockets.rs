//! Listener sockets: binding one address (IPv6-only, or dual stack when asked), binding
//! every address of a listener on one port, and taking sockets over across a reload
//! (which running socket an address takes over is the reload plan's rule, `plan.rs`).
//!
//! A listener has one socket per address (`ListenerSpec::binds`: one for a literal,
//! one per resolved address for a host name). All of a listener's sockets share one
//! port, so `name:port` is the same service on every address a client may pick; with
//! port 0 the first address gets an ephemeral port and the others are bound to that
//! same port (retried with a fresh one if another family has it taken).

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

use super::plan::{ListenerStep, SocketAddrs, SocketStep};
use crate::topology::{ListenerKind, ListenerSpec};

/// How many fresh ephemeral ports to try for a port-0 listener with several addresses
/// before giving up: the port picked for the first address can be taken on another.
const SAME_PORT_ATTEMPTS: usize = 16;

/// A bound listener socket.
#[derive(Debug)]
pub enum BoundSocket {
    Udp(std::net::UdpSocket),
    Tcp(std::net::TcpListener),
}

impl BoundSocket {
    pub(super) fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            BoundSocket::Udp(s) => s.local_addr(),
            BoundSocket::Tcp(s) => s.local_addr(),
        }
    }

    pub(super) fn try_clone(&self) -> io::Result<BoundSocket> {
        Ok(match self {
            BoundSocket::Udp(s) => BoundSocket::Udp(s.try_clone()?),
            BoundSocket::Tcp(s) => BoundSocket::Tcp(s.try_clone()?),
        })
    }
}

/// Bind one IPv6-only socket (for IPv6 addresses), so `[::]:P` and `0.0.0.0:P` coexist.
pub fn bind(kind: ListenerKind, addr: SocketAddr) -> io::Result<BoundSocket> {
    bind_socket(kind, addr, false)
}

/// Bind one socket. An IPv6 socket is `IPV6_V6ONLY` unless `dual_stack`: then IPv4
/// peers reach it too, seen as `::ffff:a.b.c.d` (explicit either way: the
/// `net.ipv6.bindv6only` default differs between systems).
pub fn bind_socket(
    kind: ListenerKind,
    addr: SocketAddr,
    dual_stack: bool,
) -> io::Result<BoundSocket> {
    match kind {
        ListenerKind::Udp => {
            let s = udp_socket(addr, dual_stack)?;
            s.bind(&addr.into())?;
            Ok(BoundSocket::Udp(s.into()))
        }
        ListenerKind::Tcp => {
            let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
            if addr.is_ipv6() {
                s.set_only_v6(!dual_stack)?;
            }
            s.set_reuse_address(true)?;
            s.bind(&addr.into())?;
            s.listen(1024)?;
            Ok(BoundSocket::Tcp(s.into()))
        }
    }
}

/// A UDP socket of `addr`'s family, not bound yet (`bind_socket`, or a transfer socket
/// tried on the ports of a range: one socket, `bind` retried). Bigger buffers: a burst
/// of datagrams must not be dropped by the kernel while the actor is busy (best effort:
/// capped by net.core.rmem_max).
pub fn udp_socket(addr: SocketAddr, dual_stack: bool) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(!dual_stack)?;
    }
    let _ = s.set_recv_buffer_size(4 << 20);
    let _ = s.set_send_buffer_size(4 << 20);
    Ok(s)
}

/// One of a listener's sockets.
#[derive(Debug)]
pub(super) struct ListenerSocket {
    /// Its id, given once when it is bound and kept across reloads: every actor handed
    /// this socket names it so, and state handed over across a reload still points at it.
    pub id: u64,
    /// The address as the topology asks for it (port 0 stays 0).
    pub wanted: SocketAddr,
    /// The address really bound (the port picked for port 0).
    pub local: SocketAddr,
    pub socket: BoundSocket,
    /// Bound now rather than taken over from the running topology (logged `listening`).
    pub fresh: bool,
}

/// A failed bind: the address and why.
pub(super) type BindFailure = (SocketAddr, io::Error);

impl ListenerSocket {
    /// Whether this socket still listens: a TCP listener shut down by its handler going
    /// down (`actor/down.rs`) does not, and cannot listen again on its port.
    pub fn listening(&self) -> bool {
        match &self.socket {
            BoundSocket::Udp(_) => true,
            BoundSocket::Tcp(l) => rustix::net::sockopt::socket_acceptconn(l).unwrap_or(false),
        }
    }

    /// Its addresses, as a reload plan sees them.
    pub fn addrs(&self) -> SocketAddrs {
        SocketAddrs {
            wanted: self.wanted,
            local: self.local,
        }
    }
}

/// The sockets of `spec`, one per address, in `spec.binds` order, as `step` (from the
/// reload plan) says: a running socket to take over is duplicated (`running` finds it
/// by listener name and index), the others are bound now, on the port the listener
/// already has.
pub(super) fn open<'r>(
    spec: &ListenerSpec,
    step: &ListenerStep,
    running: impl Fn(&str, usize) -> Option<&'r ListenerSocket>,
) -> Result<Vec<ListenerSocket>, BindFailure> {
    let mut slots: Vec<Option<ListenerSocket>> = Vec::with_capacity(spec.binds.len());
    for (&wanted, socket) in spec.binds.iter().zip(&step.sockets) {
        let old = match socket {
            SocketStep::Reuse {
                listener, index, ..
            } => running(listener, *index),
            SocketStep::Bind => None,
        };
        slots.push(match old {
            Some(old) => Some(ListenerSocket {
                id: old.id,
                wanted,
                local: old.local,
                socket: old.socket.try_clone().map_err(|e| (wanted, e))?,
                fresh: false,
            }),
            None => None,
        });
    }
    let missing: Vec<SocketAddr> = spec
        .binds
        .iter()
        .zip(&slots)
        .filter(|(_, s)| s.is_none())
        .map(|(a, _)| *a)
        .collect();
    // A port-0 listener keeping some sockets binds its new addresses on their port.
    let kept_port = slots.iter().flatten().next().map(|s| s.local.port());
    let mut fresh = bind_all(spec.kind, &missing, kept_port, spec.dual_stack)?.into_iter();
    spec.binds
        .iter()
        .zip(slots)
        .map(|(&wanted, slot)| match slot {
            Some(kept) => Ok(kept),
            None => {
                let socket = fresh.next().expect("one socket bound per missing address");
                Ok(ListenerSocket {
                    id: crate::ids::next_id(),
                    wanted,
                    local: socket.local_addr().map_err(|e| (wanted, e))?,
                    socket,
                    fresh: true,
                })
            }
        })
        .collect()
}

/// Bind every address of `addrs` (which share one port) on one port: theirs, or
/// `port` when they ask for 0 and the listener already has one, or else an ephemeral
/// port that is free on all of them.
fn bind_all(
    kind: ListenerKind,
    addrs: &[SocketAddr],
    port: Option<u16>,
    dual_stack: bool,
) -> Result<Vec<BoundSocket>, BindFailure> {
    // `set_port` keeps an IPv6 address's scope.
    let on = |mut a: SocketAddr, port: u16| {
        a.set_port(port);
        a
    };
    let bind_each = |port: u16| -> Result<Vec<BoundSocket>, BindFailure> {
        addrs
            .iter()
            .map(|&a| {
                let a = if a.port() == 0 { on(a, port) } else { a };
                bind_socket(kind, a, dual_stack).map_err(|e| (a, e))
            })
            .collect()
    };
    let Some(&first) = addrs.first() else {
        return Ok(Vec::new());
    };
    if first.port() != 0 || addrs.len() == 1 || port.is_some() {
        return bind_each(port.unwrap_or(0));
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let head = bind_socket(kind, first, dual_stack).map_err(|e| (first, e))?;
        let port = head.local_addr().map_err(|e| (first, e))?.port();
        let rest = addrs[1..].iter().map(|&a| {
            let a = on(a, port);
            bind_socket(kind, a, dual_stack).map_err(|e| (a, e))
        });
        match std::iter::once(Ok(head)).chain(rest).collect() {
            Err((_, e)) if e.kind() == io::ErrorKind::AddrInUse && attempt < SAME_PORT_ATTEMPTS => {
                continue;
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::plan::{ReloadPlan, Running, RunningListener};
    use super::*;

    /// The sockets of `spec` across a reload from `running`, as the server opens them.
    fn open<'a>(
        spec: &ListenerSpec,
        running: impl Iterator<Item = (&'a ListenerSpec, &'a [ListenerSocket])> + Clone,
    ) -> Result<Vec<ListenerSocket>, BindFailure> {
        let view = Running {
            listeners: running
                .clone()
                .map(|(spec, socks)| RunningListener {
                    spec,
                    sockets: socks.iter().map(ListenerSocket::addrs).collect(),
                })
                .collect(),
            ..Running::default()
        };
        let topology = crate::topology::Topology {
            listeners: vec![spec.clone()],
            handlers: Vec::new(),
            drain_timeout: std::time::Duration::ZERO,
            reload_drain_timeout: None,
            admin: None,
            admin_token: None,
            user: None,
            plugin_dirs: Vec::new(),
            access_log: None,
            storages: Vec::new(),
            bus: None,
            bus_inputs: Vec::new(),
        };
        let plan = ReloadPlan::new(&view, &topology, &Default::default());
        super::open(spec, &plan.listeners[0], |name, i| {
            running
                .clone()
                .find(|(s, _)| s.name == name)
                .and_then(|(_, socks)| socks.get(i))
        })
    }

    fn spec(name: &str, kind: ListenerKind, binds: &[&str]) -> ListenerSpec {
        ListenerSpec {
            name: name.into(),
            kind,
            binds: binds.iter().map(|b| b.parse().unwrap()).collect(),
            dual_stack: false,
            handler: "h".into(),
        }
    }

    fn locals(socks: &[ListenerSocket]) -> Vec<SocketAddr> {
        socks.iter().map(|s| s.local).collect()
    }

    #[test]
    fn a_port_zero_listener_gets_one_port_on_every_address() {
        for kind in [ListenerKind::Udp, ListenerKind::Tcp] {
            let socks = open(
                &spec("u", kind, &["127.0.0.1:0", "[::1]:0"]),
                std::iter::empty(),
            )
            .unwrap();
            let port = socks[0].local.port();
            assert_ne!(port, 0);
            assert_eq!(
                locals(&socks),
                vec![
                    SocketAddr::new([127, 0, 0, 1].into(), port),
                    SocketAddr::new(std::net::Ipv6Addr::LOCALHOST.into(), port)
                ]
            );
            assert!(socks.iter().all(|s| s.fresh));
            for s in &socks {
                assert_eq!(s.socket.local_addr().unwrap(), s.local);
            }
        }
    }

    #[test]
    fn a_reload_takes_over_each_address_and_binds_new_ones_on_the_same_port() {
        let old_spec = spec("u", ListenerKind::Udp, &["127.0.0.1:0"]);
        let old = open(&old_spec, std::iter::empty()).unwrap();
        let running = || std::iter::once((&old_spec, old.as_slice()));
        let port = old[0].local.port();

        let grown = open(
            &spec("u", ListenerKind::Udp, &["127.0.0.1:0", "[::1]:0"]),
            running(),
        )
        .unwrap();
        assert!(!grown[0].fresh && grown[1].fresh);
        assert_eq!(grown[0].local, old[0].local);
        assert_eq!(grown[0].id, old[0].id, "a socket taken over keeps its id");
        assert_ne!(grown[1].id, old[0].id, "a socket bound now gets its own");
        assert_eq!(
            grown[1].local.port(),
            port,
            "the new address joins the kept port"
        );

        // The port really bound is taken over by a literal naming it, by any listener.
        let pinned = format!("127.0.0.1:{port}");
        let literal = open(&spec("v", ListenerKind::Udp, &[&pinned]), running()).unwrap();
        assert!(!literal[0].fresh);

        // Another listener's port 0 is its own ephemeral port; another kind, another socket.
        let other = open(&spec("v", ListenerKind::Udp, &["127.0.0.1:0"]), running()).unwrap();
        assert!(other[0].fresh);
        assert_ne!(other[0].local, old[0].local);
        let tcp = open(&spec("u", ListenerKind::Tcp, &["127.0.0.1:0"]), running()).unwrap();
        assert!(tcp[0].fresh);
    }

    #[test]
    fn a_taken_address_fails_with_that_address() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let (v6, v4) = (format!("[::1]:{port}"), format!("127.0.0.1:{port}"));
        let err = open(
            &spec("t", ListenerKind::Tcp, &[&v6, &v4]),
            std::iter::empty(),
        )
        .unwrap_err();
        assert_eq!(err.0, v4.parse::<SocketAddr>().unwrap());
        assert_eq!(err.1.kind(), io::ErrorKind::AddrInUse);
    }

    #[test]
    fn ipv6_sockets_are_v6_only_unless_dual_stack() {
        let v6only = |dual_stack| {
            let BoundSocket::Udp(s) =
                bind_socket(ListenerKind::Udp, "[::]:0".parse().unwrap(), dual_stack).unwrap()
            else {
                unreachable!()
            };
            socket2::SockRef::from(&s).only_v6().unwrap()
        };
        assert!(v6only(false));
        assert!(!v6only(true));
    }
}
