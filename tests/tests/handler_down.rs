//! A handler that cannot serve is visibly down: past its restart intensity its TCP
//! listener refuses connections at once (no connect left hanging in the backlog), its
//! datagrams are dropped and counted, `/health` names it and says why; a reload brings
//! it back on the same port.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use switchyard_e2e::{Host, http_get, tcp_roundtrip};

const WAIT: Duration = Duration::from_secs(10);

fn topology(tcp_port: u16) -> String {
    format!(
        r#"(
    admin: Some("127.0.0.1:0"),
    listeners: {{
        "u": (kind: udp, bind: "127.0.0.1:0"),
        "t": (kind: tcp, bind: "127.0.0.1:{tcp_port}"),
    }},
    handlers: {{ "faulty": (plugin: "faulty", restart: (max_restarts: 0, within_secs: 60)) }},
    routes: [(from: "u", to: "faulty"), (from: "t", to: "faulty")],
)"#
    )
}

/// The `switchyard_errors_total` sample for `faulty` and `kind`, or 0.
fn errors_of(admin: SocketAddr, kind: &str) -> u64 {
    let metrics = http_get(admin, "/metrics");
    let want = format!("switchyard_errors_total{{handler=\"faulty\",kind=\"{kind}\"}}");
    metrics
        .lines()
        .find(|l| l.starts_with(&want))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_handler_past_its_restart_intensity_refuses_drops_says_why_and_comes_back() {
    // A port of our own, so the reload can bind the same one again.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = Host::start(&topology(port));
    let tcp = host.addr("t");
    let admin = host.addr("(admin)");
    assert_eq!(tcp_roundtrip(tcp, b"hello", WAIT), b"hello");
    // A connection open when the handler goes down is closed with it.
    let mut open = TcpStream::connect(tcp).unwrap();
    open.write_all(b"x").unwrap();
    let mut one = [0u8; 1];
    open.read_exact(&mut one).unwrap();

    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.send_to(b"panic", host.addr("u")).unwrap();
    host.expect_log(
        "the handler going down",
        |j| j["msg"] == "handler down",
        WAIT,
    );

    // Refused, not left hanging in a backlog nobody accepts from.
    let started = Instant::now();
    let err = TcpStream::connect_timeout(&tcp, WAIT).expect_err("the listener is shut");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    assert!(started.elapsed() < Duration::from_secs(1));
    open.set_read_timeout(Some(WAIT)).unwrap();
    let mut rest = Vec::new();
    let _ = open.read_to_end(&mut rest);
    assert!(rest.is_empty(), "the open connection was closed: {rest:?}");

    // Datagrams are read, dropped and counted.
    let before = errors_of(admin, "handler_down");
    for _ in 0..3 {
        udp.send_to(b"ping", host.addr("u")).unwrap();
    }
    let deadline = Instant::now() + WAIT;
    while errors_of(admin, "handler_down") < before + 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(errors_of(admin, "handler_down"), before + 3);

    let health = http_get(admin, "/health");
    assert!(health.starts_with("HTTP/1.0 503"), "{health}");
    assert!(
        health.contains(
            "degraded: handler `faulty` down: restart intensity exceeded (1 restarts within 60 s); a reload restarts it"
        ),
        "{health}"
    );

    // A reload (same file) restarts it on the same port.
    host.reload_to(&topology(port), 1);
    assert_eq!(tcp_roundtrip(tcp, b"back", WAIT), b"back");
    let health = http_get(admin, "/health");
    assert!(health.starts_with("HTTP/1.0 200"), "{health}");
}
