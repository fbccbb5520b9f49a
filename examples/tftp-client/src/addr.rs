//! `HOST[:PORT]` to a socket address (port 69 unless given; `[v6]:port` for IPv6).

use std::net::{SocketAddr, ToSocketAddrs};

use crate::Failure;

/// TFTP's well-known port.
pub const DEFAULT_PORT: u16 = 69;

/// Resolve `server`, preferring the first address the resolver gives.
pub fn resolve(server: &str) -> Result<SocketAddr, Failure> {
    if let Ok(addr) = server.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let (host, port) = match server.rsplit_once(':') {
        // A bare IPv6 address has colons but no port.
        Some((h, p)) if !h.contains(':') || h.starts_with('[') => {
            let port = p
                .parse::<u16>()
                .map_err(|_| Failure::Usage(format!("bad port in {server:?}")))?;
            (h.trim_start_matches('[').trim_end_matches(']'), port)
        }
        _ => (
            server.trim_start_matches('[').trim_end_matches(']'),
            DEFAULT_PORT,
        ),
    };
    (host, port)
        .to_socket_addrs()
        .map_err(|e| Failure::Usage(format!("cannot resolve {host:?}: {e}")))?
        .next()
        .ok_or_else(|| Failure::Usage(format!("no address for {host:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            resolve("127.0.0.1").unwrap(),
            "127.0.0.1:69".parse().unwrap()
        );
        assert_eq!(
            resolve("127.0.0.1:6969").unwrap(),
            "127.0.0.1:6969".parse().unwrap()
        );
        assert_eq!(resolve("[::1]:7").unwrap(), "[::1]:7".parse().unwrap());
        assert_eq!(resolve("::1").unwrap(), "[::1]:69".parse().unwrap());
        assert_eq!(resolve("[::1]").unwrap(), "[::1]:69".parse().unwrap());
        assert!(resolve("127.0.0.1:x").is_err());
    }
}
