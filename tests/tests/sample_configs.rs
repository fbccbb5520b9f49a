//! Every topology shipped in `config/` is validated *and* served, and each of its
//! listeners answers one real request. The test reads the real file and rewrites only
//! what a test must change, by text: every `bind` to port 0 on loopback (`[::1]:0` for
//! an IPv6 address, `127.0.0.1:0` otherwise), every storage `root` into the host's
//! `$TMP`, `admin` to `127.0.0.1:0`, and a bus's servers to the test's own NATS
//! server. Everything else (handlers, plugin configs,
//! routes, limits) is served as an operator would get it.
//!
//! One `#[test]` per file, named in [`TESTED`]; `every_config_file_has_a_test` fails
//! when a `.ron` file is added under `config/` without one. Each test also checks that
//! it exercised every listener the host bound, so a listener added to a file without a
//! request here is noticed too.
//!
//! Loopback only, bounded waits; `cargo build --workspace` first (the harness's rule).

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use switchyard_e2e::cluster::BUS_WAIT;
use switchyard_e2e::files_wire::V2;
use switchyard_e2e::nats::NatsServer;
use switchyard_e2e::seaweed::Seaweed;
use switchyard_e2e::{
    Host, build_c_echo, http_get, repo_root, run_switchyard, tcp_connect, tcp_roundtrip, tftp_wire,
    udp_roundtrip, wait_until,
};

const WAIT: Duration = Duration::from_secs(20);

/// Each file under `config/` (relative to the repository root) and the test serving it.
const TESTED: &[(&str, &str)] = &[
    ("config/topology.ron", "default_topology"),
    ("config/examples/bulk.ron", "example_bulk"),
    ("config/examples/chat.ron", "example_chat"),
    ("config/examples/cluster-a.ron", "example_cluster"),
    ("config/examples/cluster-b.ron", "example_cluster"),
    ("config/examples/echo-c.ron", "example_echo_c"),
    ("config/examples/echo.ron", "example_echo"),
    ("config/examples/files.ron", "example_files"),
    ("config/examples/s3.ron", "example_s3"),
    ("config/examples/tftp.ron", "example_tftp"),
];

/// Every `.ron` file under `config/`, recursively, relative to the repository root.
fn config_files(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(repo_root().join(dir)).expect("read config dir") {
        let path = entry.expect("dir entry").path();
        let rel = dir.join(path.file_name().expect("file name"));
        if path.is_dir() {
            config_files(&rel, out);
        } else if path.extension().is_some_and(|e| e == "ron") {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
}

#[test]
fn every_config_file_has_a_test() {
    let mut files = Vec::new();
    config_files(Path::new("config"), &mut files);
    files.sort();
    let mut tested: Vec<String> = TESTED.iter().map(|(f, _)| f.to_string()).collect();
    tested.sort();
    assert_eq!(
        files, tested,
        "each config/**/*.ron needs a test in tests/tests/sample_configs.rs, listed in TESTED"
    );
    // The names in TESTED are this file's test functions.
    let source = include_str!("sample_configs.rs");
    for (file, test) in TESTED {
        assert!(
            source.contains(&format!("fn {test}()")),
            "{file}: no test function `{test}` in sample_configs.rs"
        );
    }
}

/// Replace the quoted value after each `key` (e.g. `bind: "`) with `f(value)`.
fn rewrite_quoted(text: &str, key: &str, f: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(key) {
        let start = at + key.len();
        out.push_str(&rest[..start]);
        let end = rest[start..].find('"').expect("closing quote") + start;
        out.push_str(&f(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The real file `path`, validated with `switchyard validate`, and rewritten to be
/// served by a test: loopback port 0, roots in `$TMP`, admin on port 0.
fn servable(path: &str) -> String {
    let out = run_switchyard(["validate", path]);
    assert!(
        out.status.success(),
        "switchyard validate {path} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(repo_root().join(path)).expect("read config");
    let text = rewrite_quoted(&text, "bind: \"", |bind| {
        if bind.starts_with('[') {
            "[::1]:0".into()
        } else {
            "127.0.0.1:0".into()
        }
    });
    let text = rewrite_quoted(&text, "root: Some(\"", |root| {
        format!(
            "$TMP/{}",
            root.trim_start_matches("./").trim_start_matches('/')
        )
    });
    rewrite_quoted(&text, "admin: Some(\"", |_| "127.0.0.1:0".into())
}

/// Every listener the host bound (the admin endpoint aside) was exercised.
fn assert_all_exercised(host: &Host, exercised: &[&str]) {
    let mut bound: Vec<&str> = host
        .addrs()
        .keys()
        .map(String::as_str)
        .filter(|n| *n != "(admin)")
        .collect();
    bound.sort();
    let mut exercised = exercised.to_vec();
    exercised.sort();
    assert_eq!(
        bound, exercised,
        "every listener of the file gets a request"
    );
}

/// Put `data` at `rel` under the host's `$TMP`.
fn put(host: &Host, rel: &str, data: &[u8]) -> PathBuf {
    let path = host.temp_dir().join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, data).unwrap();
    path
}

// ---- protocol requests ----------------------------------------------------------------

/// A TFTP RRQ of a file put in the root, read to its end.
fn tftp_get(host: &Host, listener: &str, root: &str) {
    let body: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    put(host, &format!("{root}/sample.bin"), &body);
    assert_eq!(tftp_wire::download(host.addr(listener), "sample.bin"), body);
}

/// A visitor's chat line gets the auto reply (no agent online).
fn chat_line(host: &Host, listener: &str) -> &'static str {
    let line = "hello from sample_configs";
    let reply = udp_roundtrip(host.addr(listener), line.as_bytes(), WAIT);
    let reply = String::from_utf8(reply).expect("UTF-8 reply");
    assert!(
        reply.contains("agent"),
        "auto reply expected, got {reply:?}"
    );
    line
}

/// The chat line reaches the audit transcript under `$TMP/<root>`.
fn audited(host: &Host, root: &str, needle: &str) {
    let dir = host.temp_dir().join(root);
    wait_until("the chat line in the audit transcript", WAIT, || {
        std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .any(|e| std::fs::read_to_string(e.unwrap().path()).is_ok_and(|t| t.contains(needle)))
    });
}

/// files v2 `GET` of a file put in the root.
fn files_v2_get(host: &Host, listener: &str, root: &str) {
    put(host, &format!("{root}/v2.txt"), b"files v2 body\n");
    let (head, body) = V2::open(host.addr(listener)).get("v2.txt");
    assert!(head.starts_with("OK"), "{head}");
    assert_eq!(body, b"files v2 body\n");
}

/// files v1 `1:NAME`: the file's bytes, then the server closes.
fn files_v1_get(host: &Host, listener: &str, root: &str) {
    put(host, &format!("{root}/v1.txt"), b"files v1 body");
    let reply = tcp_roundtrip(host.addr(listener), b"1:v1.txt\n", WAIT);
    assert_eq!(reply, b"files v1 body");
}

const BULK_MAGIC: [u8; 4] = [0xB5, b'B', b'L', b'K'];

/// A bulk v2 reply (`docs/bulk-protocol.md`): status, value, text.
fn bulk_reply(s: &mut std::net::TcpStream) -> (u8, u64, String) {
    let mut fixed = [0u8; 48];
    s.read_exact(&mut fixed).expect("bulk reply header");
    assert_eq!(fixed[..4], BULK_MAGIC);
    let mut text = vec![0u8; u16::from_be_bytes([fixed[6], fixed[7]]) as usize];
    s.read_exact(&mut text).expect("bulk reply text");
    let value = u64::from_be_bytes(fixed[8..16].try_into().unwrap());
    (fixed[4], value, String::from_utf8_lossy(&text).into_owned())
}

fn bulk_header(op: u8, name: &str, value: u64) -> Vec<u8> {
    let mut w = BULK_MAGIC.to_vec();
    w.extend_from_slice(&[2, op, 0, name.len() as u8]);
    w.extend_from_slice(&value.to_be_bytes());
    w.extend_from_slice(name.as_bytes());
    w
}

/// bulk v2 `PUT`: the file appears in `$TMP/<incoming>` with its bytes.
fn bulk_v2_put(host: &Host, listener: &str, incoming: &str) {
    let body = b"bulk v2 upload";
    let mut s = tcp_connect(host.addr(listener), WAIT);
    s.write_all(&bulk_header(1, "up.bin", body.len() as u64))
        .unwrap();
    s.write_all(body).unwrap();
    let (status, value, text) = bulk_reply(&mut s);
    assert_eq!((status, value), (0, body.len() as u64), "{text}");
    let stored = host.temp_dir().join(incoming).join(&text);
    assert_eq!(std::fs::read(&stored).expect("stored upload"), body);
}

/// bulk v2 `GET` from offset 0 of a file put in `$TMP/<incoming>`.
fn bulk_v2_get(host: &Host, listener: &str, incoming: &str) {
    let body = b"bulk v2 download";
    put(host, &format!("{incoming}/down.bin"), body);
    let mut s = tcp_connect(host.addr(listener), WAIT);
    s.write_all(&bulk_header(2, "down.bin", 0)).unwrap();
    let (status, value, text) = bulk_reply(&mut s);
    assert_eq!((status, value), (0, body.len() as u64), "{text}");
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert_eq!(got, body);
}

/// The admin endpoint answers `/metrics`.
fn admin_metrics(host: &Host) {
    let reply = http_get(host.addr("(admin)"), "/metrics");
    assert!(
        reply.starts_with("HTTP/1.0 200") || reply.starts_with("HTTP/1.1 200"),
        "{reply}"
    );
    assert!(reply.contains("switchyard_"), "{reply}");
}

fn echo_udp(addr: SocketAddr) {
    assert_eq!(udp_roundtrip(addr, b"ping", WAIT), b"ping");
}

fn echo_tcp(addr: SocketAddr) {
    assert_eq!(
        tcp_roundtrip(addr, b"ping over tcp", WAIT),
        b"ping over tcp"
    );
}

// ---- one test per file ----------------------------------------------------------------

#[test]
fn default_topology() {
    let host = Host::start(&servable("config/topology.ron"));
    let line = chat_line(&host, "chat_udp");
    tftp_get(&host, "tftp_udp", "data");
    files_v2_get(&host, "files_tcp", "data");
    bulk_v2_put(&host, "bulk_tcp", "data/incoming");
    audited(&host, "state/audit", line);
    admin_metrics(&host);
    assert_all_exercised(&host, &["chat_udp", "tftp_udp", "files_tcp", "bulk_tcp"]);
}

#[test]
fn example_bulk() {
    let host = Host::start(&servable("config/examples/bulk.ron"));
    // The file makes no `create_dirs`: the operator makes `incoming/`.
    std::fs::create_dir_all(host.temp_dir().join("data/incoming")).unwrap();
    bulk_v2_get(&host, "bulk_tcp", "data/incoming");
    bulk_v2_put(&host, "bulk_tcp", "data/incoming");
    assert_all_exercised(&host, &["bulk_tcp"]);
}

#[test]
fn example_chat() {
    let host = Host::start(&servable("config/examples/chat.ron"));
    let line = chat_line(&host, "chat_udp");
    audited(&host, "state/audit", line);
    assert_all_exercised(&host, &["chat_udp"]);
}

#[test]
fn example_cluster() {
    let (Some(nats), Some(store)) = (NatsServer::start(), Seaweed::start()) else {
        return;
    };
    let servable_here = |path: &str| {
        let text = rewrite_quoted(&servable(path), "servers: [\"", |_| nats.url());
        rewrite_quoted(&text, "endpoint: \"", |_| store.endpoint())
    };
    let a = Host::start(&servable_here("config/examples/cluster-a.ron"));
    let b = Host::start(&servable_here("config/examples/cluster-b.ron"));
    // Host A's audit reads the stream both hosts publish into, its own host's included.
    a.expect_log(
        "host A's audit reading the stream",
        |j| switchyard_e2e::log_text(j).contains("transcript reads stream \"transcript\""),
        BUS_WAIT,
    );
    let from_b = chat_line(&b, "chat_udp");
    let from_a = chat_line(&a, "chat_udp");
    // A file uploaded to host B is served by host A (files and TFTP), and the other
    // way round: one bucket.
    let on_b = b"uploaded to host B".to_vec();
    let name = bulk_v2_upload(&b, "bulk_tcp", "from-b.bin", &on_b);
    let (head, got) = V2::open(a.addr("files_tcp")).get(&format!("incoming/{name}"));
    assert!(head.starts_with("OK"), "{head}");
    assert_eq!(got, on_b);
    assert_eq!(
        tftp_wire::download(a.addr("tftp_udp"), &format!("incoming/{name}")),
        on_b
    );
    let on_a = b"uploaded to host A".to_vec();
    let name = bulk_v2_upload(&a, "bulk_tcp", "from-a.bin", &on_a);
    assert_eq!(
        tftp_wire::download(b.addr("tftp_udp"), &format!("incoming/{name}")),
        on_a
    );
    let (head, got) = V2::open(b.addr("files_tcp")).get(&format!("incoming/{name}"));
    assert!(head.starts_with("OK"), "{head}");
    assert_eq!(got, on_a);
    // The cluster's transcript, on host A, holds both hosts' lines and transfers.
    let transcript = "examples/cluster/run/a/state/audit";
    audited(&a, transcript, from_b);
    audited(&a, transcript, from_a);
    audited(&a, transcript, "\"from\":\"host-b/bulk.transfers\"");
    audited(&a, transcript, "\"from\":\"host-a/files.transfers\"");
    audited(&a, transcript, "\"from\":\"host-b/tftp.transfers\"");
    chat_across(&a, &b);
    admin_metrics(&b);
    for host in [&a, &b] {
        assert_all_exercised(host, &["chat_udp", "tftp_udp", "files_tcp", "bulk_tcp"]);
    }
    let connected = a.metric("switchyard_bus_connected");
    assert_eq!(connected, Some(1.0), "within {BUS_WAIT:?}");
}

/// The example's chat spans both hosts: an agent on `a` sees a visitor of `b` (said
/// again each second until host A's agents are known on B) and answers it there.
fn chat_across(a: &Host, b: &Host) {
    let agent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let visitor = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for s in [&agent, &visitor] {
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
    }
    let mut buf = [0u8; 2048];
    agent
        .send_to(b"/agent change-me-please ann", a.addr("chat_udp"))
        .unwrap();
    let mut seen = None;
    let deadline = std::time::Instant::now() + BUS_WAIT;
    while seen.is_none() && std::time::Instant::now() < deadline {
        visitor
            .send_to(b"a visitor of host B", b.addr("chat_udp"))
            .unwrap();
        for _ in 0..5 {
            if let Ok((n, _)) = agent.recv_from(&mut buf) {
                let line = String::from_utf8_lossy(&buf[..n]).into_owned();
                if line.ends_with("@host-b] a visitor of host B") {
                    seen = Some(line[1..line.find(']').unwrap()].to_owned());
                    break;
                }
            }
        }
    }
    let id = seen.expect("host A's agent sees host B's visitor");
    agent
        .send_to(
            format!("/reply {id} hello from host A").as_bytes(),
            a.addr("chat_udp"),
        )
        .unwrap();
    wait_until("the answer reaches the visitor on host B", BUS_WAIT, || {
        visitor
            .recv_from(&mut buf)
            .is_ok_and(|(n, _)| &buf[..n] == b"hello from host A")
    });
}

/// bulk v2 `PUT` of `body` as `name`: the stored name the server answers (on a shared
/// storage, not a file under `$TMP`).
fn bulk_v2_upload(host: &Host, listener: &str, name: &str, body: &[u8]) -> String {
    let mut s = tcp_connect(host.addr(listener), WAIT);
    s.write_all(&bulk_header(1, name, body.len() as u64))
        .unwrap();
    s.write_all(body).unwrap();
    let (status, value, text) = bulk_reply(&mut s);
    assert_eq!((status, value), (0, body.len() as u64), "{text}");
    text
}

#[test]
fn example_echo_c() {
    // The file names the C plugin's library by path: build it first.
    build_c_echo();
    let host = Host::start(&servable("config/examples/echo-c.ron"));
    echo_udp(host.addr("echo_udp"));
    assert_all_exercised(&host, &["echo_udp"]);
}

#[test]
fn example_echo() {
    let host = Host::start(&servable("config/examples/echo.ron"));
    echo_udp(host.addr("echo_udp"));
    echo_tcp(host.addr("echo_tcp4"));
    let v6 = host.addr("echo_tcp6");
    assert!(v6.is_ipv6(), "{v6}");
    echo_tcp(v6);
    assert_all_exercised(&host, &["echo_udp", "echo_tcp4", "echo_tcp6"]);
}

#[test]
fn example_files() {
    let host = Host::start(&servable("config/examples/files.ron"));
    files_v1_get(&host, "files_tcp", "data");
    files_v2_get(&host, "files_tcp", "data");
    assert_all_exercised(&host, &["files_tcp"]);
}

#[test]
fn example_s3() {
    let Some(store) = Seaweed::start() else {
        return;
    };
    let text = rewrite_quoted(&servable("config/examples/s3.ron"), "endpoint: \"", |_| {
        store.endpoint()
    });
    let host = Host::start(&text);
    // A bulk v1 upload (the seed client's framing: a 4-byte length, the body)...
    let body = b"a v1 upload, through the store".to_vec();
    let mut s = tcp_connect(host.addr("bulk_tcp"), WAIT);
    s.write_all(&(body.len() as u32).to_be_bytes()).unwrap();
    s.write_all(&body).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    // ...lands under `incoming/`, listed and read through files...
    let mut files = V2::open(host.addr("files_tcp"));
    let mut name = String::new();
    wait_until("the v1 upload listed", WAIT, || {
        let head = files.ask("LIST incoming");
        let count: usize = head
            .split(' ')
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let names: Vec<String> = (0..count)
            .map(|_| {
                files
                    .line()
                    .rsplit(' ')
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        name = names.into_iter().next().unwrap_or_default();
        !name.is_empty()
    });
    let (head, got) = files.get(&format!("incoming/{name}"));
    assert!(head.starts_with("OK"), "{head}");
    assert_eq!(got, body);
    // ...and through TFTP.
    assert_eq!(
        tftp_wire::download(host.addr("tftp_udp"), &format!("incoming/{name}")),
        body
    );
    assert_all_exercised(&host, &["bulk_tcp", "files_tcp", "tftp_udp"]);
}

#[test]
fn example_tftp() {
    let host = Host::start(&servable("config/examples/tftp.ron"));
    tftp_get(&host, "tftp_udp", "data");
    assert_all_exercised(&host, &["tftp_udp"]);
}
