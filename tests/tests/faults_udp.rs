//! UDP faults, end to end: TFTP request floods beyond the transfer limits and from many
//! (spoofable) source addresses, while a download that was admitted before goes on
//! byte for byte.
//!
//! Source addresses are loopback addresses `127.0.0.N`: to the server they are distinct
//! clients, exactly as forged sources would be.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use switchyard_e2e::faults::pattern;
use switchyard_e2e::tftp_wire::{
    client_socket, client_socket_from, finish_raw_download, recv, rrq,
};
use switchyard_e2e::{Host, sha256_hex};

/// A reply to a flood request arrives in well under this on loopback; silence longer
/// than this means the request was dropped.
const SILENCE: Duration = Duration::from_millis(500);

fn lo(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

fn tftp(config: &str) -> (Host, SocketAddr) {
    tftp_on(2, config)
}

/// The same on `workers` workers.
fn tftp_on(workers: usize, config: &str) -> (Host, SocketAddr) {
    let host = Host::start(&format!(
        r#"(
    listeners: {{ "u": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{ "tftp": (plugin: "tftp", root: Some("$TMP/data"), workers: {workers}, config: ({config})) }},
    routes: [ (from: "u", to: "tftp") ],
)"#
    ));
    std::fs::create_dir_all(host.temp_dir().join("data")).unwrap();
    let addr = host.addr("u");
    (host, addr)
}

/// A lock-step download whose first block has arrived; [`Download::finish`] gets the rest.
struct Download {
    sock: UdpSocket,
    tid: SocketAddr,
    first: Vec<u8>,
}

impl Download {
    fn start(server: SocketAddr, name: &str) -> Download {
        let sock = client_socket(server);
        sock.send_to(&rrq(name, "octet", &[]), server).unwrap();
        let (first, tid) = recv(&sock);
        assert_eq!(first[..4], [0, 3, 0, 1], "DATA 1");
        Download { sock, tid, first }
    }

    fn finish(self) -> Vec<u8> {
        finish_raw_download(&self.sock, self.first, self.tid)
    }
}

/// Everything each socket has received after [`SILENCE`]: replies to a flood come at
/// once on loopback, so one bounded wait for all of them is enough.
fn replies_after_silence(socks: &[UdpSocket]) -> Vec<Vec<Vec<u8>>> {
    std::thread::sleep(SILENCE);
    socks
        .iter()
        .map(|s| {
            s.set_nonblocking(true).unwrap();
            let mut got = Vec::new();
            let mut buf = vec![0u8; 2048];
            while let Ok(n) = s.recv(&mut buf) {
                got.push(buf[..n].to_vec());
            }
            got
        })
        .collect()
}

/// With 4 transfers allowed, one running, 30 requests from 30 addresses: 3 are started,
/// 27 get "server busy" (a reply, so no client retries for nothing), and the running
/// download completes byte for byte.
#[test]
fn a_request_flood_beyond_max_transfers_is_refused_and_the_running_download_goes_on() {
    let (host, addr) = tftp("max_transfers: 4, timeout_ms: 200, max_retries: 1");
    let content = pattern(100_000, 1);
    std::fs::write(host.temp_dir().join("data/f.bin"), &content).unwrap();
    let running = Download::start(addr, "f.bin");

    let flood: Vec<UdpSocket> = (2..32).map(|n| client_socket_from(lo(n))).collect();
    for s in &flood {
        s.send_to(&rrq("f.bin", "octet", &[]), addr).unwrap();
    }
    // Every request is answered (DATA 1 or ERROR): wait for each first reply.
    let replies: Vec<Vec<u8>> = flood.iter().map(|s| recv(s).0).collect();
    let started = replies.iter().filter(|p| p[..4] == [0, 3, 0, 1]).count();
    let busy = replies
        .iter()
        .filter(|p| p[..2] == [0, 5] && String::from_utf8_lossy(p).contains("server busy"))
        .count();
    assert_eq!((started, busy), (3, 27), "{replies:?}");

    assert_eq!(sha256_hex(&running.finish()), sha256_hex(&content));
}

/// Requests from 60 distinct sources (what a spoofed flood looks like) with the source
/// table bounded to 8 per worker: at most 8 sources are tracked by each worker, each
/// answered at most its burst, so the reflected traffic is bounded; the others are
/// dropped silently. A download admitted before goes on byte for byte. On one worker
/// and on two (each with its own table: the bound is per worker).
#[test]
fn a_spoofed_flood_from_many_sources_is_bounded_and_the_running_download_goes_on() {
    for workers in [1, 2] {
        let config = "requests_per_sec: 1, request_burst: 2, max_tracked_sources: 8";
        let (host, addr) = tftp_on(workers, config);
        let content = pattern(50_000, 2);
        std::fs::write(host.temp_dir().join("data/f.bin"), &content).unwrap();
        let running = Download::start(addr, "f.bin");

        let flood: Vec<UdpSocket> = (2..62).map(|n| client_socket_from(lo(n))).collect();
        for s in &flood {
            for i in 0..3 {
                // A missing file: an admitted request is answered with one ERROR 1.
                s.send_to(&rrq(&format!("none{i}"), "octet", &[]), addr)
                    .unwrap();
            }
        }
        let per_source: Vec<usize> = replies_after_silence(&flood).iter().map(Vec::len).collect();
        assert!(
            per_source.iter().all(|&n| n <= 2),
            "a source got more than its burst of 2: {per_source:?}"
        );
        let answered = per_source.iter().filter(|&&n| n > 0).count();
        let answers: usize = per_source.iter().sum();
        // The running download's client is one tracked source: at most 8 per worker,
        // less that one.
        let most = 8 * workers - 1;
        assert!(
            (1..=most).contains(&answered),
            "{workers} workers: {answered} sources answered"
        );
        assert!(
            answers <= 2 * most,
            "{workers} workers: {answers} reflected answers"
        );
        assert_eq!(sha256_hex(&running.finish()), sha256_hex(&content));
    }
}
