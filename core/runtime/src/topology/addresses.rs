//! Two listeners claiming one address: found before binding, so `validate` catches it
//! and `serve` never half-starts.
//!
//! Same kind (UDP and TCP ports are separate), same family (the host binds IPv6 sockets
//! `IPV6_V6ONLY`, so `[::]:P` and `0.0.0.0:P` do not collide), same non-zero port (port
//! 0 is a fresh ephemeral port each time), and either the same IP or one of them the
//! unspecified address, which covers every IP of its family.

use std::net::SocketAddr;

use super::model::ListenerKind;

/// Whether binding `a` then `b` (both of `kind`) would fail with "address in use".
pub(crate) fn conflict(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() != 0
        && a.port() == b.port()
        && a.is_ipv4() == b.is_ipv4()
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

/// For each listener `(kind, addr)` in order, the index of an earlier one it collides with.
pub(crate) fn claimed_before(
    listeners: &[Option<(ListenerKind, SocketAddr)>],
) -> Vec<Option<usize>> {
    listeners
        .iter()
        .enumerate()
        .map(|(i, me)| {
            let (kind, addr) = (*me)?;
            listeners[..i]
                .iter()
                .position(|other| matches!(other, Some((k, a)) if *k == kind && conflict(*a, addr)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn same_address_conflicts() {
        assert!(conflict(a("127.0.0.1:7007"), a("127.0.0.1:7007")));
        assert!(conflict(a("[::1]:7007"), a("[::1]:7007")));
    }

    #[test]
    fn wildcard_covers_every_ip_of_its_family() {
        assert!(conflict(a("0.0.0.0:7007"), a("127.0.0.1:7007")));
        assert!(conflict(a("127.0.0.1:7007"), a("0.0.0.0:7007")));
        assert!(conflict(a("[::]:7007"), a("[::1]:7007")));
        assert!(!conflict(a("[::]:7007"), a("0.0.0.0:7007")));
    }

    #[test]
    fn different_ports_ips_or_port_zero_do_not_conflict() {
        assert!(!conflict(a("127.0.0.1:7007"), a("127.0.0.1:7008")));
        assert!(!conflict(a("127.0.0.1:7007"), a("127.0.0.2:7007")));
        assert!(!conflict(a("127.0.0.1:0"), a("127.0.0.1:0")));
        assert!(!conflict(a("0.0.0.0:0"), a("127.0.0.1:0")));
    }

    #[test]
    fn kinds_are_separate_and_the_first_claimant_is_named() {
        let list = [
            Some((ListenerKind::Udp, a("127.0.0.1:7007"))),
            Some((ListenerKind::Tcp, a("127.0.0.1:7007"))),
            None,
            Some((ListenerKind::Udp, a("0.0.0.0:7007"))),
        ];
        assert_eq!(claimed_before(&list), vec![None, None, None, Some(0)]);
    }
}
