//! The `switchyard` command line, end to end: `--version`, `validate` (every repository
//! topology, and each class of configuration error with its message and position),
//! `plugins`, `serve` echoing over UDP and TCP on IPv4 and IPv6, and a SIGTERM drain.
//!
//! The error-class tests write small topologies to a temp dir and check what an operator
//! would read: exit code 78 (`EX_CONFIG`), the diagnostic code, the message, and the
//! `file:line:col` of the culprit. Port-typed errors use two `faulty` handlers: faulty
//! declares output `out` (`switchyard.ChatMessage/1`), input `in`
//! (`switchyard.TransferCompleted/1`) and input `any` (`*`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use switchyard_e2e::{
    Host, build_c_echo, plugin_lib, repo_root, run_switchyard, tcp_connect, tcp_roundtrip,
    udp_roundtrip,
};

const WAIT: Duration = Duration::from_secs(10);

/// `EX_CONFIG`: what `validate` and `serve` exit with on a configuration error.
const EXIT_CONFIG: i32 = 78;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Write `topology` to `<tmp>/<name>` and run `switchyard validate` on it.
fn validate_text(name: &str, topology: &str) -> (tempfile::TempDir, PathBuf, Output) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join(name);
    std::fs::write(&file, topology).expect("write topology");
    let out = run_switchyard([Path::new("validate"), &file]);
    (dir, file, out)
}

/// Validate `topology`, expect exit 78, and return stderr for message assertions.
fn refused(name: &str, topology: &str) -> (PathBuf, String) {
    let (_dir, file, out) = validate_text(name, topology);
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(EXIT_CONFIG),
        "validate must exit 78 on {name}; stderr:\n{err}"
    );
    (file, err)
}

/// Assert that `haystack` has every needle, showing it all when one is missing.
fn assert_has(haystack: &str, needles: &[&str]) {
    for n in needles {
        assert!(haystack.contains(n), "missing {n:?} in:\n{haystack}");
    }
}

#[test]
fn version_prints_name_and_version() {
    let out = run_switchyard(["--version"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        text(&out.stdout).trim(),
        format!("switchyard {}", env!("CARGO_PKG_VERSION"))
    );
}

/// Every topology shipped in `config/` and `config/examples/` validates, so the files an
/// operator copies from are known good. New files are picked up without editing this.
#[test]
fn every_repository_topology_validates() {
    // echo-c.ron names the C plugin's library by path: build it first.
    build_c_echo();
    let mut files = Vec::new();
    for dir in ["config", "config/examples"] {
        for entry in std::fs::read_dir(repo_root().join(dir)).expect("read config dir") {
            let path = entry.expect("dir entry").path();
            if path.extension().is_some_and(|e| e == "ron") {
                files.push(Path::new(dir).join(path.file_name().expect("file name")));
            }
        }
    }
    files.sort();
    for must in ["config/topology.ron", "config/examples/echo-c.ron"] {
        assert!(
            files.iter().any(|f| f == Path::new(must)),
            "{must} missing from {files:?}"
        );
    }
    let mut args = vec![PathBuf::from("validate")];
    args.extend(files.iter().cloned());
    let out = run_switchyard(&args);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "validate failed:\n{stdout}\n{stderr}");
    for f in &files {
        assert!(
            stdout.contains(&format!("{}: ok", f.display())),
            "no ok line for {}:\n{stdout}",
            f.display()
        );
    }
}

#[test]
fn syntax_error_exits_78_with_file_line_col() {
    let (file, err) = refused(
        "syntax.ron",
        r#"(
    listeners: {
        "u": (kind: udp bind: "127.0.0.1:0"),
    },
    handlers: { "echo": (plugin: "echo") },
    routes: [ (from: "u", to: "echo") ],
)
"#,
    );
    // The missing comma is noticed at `bind`: line 3, column 25.
    assert_has(
        &err,
        &[
            "topology::syntax",
            "syntax error",
            &format!("{}:3:25", file.display()),
        ],
    );
}

#[test]
fn two_semantic_errors_are_both_reported() {
    let (file, err) = refused(
        "two.ron",
        r#"(
    listeners: { "u": (kind: udp, bind: "127.0.0.1:0") },
    handlers: { "echo": (plugin: "echo", confg: ()) },
    routes: [ (from: "u", to: "echo"), (from: "nowhere", to: "echo") ],
)
"#,
    );
    assert_has(
        &err,
        &[
            "topology::unknown_field",
            "topology::dangling_route",
            &format!("{}:3:42", file.display()),
            &format!("{}:4:47", file.display()),
            "2 errors",
        ],
    );
}

#[test]
fn unknown_field_suggests_the_right_one() {
    let (file, err) = refused(
        "field.ron",
        r#"(
    listeners: { "u": (kind: udp, bindd: "127.0.0.1:0") },
    handlers: { "echo": (plugin: "echo") },
    routes: [ (from: "u", to: "echo") ],
)
"#,
    );
    assert_has(
        &err,
        &[
            "topology::unknown_field",
            "unknown field `bindd`",
            "did you mean `bind`?",
            &format!("{}:2:35", file.display()),
        ],
    );
}

#[test]
fn unknown_plugin_says_where_it_looked() {
    let (file, err) = refused(
        "plugin.ron",
        r#"(
    listeners: { "u": (kind: udp, bind: "127.0.0.1:0") },
    handlers: { "x": (plugin: "no-such-plugin") },
    routes: [ (from: "u", to: "x") ],
)
"#,
    );
    assert_has(
        &err,
        &[
            "topology::unknown_plugin",
            "cannot load plugin `no-such-plugin`",
            "libswitchyard_no_such_plugin.so",
            &format!("{}:3:31", file.display()),
        ],
    );
}

#[test]
fn dangling_route_names_the_missing_end() {
    let (file, err) = refused(
        "dangling.ron",
        r#"(
    listeners: { "u": (kind: udp, bind: "127.0.0.1:0") },
    handlers: { "echo": (plugin: "echo") },
    routes: [ (from: "u", to: "ecoh") ],
)
"#,
    );
    assert_has(
        &err,
        &[
            "topology::dangling_route",
            "route target `ecoh` names no handler",
            "did you mean `echo`?",
            &format!("{}:4:31", file.display()),
        ],
    );
}

#[test]
fn port_type_mismatch_names_both_types() {
    let (file, err) = refused(
        "mismatch.ron",
        r#"(
    listeners: {},
    handlers: {
        "a": (plugin: "faulty"),
        "b": (plugin: "faulty"),
    },
    routes: [
        (from: "a.out", to: "b.in"),
    ],
)
"#,
    );
    assert_has(
        &err,
        &[
            "topology::type_mismatch",
            "`a.out` emits `switchyard.ChatMessage/1`",
            "`b.in` accepts `switchyard.TransferCompleted/1`",
            &format!("{}:8:29", file.display()),
        ],
    );
}

/// The same two handlers with an input of type `*` type-check, so a loop between them
/// is caught by the cycle check alone.
#[test]
fn message_cycle_is_refused() {
    let (file, err) = refused(
        "cycle.ron",
        r#"(
    listeners: {},
    handlers: {
        "a": (plugin: "faulty"),
        "b": (plugin: "faulty"),
    },
    routes: [
        (from: "a.out", to: "b.any"),
        (from: "b.out", to: "a.any"),
    ],
)
"#,
    );
    assert_has(
        &err,
        &[
            "topology::cycle",
            "cycle in message routes: a -> b -> a",
            &format!("{}:9:9", file.display()),
            "1 error",
        ],
    );
    assert!(!err.contains("type_mismatch"), "{err}");
}

#[test]
fn address_claimed_twice_is_refused() {
    let (file, err) = refused(
        "twice.ron",
        r#"(
    listeners: {
        "u1": (kind: udp, bind: "127.0.0.1:7999"),
        "u2": (kind: udp, bind: "127.0.0.1:7999"),
    },
    handlers: { "echo": (plugin: "echo") },
    routes: [ (from: "u1", to: "echo"), (from: "u2", to: "echo") ],
)
"#,
    );
    assert_has(
        &err,
        &[
            "topology::address_conflict",
            "listener `u2` claims udp address `127.0.0.1:7999`, already claimed by listener `u1`",
            &format!("{}:4:33", file.display()),
        ],
    );
}

/// A value the plugin's own config struct refuses is reported at its position in the
/// topology file, not in the config fragment the plugin saw.
#[test]
fn bad_plugin_config_value_points_into_the_topology() {
    let (file, err) = refused(
        "config.ron",
        r#"(
    listeners: { "u": (kind: udp, bind: "127.0.0.1:0") },
    handlers: {
        "f": (
            plugin: "faulty",
            config: (
                panic_in_new: "yes",
            ),
        ),
    },
    routes: [ (from: "u", to: "f") ],
)
"#,
    );
    assert_has(
        &err,
        &[
            "topology::config",
            "invalid config for handler `f`",
            "Expected boolean",
        ],
    );
    // Line 7 is the value's line; RON reports the column where it began parsing the
    // value (just after the colon), so accept the colon's neighbour or the value itself.
    let at = |col| format!("{}:7:{col}", file.display());
    assert!(
        err.contains(&at(30)) || err.contains(&at(31)),
        "no position 7:30/7:31 in:\n{err}"
    );
}

/// The C plugin's own config check reports through `config_error`, placed in the file.
#[test]
fn c_plugin_config_error_points_into_the_topology() {
    let lib = build_c_echo();
    let (file, err) = refused(
        "c-config.ron",
        &format!(
            r#"(
    plugins: {{ "c-echo": "{}" }},
    listeners: {{ "u": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{ "e": (plugin: "c-echo", config: (  size: 3)) }},
    routes: [ (from: "u", to: "e") ],
)
"#,
            lib.display()
        ),
    );
    // The C plugin reads its config as JSON (which the operator never sees) and names
    // the field: the caret lands on that field's value in the RON.
    assert_has(
        &err,
        &[
            "`size`: unknown option: c-echo takes `prefix`",
            &format!("{}:4:58", file.display()),
        ],
    );
}

#[test]
fn plugins_lists_name_version_abi_storage_workers_and_path() {
    let out = run_switchyard(["plugins"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("host ABI 1"), "{stdout}");
    for (name, storage, workers) in [
        ("echo", "served", "1"),
        ("faulty", "served", "1"),
        ("audit", "private", "1"),
        ("files", "served", "any"),
        ("tftp", "served", "by-ip"),
    ] {
        let path = plugin_lib(name);
        let line = stdout
            .lines()
            .find(|l| l.ends_with(&path.display().to_string()))
            .unwrap_or_else(|| panic!("no line for {}:\n{stdout}", path.display()));
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[0], name, "{line}");
        assert_eq!(cols[1], env!("CARGO_PKG_VERSION"), "{line}");
        assert_eq!(cols[2], "1", "{line}");
        assert_eq!(cols[3], storage, "{line}");
        assert_eq!(cols[4], workers, "{line}");
    }
}

#[test]
fn plugins_with_config_includes_explicit_paths() {
    let lib = build_c_echo();
    let out = run_switchyard(["plugins", "--config", "config/examples/echo-c.ron"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("c-echo "))
        .unwrap_or_else(|| panic!("c-echo not listed:\n{stdout}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols[1..5], ["0.1.0", "1", "served", "1"], "{line}");
    let listed = Path::new(cols[5])
        .canonicalize()
        .expect("listed path exists");
    assert_eq!(listed, lib.canonicalize().unwrap());
}

/// One echo handler behind four listeners: UDP and TCP, each on IPv4 and IPv6 loopback.
#[test]
fn serve_echoes_udp_and_tcp_on_ipv4_and_ipv6() {
    let host = Host::start(
        r#"(
    listeners: {
        "udp4": (kind: udp, bind: "127.0.0.1:0"),
        "udp6": (kind: udp, bind: "[::1]:0"),
        "tcp4": (kind: tcp, bind: "127.0.0.1:0"),
        "tcp6": (kind: tcp, bind: "[::1]:0"),
    },
    handlers: { "echo": (plugin: "echo") },
    routes: [
        (from: "udp4", to: "echo"), (from: "udp6", to: "echo"),
        (from: "tcp4", to: "echo"), (from: "tcp6", to: "echo"),
    ],
)"#,
    );
    for name in ["udp4", "tcp4"] {
        assert!(host.addr(name).is_ipv4(), "{name}: {}", host.addr(name));
        assert_ne!(host.addr(name).port(), 0);
    }
    for name in ["udp6", "tcp6"] {
        assert!(host.addr(name).is_ipv6(), "{name}: {}", host.addr(name));
    }
    for name in ["udp4", "udp6"] {
        let payload = format!("datagram via {name} \0\u{ff}");
        assert_eq!(
            udp_roundtrip(host.addr(name), payload.as_bytes(), WAIT),
            payload.as_bytes()
        );
    }
    // 200 KiB: more than one read and one socket buffer, so the echo really streams.
    let big: Vec<u8> = (0..200 * 1024u32).map(|i| (i % 251) as u8).collect();
    for name in ["tcp4", "tcp6"] {
        assert_eq!(tcp_roundtrip(host.addr(name), &big, WAIT), big, "{name}");
    }
    assert!(host.logs_contain(r#""msg":"serving""#));
}

#[test]
fn sigterm_with_nothing_in_flight_exits_0_promptly() {
    let mut host = Host::start(
        r#"(
    drain_timeout_secs: 10,
    listeners: { "u": (kind: udp, bind: "127.0.0.1:0") },
    handlers: { "echo": (plugin: "echo") },
    routes: [ (from: "u", to: "echo") ],
)"#,
    );
    assert_eq!(udp_roundtrip(host.addr("u"), b"x", WAIT), b"x");
    let start = Instant::now();
    host.signal("TERM");
    let status = host.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "an idle host must not wait for the drain deadline: {:?}",
        start.elapsed()
    );
    host.expect_log("draining", |j| j["msg"] == "draining", WAIT);
    host.expect_log("stopped", |j| j["msg"] == "stopped", WAIT);
}

/// An open connection keeps the drain going: it is still served after SIGTERM, and the
/// host exits 0 once the deadline passes, not earlier and not much later.
#[test]
fn sigterm_drains_in_flight_work_until_the_deadline_then_exits_0() {
    let mut host = Host::start(
        r#"(
    drain_timeout_secs: 2,
    listeners: { "t": (kind: tcp, bind: "127.0.0.1:0") },
    handlers: { "echo": (plugin: "echo") },
    routes: [ (from: "t", to: "echo") ],
)"#,
    );
    let mut conn = tcp_connect(host.addr("t"), WAIT);
    conn.write_all(b"before").unwrap();
    let mut buf = [0u8; 6];
    conn.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"before");

    let start = Instant::now();
    host.signal("TERM");
    host.expect_log("draining", |j| j["msg"] == "draining", WAIT);
    // In-flight work goes on while draining.
    conn.write_all(b"during").unwrap();
    conn.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"during");

    let status = host.wait_exit(Duration::from_secs(12));
    let took = start.elapsed();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(
        took >= Duration::from_millis(1500),
        "exited before the drain deadline although a connection was open: {took:?}"
    );
    assert!(
        took < Duration::from_secs(7),
        "exit took {took:?}, drain deadline 2 s"
    );
    host.expect_log("stopped", |j| j["msg"] == "stopped", WAIT);
}
