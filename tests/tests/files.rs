//! End-to-end tests of the files plugin against the real `switchyard` binary: the seed
//! client driven through its menu, v1 and v2 transfers of awkward bytes, traversal
//! forms, concurrent uploads, a client killed mid-upload, slow clients, a >1 GiB
//! upload, and the `switchyard-files` client with its menu.
//!
//! Everything is on loopback, port 0, with bounded waits. Needs `cargo build
//! --workspace` first (the harness does not build).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use switchyard_e2e::files_wire::V2;
use switchyard_e2e::{Host, bin_dir, log_text, repo_root, sha256_hex, tcp_connect, wait_until};

const WAIT: Duration = Duration::from_secs(20);

/// A host serving one files handler with `config`, rooted in its temp dir.
struct Server {
    host: Host,
    addr: SocketAddr,
}

impl Server {
    fn start(config: &str) -> Server {
        // At `debug`: the tests read the plugin's request lines, which a request that
        // went as asked logs at that level (at `info` its record is the access log's
        // line: docs/decisions/access-log.md).
        let host = Host::builder(&format!(
            r#"(
    listeners: {{ "files_tcp": (kind: tcp, bind: "127.0.0.1:0") }},
    handlers: {{ "files": (plugin: "files", root: Some("$TMP/data"), config: ({config})) }},
    routes: [ (from: "files_tcp", to: "files") ],
)"#
        ))
        .log_level("debug")
        .start();
        let addr = host.addr("files_tcp");
        Server { host, addr }
    }

    fn root(&self) -> std::path::PathBuf {
        self.host.temp_dir().join("data")
    }

    /// Names in the root, hidden ones included (temps and digests), sorted.
    fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.root())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Visible names (what a user sees).
    fn visible(&self) -> Vec<String> {
        self.entries()
            .into_iter()
            .filter(|n| !n.starts_with('.'))
            .collect()
    }

    /// Log records (as text: message, then sorted `key=value` fields) holding every
    /// space-separated part of `needles`.
    fn logs_with(&self, needles: &str) -> Vec<String> {
        self.host
            .json_logs()
            .iter()
            .map(log_text)
            .filter(|l| needles.split(' ').all(|n| l.contains(n)))
            .collect()
    }

    fn connect(&self) -> TcpStream {
        tcp_connect(self.addr, WAIT)
    }
}

/// Wait until `cond` holds (bounded).
fn eventually(what: &str, cond: impl FnMut() -> bool) {
    wait_until(what, WAIT, cond);
}

fn awkward_bytes() -> Vec<u8> {
    let mut v = b"a:b::c\r\n\r\nline\n\0\xff\xfe:2:1:".to_vec();
    v.extend((0..70_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    v
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

// ---- v1 ---------------------------------------------------------------------------

/// One v1 upload over a raw socket; returns the name the server wrote back.
fn v1_put(s: &Server, data: &[u8]) -> String {
    let mut c = s.connect();
    c.write_all(b"2:").unwrap();
    c.write_all(data).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut reply = String::new();
    c.read_to_string(&mut reply).unwrap();
    reply.trim_end().to_owned()
}

fn v1_get(s: &Server, request: &[u8]) -> Vec<u8> {
    let mut c = s.connect();
    c.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    out
}

#[test]
fn v1_binary_colons_crlf_and_empty_round_trip() {
    let s = Server::start("");
    let data = awkward_bytes();
    let name = v1_put(&s, &data);
    assert!(name.len() == 8 && name.ends_with(".txt"), "{name:?}");
    assert_eq!(std::fs::read(s.root().join(&name)).unwrap(), data);
    assert_eq!(v1_get(&s, format!("1:{name}\n").as_bytes()), data);

    let empty = v1_put(&s, b"");
    assert_eq!(std::fs::read(s.root().join(&empty)).unwrap(), b"");
    assert_eq!(
        v1_get(&s, format!("1:{empty}").as_bytes()),
        b"",
        "settle time ends an unterminated name"
    );
    eventually("both uploads logged", || {
        s.logs_with("cmd=PUT direction=upload proto=v1").len() == 2
    });
}

#[test]
fn v1_traversal_forms_serve_nothing() {
    let s = Server::start("");
    std::fs::create_dir_all(s.root()).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", s.root().join("link")).unwrap();
    std::fs::create_dir(s.root().join("d")).unwrap();
    for req in [
        "1:../../../../etc/passwd\n",
        "1:/etc/passwd\n",
        "1:d/../../x\n",
        "1:link\n",
        "1:d\n",
        "1:missing\n",
        "1:\n",
    ] {
        assert_eq!(v1_get(&s, req.as_bytes()), b"", "{req:?}");
    }
    // One log line per refused request (the log arrives asynchronously), with the
    // outcome the metrics count: only `missing` is not found, the rest refused.
    eventually("7 refusals logged", || {
        s.logs_with("result=refused").len() == 6 && s.logs_with("result=not_found").len() == 1
    });
}

#[test]
fn concurrent_v1_uploads_get_distinct_names() {
    let s = Arc::new(Server::start(""));
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || (i, v1_put(&s, format!("upload number {i}\n").as_bytes())))
        })
        .collect();
    let mut names = std::collections::BTreeSet::new();
    for h in handles {
        let (i, name) = h.join().unwrap();
        assert_eq!(
            std::fs::read_to_string(s.root().join(&name)).unwrap(),
            format!("upload number {i}\n")
        );
        names.insert(name);
    }
    assert_eq!(names.len(), 16);
    assert_eq!(s.visible().len(), 16);
}

#[test]
fn seed_client_through_its_menu() {
    let s = Server::start("");
    std::fs::create_dir_all(s.root()).unwrap();
    std::fs::write(s.root().join("served.txt"), "来自服务器 a:b:c\n").unwrap();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("mine.txt"), "上传 x:y:z\nsecond line\n").unwrap();
    // The seed client, vendored unmodified in tests/seed.
    let seed = repo_root().join("tests/seed/c_tcp_file_client.py");
    assert!(
        seed.is_file(),
        "seed client not found at {}",
        seed.display()
    );
    let mut child = Command::new("python3")
        .arg(&seed)
        .current_dir(work.path())
        .env("SEED_PORT", s.addr.port().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all("2\nmine.txt\n1\nserved.txt\n0\n".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("数据上传成功!")
            && stdout.contains("下载完成")
            && stdout.contains("客户端关闭"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(work.path().join("served.txt")).unwrap(),
        "来自服务器 a:b:c\n"
    );
    eventually("the upload to be stored", || s.visible().len() == 2);
    let uploaded: Vec<String> = s
        .visible()
        .into_iter()
        .filter(|n| n != "served.txt")
        .collect();
    assert_eq!(
        std::fs::read_to_string(s.root().join(&uploaded[0])).unwrap(),
        "上传 x:y:z\nsecond line\n"
    );
    eventually("the quit message to be logged", || {
        !s.logs_with("客户端已退出").is_empty()
    });
}

// ---- v2 ---------------------------------------------------------------------------

#[test]
fn v2_binary_colons_crlf_and_empty_round_trip() {
    let s = Server::start("");
    let mut c = V2::open(s.addr);
    let data = awkward_bytes();
    let digest = sha256_hex(&data);
    assert_eq!(
        c.put("bin%20file:1.dat", &data),
        format!("OK bin%20file:1.dat {} {digest}", data.len())
    );
    assert_eq!(
        std::fs::read(s.root().join("bin file:1.dat")).unwrap(),
        data
    );
    let (head, body) = c.get("bin%20file:1.dat");
    assert_eq!(head, format!("OK {} {digest}", data.len()));
    assert_eq!(body, data);

    let empty = sha256_hex(b"");
    assert_eq!(c.put("empty", b""), format!("OK empty 0 {empty}"));
    assert_eq!(c.get("empty"), (format!("OK 0 {empty}"), vec![]));
    assert!(
        c.ask("PUT empty 1").starts_with("ERR 409 "),
        "no silent overwrite"
    );
}

#[test]
fn v2_errors_and_traversal_keep_the_connection() {
    let s = Server::start("");
    std::fs::create_dir_all(s.root().join("sub")).unwrap();
    std::os::unix::fs::symlink("/etc", s.root().join("sub/out")).unwrap();
    std::fs::write(s.root().join("f"), b"12345").unwrap();
    let mut c = V2::open(s.addr);
    for (req, code) in [
        ("GET ../../etc/passwd", "403"),
        ("GET /etc/passwd", "403"),
        ("GET sub/..%2F..%2Fetc%2Fpasswd", "403"),
        ("GET sub/out/passwd", "403"),
        ("GET .hidden", "403"),
        ("GET missing", "404"),
        ("GET sub", "412"),
        ("GET f 6", "416"),
        ("PUT f 1", "409"),
        ("PUT ../x 1", "403"),
        ("PUT big 99999999999999", "413"),
        ("DELETE f", "405"),
        ("BOGUS", "400"),
    ] {
        let reply = c.ask(req);
        assert!(reply.starts_with(&format!("ERR {code} ")), "{req}: {reply}");
    }
    assert_eq!(
        c.ask("STAT f").split(' ').take(3).collect::<Vec<_>>(),
        ["OK", "f", "5"]
    );
    assert_eq!(c.ask("LIST"), "OK 2 2");
    let mut entries = vec![c.line(), c.line()];
    entries.sort();
    assert!(
        entries[0].starts_with("d 0 ") || entries[0].starts_with("d "),
        "{entries:?}"
    );
    assert!(
        entries[1].starts_with("f 5 ") && entries[1].ends_with(" f"),
        "{entries:?}"
    );
    assert_eq!(c.ask("QUIT"), "OK bye");
    assert_eq!(s.visible(), ["f", "sub"]);
}

#[test]
fn client_killed_mid_upload_leaves_no_file() {
    let s = Server::start("");
    let script = format!(
        r#"
import os, signal, socket
c = socket.create_connection(("127.0.0.1", {port}))
c.sendall(b"SYFILES/2\nPUT partial.bin 10000000\n")
assert c.recv(100) == b"CONTINUE\n"
c.sendall(b"x" * 3000000)
os.kill(os.getpid(), signal.SIGKILL)
"#,
        port = s.addr.port()
    );
    let status = Command::new("python3")
        .args(["-c", &script])
        .status()
        .unwrap();
    assert!(!status.success(), "the client was killed");
    eventually("the aborted upload to be logged", || {
        !s.logs_with("result=error").is_empty() || !s.logs_with("mid-upload").is_empty()
    });
    eventually("the temp file to be gone", || {
        s.entries().is_empty() || s.entries().iter().all(|n| !n.starts_with(".sy-tmp"))
    });
    assert!(s.visible().is_empty(), "{:?}", s.entries());
    assert!(
        s.entries().is_empty(),
        "no temp or digest left: {:?}",
        s.entries()
    );
}

#[test]
fn upload_over_one_gib_from_a_generated_stream() {
    let s = Server::start("max_upload_bytes: 2147483648, reserve_free_bytes: 0");
    let size: u64 = (1 << 30) + 12_345;
    let mut c = V2::open(s.addr);
    c.s.set_write_timeout(Some(Duration::from_secs(300)))
        .unwrap();
    c.s.set_read_timeout(Some(Duration::from_secs(300)))
        .unwrap();
    c.r.get_mut()
        .set_read_timeout(Some(Duration::from_secs(300)))
        .unwrap();
    assert_eq!(c.ask(&format!("PUT huge.bin {size}")), "CONTINUE");
    let chunk: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
    let mut h = Sha256::new();
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        c.s.write_all(&chunk[..n]).unwrap();
        h.update(&chunk[..n]);
        left -= n as u64;
    }
    let digest = hex(&h.finalize());
    assert_eq!(c.line(), format!("OK huge.bin {size} {digest}"));
    assert_eq!(
        std::fs::metadata(s.root().join("huge.bin")).unwrap().len(),
        size
    );
    std::fs::remove_file(s.root().join("huge.bin")).unwrap();
}

#[test]
fn slow_clients_time_out_without_blocking_others() {
    let s = Server::start("header_timeout_secs: 1, idle_timeout_secs: 1");
    std::fs::create_dir_all(s.root()).unwrap();
    std::fs::write(s.root().join("f"), b"data").unwrap();
    // Slowloris: a request line that never ends.
    let mut slow = V2::open(s.addr);
    slow.s.write_all(b"GET f").unwrap();
    // A v1 upload whose client never closes: stored after the idle timeout.
    let mut lingering = s.connect();
    lingering.write_all(b"2:kept").unwrap();
    // Meanwhile another client is served at once.
    let started = Instant::now();
    let mut fast = V2::open(s.addr);
    assert_eq!(fast.get("f"), ("OK 4 -".to_owned(), b"data".to_vec()));
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(slow.line(), "ERR 408 request line not completed in time");
    let mut name = String::new();
    lingering.read_to_string(&mut name).unwrap();
    let name = name.trim_end();
    assert_eq!(std::fs::read(s.root().join(name)).unwrap(), b"kept");
}

/// Run the `switchyard-files` client in `cwd`; returns (success, stdout, stderr).
fn client(cwd: &Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    let exe = bin_dir().join("switchyard-files");
    assert!(
        exe.is_file(),
        "{} not built: run `cargo build --workspace` first",
        exe.display()
    );
    let mut child = Command::new(exe)
        .args(args)
        .current_dir(cwd)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", "zh_CN.UTF-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("switchyard-files");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn client_commands_and_menu() {
    let s = Server::start("allow_delete: true");
    let addr = s.addr.to_string();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let data = awkward_bytes();
    std::fs::write(w.join("local.bin"), &data).unwrap();

    let (ok, _, err) = client(w, &["put", &addr, "local.bin", "a b.bin"], "");
    assert!(ok, "{err}");
    assert!(err.contains("verified"), "{err}");
    assert_eq!(std::fs::read(s.root().join("a b.bin")).unwrap(), data);
    let (ok, _, err) = client(w, &["put", &addr, "local.bin", "a b.bin"], "");
    assert!(!ok && err.contains("409"), "no overwrite: {err}");

    // The download lands exactly where asked, nowhere else, and only when verified.
    std::fs::create_dir(w.join("dl")).unwrap();
    let (ok, _, err) = client(w, &["get", &addr, "a b.bin", "dl"], "");
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(w.join("dl/a b.bin")).unwrap(), data);
    let (ok, _, err) = client(w, &["get", &addr, "a b.bin", "dl"], "");
    assert!(!ok && err.contains("exists"), "{err}");
    let (ok, _, err) = client(w, &["get", &addr, "a b.bin", "dl", "--force"], "");
    assert!(ok, "{err}");
    let (ok, _, err) = client(w, &["get", &addr, "missing", "dl"], "");
    assert!(!ok && err.contains("404"), "{err}");
    let mut left: Vec<String> = std::fs::read_dir(w.join("dl"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["a b.bin"], "no temp files left behind");

    let (ok, out, _) = client(w, &["ls", &addr], "");
    assert!(
        ok && out.contains("a b.bin") && out.contains(&data.len().to_string()),
        "{out}"
    );
    let (ok, out, _) = client(w, &["stat", &addr, "a b.bin"], "");
    assert!(
        ok && out.starts_with("- ") && out.contains(&data.len().to_string()),
        "{out}"
    );
    let (ok, out, _) = client(w, &["hash", &addr, "a b.bin"], "");
    assert!(ok && out.starts_with(&sha256_hex(&data)), "{out}");

    // The interactive menu (the seed's Chinese under a zh locale): upload, list,
    // download, delete, quit.
    std::fs::write(w.join("menu.txt"), "via the menu\n").unwrap();
    let (ok, out, err) = client(
        w,
        &["shell", &addr],
        "2\nmenu.txt\n3\n1\na b.bin\n5\na b.bin\n0\n",
    );
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("数据上传成功!")
            && out.contains("下载完成")
            && out.contains("已删除")
            && out.contains("客户端关闭"),
        "{out}"
    );
    assert_eq!(std::fs::read(w.join("a b.bin")).unwrap(), data);
    assert_eq!(s.visible(), ["menu.txt"]);
    let (ok, _, err) = client(w, &["rm", &addr, "menu.txt"], "");
    assert!(ok, "{err}");
    assert!(s.visible().is_empty());
}
