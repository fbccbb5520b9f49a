//! End-to-end tests of the TFTP plugin's transfer ports, against the real `switchyard`
//! binary: `port_range` (every transfer's source port within the range; ERROR 0 "no
//! free transfer port" once all are busy) and `single_port` (two clients at once, every
//! reply from the listen port, with raw packets, curl and tftp-hpa).
//!
//! Loopback, port 0 for the listeners, bounded waits. The port ranges are picked above
//! the kernel's ephemeral range (where no other test's socket lands), each port checked
//! free first. Needs `cargo build --workspace` first. A missing third-party client is
//! skipped with a message, except under CI, where it fails.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::Command;
use std::thread;

use switchyard_e2e::faults::tool;
use switchyard_e2e::tftp_server::{Server, WAIT, run_ok};
use switchyard_e2e::tftp_wire::{
    client_socket, client_socket_from, error_code, finish_raw_download, recv, rrq, try_recv,
};
use switchyard_e2e::{pseudo_random, sha256_hex, wait_until};

/// `len` ports above the ephemeral range, every one free now (other processes may bind
/// there only by asking for the port itself). Starts from a per-process offset, so two
/// test processes running at once look in different places.
fn free_range(len: u16) -> (u16, u16) {
    let ephemeral_hi: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(60_999);
    let first = ephemeral_hi.saturating_add(1).max(1024);
    let span = u16::MAX - first - len;
    let offset = (std::process::id() as u16).wrapping_mul(97) % span;
    for i in 0..span {
        let lo = first + (offset + i * len) % span;
        let hi = lo + len - 1;
        let held: Vec<UdpSocket> = (lo..=hi)
            .filter_map(|p| UdpSocket::bind(("127.0.0.1", p)).ok())
            .collect();
        if held.len() == usize::from(len) {
            return (lo, hi);
        }
    }
    panic!("no {len} free ports above {first}");
}

#[test]
fn every_transfer_comes_from_a_port_of_port_range() {
    let (lo, hi) = free_range(4);
    let s = Server::start(&format!("port_range: ({lo}, {hi})"));
    let content = pseudo_random(50_000, 31);
    s.put_file("r.bin", &content);
    // Raw: the source port of every answer is seen.
    let mut seen = Vec::new();
    for _ in 0..6 {
        let sock = client_socket(s.addr);
        sock.send_to(&rrq("r.bin", "octet", &[]), s.addr).unwrap();
        let (first, tid) = recv(&sock);
        seen.push(tid.port());
        assert_eq!(finish_raw_download(&sock, first, tid), content);
    }
    assert!(
        seen.iter().all(|p| (lo..=hi).contains(p)),
        "{seen:?} in {lo}..={hi}"
    );
    // Third-party clients get the file from those ports too.
    let work = tempfile::tempdir().unwrap();
    if let Some(curl) = tool("curl") {
        let local = work.path().join("curl.bin");
        let mut get = Command::new(&curl);
        get.args(["-sS", "-o"])
            .arg(&local)
            .arg(format!("tftp://{}/r.bin", s.addr));
        run_ok(get);
        assert_eq!(
            sha256_hex(&std::fs::read(&local).unwrap()),
            sha256_hex(&content)
        );
    }
    if let Some(tftp) = tool("tftp") {
        let local = work.path().join("hpa.bin");
        let mut get = Command::new(&tftp);
        get.args(["127.0.0.1", &s.addr.port().to_string(), "-m", "binary"])
            .args(["-c", "get", "r.bin"])
            .arg(&local);
        run_ok(get);
        assert_eq!(
            sha256_hex(&std::fs::read(&local).unwrap()),
            sha256_hex(&content)
        );
    }
}

#[test]
fn a_busy_port_range_refuses_with_error_0_until_a_port_is_free() {
    let (lo, hi) = free_range(2);
    let s = Server::start(&format!("port_range: ({lo}, {hi})"));
    s.put_file("f.bin", &pseudo_random(5_000, 3));
    // Two transfers hold both ports (their first DATA is never acknowledged).
    let holders: Vec<(UdpSocket, Vec<u8>, SocketAddr)> = (0..2)
        .map(|_| {
            let sock = client_socket(s.addr);
            sock.send_to(&rrq("f.bin", "octet", &[]), s.addr).unwrap();
            let (first, tid) = recv(&sock);
            assert_eq!(&first[..4], &[0, 3, 0, 1], "DATA 1");
            assert!((lo..=hi).contains(&tid.port()));
            (sock, first, tid)
        })
        .collect();
    let third = client_socket(s.addr);
    third.send_to(&rrq("f.bin", "octet", &[]), s.addr).unwrap();
    let (refusal, from) = recv(&third);
    assert_eq!(from, s.addr, "refused from the listener");
    assert_eq!(error_code(&refusal), 0);
    assert_eq!(&refusal[4..refusal.len() - 1], b"no free transfer port");
    let line = s.host.expect_log(
        "the refusal logged",
        |j| {
            j["msg"] == "request refused"
                && switchyard_e2e::log_text(j).contains("no free transfer port")
        },
        WAIT,
    );
    assert!(switchyard_e2e::log_text(&line).contains("code=0"), "{line}");
    // One holder finishes: its port serves the next request (once the server has
    // taken the final ACK, which may come after a request sent right behind it).
    let (sock, first, tid) = &holders[0];
    assert_eq!(finish_raw_download(sock, first.clone(), *tid).len(), 5_000);
    let next = client_socket(s.addr);
    wait_until("a port of the range is free again", WAIT, || {
        next.send_to(&rrq("f.bin", "octet", &[]), s.addr).unwrap();
        let (pkt, tid) = recv(&next);
        pkt[..2] == [0, 3] && (lo..=hi).contains(&tid.port())
    });
}

/// Download `name` with raw lock-step packets from loopback address `from`, asserting
/// that every answer came from the listen address.
fn download_from_listener(server: SocketAddr, from: IpAddr, name: &str) -> Vec<u8> {
    let sock = client_socket_from(from);
    sock.send_to(&rrq(name, "octet", &[]), server).unwrap();
    let (first, from) = recv(&sock);
    assert_eq!(from, server, "the first answer from the listen port");
    // `finish_raw_download` asserts each later packet came from `from` too.
    let data = finish_raw_download(&sock, first, from);
    assert!(try_recv(&sock, std::time::Duration::from_millis(100)).is_none());
    data
}

#[test]
fn single_port_serves_two_clients_at_once_from_the_listen_port() {
    // Two workers; 127.0.0.1 and 127.0.0.3 go to different ones (`actor/shard.rs`).
    let s = Server::start_with("127.0.0.1:0", "workers: 2,", "single_port: true");
    let one = pseudo_random(400_000, 41);
    let two = pseudo_random(300_001, 42);
    s.put_file("one.bin", &one);
    s.put_file("two.bin", &two);
    let addr = s.addr;
    // Each client's transfer runs on the worker its address goes to, and answers
    // from that worker's copy of the listen socket.
    let raw = [
        ("127.0.0.1", "one.bin", one.clone()),
        ("127.0.0.3", "two.bin", two.clone()),
    ]
    .map(|(from, name, want)| {
        let from: IpAddr = from.parse().unwrap();
        thread::spawn(move || {
            assert_eq!(download_from_listener(addr, from, name), want, "{name}");
        })
    });
    let work = tempfile::tempdir().unwrap();
    let mut clients = Vec::new();
    if let Some(curl) = tool("curl") {
        let local = work.path().join("curl.bin");
        let mut get = Command::new(&curl);
        get.args(["-sS", "--tftp-blksize", "1468", "-o"])
            .arg(&local)
            .arg(format!("tftp://{addr}/one.bin"));
        clients.push((thread::spawn(move || run_ok(get)), local, sha256_hex(&one)));
    }
    if let Some(tftp) = tool("tftp") {
        let local = work.path().join("hpa.bin");
        let mut get = Command::new(&tftp);
        get.args(["127.0.0.1", &addr.port().to_string(), "-m", "binary"])
            .args(["-c", "get", "two.bin"])
            .arg(&local);
        clients.push((thread::spawn(move || run_ok(get)), local, sha256_hex(&two)));
    }
    for t in raw {
        t.join().expect("raw client");
    }
    for (t, local, want) in clients {
        t.join().expect("client");
        assert_eq!(sha256_hex(&std::fs::read(&local).unwrap()), want);
    }
    let ok = s
        .host
        .logs_where(|j| j["msg"] == "transfer" && j["result"] == "ok")
        .len();
    assert!(ok >= 2, "{ok} transfers logged ok");
}
