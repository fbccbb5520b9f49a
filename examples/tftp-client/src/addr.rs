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
    let bad_port = || Failure::Usage(format!("bad port in {server:?}"));
    let (host, port) = if let Some(rest) = server.strip_prefix('[') {
        // `[v6]` or `[v6]:port`.
        let (host, after) = rest.split_once(']').ok_or_else(bad_port)?;
        let port = match after {
            "" => DEFAULT_PORT,
            p => p
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .ok_or_else(bad_port)?,
        };
        (host, port)
    } else {
        match server.rsplit_once(':') {
            // A bare IPv6 address has several colons and no port.
            Some((h, p)) if !h.contains(':') => (h, p.parse::<u16>().map_err(|_| bad_port())?),
            _ => (server, DEFAULT_PORT),
        }
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
