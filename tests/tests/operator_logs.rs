//! An operator's day, end to end: the log file and logrotate, stray signals, a second
//! SIGTERM during the drain, JSON lines, the open-files limit.

use std::time::Duration;

use serde_json::Value;
use switchyard_e2e::logfile_host::LogFileHost;
use switchyard_e2e::tftp_wire::download;
use switchyard_e2e::{Host, udp_request, udp_roundtrip};

const WAIT: Duration = Duration::from_secs(10);

const ECHO: &str = r#"(
    listeners: { "u": (kind: udp, bind: "127.0.0.1:0") },
    handlers: { "echo": (plugin: "echo") },
    routes: [(from: "u", to: "echo")],
)"#;

fn echo_config(dir: &std::path::Path) -> std::path::PathBuf {
    let config = dir.join("topology.ron");
    std::fs::write(&config, ECHO).unwrap();
    config
}

/// logrotate's `postrotate kill -USR1`: the moved file keeps what was written, the
/// new file at the old path gets every line after the signal, the host keeps serving.
#[test]
fn sigusr1_reopens_the_log_file_after_logrotate_moved_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("switchyard.log");
    let mut host = LogFileHost::start(&echo_config(dir.path()), &log, &[], "");
    let u = host.addr("u");
    assert_eq!(udp_roundtrip(u, b"before", WAIT), b"before");

    let rotated = dir.path().join("switchyard.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    host.signal("USR1");
    host.wait_for(&log, "the reopen", |j| j["msg"] == "log file reopened");
    assert_eq!(udp_roundtrip(u, b"after", WAIT), b"after");
    host.signal("TERM");
    assert_eq!(host.wait_exit().code(), Some(0));

    let old = LogFileHost::records(&rotated);
    let new = LogFileHost::records(&log);
    assert!(old.iter().any(|j| j["msg"] == "serving"), "{old:?}");
    assert!(
        !old.iter().any(|j| j["msg"] == "log file reopened"),
        "{old:?}"
    );
    assert!(new.iter().any(|j| j["msg"] == "stopped"), "{new:?}");
    assert!(!new.iter().any(|j| j["msg"] == "serving"), "{new:?}");
}

/// Signals whose default action would kill the process are logged and survived.
#[test]
fn stray_signals_do_not_stop_the_host() {
    let mut host = Host::start(ECHO);
    let u = host.addr("u");
    for sig in [
        "USR2", "PIPE", "ALRM", "VTALRM", "PROF", "IO", "WINCH", "USR1",
    ] {
        host.signal(sig);
        assert_eq!(
            udp_roundtrip(u, sig.as_bytes(), WAIT),
            sig.as_bytes(),
            "after SIG{sig}"
        );
    }
    assert!(host.is_running());
    for sig in [
        "SIGUSR2",
        "SIGALRM",
        "SIGVTALRM",
        "SIGPROF",
        "SIGIO",
        "SIGWINCH",
    ] {
        host.expect_log(
            sig,
            |j| j["msg"] == "signal ignored" && j["signal"] == sig,
            WAIT,
        );
    }
    host.expect_log(
        "SIGUSR1 without a log file",
        |j| {
            j["msg"]
                .as_str()
                .is_some_and(|m| m.starts_with("SIGUSR1: no log file"))
        },
        WAIT,
    );
}

/// `--log-format json`: every line on stderr is one JSON object with `ts`, a level
/// from the five names, and `msg`, through a plugin panic and a refused reload (a
/// multi-line report travels as a string field); a plugin's fields are keys.
#[test]
fn json_logs_are_one_object_per_line_through_a_panic_and_a_refused_reload() {
    let topology = r#"(
    listeners: {
        "f": (kind: udp, bind: "127.0.0.1:0"),
        "t": (kind: udp, bind: "127.0.0.1:0"),
    },
    handlers: {
        "faulty": (plugin: "faulty"),
        "tftp": (plugin: "tftp", root: Some("$TMP/data")),
    },
    routes: [(from: "f", to: "faulty"), (from: "t", to: "tftp")],
)"#;
    // At `debug`, where a TFTP transfer that went well logs its line (the plugin's
    // fields are what this test reads).
    let host = Host::builder(topology).log_level("debug").start();
    std::fs::write(host.temp_dir().join("data/hello.txt"), b"hello").unwrap();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.send_to(b"panic", host.addr("f")).unwrap();
    host.expect_log(
        "the panic",
        |j| j["msg"] == "plugin panicked; instance recreated",
        WAIT,
    );
    assert_eq!(download(host.addr("t"), "hello.txt"), b"hello");
    let transfer = host.expect_log("the transfer", |j| j["msg"] == "transfer", WAIT);
    assert_eq!(transfer["file"], "hello.txt");
    assert_eq!(transfer["bytes"], 5, "counts are numbers: {transfer}");
    assert_eq!(transfer["result"], "ok");

    let text = std::fs::read_to_string(host.config_path()).unwrap();
    std::fs::write(host.config_path(), text.replace("\"faulty\")", "\"nope\")")).unwrap();
    host.signal("HUP");
    let report = host.expect_log("the report", |j| j["msg"] == "topology report", WAIT);
    assert!(
        report["report"].as_str().is_some_and(|r| r.contains('\n')),
        "{report}"
    );
    assert_eq!(
        udp_request(host.addr("f"), b"ping", 5, WAIT).as_deref(),
        Some(&b"pong"[..])
    );

    let lines = host.stderr_lines();
    assert!(lines.len() > 5, "{lines:?}");
    for line in &lines {
        let j: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(j["ts"].is_string(), "{line}");
        assert!(j["msg"].is_string(), "{line}");
        let level = j["level"].as_str().unwrap_or("");
        assert!(
            ["error", "warn", "info", "debug", "trace"].contains(&level),
            "{line}"
        );
    }
}

/// The soft `RLIMIT_NOFILE` is raised to the hard limit at start (here from 256).
#[test]
fn the_open_files_limit_is_raised_to_the_hard_limit() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("host.log");
    let host = LogFileHost::start(&echo_config(dir.path()), &log, &[], "ulimit -Sn 256 &&");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", host.pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let cols: Vec<&str> = line.split_whitespace().collect();
    let (soft, hard) = (cols[3], cols[4]);
    assert!(
        hard == "unlimited" || hard.parse::<u64>().unwrap() > 256,
        "the hard limit must be above 256 for this test: {line}"
    );
    assert_eq!(soft, hard, "{line}");
    let record = host.wait_for(&log, "the limit", |j| j["msg"] == "open files limit");
    assert_eq!(record["soft_before"], 256, "{record}");
}

/// The README's promise: SIGTERM starts a drain, and a second signal while it runs
/// exits at once with 130, not at the drain deadline. A TCP connection held open keeps
/// the drain (60 s) going, so only the second signal can end the host in time.
#[test]
fn a_second_signal_during_the_drain_exits_130_at_once() {
    use std::io::{Read, Write};
    use std::time::Instant;
    let mut host = Host::start(
        r#"(
    drain_timeout_secs: 60,
    listeners: { "t": (kind: tcp, bind: "127.0.0.1:0") },
    handlers: { "echo": (plugin: "echo") },
    routes: [(from: "t", to: "echo")],
)"#,
    );
    let mut conn = switchyard_e2e::tcp_connect(host.addr("t"), WAIT);
    conn.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    conn.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");

    host.signal("TERM");
    host.expect_log("draining", |j| j["msg"] == "draining", WAIT);
    // Still draining (the connection is served), so the first signal alone did not end it.
    conn.write_all(b"pong").unwrap();
    conn.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"pong");
    assert!(host.is_running(), "the host left the drain early");

    let second = Instant::now();
    host.signal("TERM");
    let status = host.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert!(
        second.elapsed() < Duration::from_secs(5),
        "a second signal must exit at once, took {:?} (drain deadline 60 s)",
        second.elapsed()
    );
    host.expect_log(
        "the second signal",
        |j| j["msg"] == "second signal: exiting now",
        WAIT,
    );
}
