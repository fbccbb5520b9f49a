//! Two listeners claiming one address: found before binding, so `validate` catches it
//! and `serve` never half-starts.
//!
//! Every address a listener binds is a claim (a host name makes one per address it
//! resolves to). Two claims collide when they have the same kind (UDP and TCP ports are
//! separate), the same non-zero port (port 0 is a fresh ephemeral port each time) and
//! overlapping IPs: the same IP, or one of them the unspecified address of the other's
//! family. The host binds IPv6 sockets `IPV6_V6ONLY`, so `[::]:P` and `0.0.0.0:P` do not
//! collide, unless the IPv6 one is `dual_stack`: it then takes the IPv4 addresses too
//! (all of them for `[::]`, one for `[::ffff:a.b.c.d]`), as Linux's bind sees it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::model::ListenerKind;

/// One socket a listener asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Claim {
    pub kind: ListenerKind,
    pub addr: SocketAddr,
    pub dual_stack: bool,
}

/// The IPs a socket bound at `c` receives for, per family.
fn covers(c: Claim) -> impl Iterator<Item = IpAddr> + Clone {
    let v4 = match c.addr.ip() {
        IpAddr::V6(ip) if c.dual_stack && ip.is_unspecified() => Some(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(ip) if c.dual_stack => ip.to_ipv4_mapped(),
        _ => None,
    };
    std::iter::once(c.addr.ip()).chain(v4.map(IpAddr::V4))
}

fn overlap(x: IpAddr, y: IpAddr) -> bool {
    x.is_ipv4() == y.is_ipv4() && (x == y || x.is_unspecified() || y.is_unspecified())
}

/// Whether binding `a` then `b` would fail with "address in use".
pub(crate) fn conflict(a: Claim, b: Claim) -> bool {
    a.kind == b.kind
        && a.addr.port() != 0
        && a.addr.port() == b.addr.port()
        && covers(a).any(|x| covers(b).any(|y| overlap(x, y)))
}

/// A claim that collides with an earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Collision {
    /// The listener (index) whose claim collides, and that claim.
    pub listener: usize,
    pub claim: Claim,
    /// The earlier listener (index) and its claim.
    pub first: usize,
    pub first_claim: Claim,
}

/// Every claim that collides with an earlier one (in file order, then address order),
/// each paired with the first claim it collides with. `listeners[i]` is listener `i`'s
/// claims, empty when its kind or address is unknown.
pub(crate) fn collisions(listeners: &[Vec<Claim>]) -> Vec<Collision> {
    let all: Vec<(usize, Claim)> = listeners
        .iter()
        .enumerate()
        .flat_map(|(i, claims)| claims.iter().map(move |c| (i, *c)))
        .collect();
    all.iter()
        .enumerate()
        .filter_map(|(n, &(listener, claim))| {
            let &(first, first_claim) = all[..n].iter().find(|(_, c)| conflict(*c, claim))?;
            Some(Collision {
                listener,
                claim,
                first,
                first_claim,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(kind: ListenerKind, s: &str, dual_stack: bool) -> Claim {
        Claim {
            kind,
            addr: s.parse().unwrap(),
            dual_stack,
        }
    }

    fn udp(s: &str) -> Claim {
        c(ListenerKind::Udp, s, false)
    }

    fn dual(s: &str) -> Claim {
        c(ListenerKind::Udp, s, true)
    }

    #[test]
    fn same_address_conflicts() {
        assert!(conflict(udp("127.0.0.1:7007"), udp("127.0.0.1:7007")));
        assert!(conflict(udp("[::1]:7007"), udp("[::1]:7007")));
    }

    #[test]
    fn wildcard_covers_every_ip_of_its_family() {
        assert!(conflict(udp("0.0.0.0:7007"), udp("127.0.0.1:7007")));
        assert!(conflict(udp("127.0.0.1:7007"), udp("0.0.0.0:7007")));
        assert!(conflict(udp("[::]:7007"), udp("[::1]:7007")));
        assert!(!conflict(udp("[::]:7007"), udp("0.0.0.0:7007")));
    }

    #[test]
    fn dual_stack_wildcard_also_covers_every_ipv4_address() {
        assert!(conflict(dual("[::]:7007"), udp("0.0.0.0:7007")));
        assert!(conflict(udp("127.0.0.1:7007"), dual("[::]:7007")));
        assert!(conflict(dual("[::]:7007"), udp("[::1]:7007")));
        assert!(conflict(
            dual("[::ffff:127.0.0.1]:7007"),
            udp("127.0.0.1:7007")
        ));
        // A dual-stack specific IPv6 address takes no IPv4 address.
        assert!(!conflict(dual("[::1]:7007"), udp("127.0.0.1:7007")));
        assert!(!conflict(
            dual("[::ffff:127.0.0.1]:7007"),
            udp("127.0.0.2:7007")
        ));
        assert!(!conflict(dual("[::]:7007"), udp("0.0.0.0:7008")));
    }

    #[test]
    fn different_ports_ips_or_port_zero_do_not_conflict() {
        assert!(!conflict(udp("127.0.0.1:7007"), udp("127.0.0.1:7008")));
        assert!(!conflict(udp("127.0.0.1:7007"), udp("127.0.0.2:7007")));
        assert!(!conflict(udp("127.0.0.1:0"), udp("127.0.0.1:0")));
        assert!(!conflict(udp("0.0.0.0:0"), udp("127.0.0.1:0")));
        assert!(!conflict(dual("[::]:0"), udp("0.0.0.0:0")));
    }

    #[test]
    fn kinds_are_separate_and_every_address_of_a_listener_is_checked() {
        let tcp = |s| c(ListenerKind::Tcp, s, false);
        let list = [
            vec![udp("127.0.0.1:7007")],
            vec![tcp("127.0.0.1:7007")],
            vec![],
            // A name resolved to two addresses: the second one collides.
            vec![udp("[::1]:7007"), udp("0.0.0.0:7007")],
        ];
        assert_eq!(
            collisions(&list),
            vec![Collision {
                listener: 3,
                claim: udp("0.0.0.0:7007"),
                first: 0,
                first_claim: udp("127.0.0.1:7007"),
            }]
        );
    }
}
