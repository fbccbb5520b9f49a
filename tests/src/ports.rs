//! Loopback ports for servers the tests start (SeaweedFS, nats-server): picked below
//! the kernel's ephemeral range, because a port found by binding port 0 is soon handed
//! out again as the local port of some outgoing connection, and the server then fails
//! to listen on it.

use std::net::TcpListener;

/// Where ports are picked: below Linux's default ephemeral range (32768-60999).
pub const PORTS: std::ops::Range<u16> = 20_000..32_000;

/// `n` distinct loopback ports outside the ephemeral range, free at the time of asking
/// (each bound, all held until every one is found).
pub fn free_ports(n: usize) -> Vec<u16> {
    let mut seed = u64::from(std::process::id())
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    let span = u64::from(PORTS.end - PORTS.start);
    let mut held: Vec<TcpListener> = Vec::with_capacity(n);
    for _ in 0..10_000 {
        if held.len() == n {
            break;
        }
        // xorshift64: spread the picks of parallel tests over the range.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let port = PORTS.start + (seed % span) as u16;
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
            held.push(l);
        }
    }
    assert_eq!(held.len(), n, "{n} free ports in {PORTS:?}");
    held.iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}
