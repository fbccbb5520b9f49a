//! Listener addresses, end to end: `bind` with a host name (one socket per address the
//! name resolves to, all on one port), `[::]:P` IPv6-only by default, `dual_stack: true`
//! taking IPv4 peers as `::ffff:a.b.c.d` (echo and a TFTP download through it), reload
//! keeping sockets address by address, and a name that does not resolve.
//!
//! What `localhost` resolves to differs between machines (127.0.0.1 only, or ::1 too):
//! the tests ask getaddrinfo themselves and check that the host bound exactly that, so
//! a machine without ::1 for localhost still proves every address is served.

use std::collections::HashSet;
use std::io::{ErrorKind, Read};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::Duration;

use switchyard_e2e::{
    Host, run_switchyard, tcp_connect, tcp_roundtrip, tftp_wire, try_udp_roundtrip, udp_roundtrip,
};

const WAIT: Duration = Duration::from_secs(10);

/// The IPs getaddrinfo gives for `localhost`, each once, sorted (IPv4 first) as the
/// host binds them.
fn localhost_ips() -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = ("localhost", 0)
        .to_socket_addrs()
        .expect("resolve localhost")
        .map(|a| a.ip())
        .collect();
    ips.sort();
    ips.dedup();
    eprintln!("localhost resolves to {ips:?} here");
    assert!(ips.contains(&IpAddr::from([127, 0, 0, 1])), "{ips:?}");
    ips
}

/// The `listening` lines the host logged for `listener`, as addresses.
fn listening(host: &Host, listener: &str) -> Vec<SocketAddr> {
    host.logs_where(|j| j["msg"] == "listening" && j["listener"] == listener)
        .iter()
        .map(|j| j["addr"].as_str().unwrap().parse().unwrap())
        .collect()
}

/// The addresses of `listener`, checked to be exactly `ips` on one shared port.
fn bound_to(host: &Host, listener: &str, ips: &[IpAddr]) -> Vec<SocketAddr> {
    let addrs = host.addrs_of(listener).to_vec();
    let got: Vec<IpAddr> = addrs.iter().map(SocketAddr::ip).collect();
    assert_eq!(got, ips, "one socket per resolved address, IPv4 first");
    let ports: HashSet<u16> = addrs.iter().map(SocketAddr::port).collect();
    assert_eq!(ports.len(), 1, "one port for all addresses: {addrs:?}");
    assert_ne!(addrs[0].port(), 0);
    addrs
}

fn on(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), port)
}

#[test]
fn a_name_is_served_on_every_address_it_resolves_to_over_udp_and_tcp() {
    let ips = localhost_ips();
    let host = Host::start(
        r#"(
    listeners: {
        "u": (kind: udp, bind: "localhost:0"),
        "t": (kind: tcp, bind: "localhost:0"),
    },
    handlers: { "echo": (plugin: "echo", config: (prefix: "> ")) },
    routes: [(from: "u", to: "echo"), (from: "t", to: "echo")],
)"#,
    );
    for addr in bound_to(&host, "u", &ips) {
        // The client socket is connected: a reply from any other address is dropped,
        // so this also proves the reply left by the socket the datagram came in on.
        assert_eq!(udp_roundtrip(addr, b"hi", WAIT), b"> hi", "udp {addr}");
    }
    for addr in bound_to(&host, "t", &ips) {
        assert_eq!(tcp_roundtrip(addr, b"hello", WAIT), b"hello", "tcp {addr}");
    }
}

#[test]
fn an_ipv6_wildcard_is_ipv6_only_unless_dual_stack() {
    let host = Host::start(
        r#"(
    listeners: {
        "v6only": (kind: tcp, bind: "[::]:0"),
        "dual": (kind: tcp, bind: "[::]:0", dual_stack: true),
        "dual_udp": (kind: udp, bind: "[::]:0", dual_stack: true),
    },
    handlers: { "echo": (plugin: "echo") },
    routes: [(from: "v6only", to: "echo"), (from: "dual", to: "echo"), (from: "dual_udp", to: "echo")],
)"#,
    );
    let v6only = host.addr("v6only").port();
    let dual = host.addr("dual").port();
    let dual_udp = host.addr("dual_udp").port();
    assert_eq!(
        host.logs_where(|j| j["msg"] == "listening" && j["dual_stack"] == true)
            .len(),
        2
    );

    // IPv6-only: the IPv4 side of the port is free for someone else: this test binds
    // it, and a connection there reaches this test's socket, not the host. (Refused
    // connects would prove less: a parallel test may hold that IPv4 port by chance.)
    let mine = TcpListener::bind(on("127.0.0.1", v6only)).expect("IPv4 port left free");
    let _to_mine = TcpStream::connect(on("127.0.0.1", v6only)).unwrap();
    mine.accept()
        .expect("the IPv4 connection reached this test");
    drop(mine);
    assert_eq!(tcp_roundtrip(on("::1", v6only), b"six", WAIT), b"six");

    // Dual stack: one socket takes both families, and holds the IPv4 port too.
    for ip in ["127.0.0.1", "::1"] {
        assert_eq!(
            tcp_roundtrip(on(ip, dual), ip.as_bytes(), WAIT),
            ip.as_bytes()
        );
        assert_eq!(
            try_udp_roundtrip(on(ip, dual_udp), ip.as_bytes(), WAIT).as_deref(),
            Some(ip.as_bytes()),
            "udp via {ip}"
        );
    }
    let taken = TcpListener::bind(on("127.0.0.1", dual)).unwrap_err();
    assert_eq!(taken.kind(), ErrorKind::AddrInUse);
}

#[test]
fn an_ipv4_peer_of_a_dual_stack_listener_is_seen_mapped_and_counted_as_itself() {
    // One connection per IP: the mapped peer of `dual` is the same IP as the plain
    // IPv4 peer of `v4`, so the second connection is refused, and the log shows it.
    let host = Host::start(
        r#"(
    listeners: {
        "v4": (kind: tcp, bind: "127.0.0.1:0"),
        "dual": (kind: tcp, bind: "[::]:0", dual_stack: true),
    },
    handlers: { "echo": (plugin: "echo", limits: (max_connections_per_ip: 1)) },
    routes: [(from: "v4", to: "echo"), (from: "dual", to: "echo")],
)"#,
    );
    let dual = host.addr("dual").port();
    let mut first = tcp_connect(host.addr("v4"), WAIT);
    // The echo proves the first connection holds its slot before the second one.
    std::io::Write::write_all(&mut first, b"x").unwrap();
    let mut one = [0u8; 1];
    first.read_exact(&mut one).unwrap();

    let mut second = tcp_connect(on("127.0.0.1", dual), WAIT);
    let client = second.local_addr().unwrap();
    let warn = host.expect_log(
        "the mapped peer refused",
        |j| j["msg"] == "connection refused: limit reached",
        WAIT,
    );
    assert_eq!(
        warn["peer"],
        format!("[::ffff:127.0.0.1]:{}", client.port())
    );
    assert_eq!(warn["limit"], "max_connections_per_ip");
    let mut rest = Vec::new();
    let closed = second.read_to_end(&mut rest);
    assert!(
        closed.is_ok() && rest == b"too many connections from your address, try later\n",
        "refused connection told why and closed: {closed:?} {:?}",
        String::from_utf8_lossy(&rest)
    );

    // An IPv6 peer is another IP.
    assert_eq!(tcp_roundtrip(on("::1", dual), b"six", WAIT), b"six");
}

#[test]
fn a_tftp_download_works_for_ipv4_and_ipv6_peers_of_a_dual_stack_listener() {
    let host = Host::start(
        r#"(
    listeners: { "tftp_udp": (kind: udp, bind: "[::]:0", dual_stack: true) },
    handlers: { "tftp": (plugin: "tftp", root: Some("$TMP/data")) },
    routes: [(from: "tftp_udp", to: "tftp")],
)"#,
    );
    let root = host.temp_dir().join("data");
    std::fs::create_dir_all(&root).unwrap();
    let content: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(root.join("f.bin"), &content).unwrap();
    let port = host.addr("tftp_udp").port();
    // The transfer runs on a socket the host opens "like" the listener (a new TID): it
    // must be dual stack too, or its DATA could not reach the IPv4 client.
    for ip in ["127.0.0.1", "::1"] {
        let got = tftp_wire::download(on(ip, port), "f.bin");
        assert_eq!(got, content, "download via {ip}");
    }
}

#[test]
fn a_reload_keeps_each_address_socket_and_binds_only_new_ones() {
    let ips = localhost_ips();
    let topology = |bind: &str, prefix: &str| {
        format!(
            r#"(
    listeners: {{ "u": (kind: udp, bind: "{bind}") }},
    handlers: {{ "echo": (plugin: "echo", config: (prefix: "{prefix}")) }},
    routes: [(from: "u", to: "echo")],
)"#
        )
    };
    let host = Host::start(&topology("localhost:0", "v1:"));
    let addrs = bound_to(&host, "u", &ips);
    let port = addrs[0].port();
    let reload = |text: String, n: usize| {
        std::fs::write(host.config_path(), text).unwrap();
        host.signal("HUP");
        let done = host
            .wait_for_nth_log(n, |j| j["msg"] == "reloaded", WAIT)
            .unwrap_or_else(|| panic!("no reload #{n}:\n{}", host.stderr_lines().join("\n")));
        assert_eq!(done["replaced"], "echo");
    };

    // 1. Same name, port 0, new handler config: every socket is kept (same port, no
    //    new `listening` line) and the new handler answers on each.
    reload(topology("localhost:0", "v2:"), 1);
    assert_eq!(listening(&host, "u"), addrs);
    for addr in &addrs {
        assert_eq!(udp_roundtrip(*addr, b"a", WAIT), b"v2:a", "{addr}");
    }

    // 2. The literal 127.0.0.1 on that port: its socket is kept, the others are closed.
    reload(topology(&format!("127.0.0.1:{port}"), "v3:"), 2);
    assert_eq!(listening(&host, "u"), addrs, "nothing bound anew");
    assert_eq!(udp_roundtrip(on("127.0.0.1", port), b"b", WAIT), b"v3:b");
    let lo = on("127.0.0.1", port);
    for addr in addrs.iter().filter(|a| **a != lo) {
        assert_eq!(
            try_udp_roundtrip(*addr, b"c", Duration::from_millis(500)),
            None
        );
    }

    // 3. Back to the name on the same port: 127.0.0.1 kept again, any other address of
    //    localhost bound anew, on the same port.
    reload(topology(&format!("localhost:{port}"), "v4:"), 3);
    let mut expected = addrs.clone();
    expected.extend(addrs.iter().filter(|a| **a != lo));
    assert_eq!(listening(&host, "u"), expected);
    for addr in &addrs {
        assert_eq!(udp_roundtrip(*addr, b"d", WAIT), b"v4:d", "{addr}");
    }
}

#[test]
fn a_name_that_does_not_resolve_is_refused_by_validate_and_serve() {
    let topology = r#"(
    listeners: {
        "u": (kind: udp, bind: "nohost.invalid:69"),
        "d": (kind: udp, bind: "127.0.0.1:70", dual_stack: true),
    },
    handlers: { "echo": (plugin: "echo") },
    routes: [(from: "u", to: "echo"), (from: "d", to: "echo")],
)"#;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("names.ron");
    std::fs::write(&file, topology).unwrap();
    let out = run_switchyard([std::path::Path::new("validate"), &file]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("topology::unresolved"), "{err}");
    assert!(
        err.contains("host name `nohost.invalid` in `bind` of listener `u` does not resolve"),
        "{err}"
    );
    assert!(
        err.contains("names.ron:3:32"),
        "file:line:col of the bind: {err}"
    );
    assert!(
        err.contains("`dual_stack` in listener `d` needs an IPv6 address"),
        "both errors at once: {err}"
    );

    let refused = Host::builder(topology).try_start().unwrap_err();
    assert_eq!(refused.code(), Some(78), "{refused}");
    assert!(refused.text().contains("nohost.invalid"), "{refused}");
}
