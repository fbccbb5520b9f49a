//! The reload proof: a TFTP download, a bulk upload, a files download and a chat
//! conversation keep running across three reloads — a broken topology (refused), a
//! change to another handler, and a new plugin library for the handler in use — and
//! every byte arrives.
//!
//! The transfers are paced by their clients so that they span all three reloads.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use switchyard_e2e::{Host, plugin_lib, pseudo_random, sha256_hex};

const WAIT: Duration = Duration::from_secs(15);
/// How long each transfer is paced to last.
const SPAN: Duration = Duration::from_millis(2500);

fn topology(dir: &Path, echo_prefix: &str, broken: bool) -> String {
    let lib = |name: &str| {
        dir.join("plugins")
            .join(format!("libswitchyard_{name}.so"))
            .display()
            .to_string()
    };
    format!(
        r#"(
    plugins: {{ "tftp": "{tftp}", "bulk": "{bulk}", "files": "{files}", "chat": "{chat}", "echo": "{echo}" }},
    drain_timeout_secs: 5,
    listeners: {{
        "tftp_udp": (kind: udp, bind: "127.0.0.1:0"),
        "bulk_tcp": (kind: tcp, bind: "127.0.0.1:0"),
        "files_tcp": (kind: tcp, bind: "127.0.0.1:0"),
        "chat_udp": (kind: udp, bind: "127.0.0.1:0"),
        "echo_udp": (kind: udp, bind: "127.0.0.1:0"),
    }},
    handlers: {{
        "tftp": (plugin: "tftp", root: Some("{data}")),
        "bulk": (plugin: "bulk", root: Some("{data}"), create_dirs: ["incoming"]),
        "files": (plugin: "files", root: Some("{data}")),
        "chat": (plugin: "chat"),
        "echo": (plugin: "echo", config: (prefix: "{echo_prefix}")),
    }},
    routes: [
        (from: "tftp_udp", to: "tftp"), (from: "bulk_tcp", to: "bulk"),
        (from: "files_tcp", to: "files"), (from: "chat_udp", to: "chat"),
        (from: "echo_udp", to: "echo"){broken_route}
    ],
)"#,
        tftp = lib("tftp"),
        bulk = lib("bulk"),
        files = lib("files"),
        chat = lib("chat"),
        echo = lib("echo"),
        data = dir.join("data").display(),
        broken_route = if broken {
            r#", (from: "nowhere", to: "echo")"#
        } else {
            ""
        },
    )
}

/// Sleep so that `done` of `total` units are reached at the pace of `SPAN`.
fn pace(start: Instant, done: usize, total: usize) {
    let due = SPAN.mul_f64(done as f64 / total as f64);
    if let Some(wait) = due.checked_sub(start.elapsed()) {
        thread::sleep(wait);
    }
}

/// A paced TFTP download (RFC 1350 + blksize 1024) of `name`.
fn tftp_get(server: SocketAddr, name: &str, expected_len: usize) -> Vec<u8> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    let mut rrq = vec![0, 1];
    for part in [name, "octet", "blksize", "1024"] {
        rrq.extend_from_slice(part.as_bytes());
        rrq.push(0);
    }
    sock.send_to(&rrq, server).unwrap();
    let mut buf = vec![0u8; 2048];
    let (n, tid) = sock.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..2], &[0, 6], "OACK expected, got {:?}", &buf[..n]);
    sock.send_to(&[0, 4, 0, 0], tid).unwrap();
    let (mut out, mut block, start) = (Vec::new(), 1u16, Instant::now());
    loop {
        let (n, from) = sock.recv_from(&mut buf).unwrap();
        assert_eq!(from, tid);
        assert_eq!(&buf[..2], &[0, 3], "DATA expected");
        let got = u16::from_be_bytes([buf[2], buf[3]]);
        if got == block {
            out.extend_from_slice(&buf[4..n]);
            pace(start, out.len(), expected_len);
            sock.send_to(&[0, 4, buf[2], buf[3]], tid).unwrap();
            block = block.wrapping_add(1);
            if n - 4 < 1024 {
                return out;
            }
        }
    }
}

/// A paced bulk v1 upload (the seed's format); returns when the server closed.
fn bulk_put(server: SocketAddr, body: &[u8]) {
    let mut s = TcpStream::connect(server).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(&(body.len() as i32).to_be_bytes()).unwrap();
    let start = Instant::now();
    for (i, chunk) in body.chunks(16 * 1024).enumerate() {
        s.write_all(chunk).unwrap();
        pace(start, (i + 1) * 16 * 1024, body.len());
    }
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
}

/// A paced files v1 download (`1:NAME`): the reader takes its time.
fn files_get(server: SocketAddr, name: &str, expected_len: usize) -> Vec<u8> {
    let mut s = TcpStream::connect(server).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(format!("1:{name}").as_bytes()).unwrap();
    let (mut out, mut buf, start) = (Vec::new(), vec![0u8; 16 * 1024], Instant::now());
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
        pace(start, out.len(), expected_len);
    }
}

/// A visitor's conversation: every message gets a reply, during all the reloads.
fn chat(server: SocketAddr, messages: usize) -> usize {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    let (mut replies, mut buf, start) = (0, [0u8; 2048], Instant::now());
    for i in 0..messages {
        sock.send_to(format!("message {i}").as_bytes(), server)
            .unwrap();
        let (n, _) = sock.recv_from(&mut buf).unwrap();
        assert!(n > 0);
        replies += 1;
        pace(start, i + 1, messages);
    }
    sock.send_to(b"bye", server).unwrap();
    replies
}

fn reloaded(host: &Host, n: usize) {
    host.wait_for_nth_log(
        n,
        |j| {
            let m = j["msg"].as_str().unwrap_or("");
            m == "reloaded" || m.starts_with("reload refused")
        },
        WAIT,
    )
    .unwrap_or_else(|| panic!("no reload #{n}:\n{}", host.stderr_lines().join("\n")));
}

#[test]
fn transfers_survive_three_reloads_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    for name in ["tftp", "bulk", "files", "chat", "echo"] {
        let lib = plugin_lib(name);
        std::fs::copy(
            &lib,
            dir.path().join("plugins").join(lib.file_name().unwrap()),
        )
        .unwrap();
    }
    let tftp_file = pseudo_random(1536 * 1024 + 77, 1);
    let files_file = pseudo_random(3 * 1024 * 1024 + 5, 2);
    let bulk_body = pseudo_random(1024 * 1024 + 3, 3);
    std::fs::write(dir.path().join("data/t.bin"), &tftp_file).unwrap();
    std::fs::write(dir.path().join("data/f.bin"), &files_file).unwrap();

    let host = Host::start(&topology(dir.path(), "", false));
    let config = host.config_path().to_path_buf();
    let (tftp, bulk, files, chat_addr, echo) = (
        host.addr("tftp_udp"),
        host.addr("bulk_tcp"),
        host.addr("files_tcp"),
        host.addr("chat_udp"),
        host.addr("echo_udp"),
    );

    let (tl, fl) = (tftp_file.len(), files_file.len());
    let body = bulk_body.clone();
    let t = thread::spawn(move || tftp_get(tftp, "t.bin", tl));
    let b = thread::spawn(move || bulk_put(bulk, &body));
    let f = thread::spawn(move || files_get(files, "f.bin", fl));
    let c = thread::spawn(move || chat(chat_addr, 25));

    // 1. A broken topology: refused, nothing changes.
    thread::sleep(SPAN / 5);
    std::fs::write(&config, topology(dir.path(), "", true)).unwrap();
    host.signal("HUP");
    reloaded(&host, 1);
    // 2. Another handler changes: echo is replaced, the others are kept.
    thread::sleep(SPAN / 5);
    std::fs::write(&config, topology(dir.path(), "v2:", false)).unwrap();
    host.signal("HUP");
    reloaded(&host, 2);
    // 3. A new library for the files handler, which has a download in flight.
    thread::sleep(SPAN / 5);
    let files_lib = dir
        .path()
        .join("plugins")
        .join(plugin_lib("files").file_name().unwrap());
    std::fs::remove_file(&files_lib).unwrap();
    std::fs::copy(plugin_lib("files"), &files_lib).unwrap();
    host.signal("HUP");
    reloaded(&host, 3);

    let got_tftp = t.join().expect("tftp download");
    b.join().expect("bulk upload");
    let got_files = f.join().expect("files download");
    assert_eq!(c.join().expect("chat"), 25, "every chat line answered");
    assert_eq!(sha256_hex(&got_tftp), sha256_hex(&tftp_file), "tftp bytes");
    assert_eq!(
        sha256_hex(&got_files),
        sha256_hex(&files_file),
        "files bytes"
    );
    let incoming: Vec<_> = std::fs::read_dir(dir.path().join("data/incoming"))
        .unwrap()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(incoming.len(), 1, "one visible upload: {incoming:?}");
    assert_eq!(
        sha256_hex(&std::fs::read(incoming[0].path()).unwrap()),
        sha256_hex(&bulk_body),
        "bulk bytes"
    );

    // What the reloads did, as logged.
    let logs = host.logs_where(|j| {
        let m = j["msg"].as_str().unwrap_or("");
        m == "reloaded" || m.starts_with("reload refused")
    });
    assert!(
        logs[0]["msg"]
            .as_str()
            .unwrap()
            .starts_with("reload refused"),
        "{logs:?}"
    );
    assert_eq!(logs[1]["replaced"], "echo", "{logs:?}");
    assert_eq!(logs[2]["replaced"], "files", "{logs:?}");
    // New work reaches the new instances.
    assert_eq!(switchyard_e2e::udp_roundtrip(echo, b"x", WAIT), b"v2:x");
    assert_eq!(files_get(files, "f.bin", fl).len(), fl);
}
