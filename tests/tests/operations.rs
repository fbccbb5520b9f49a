//! Operations, end to end: reload without dropping work, metrics and health, privilege
//! drop, the pid file and `switchyard reload`.

use std::io::{Read, Write};
use std::time::Duration;

use switchyard_e2e::faults::require_root;
use switchyard_e2e::{Host, http_get, run_switchyard, tcp_connect, udp_roundtrip};

const WAIT: Duration = Duration::from_secs(10);

fn echo_topology(prefix: &str, extra_route: &str) -> String {
    format!(
        r#"(
    admin: Some("127.0.0.1:0"),
    listeners: {{
        "u": (kind: udp, bind: "127.0.0.1:0"),
        "t": (kind: tcp, bind: "127.0.0.1:0"),
    }},
    handlers: {{ "echo": (plugin: "echo", config: (prefix: "{prefix}")) }},
    routes: [(from: "u", to: "echo"), (from: "t", to: "echo"){extra_route}],
)"#
    )
}

fn reloads(host: &Host, count: usize) {
    host.wait_for_nth_log(
        count,
        |j| {
            let m = j["msg"].as_str().unwrap_or("");
            m == "reloaded" || m.starts_with("reload refused")
        },
        WAIT,
    )
    .unwrap_or_else(|| {
        panic!(
            "no reload #{count}; logs:\n{}",
            host.stderr_lines().join("\n")
        )
    });
}

#[test]
fn reload_replaces_a_changed_handler_keeps_connections_and_refuses_a_broken_file() {
    let host = Host::start(&echo_topology("", ""));
    let (u, t) = (host.addr("u"), host.addr("t"));
    assert_eq!(udp_roundtrip(u, b"a", WAIT), b"a");
    // A connection opened before the reloads lives on, on the old instance.
    let mut conn = tcp_connect(t, WAIT);
    let mut buf = [0u8; 16];
    conn.write_all(b"one").unwrap();
    conn.read_exact(&mut buf[..3]).unwrap();
    assert_eq!(&buf[..3], b"one");

    // 1. A changed config: the handler is replaced on the same sockets.
    std::fs::write(host.config_path(), echo_topology("v2:", "")).unwrap();
    host.signal("HUP");
    reloads(&host, 1);
    assert_eq!(
        udp_roundtrip(u, b"b", WAIT),
        b"v2:b",
        "new datagrams reach the new instance"
    );
    conn.write_all(b"two").unwrap();
    conn.read_exact(&mut buf[..3]).unwrap();
    assert_eq!(&buf[..3], b"two", "the old connection still echoes");

    // 2. A broken file: refused with its position, the running topology untouched.
    std::fs::write(
        host.config_path(),
        echo_topology("v3:", r#", (from: "nope", to: "echo")"#),
    )
    .unwrap();
    host.signal("HUP");
    reloads(&host, 2);
    let refused = host.logs_where(|j| {
        j["msg"]
            .as_str()
            .unwrap_or("")
            .starts_with("reload refused")
    });
    // The bad route is on line 8 of the file.
    let at = refused[0]["at"].as_str().unwrap_or("");
    assert!(at.contains("topology.ron:8:"), "position in {refused:?}");
    assert_eq!(udp_roundtrip(u, b"c", WAIT), b"v2:c");

    // 3. The same file again: nothing changes, the handler is kept.
    std::fs::write(host.config_path(), echo_topology("v2:", "")).unwrap();
    host.signal("HUP");
    reloads(&host, 3);
    let last = host.logs_where(|j| j["msg"] == "reloaded");
    assert_eq!(last.last().unwrap()["kept"], "echo", "{last:?}");
    conn.write_all(b"six").unwrap();
    conn.read_exact(&mut buf[..3]).unwrap();
    assert_eq!(&buf[..3], b"six");

    // The reloads are counted by result.
    let metrics = http_get(host.addr("(admin)"), "/metrics");
    assert!(
        metrics.contains("switchyard_reloads_total{result=\"ok\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchyard_reloads_total{result=\"invalid\"} 1"),
        "{metrics}"
    );
}

#[test]
fn metrics_count_traffic_and_health_reports_ok() {
    let host = Host::start(&echo_topology("", ""));
    for _ in 0..3 {
        udp_roundtrip(host.addr("u"), b"12345", WAIT);
    }
    let admin = host.addr("(admin)");
    let health = http_get(admin, "/health");
    assert!(
        health.starts_with("HTTP/1.0 200") && health.ends_with("ok\n"),
        "{health}"
    );
    // The handler counts a reply just after sending it, on its own thread: the
    // client can see the reply first, so wait for the counters to catch up.
    let sent = "switchyard_bytes_out_total{handler=\"echo\"} 15";
    switchyard_e2e::wait_until("the reply bytes to be counted", WAIT, || {
        http_get(admin, "/metrics").contains(sent)
    });
    let metrics = http_get(admin, "/metrics");
    assert!(
        metrics.contains("switchyard_datagrams_in_total{handler=\"echo\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchyard_handler_up{handler=\"echo\"} 1"),
        "{metrics}"
    );
    assert!(http_get(admin, "/nope").starts_with("HTTP/1.0 404"));
}

#[test]
fn a_handler_stopped_by_its_restart_intensity_makes_health_degraded() {
    let host = Host::start(
        r#"(
    admin: Some("127.0.0.1:0"),
    listeners: { "f": (kind: udp, bind: "127.0.0.1:0") },
    handlers: { "faulty": (plugin: "faulty", restart: (max_restarts: 0, within_secs: 60)) },
    routes: [(from: "f", to: "faulty")],
)"#,
    );
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.send_to(b"panic", host.addr("f")).unwrap();
    host.expect_log(
        "the intensity stop",
        |j| j["msg"] == "handler stopped: plugin restart intensity exceeded",
        WAIT,
    );
    // The stop is logged as it happens; the health state follows within moments.
    let mut health = String::new();
    switchyard_e2e::wait_until("health degraded", WAIT, || {
        health = http_get(host.addr("(admin)"), "/health");
        health.starts_with("HTTP/1.0 503")
    });
    assert!(health.contains("faulty"), "{health}");
}

#[test]
fn switchyard_reload_signals_the_server_named_in_the_pid_file() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("switchyard.pid");
    let host = Host::builder(&echo_topology("", ""))
        .arg("--pid-file")
        .arg(pid_file.display().to_string())
        .start();
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, host.pid());
    std::fs::write(host.config_path(), echo_topology("p:", "")).unwrap();
    let out = run_switchyard(["reload", "--pid-file", pid_file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    reloads(&host, 1);
    assert_eq!(udp_roundtrip(host.addr("u"), b"x", WAIT), b"p:x");
}

#[test]
fn user_in_the_topology_drops_root_after_binding() {
    if !require_root("switch users") {
        return;
    }
    let host = Host::start(
        r#"(
    user: Some("nobody"),
    listeners: { "u": (kind: udp, bind: "127.0.0.1:0") },
    handlers: { "echo": (plugin: "echo") },
    routes: [(from: "u", to: "echo")],
)"#,
    );
    host.expect_log(
        "the privilege drop",
        |j| j["msg"] == "running as an unprivileged user" && j["user"] == "nobody",
        WAIT,
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", host.pid())).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid_line.split_whitespace().skip(1).all(|u| u != "0"),
        "still root: {uid_line}"
    );
    assert_eq!(
        udp_roundtrip(host.addr("u"), b"still serving", WAIT),
        b"still serving"
    );
}

#[test]
fn systemd_notify_says_ready_reloading_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    let mut host = Host::builder(&echo_topology("", ""))
        .env("NOTIFY_SOCKET", path.display().to_string())
        .start();
    let next = || {
        let mut buf = [0u8; 256];
        let n = sock.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    assert_eq!(next(), "READY=1\nSTATUS=serving");
    host.signal("HUP");
    let reloading = next();
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{reloading}"
    );
    assert_eq!(next(), "READY=1\nSTATUS=reload applied");
    std::fs::write(host.config_path(), "(broken").unwrap();
    host.signal("HUP");
    assert!(next().starts_with("RELOADING=1"));
    let refused = next();
    assert!(
        refused.starts_with("READY=1\nSTATUS=reload refused"),
        "{refused}"
    );
    host.signal("TERM");
    assert_eq!(next(), "STOPPING=1");
    assert!(host.wait_exit(WAIT).success());
}
