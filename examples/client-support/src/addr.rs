//! `HOST[:PORT]` as typed by a user: `127.0.0.1`, `localhost:7000`, `[::1]:6666`,
//! `[::1]`, `::1`. Every client accepts the same forms; only the default port (its
//! protocol's) differs.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// Why a server address was not usable.
#[derive(Debug, thiserror::Error)]
pub enum AddrError {
    #[error("bad port in {0:?}")]
    BadPort(String),
    #[error("cannot resolve {host:?}: {source}")]
    Resolve {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no address for {0:?}")]
    NoAddress(String),
}

/// Split `text` into host and port, `default_port` when none is given. A bare IPv6
/// address has several colons and no port; one in brackets may have one.
pub fn split(text: &str, default_port: u16) -> Result<(&str, u16), AddrError> {
    let bad_port = || AddrError::BadPort(text.to_owned());
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad_port)?;
        let port = match after {
            "" => default_port,
            p => p
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .ok_or_else(bad_port)?,
        };
        return Ok((host, port));
    }
    if text.parse::<IpAddr>().is_ok() {
        return Ok((text, default_port));
    }
    match text.rsplit_once(':') {
        Some((host, port)) => Ok((host, port.parse().map_err(|_| bad_port())?)),
        None => Ok((text, default_port)),
    }
}

/// Resolve `text` to the addresses to try, in resolver order.
pub fn resolve_all(text: &str, default_port: u16) -> Result<Vec<SocketAddr>, AddrError> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    let (host, port) = split(text, default_port)?;
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|source| AddrError::Resolve {
            host: host.to_owned(),
            source,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(AddrError::NoAddress(host.to_owned()));
    }
    Ok(addrs)
}

/// Resolve `text`, taking the first address the resolver gives.
pub fn resolve(text: &str, default_port: u16) -> Result<SocketAddr, AddrError> {
    Ok(resolve_all(text, default_port)?[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> SocketAddr {
        resolve(s, 69).unwrap()
    }

    #[test]
    fn forms() {
        assert_eq!(one("127.0.0.1"), "127.0.0.1:69".parse().unwrap());
        assert_eq!(one("127.0.0.1:6969"), "127.0.0.1:6969".parse().unwrap());
        assert_eq!(one("[::1]:7"), "[::1]:7".parse().unwrap());
        assert_eq!(one("[::1]"), "[::1]:69".parse().unwrap());
        assert_eq!(one("::1"), "[::1]:69".parse().unwrap());
        assert_eq!(one("localhost:7001").port(), 7001);
        assert!(
            resolve_all("localhost", 69)
                .unwrap()
                .iter()
                .all(|a| a.port() == 69)
        );
    }

    #[test]
    fn bad_ports_are_refused() {
        for bad in ["127.0.0.1:x", "127.0.0.1:99999", "[::1]x", "[::1", "h:"] {
            assert!(
                matches!(resolve(bad, 69), Err(AddrError::BadPort(_))),
                "{bad}"
            );
        }
    }
}
