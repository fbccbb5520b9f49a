//! Host names in `bind` turned into addresses, when the topology is compiled.
//!
//! A name that does not resolve is a diagnostic at the `bind` value, like every other
//! problem, so `validate` reports it and a reload is refused instead of losing sockets.
//! Resolution is std's blocking `getaddrinfo`, on the host's main thread before
//! anything is bound (see `bind.rs` for the reading side).

use std::net::{SocketAddr, ToSocketAddrs};

use super::bind::BindAddr;
use super::collect::Diag;
use super::diagnostic::DiagnosticKind;
use super::document::Document;
use super::reader::Reader;

/// Turns a host name into addresses; the compiler's only view of the resolver, so the
/// tests can give names fixed answers.
pub(crate) trait Resolve {
    /// Every address `host` resolves to, each with `port`.
    fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>>;
}

/// The system resolver (`getaddrinfo`: /etc/hosts, DNS, as nsswitch.conf says).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        Ok((host, port).to_socket_addrs()?.collect())
    }
}

/// The addresses of each listener of `doc` (in order; `None` where `bind` is missing,
/// invalid or does not resolve, each such name reported at its `bind` value).
pub(crate) fn resolve_all(
    r: &mut Reader<'_>,
    doc: &Document<'_>,
    resolver: &dyn Resolve,
) -> Vec<Option<Vec<SocketAddr>>> {
    doc.listeners
        .iter()
        .map(|l| {
            let bind = l.bind.as_ref()?;
            let (name, port) = match &bind.value {
                BindAddr::Literal(addr) => return Some(vec![*addr]),
                BindAddr::Host { name, port } => (name, *port),
            };
            let failure = match resolver.resolve(name, port) {
                Ok(addrs) if !addrs.is_empty() => return Some(normalize(addrs)),
                Ok(_) => "it has no addresses".to_string(),
                Err(e) => e.to_string(),
            };
            r.push(
                Diag::new(
                    DiagnosticKind::Unresolved,
                    bind.span.clone(),
                    format!(
                        "host name `{name}` in `bind` of listener `{}` does not resolve: {failure}",
                        l.name.value
                    ),
                )
                .label("no address for this name")
                .help(Some(
                    "check the name (/etc/hosts, DNS) or bind an IP address; names are resolved at start, at reload and by `validate`".into(),
                )),
            );
            None
        })
        .collect()
}

/// `addrs` sorted (IPv4 first) without repeats. getaddrinfo lists an address once per
/// socket type or /etc/hosts line (one socket per address is enough), and DNS round
/// robin changes the order from one query to the next: sorted, the same addresses
/// compile to the same listener, so a reload does not replace its handler for nothing.
fn normalize(mut addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    addrs.sort();
    addrs.dedup();
    addrs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_bound_once_each_ipv4_first_whatever_the_order_given() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(
            normalize(vec![
                a("[::1]:5"),
                a("127.0.0.1:5"),
                a("[::1]:5"),
                a("127.0.0.1:5")
            ]),
            vec![a("127.0.0.1:5"), a("[::1]:5")]
        );
        assert_eq!(
            normalize(vec![a("[::1]:5"), a("10.0.0.2:5"), a("10.0.0.1:5")]),
            normalize(vec![a("10.0.0.1:5"), a("[::1]:5"), a("10.0.0.2:5")])
        );
    }
}
