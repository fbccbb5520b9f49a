//! TFTP on the wire, written out by hand (RFC 1350, 2347): the tests do not trust the
//! plugin's own codec. Raw requests, DATA and ACK packets, a client socket with a
//! 10 s read timeout, and a lock-step download.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

pub fn rrq(name: &str, mode: &str, opts: &[(&str, &str)]) -> Vec<u8> {
    request(1, name, mode, opts)
}

pub fn wrq(name: &str, opts: &[(&str, &str)]) -> Vec<u8> {
    request(2, name, "octet", opts)
}

pub fn request(op: u8, name: &str, mode: &str, opts: &[(&str, &str)]) -> Vec<u8> {
    let mut p = vec![0, op];
    for s in [name, mode]
        .into_iter()
        .chain(opts.iter().flat_map(|(k, v)| [*k, *v]))
    {
        p.extend_from_slice(s.as_bytes());
        p.push(0);
    }
    p
}

pub fn ack(block: u16) -> Vec<u8> {
    let b = block.to_be_bytes();
    vec![0, 4, b[0], b[1]]
}

pub fn data(block: u16, payload: &[u8]) -> Vec<u8> {
    let b = block.to_be_bytes();
    let mut p = vec![0, 3, b[0], b[1]];
    p.extend_from_slice(payload);
    p
}

pub fn client_socket(server: SocketAddr) -> UdpSocket {
    let any: SocketAddr = if server.is_ipv4() {
        "127.0.0.1:0".parse().unwrap()
    } else {
        "[::1]:0".parse().unwrap()
    };
    let s = UdpSocket::bind(any).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

pub fn recv(sock: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; 70_000];
    let (n, from) = sock.recv_from(&mut buf).expect("a reply within 10 s");
    buf.truncate(n);
    (buf, from)
}

pub fn try_recv(sock: &UdpSocket, wait: Duration) -> Option<(Vec<u8>, SocketAddr)> {
    sock.set_read_timeout(Some(wait)).unwrap();
    let mut buf = vec![0u8; 70_000];
    let got = sock.recv_from(&mut buf).ok().map(|(n, from)| {
        buf.truncate(n);
        (buf, from)
    });
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    got
}

/// Receive until `want`, skipping retransmissions of `earlier` (a slow test machine).
pub fn recv_skipping(sock: &UdpSocket, want: &[u8], earlier: &[u8]) -> Vec<u8> {
    loop {
        let (pkt, _) = recv(sock);
        if pkt != earlier {
            assert_eq!(pkt, want);
            return pkt;
        }
    }
}

/// The ERROR code of a packet, or a panic naming what came instead.
pub fn error_code(pkt: &[u8]) -> u16 {
    assert!(
        pkt.len() >= 4 && pkt[..2] == [0, 5],
        "expected ERROR, got {pkt:?}"
    );
    u16::from_be_bytes([pkt[2], pkt[3]])
}

/// Download with raw lock-step packets after `first` (DATA 1 already received). A
/// retransmitted block (a slow test machine) is re-ACKed, not appended twice.
pub fn finish_raw_download(sock: &UdpSocket, first: Vec<u8>, tid: SocketAddr) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pkt = first;
    let mut expected = 1u16;
    loop {
        assert_eq!(
            pkt[..2],
            [0, 3],
            "DATA expected: {:?}",
            &pkt[..pkt.len().min(40)]
        );
        let block = u16::from_be_bytes([pkt[2], pkt[3]]);
        sock.send_to(&ack(block), tid).unwrap();
        if block == expected {
            out.extend_from_slice(&pkt[4..]);
            if pkt.len() - 4 < 512 {
                return out;
            }
            expected = expected.wrapping_add(1);
        }
        let (next, from) = recv(sock);
        assert_eq!(from, tid);
        pkt = next;
    }
}

/// A client socket on the loopback address `from` (e.g. `127.0.0.7`, to be another
/// client address), ephemeral port, 10 s read timeout.
pub fn client_socket_from(from: IpAddr) -> UdpSocket {
    let s = UdpSocket::bind(SocketAddr::new(from, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Send DATA `block` to `tid` and return the reply, skipping retransmissions of ACK
/// `block - 1` (a slow test machine).
pub fn send_data(sock: &UdpSocket, tid: SocketAddr, block: u16, payload: &[u8]) -> Vec<u8> {
    sock.send_to(&data(block, payload), tid).unwrap();
    loop {
        let (pkt, _) = recv(sock);
        if pkt != ack(block.wrapping_sub(1)) {
            return pkt;
        }
    }
}

/// Start a WRQ of `name` (octet, no options): the socket and the server's transfer
/// address, once ACK 0 came.
pub fn upload_start(server: SocketAddr, name: &str) -> (UdpSocket, SocketAddr) {
    let sock = client_socket(server);
    sock.send_to(&wrq(name, &[]), server).unwrap();
    let (pkt, tid) = recv(&sock);
    assert_eq!(pkt, ack(0), "WRQ {name}");
    (sock, tid)
}

/// Upload `content` as `name` in lock step, every ACK checked; returns the socket and
/// transfer address (e.g. to kill the server right after the final ACK).
pub fn upload(server: SocketAddr, name: &str, content: &[u8]) -> (UdpSocket, SocketAddr) {
    let (sock, tid) = upload_start(server, name);
    let mut blocks: Vec<&[u8]> = content.chunks(512).collect();
    if content.len() % 512 == 0 {
        blocks.push(&[]); // the empty block that says "the end"
    }
    for (i, payload) in blocks.into_iter().enumerate() {
        let block = (i + 1) as u16;
        assert_eq!(send_data(&sock, tid, block, payload), ack(block));
    }
    (sock, tid)
}

/// A whole lock-step download of `name` (octet, no options).
pub fn download(server: SocketAddr, name: &str) -> Vec<u8> {
    let sock = client_socket(server);
    sock.send_to(&rrq(name, "octet", &[]), server).unwrap();
    let (first, tid) = recv(&sock);
    finish_raw_download(&sock, first, tid)
}
