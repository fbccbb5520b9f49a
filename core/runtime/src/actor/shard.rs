//! Which worker of a handler gets a datagram or a connection, and the messages that
//! carry them there.
//!
//! Worker 0 reads the handler's listener sockets: one reader keeps a peer's datagrams
//! in order, and one acceptor counts connections against the limits before anything
//! is handed out. It passes to worker `k` what belongs there: a datagram to the worker
//! its peer hashes to (by address, or by IP for `SY_SHARD_PEER_IP`), a connection to
//! the least loaded worker (or, by IP, to the peer's worker). What a worker then opens
//! itself (a TFTP transfer's socket, a connection's reads) stays on its own thread, so
//! the hop costs once per request or connection, never per packet of a transfer.
//!
//! The other workers' addresses are recipients, not `Addr<InstanceActor>`: this file
//! sits below the actor, which uses it.

use std::net::{IpAddr, SocketAddr};

use actix::{Message, Recipient};
use switchyard_sdk::abi;

use super::shared::ConnSlot;

/// A datagram one worker read on a listener for another.
#[derive(Debug)]
pub struct ShardDatagram {
    /// The listener socket's id (the same in every worker).
    pub socket: u64,
    pub peer: SocketAddr,
    pub data: Vec<u8>,
}

impl Message for ShardDatagram {
    type Result = ();
}

/// A connection one worker accepted (its slot taken) for another to serve.
#[derive(Debug)]
pub struct AdoptConn {
    pub stream: std::net::TcpStream,
    pub peer: SocketAddr,
    pub listener: String,
    pub slot: ConnSlot,
}

impl Message for AdoptConn {
    type Result = ();
}

/// A worker went down (restart intensity, an instance that cannot be created): the
/// handler is one service, so its other workers go down with it, visibly, until a
/// reload restarts it.
#[derive(Debug)]
pub struct WorkerDown {
    pub why: String,
}

impl Message for WorkerDown {
    type Result = ();
}

/// Every worker of a handler, as each worker sees them (sent once all have started).
#[derive(Debug, Clone)]
pub struct Peers {
    pub datagrams: Vec<Recipient<ShardDatagram>>,
    pub conns: Vec<Recipient<AdoptConn>>,
    pub down: Vec<Recipient<WorkerDown>>,
}

impl Message for Peers {
    type Result = ();
}

/// FNV-1a, finished with murmur3's `fmix64`: deterministic (the same peer always
/// lands on the same worker, across restarts and hosts) and cheap. The finish matters:
/// FNV's low bits depend only on the inputs' low bits, so `% workers` alone put every
/// address of a /24 with one port pattern on one worker. The keys are addresses, not
/// attacker-chosen strings worth a keyed hash (a peer choosing its address only
/// chooses its worker).
fn hash(bytes: impl IntoIterator<Item = u8>) -> u64 {
    let mut h = bytes.into_iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

fn ip_octets(ip: IpAddr) -> Vec<u8> {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// The worker (of `workers`) that owns `peer` under `sharding` (`SY_SHARD_*`).
pub fn worker_of(peer: SocketAddr, sharding: u32, workers: usize) -> usize {
    if workers <= 1 {
        return 0;
    }
    let mut key = ip_octets(peer.ip());
    if sharding != abi::SY_SHARD_PEER_IP {
        key.extend_from_slice(&peer.port().to_be_bytes());
    }
    (hash(key) % workers as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_ip_lands_on_one_worker_whatever_its_port_or_family() {
        let a: SocketAddr = "10.0.0.7:1000".parse().unwrap();
        let b: SocketAddr = "10.0.0.7:2000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:10.0.0.7]:3000".parse().unwrap();
        let w = worker_of(a, abi::SY_SHARD_PEER_IP, 4);
        assert_eq!(worker_of(b, abi::SY_SHARD_PEER_IP, 4), w);
        assert_eq!(worker_of(mapped, abi::SY_SHARD_PEER_IP, 4), w);
    }

    #[test]
    fn peers_spread_over_every_worker() {
        for sharding in [abi::SY_SHARD_ANY, abi::SY_SHARD_PEER_IP] {
            let mut seen = [0usize; 4];
            for i in 1..=64u8 {
                let peer = SocketAddr::from(([10, 0, 0, i], 40_000 + u16::from(i)));
                seen[worker_of(peer, sharding, 4)] += 1;
            }
            assert!(seen.iter().all(|&n| n >= 8), "{sharding}: {seen:?}");
        }
        assert_eq!(
            worker_of("1.2.3.4:5".parse().unwrap(), abi::SY_SHARD_ANY, 1),
            0
        );
    }
}
