//! `HOST[:PORT]` as typed by a user: `127.0.0.1`, `localhost:7000`, `[::1]:6667`, `::1`.

use std::net::{SocketAddr, ToSocketAddrs};

/// The port of the default topology's bulk listener.
pub const DEFAULT_PORT: u16 = 6667;

/// Resolve `text` to the addresses to try, in resolver order.
pub fn resolve(text: &str) -> Result<Vec<SocketAddr>, String> {
    let with_port = if text.parse::<SocketAddr>().is_ok() {
        text.to_owned()
    } else if text.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{text}]:{DEFAULT_PORT}")
    } else if text
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
    {
        text.to_owned()
    } else {
        format!("{text}:{DEFAULT_PORT}")
    };
    let addrs: Vec<SocketAddr> = with_port
        .to_socket_addrs()
        .map_err(|e| format!("{text}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{text}: no address"));
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let one = |s: &str| resolve(s).unwrap();
        assert_eq!(one("127.0.0.1"), vec!["127.0.0.1:6667".parse().unwrap()]);
        assert_eq!(one("127.0.0.1:7"), vec!["127.0.0.1:7".parse().unwrap()]);
        assert_eq!(one("[::1]:8"), vec!["[::1]:8".parse().unwrap()]);
        assert_eq!(one("::1"), vec!["[::1]:6667".parse().unwrap()]);
        assert!(resolve("127.0.0.1:99999").is_err());
    }
}
