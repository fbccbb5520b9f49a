//! Supervision, end to end: a `faulty` handler and an `echo` handler in one host.
//!
//! - A panic costs one instance: it is recreated and answers `ping` again.
//! - More than `max_restarts` panics within `within_secs` stop that handler alone, with
//!   an ERROR log line, while `echo` keeps answering.
//! - Restarts older than the window do not count.
//! - Host calls with ids that do not exist come back as error statuses; nothing
//!   crashes, and no restart happens.
//! - A plugin that panics while being created stops its handler, not the host.
//!
//! Each test waits for the host's log line of one panic before sending the next, so
//! the counts are exact, not racy.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use switchyard_e2e::{Host, tcp_connect, try_udp_roundtrip, udp_request, udp_roundtrip};

const WAIT: Duration = Duration::from_secs(10);

/// A datagram that gets no answer is waited for this long before the test concludes
/// nobody answers (a live handler answers on loopback in well under a millisecond).
const SILENCE: Duration = Duration::from_millis(700);

/// faulty on UDP `f` and TCP `ft`, echo on UDP `e` and TCP `et`.
fn host(restart: &str, faulty_config: &str) -> Host {
    Host::start(&format!(
        r#"(
    listeners: {{
        "f": (kind: udp, bind: "127.0.0.1:0"),
        "ft": (kind: tcp, bind: "127.0.0.1:0"),
        "e": (kind: udp, bind: "127.0.0.1:0"),
        "et": (kind: tcp, bind: "[::1]:0"),
    }},
    handlers: {{
        "faulty": (plugin: "faulty", config: ({faulty_config}), restart: ({restart})),
        "echo": (plugin: "echo"),
    }},
    routes: [
        (from: "f", to: "faulty"), (from: "ft", to: "faulty"),
        (from: "e", to: "echo"), (from: "et", to: "echo"),
    ],
)"#
    ))
}

fn is_recreated(j: &Value) -> bool {
    j["msg"] == "plugin panicked; instance recreated" && j["handler"] == "faulty"
}

fn is_stopped_error(j: &Value) -> bool {
    j["msg"] == "handler stopped: plugin restart intensity exceeded"
        && j["handler"] == "faulty"
        && j["level"] == "error"
}

/// The panic message the SDK caught and forwarded, as the plugin's ERROR line.
fn is_panic_report(j: &Value) -> bool {
    j["handler"] == "faulty"
        && j["level"] == "error"
        && j["msg"].as_str().is_some_and(|m| {
            m.starts_with("plugin panicked during on_event: faulty: panic on command")
        })
}

fn ping(addr: SocketAddr) -> Vec<u8> {
    // Retried: the datagram could arrive while the instance is being recreated.
    udp_request(addr, b"ping", 5, Duration::from_secs(2))
        .unwrap_or_else(|| panic!("no pong from {addr}"))
}

fn echo_works(host: &Host) {
    assert_eq!(
        udp_roundtrip(host.addr("e"), b"still here", WAIT),
        b"still here"
    );
    let mut c = tcp_connect(host.addr("et"), WAIT);
    c.write_all(b"tcp too").unwrap();
    let mut buf = [0u8; 7];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"tcp too");
}

/// Send `panic` and wait until the host has logged the n-th panic report.
fn panic_once(host: &Host, n: usize) {
    // The panicking instance sends nothing back.
    assert_eq!(
        try_udp_roundtrip(host.addr("f"), b"panic", Duration::from_millis(300)),
        None
    );
    host.wait_for_nth_log(n, is_panic_report, WAIT)
        .unwrap_or_else(|| {
            panic!(
                "panic #{n} not reported:\n{}",
                host.stderr_lines().join("\n")
            )
        });
}

#[test]
fn a_panic_recreates_the_instance() {
    let mut host = host("max_restarts: 3, within_secs: 60", "");
    assert_eq!(ping(host.addr("f")), b"pong");
    assert_eq!(
        udp_roundtrip(host.addr("f"), b"plain bytes", WAIT),
        b"plain bytes"
    );

    panic_once(&host, 1);
    host.expect_log("instance recreated", is_recreated, WAIT);
    assert_eq!(
        ping(host.addr("f")),
        b"pong",
        "the recreated instance answers"
    );
    echo_works(&host);
    assert!(host.is_running());
    assert!(host.logs_where(is_stopped_error).is_empty());
}

#[test]
fn too_many_panics_stop_the_handler_alone() {
    let mut host = host("max_restarts: 3, within_secs: 60", "");
    for n in 1..=3 {
        panic_once(&host, n);
        host.wait_for_nth_log(n, is_recreated, WAIT)
            .unwrap_or_else(|| panic!("restart #{n} not logged"));
        assert_eq!(ping(host.addr("f")), b"pong", "after restart #{n}");
    }
    assert!(
        host.logs_where(is_stopped_error).is_empty(),
        "3 restarts are allowed"
    );

    // The 4th panic within the window exceeds max_restarts = 3.
    panic_once(&host, 4);
    let stopped = host.expect_log("the ERROR line stopping faulty", is_stopped_error, WAIT);
    assert_eq!(stopped["max_restarts"], 3, "{stopped}");
    assert_eq!(host.logs_where(is_recreated).len(), 3, "no 4th restart");

    // faulty is gone; echo is not, and neither is the host.
    assert_eq!(try_udp_roundtrip(host.addr("f"), b"ping", SILENCE), None);
    echo_works(&host);
    assert!(host.is_running());
}

/// Panics further apart than `within_secs` never add up to a stop.
#[test]
fn restarts_outside_the_window_are_forgotten() {
    let mut host = host("max_restarts: 1, within_secs: 1", "");
    for n in 1..=3 {
        panic_once(&host, n);
        host.wait_for_nth_log(n, is_recreated, WAIT)
            .unwrap_or_else(|| {
                panic!(
                    "restart #{n} not logged:\n{}",
                    host.stderr_lines().join("\n")
                )
            });
        assert_eq!(ping(host.addr("f")), b"pong");
        std::thread::sleep(Duration::from_millis(1200));
    }
    assert!(host.logs_where(is_stopped_error).is_empty());
    assert!(host.is_running());
}

/// A panic during a TCP read: the instance (and the connections it owned) is replaced;
/// a new connection is served by the fresh instance.
#[test]
fn a_panic_over_tcp_drops_that_instance_and_new_connections_work() {
    let mut host = host("max_restarts: 3, within_secs: 60", "");
    let mut c = tcp_connect(host.addr("ft"), WAIT);
    c.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"pong");

    c.write_all(b"panic").unwrap();
    host.expect_log("the TCP panic", is_panic_report, WAIT);
    host.expect_log("instance recreated", is_recreated, WAIT);
    // The old connection belonged to the dead instance: the host closed it.
    // EOF or a reset, not a read timeout (which would mean a connection left dangling).
    let mut rest = Vec::new();
    if let Err(e) = c.read_to_end(&mut rest) {
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
    }
    assert!(rest.is_empty(), "{rest:?}");

    let mut c2 = tcp_connect(host.addr("ft"), WAIT);
    c2.write_all(b"ping").unwrap();
    c2.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"pong");
    echo_works(&host);
    assert!(host.is_running());
}

/// Bad ids are statuses, not crashes: every call reports an error, the instance lives on.
#[test]
fn malformed_host_calls_get_error_statuses() {
    let mut host = host("max_restarts: 0, within_secs: 60", "");
    let reply = udp_roundtrip(host.addr("f"), b"malformed", WAIT);
    let reply = String::from_utf8(reply).expect("UTF-8 reply");
    let fields: Vec<(&str, u32)> = reply
        .strip_prefix("malformed ")
        .unwrap_or_else(|| panic!("{reply}"))
        .split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("key=status");
            (k, v.parse().expect("numeric status"))
        })
        .collect();
    let keys: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, ["socket", "conn", "file", "close_file", "commit"]);
    for (k, status) in &fields {
        assert_ne!(*status, 0, "the host accepted a bogus {k}: {reply}");
        assert_ne!(*status, 1, "{k} reported a panic: {reply}");
    }
    // Unknown socket, connection and file ids are SY_ERR_INVALID (2).
    assert_eq!(fields[0].1, 2, "{reply}");
    assert_eq!(fields[1].1, 2, "{reply}");
    assert_eq!(fields[2].1, 2, "{reply}");

    // Same over TCP, from inside a connection.
    let mut c = tcp_connect(host.addr("ft"), WAIT);
    c.write_all(b"malformed").unwrap();
    let mut buf = vec![0u8; reply.len()];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(String::from_utf8(buf).unwrap(), reply);

    // max_restarts 0: had anything panicked, faulty would be stopped now.
    assert_eq!(ping(host.addr("f")), b"pong");
    assert!(host.logs_where(is_recreated).is_empty());
    assert!(host.logs_where(is_stopped_error).is_empty());
    echo_works(&host);
    assert!(host.is_running());
}

/// A plugin that panics in `create` stops its own handler; the host serves the rest.
#[test]
fn a_panic_while_creating_stops_that_handler_only() {
    let mut host = host("max_restarts: 3, within_secs: 60", "panic_in_new: true");
    host.expect_log(
        "the create panic",
        |j| {
            j["handler"] == "faulty"
                && j["level"] == "error"
                && j["msg"].as_str().is_some_and(|m| {
                    m.contains("plugin panicked during create: faulty: panic_in_new is set")
                })
        },
        WAIT,
    );
    assert_eq!(try_udp_roundtrip(host.addr("f"), b"ping", SILENCE), None);
    echo_works(&host);
    assert!(host.is_running());
}
