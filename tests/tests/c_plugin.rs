//! The plugin written in C (`examples/plugins/c-echo`), end to end: built with the
//! system C compiler by its Makefile, then served by the real host. This is what makes
//! `core/sdk/include/switchyard.h` a specification rather than documentation: a
//! plugin that knows nothing of Rust loads, serves, and is drained.

use std::io::{Read, Write};
use std::time::Duration;

use switchyard_e2e::{
    Host, build_c_echo, repo_root, run_switchyard, tcp_connect, tcp_roundtrip, udp_roundtrip,
};

const WAIT: Duration = Duration::from_secs(10);

/// The shipped `config/examples/echo-c.ron`, moved from port 7007 to port 0 so that
/// tests never collide with each other or with a server someone is running.
fn shipped_topology_on_port_0() -> String {
    let text = std::fs::read_to_string(repo_root().join("config/examples/echo-c.ron"))
        .expect("read echo-c.ron");
    assert!(
        text.contains("127.0.0.1:7007"),
        "echo-c.ron moved off 7007?"
    );
    text.replace("127.0.0.1:7007", "127.0.0.1:0")
}

#[test]
fn make_builds_a_plugin_the_host_accepts() {
    let lib = build_c_echo();
    let out = run_switchyard(["plugins", "--config", "config/examples/echo-c.ron"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("c-echo "))
        .unwrap_or_else(|| panic!("c-echo missing:\n{stdout}"));
    assert!(line.contains(" 0.1.0 "), "{line}");
    assert!(
        line.ends_with(lib.file_name().unwrap().to_str().unwrap()),
        "{line}"
    );
}

/// The shipped example topology (relative plugin path, resolved against the working
/// directory) serves UDP echo through the C plugin.
#[test]
fn shipped_example_echoes_udp_through_the_c_plugin() {
    build_c_echo();
    let host = Host::start(&shipped_topology_on_port_0());
    let addr = host.addr("echo_udp");
    for payload in [
        &b"hello from a C plugin"[..],
        b"",
        &[0u8, 255, 10, 13, 0][..],
        &vec![b'x'; 8000][..],
    ] {
        assert_eq!(udp_roundtrip(addr, payload, WAIT), payload);
    }
    // Many in a row: instance state (malloc'd in create) survives across events.
    for i in 0..200u32 {
        let p = i.to_be_bytes();
        assert_eq!(udp_roundtrip(addr, &p, WAIT), p);
    }
    assert!(
        host.logs_where(|j| j["level"] == "error").is_empty(),
        "{:?}",
        host.stderr_lines()
    );
}

/// TCP through the C plugin, on IPv6: the whole byte stream comes back, and the peer's
/// half close is answered with ours (`tcp_roundtrip` reads until EOF).
#[test]
fn c_plugin_echoes_tcp_on_ipv6_and_honours_half_close() {
    let lib = build_c_echo();
    let host = Host::start(&format!(
        r#"(
    plugins: {{ "c-echo": "{}" }},
    listeners: {{
        "tcp6": (kind: tcp, bind: "[::1]:0"),
        "udp6": (kind: udp, bind: "[::1]:0"),
    }},
    handlers: {{ "e": (plugin: "c-echo") }},
    routes: [ (from: "tcp6", to: "e"), (from: "udp6", to: "e") ],
)"#,
        lib.display()
    ));
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    assert_eq!(tcp_roundtrip(host.addr("tcp6"), &big, WAIT), big);
    assert_eq!(udp_roundtrip(host.addr("udp6"), b"v6", WAIT), b"v6");

    // Interleaved writes and reads on one connection.
    let mut c = tcp_connect(host.addr("tcp6"), WAIT);
    for round in 0..5u8 {
        let msg = [round; 100];
        c.write_all(&msg).unwrap();
        let mut back = [0u8; 100];
        c.read_exact(&mut back).unwrap();
        assert_eq!(back, msg);
    }
}

/// The C plugin takes its config as JSON, converted by the host, and reads it with the
/// header-only `switchyard_json.h`: its `prefix` option shows in every UDP reply, and a
/// bad value is refused by `validate` at the value.
#[test]
fn c_plugin_reads_its_config_through_the_json_helper() {
    let lib = build_c_echo();
    let topology = |config: &str| {
        format!(
            r#"(
    plugins: {{ "c-echo": "{}" }},
    listeners: {{ "u": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{ "e": (plugin: "c-echo", config: {config}) }},
    routes: [ (from: "u", to: "e") ],
)"#,
            lib.display()
        )
    };
    let host = Host::start(&topology(r#"(prefix: "c\"> ")"#));
    assert_eq!(udp_roundtrip(host.addr("u"), b"hi", WAIT), b"c\"> hi");
    drop(host);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.ron");
    std::fs::write(&file, topology("(prefix: 5)")).unwrap();
    let out = run_switchyard(["validate".as_ref(), file.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("`prefix`: a string of at most 64 bytes"),
        "{err}"
    );
    let col = topology("(prefix: 5)")
        .lines()
        .nth(3)
        .unwrap()
        .find('5')
        .unwrap()
        + 1;
    assert!(
        err.contains(&format!("{}:4:{col}", file.display())),
        "{err}"
    );
}

/// SIGTERM drains and exits 0 with a C plugin too (destroy is called on the way out).
#[test]
fn c_plugin_host_exits_0_on_sigterm() {
    build_c_echo();
    let mut host = Host::start(&shipped_topology_on_port_0());
    assert_eq!(udp_roundtrip(host.addr("echo_udp"), b"x", WAIT), b"x");
    host.signal("TERM");
    let status = host.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "{:?}", host.stderr_lines());
}
