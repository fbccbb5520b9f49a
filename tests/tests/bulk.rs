//! End-to-end tests of the bulk plugin against the real `switchyard` binary: the seed's
//! own client, v1 headers split every way, negative and over-limit lengths, short and
//! long bodies, a client gone mid-upload, resume after a lost connection with the
//! whole-file digest, concurrent uploads, the free-space refusal, slowloris, the
//! `switchyard-bulk` client (send, get, --legacy), and transfer records reaching audit.
//!
//! Loopback only, port 0, bounded waits. v2 is spoken raw here (a few lines below,
//! written from `docs/bulk-protocol.md`), so the tests also check the spec.
//! Build first: `cargo build --workspace` (the harness never runs cargo).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};
use switchyard_e2e::bulk_wire::{
    BAD_NAME, CONTINUE, DIGEST_LAST, DIGEST_MISMATCH, NO_SPACE, OK, RESUMABLE, TOO_LARGE,
    put_header, read_reply, sha,
};
use switchyard_e2e::faults::{Tmpfs, skip};
use switchyard_e2e::{
    Host, bin_dir, evict_from_page_cache, log_text, repo_root, sha256_hex, tcp_connect, wait_until,
};

const WAIT: Duration = Duration::from_secs(20);

struct Bulk {
    host: Host,
    addr: SocketAddr,
}

impl Bulk {
    /// At `debug`: the tests read the plugin's transfer lines (offsets, digests,
    /// rates), which a transfer that went well logs at that level (its record at
    /// `info` is the access log's line: docs/decisions/access-log.md).
    fn start(config: &str) -> Bulk {
        let host = Host::builder(&format!(
            r#"(
    listeners: {{ "bulk_tcp": (kind: tcp, bind: "127.0.0.1:0") }},
    handlers: {{
        "bulk": (plugin: "bulk", root: Some("$TMP/data"), config: ({config})),
        "audit": (plugin: "audit", root: Some("$TMP/audit"),
                  config: (file: "transcript.jsonl", flush_interval_ms: 100)),
    }},
    routes: [
        (from: "bulk_tcp", to: "bulk"),
        (from: "bulk.transfers", to: "audit.events"),
    ],
    admin: Some("127.0.0.1:0"),
)"#
        ))
        .log_level("debug")
        .start();
        // The ABI cannot create directories: the operator makes `incoming/`.
        std::fs::create_dir_all(host.temp_dir().join("data/incoming")).unwrap();
        let addr = host.addr("bulk_tcp");
        Bulk { host, addr }
    }

    fn incoming(&self) -> PathBuf {
        self.host.temp_dir().join("data/incoming")
    }

    /// Every entry of `incoming/`, hidden ones (temps, partials, digests) included.
    fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.incoming())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn visible(&self) -> Vec<String> {
        self.entries()
            .into_iter()
            .filter(|n| !n.starts_with('.'))
            .collect()
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.incoming().join(name)).unwrap()
    }

    /// Wait for the `n`-th transfer summary line and return its message.
    fn transfer(&self, n: usize) -> String {
        let rec = self
            .host
            .wait_for_nth_log(n, |v: &Value| v["msg"] == "transfer", WAIT)
            .unwrap_or_else(|| {
                panic!("no transfer #{n}:\n{}", self.host.stderr_lines().join("\n"))
            });
        log_text(&rec)
    }

    fn connect(&self) -> TcpStream {
        tcp_connect(self.addr, WAIT)
    }
}

/// Whether the server closed the connection (EOF or reset) within the read timeout.
fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

// ---- v2: switchyard_e2e::bulk_wire --------------------------------------------------

// ---- v1 ------------------------------------------------------------------------------

#[test]
fn seed_client_delivers_its_file() {
    let b = Bulk::start("");
    let dir = tempfile::tempdir().unwrap();
    let body = pattern(300_000, 1);
    std::fs::write(dir.path().join("111.pptx"), &body).unwrap();
    let seed = repo_root().join("tests/seed/d_bulk_client.py");
    assert!(
        seed.is_file(),
        "seed client not found at {}",
        seed.display()
    );
    let out = Command::new("python3")
        .arg(&seed)
        .env("SEED_PORT", b.addr.port().to_string())
        .current_dir(dir.path())
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = b.transfer(1);
    assert!(line.contains("result=ok"), "{line}");
    assert_eq!(b.visible(), ["v1-000001.bin"]);
    assert_eq!(b.read("v1-000001.bin"), body);
    assert!(line.contains(&sha256_hex(&body)), "{line}");
}

#[test]
fn v1_header_split_byte_by_byte_and_body_in_pieces() {
    let b = Bulk::start("");
    let body = pattern(100_000, 2);
    let mut s = b.connect();
    for byte in (body.len() as i32).to_be_bytes() {
        s.write_all(&[byte]).unwrap();
        std::thread::sleep(Duration::from_millis(30));
    }
    for piece in body.chunks(7_919) {
        s.write_all(piece).unwrap();
    }
    assert!(closed_by_server(&mut s), "closed once stored");
    assert!(b.transfer(1).contains("result=ok"));
    assert_eq!(b.read("v1-000001.bin"), body);
}

/// A large v1 body (the host's direct receive path) followed at once by the client's
/// EOF, as `nc -N` sends it: the EOF waits behind the receive's end, so the file is
/// stored whole, and a second such upload right after is too.
#[test]
fn v1_large_body_then_eof_at_once_is_stored_whole() {
    let b = Bulk::start("");
    for (n, seed) in [(1, 21), (2, 22)] {
        let body = pattern((9 << 20) + 123, seed);
        let mut s = b.connect();
        s.write_all(&(body.len() as i32).to_be_bytes()).unwrap();
        s.write_all(&body).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        assert!(closed_by_server(&mut s), "closed once stored");
        let line = b.transfer(n);
        assert!(line.contains("result=ok"), "{line}");
        assert!(
            b.read(&format!("v1-{n:06}.bin")) == body,
            "upload {n} stored differently"
        );
    }
    let direct = b
        .host
        .metric("switchyard_file_receives_direct_total{handler=\"bulk\"}");
    assert_eq!(direct, Some(2.0), "both went the direct path");
}

#[test]
fn v1_negative_and_over_limit_lengths_create_nothing() {
    let b = Bulk::start("max_file_bytes: 1000");
    for len in [-1i32, i32::MIN, 1001, i32::MAX] {
        let mut s = b.connect();
        s.write_all(&len.to_be_bytes()).unwrap();
        let _ = s.write_all(&[0u8; 100]);
        assert!(closed_by_server(&mut s), "{len}");
    }
    wait_until("negative length", WAIT, || {
        b.host.logs_contain("negative length")
    });
    wait_until("over the limit", WAIT, || {
        b.host.logs_contain("over the limit")
    });
    assert!(b.entries().is_empty(), "{:?}", b.entries());
    // The server is fine afterwards.
    let mut s = b.connect();
    s.write_all(&3i32.to_be_bytes()).unwrap();
    s.write_all(b"abc").unwrap();
    assert!(closed_by_server(&mut s));
    assert_eq!(b.read("v1-000001.bin"), b"abc");
}

#[test]
fn v1_short_body_leaves_nothing_visible() {
    let b = Bulk::start("");
    let mut s = b.connect();
    s.write_all(&1_000_000i32.to_be_bytes()).unwrap();
    s.write_all(&[7u8; 50_000]).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert!(closed_by_server(&mut s));
    let line = b.transfer(1);
    assert!(line.contains("connection closed"), "{line}");
    // No file, and no temp either (the host deleted it with the handle).
    wait_until("temp removed", WAIT, || b.entries().is_empty());
}

#[test]
fn v1_bytes_past_the_length_are_logged_and_not_stored() {
    let b = Bulk::start("");
    let mut s = b.connect();
    let mut w = 5i32.to_be_bytes().to_vec();
    w.extend_from_slice(b"helloEXTRA BYTES");
    s.write_all(&w).unwrap();
    assert!(closed_by_server(&mut s));
    b.transfer(1);
    assert_eq!(b.read("v1-000001.bin"), b"hello");
    wait_until("protocol error", WAIT, || {
        b.host.logs_contain("protocol error")
    });
}

#[test]
fn concurrent_uploads_get_distinct_names_and_exact_bytes() {
    let b = Bulk::start("");
    let bodies: Vec<Vec<u8>> = (0..8)
        .map(|i| pattern(400_000 + i * 1000, i as u32))
        .collect();
    std::thread::scope(|scope| {
        for body in &bodies {
            let addr = b.addr;
            scope.spawn(move || {
                let mut s = tcp_connect(addr, WAIT);
                s.write_all(&(body.len() as i32).to_be_bytes()).unwrap();
                for piece in body.chunks(65_536) {
                    s.write_all(piece).unwrap();
                }
                assert!(closed_by_server(&mut s));
            });
        }
    });
    b.transfer(8);
    let mut got: Vec<Vec<u8>> = b.visible().iter().map(|n| b.read(n)).collect();
    let mut want = bodies.clone();
    got.sort();
    want.sort();
    assert_eq!(b.visible().len(), 8);
    assert!(got == want, "stored bytes differ from sent bytes");
}

#[test]
fn slowloris_is_closed_and_others_are_served_meanwhile() {
    let b = Bulk::start("header_timeout_secs: 1");
    let mut slow = b.connect();
    slow.write_all(&[0, 0]).unwrap();
    let started = Instant::now();
    let mut s = b.connect();
    s.write_all(&2i32.to_be_bytes()).unwrap();
    s.write_all(b"ok").unwrap();
    assert!(closed_by_server(&mut s));
    assert_eq!(b.read("v1-000001.bin"), b"ok");
    assert!(closed_by_server(&mut slow));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "{took:?}");
    wait_until("header timeout", WAIT, || {
        b.host.logs_contain("header timeout")
    });
}

// ---- v2 ------------------------------------------------------------------------------

/// Open a fresh resumable digest-last upload of `len` bytes: its header (to send again
/// when resuming) and the connection, past the server's `CONTINUE 0`.
fn start_resumable(b: &Bulk, name: &str, len: usize, id: [u8; 16]) -> (Vec<u8>, TcpStream) {
    let head = put_header(name, len as u64, DIGEST_LAST | RESUMABLE, None, Some(id));
    let mut s = b.connect();
    s.write_all(&head).unwrap();
    let r = read_reply(&mut s);
    assert_eq!((r.status, r.value), (CONTINUE, 0), "{name}");
    (head, s)
}

#[test]
fn v2_lost_connection_then_resume_stores_the_whole_file_with_its_digest() {
    let b = Bulk::start("");
    let body = pattern(3_000_000, 3);
    // First attempt: CONTINUE 0, about half the body, then the client is gone.
    let (head, mut s) = start_resumable(&b, "movie.mkv", body.len(), [0x5A; 16]);
    s.write_all(&body[..1_500_000]).unwrap();
    drop(s);
    let line = b.transfer(1);
    assert!(line.contains("kept for resume"), "{line}");
    assert!(b.visible().is_empty(), "nothing visible: {:?}", b.entries());

    // Second attempt: the server says where to continue; only the rest is sent.
    let mut s = b.connect();
    s.write_all(&head).unwrap();
    let r = read_reply(&mut s);
    assert_eq!(r.status, CONTINUE);
    let from = r.value as usize;
    assert!(from > 0 && from <= 1_500_000, "{from}");
    s.write_all(&body[from..]).unwrap();
    s.write_all(&sha(&body)).unwrap();
    let r = read_reply(&mut s);
    assert_eq!(r.status, OK, "{r:?}");
    assert_eq!(r.text, "movie.mkv");
    assert_eq!(r.digest, Some(sha(&body)), "digest of the whole file");
    assert_eq!(b.read("movie.mkv"), body);
    // The kept part is gone; only the file and its digest side file remain.
    assert_eq!(b.entries(), [".movie.mkv.sha256", "movie.mkv"]);
}

/// A large resumable upload (the host's direct receive path) broken off mid-body, by
/// the client's EOF or by the server's transfer deadline (the plugin keeps the partial
/// while the host's writer is still busy): the partial holds exactly the bytes the
/// log says were kept, a correct prefix. The resume continues that very file (same
/// inode: nothing kept is copied), is broken off again and keeps more, and the third
/// attempt stores the whole file, which is the partial renamed.
#[test]
fn a_broken_large_resumable_upload_keeps_an_exact_prefix_and_resumes() {
    use std::os::unix::fs::MetadataExt;
    for (how, config) in [
        ("eof", ""),
        (
            "deadline",
            "idle_timeout_secs: 1, min_transfer_rate: 104857600",
        ),
    ] {
        let b = Bulk::start(config);
        let body = pattern(24 << 20, 31);
        let head = put_header(
            "big.bin",
            body.len() as u64,
            DIGEST_LAST | RESUMABLE,
            None,
            Some([0x3C; 16]),
        );
        let partial = b.incoming().join(format!(".partial.{}", "3c".repeat(16)));
        let (mut kept, mut inode) = (0usize, None);
        for (attempt, upto) in [(1, 12 << 20), (2, 18 << 20)] {
            let mut s = b.connect();
            s.write_all(&head).unwrap();
            let r = read_reply(&mut s);
            assert_eq!(
                (r.status, r.value),
                (CONTINUE, kept as u64),
                "{how} {attempt}"
            );
            s.write_all(&body[kept..upto]).unwrap();
            if how == "eof" {
                s.shutdown(Shutdown::Write).unwrap();
            }
            let line = b.transfer(attempt);
            let now_kept: usize = line
                .find(" bytes kept for resume")
                .map(|end| {
                    let digits = line[..end].rfind(|c: char| !c.is_ascii_digit());
                    &line[digits.map_or(0, |d| d + 1)..end]
                })
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{how} {attempt}: no kept count in {line}"));
            drop(s);
            let held = std::fs::read(&partial).unwrap();
            assert_eq!(held.len(), now_kept, "{how} {attempt}: the log's count");
            assert!(now_kept > kept, "{how} {attempt}: {now_kept} after {kept}");
            assert!(
                held == body[..now_kept],
                "{how} {attempt}: the partial is a prefix of the body"
            );
            let ino = std::fs::metadata(&partial).unwrap().ino();
            assert_eq!(*inode.get_or_insert(ino), ino, "{how}: continued in place");
            kept = now_kept;
        }

        let mut s = b.connect();
        s.write_all(&head).unwrap();
        let r = read_reply(&mut s);
        assert_eq!((r.status, r.value), (CONTINUE, kept as u64), "{how}");
        s.write_all(&body[kept..]).unwrap();
        s.write_all(&sha(&body)).unwrap();
        let r = read_reply(&mut s);
        assert_eq!(r.status, OK, "{how}: {r:?}");
        assert!(b.read("big.bin") == body, "{how}: the resumed file differs");
        let stored = std::fs::metadata(b.incoming().join("big.bin")).unwrap();
        assert_eq!(Some(stored.ino()), inode, "{how}: the partial was renamed");
        assert_eq!(b.entries(), [".big.bin.sha256", "big.bin"], "{how}");
    }
}

/// A partial that already holds the whole body (the rest arrived, the digest did not):
/// the next attempt is told `CONTINUE len`, sends just the digest and half-closes at
/// once. The host's zero-length receive is complete (also when the EOF comes before
/// its queued completion), and the file is stored.
#[test]
fn a_fully_kept_upload_completes_with_only_its_digest() {
    let b = Bulk::start("");
    let body = pattern(200_000, 12);
    let (head, mut s) = start_resumable(&b, "full.bin", body.len(), [0x21; 16]);
    s.write_all(&body[..50_000]).unwrap();
    drop(s);
    assert!(b.transfer(1).contains("kept for resume"));
    // Second attempt: the rest, then the client closes without its digest.
    let mut s = b.connect();
    s.write_all(&head).unwrap();
    let kept = read_reply(&mut s).value as usize;
    s.write_all(&body[kept..]).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    assert!(b.transfer(2).contains("closed before the digest"));
    let partial = b.incoming().join(format!(".partial.{}", "21".repeat(16)));
    assert_eq!(
        std::fs::read(&partial).unwrap(),
        body,
        "the whole body is kept"
    );
    // Third attempt: nothing left to send but the digest.
    let mut s = b.connect();
    s.write_all(&head).unwrap();
    let r = read_reply(&mut s);
    assert_eq!((r.status, r.value), (CONTINUE, body.len() as u64));
    s.write_all(&sha(&body)).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let r = read_reply(&mut s);
    assert_eq!(r.status, OK, "{r:?}");
    assert_eq!(b.read("full.bin"), body);
}

/// Partials not continued for `partial_max_age_secs` (by their file times, against
/// the host's wall clock) are deleted when a resumable upload starts; a fresh one stays.
#[test]
fn abandoned_partials_expire_by_age() {
    let b = Bulk::start("partial_max_age_secs: 3600");
    let old = std::time::SystemTime::now() - Duration::from_secs(2 * 3600);
    for (id, stale) in [("aa", true), ("bb", false)] {
        let path = b.incoming().join(format!(".partial.{}", id.repeat(16)));
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(100).unwrap();
        if stale {
            f.set_modified(old).unwrap();
        }
    }
    // Resuming the stale one: it has expired, so the upload starts over (CONTINUE 0,
    // checked by the helper), and is then lost with nothing sent.
    let (_, s) = start_resumable(&b, "again.bin", 1_000, [0xAA; 16]);
    drop(s);
    b.transfer(1);
    let partials: Vec<String> = b
        .entries()
        .into_iter()
        .filter(|n| n.starts_with(".partial."))
        .collect();
    assert!(
        partials.contains(&format!(".partial.{}", "bb".repeat(16))),
        "the fresh partial stays: {partials:?}"
    );
    let stale = format!(".partial.{}", "aa".repeat(16));
    let size = std::fs::metadata(b.incoming().join(&stale)).map_or(0, |m| m.len());
    assert_eq!(
        size, 0,
        "the stale 100 bytes are gone (none or an empty restart)"
    );
}

#[test]
fn v2_free_space_refusal_comes_before_anything_is_stored() {
    let b = Bulk::start("reserve_free_bytes: 4611686018427387904");
    let mut s = b.connect();
    s.write_all(&put_header("a", 10, 0, None, None)).unwrap();
    let r = read_reply(&mut s);
    assert_eq!(r.status, NO_SPACE, "{r:?}");
    assert!(b.entries().is_empty());
}

#[test]
fn v2_wrong_digest_bad_names_and_huge_lengths_store_nothing() {
    let b = Bulk::start("max_file_bytes: 1000000");
    // Digest last, but not the body's.
    let mut s = b.connect();
    s.write_all(&put_header("x.bin", 5, DIGEST_LAST, None, None))
        .unwrap();
    s.write_all(b"hello").unwrap();
    s.write_all(&[0u8; 32]).unwrap();
    let r = read_reply(&mut s);
    assert_eq!(r.status, DIGEST_MISMATCH, "{r:?}");
    assert!(r.text.contains(&sha256_hex(b"hello")), "{}", r.text);
    // Digest first, wrong.
    let mut s = b.connect();
    s.write_all(&put_header("y.bin", 5, 0x01, Some([1; 32]), None))
        .unwrap();
    s.write_all(b"hello").unwrap();
    assert_eq!(read_reply(&mut s).status, DIGEST_MISMATCH);
    // Refused before a byte is stored: names, and lengths up to 2^64-1.
    for (name, len, status) in [
        ("../escape", 1, BAD_NAME),
        (".hidden", 1, BAD_NAME),
        ("a/b", 1, BAD_NAME),
        ("big", 1_000_001, TOO_LARGE),
        ("max", u64::MAX, TOO_LARGE),
    ] {
        let mut s = b.connect();
        s.write_all(&put_header(name, len, 0, None, None)).unwrap();
        let r = read_reply(&mut s);
        assert_eq!(r.status, status, "{name}: {r:?}");
        assert!(closed_by_server(&mut s), "{name}");
    }
    wait_until("temps removed", WAIT, || b.entries().is_empty());
    // And the server still works.
    let mut s = b.connect();
    s.write_all(&put_header("ok.bin", 2, 0, Some(sha(b"ok")), None))
        .unwrap();
    s.write_all(b"ok").unwrap();
    let r = read_reply(&mut s);
    assert_eq!((r.status, r.text.as_str()), (OK, "ok.bin"));
}

/// ENOSPC during a transfer: two uploads are each admitted (enough free space for
/// either), together they would fill the disk; the one that hits ENOSPC gets
/// `NO_SPACE`, its temp is removed, and the server carries on.
#[test]
fn enospc_mid_transfer_replies_no_space_and_removes_the_temp() {
    let Some(fs) = Tmpfs::mount("16m") else {
        return;
    };
    let mnt = fs.path().to_path_buf();
    std::fs::create_dir(mnt.join("incoming")).unwrap();
    let host = Host::start(&format!(
        r#"(
    listeners: {{ "bulk_tcp": (kind: tcp, bind: "127.0.0.1:0") }},
    handlers: {{ "bulk": (plugin: "bulk", root: Some("{}"), config: (reserve_free_bytes: 0)) }},
    routes: [ (from: "bulk_tcp", to: "bulk") ],
    admin: Some("127.0.0.1:0"),
)"#,
        mnt.display()
    ));
    let addr = host.addr("bulk_tcp");
    // Large enough for the host's O_DIRECT receive path (tmpfs takes O_DIRECT too).
    let body = pattern(10 << 20, 9);
    let statuses: Vec<u8> = std::thread::scope(|scope| {
        let handles: Vec<_> = ["a.bin", "b.bin"]
            .into_iter()
            .map(|name| {
                let body = &body;
                scope.spawn(move || {
                    let mut s = tcp_connect(addr, WAIT);
                    s.write_all(&put_header(name, body.len() as u64, 0, None, None))
                        .unwrap();
                    // The refused one may see its connection closed mid-body.
                    for piece in body.chunks(1 << 20) {
                        if s.write_all(piece).is_err() {
                            break;
                        }
                    }
                    read_reply(&mut s).status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, [OK, NO_SPACE], "{statuses:?}");
    let direct = host.metric("switchyard_file_receives_direct_total{handler=\"bulk\"}");
    // The host reserves a direct receive's blocks before writing them (here all
    // 10 MiB at once): the first upload got them, the second was refused when
    // reserving, before a byte of its body.
    assert_eq!(direct, Some(1.0), "the stored body went the direct path");
    let names: Vec<String> = std::fs::read_dir(mnt.join("incoming"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".sha256"))
        .collect();
    assert_eq!(names.len(), 1, "one file, no temp: {names:?}");
    assert_eq!(
        std::fs::read(mnt.join("incoming").join(&names[0])).unwrap(),
        body
    );
    // The server is fine: after freeing space, a new upload works.
    std::fs::remove_file(mnt.join("incoming").join(&names[0])).unwrap();
    let mut s = tcp_connect(addr, WAIT);
    s.write_all(&put_header("c.bin", 3, 0, None, None)).unwrap();
    s.write_all(b"abc").unwrap();
    assert_eq!(read_reply(&mut s).status, OK);
    drop(host);
}

fn client() -> PathBuf {
    let c = bin_dir().join("switchyard-bulk");
    assert!(
        c.exists(),
        "{} missing: cargo build --workspace first",
        c.display()
    );
    c
}

fn run_client(args: &[&str], cwd: &Path) -> std::process::Output {
    Command::new(client())
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("run switchyard-bulk")
}

#[test]
fn client_send_and_get_verify_and_never_overwrite() {
    let b = Bulk::start("");
    let dir = tempfile::tempdir().unwrap();
    let first = pattern(2_000_000, 3);
    let body = pattern(2_000_000, 4);
    assert_ne!(first, body);
    let server = b.addr.to_string();
    std::fs::write(dir.path().join("report.pdf"), &first).unwrap();
    let out = run_client(&["send", &server, "report.pdf"], dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("report.pdf") && stdout.contains(&sha256_hex(&first)));
    // The same name with different bytes: the client refuses before sending (73)...
    std::fs::write(dir.path().join("report.pdf"), &body).unwrap();
    let out = run_client(&["send", &server, "report.pdf"], dir.path());
    assert_eq!(out.status.code(), Some(73), "{out:?}");
    assert_eq!(b.visible(), ["report.pdf"]);
    // ...and a client from before the replace flag gets a new name: never overwritten.
    let mut s = tcp_connect(b.addr, WAIT);
    s.write_all(&put_header(
        "report.pdf",
        body.len() as u64,
        DIGEST_LAST,
        None,
        None,
    ))
    .unwrap();
    s.write_all(&body).unwrap();
    s.write_all(&sha(&body)).unwrap();
    let r = read_reply(&mut s);
    assert_eq!((r.status, r.text.as_str()), (OK, "report-1.pdf"), "{r:?}");
    assert_eq!(
        b.read("report.pdf"),
        first,
        "the first upload was overwritten"
    );
    assert_eq!(b.read("report-1.pdf"), body);
    let out = run_client(
        &[
            "send",
            "--digest-first",
            &server,
            "report.pdf",
            "--name",
            "r2",
        ],
        dir.path(),
    );
    assert!(out.status.success());
    let out = run_client(&["send", "--legacy", &server, "report.pdf"], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = run_client(
        &["get", &server, "report-1.pdf", "-o", "copy.pdf"],
        dir.path(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("verified"), "{stdout}");
    assert_eq!(std::fs::read(dir.path().join("copy.pdf")).unwrap(), body);
    // Failures exit non-zero.
    let out = run_client(&["get", &server, "nope", "-o", "x"], dir.path());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not-found"));
    let out = run_client(
        &["get", &server, "report-1.pdf", "-o", "copy.pdf"],
        dir.path(),
    );
    assert!(
        !out.status.success(),
        "an existing output is never overwritten"
    );
}

#[test]
fn client_send_with_a_known_digest_is_stored_only_if_it_matches() {
    let b = Bulk::start("");
    let dir = tempfile::tempdir().unwrap();
    let body = pattern(3_000_000, 9);
    std::fs::write(dir.path().join("release.tar"), &body).unwrap();
    let server = b.addr.to_string();
    let right = sha256_hex(&body);
    let out = run_client(
        &["send", &server, "release.tar", "--sha256", &right],
        dir.path(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&right), "{stdout}");
    assert_eq!(b.read("release.tar"), body);

    // One digit off: the server refuses, the client says so and exits 1, and nothing
    // new is stored (the earlier file stays as it was).
    let mut wrong = right.clone().into_bytes();
    wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
    let wrong = String::from_utf8(wrong).unwrap();
    let out = run_client(
        &[
            "send",
            &server,
            "release.tar",
            "--sha256",
            &wrong,
            "--name",
            "bad.tar",
        ],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "verification failed: {stderr}");
    assert!(stderr.contains("digest"), "{stderr}");
    let line = b.transfer(2);
    assert!(line.contains("digest"), "{line}");
    wait_until("temp removed", WAIT, || {
        b.entries() == [".release.tar.sha256", "release.tar"]
    });

    // Not a sha256: a usage error before connecting.
    let out = run_client(
        &["send", &server, "release.tar", "--sha256", "abc"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("64 hex digits"));
}

#[test]
fn client_killed_mid_upload_leaves_nothing_visible() {
    let b = Bulk::start("");
    let dir = tempfile::tempdir().unwrap();
    let f = std::fs::File::create(dir.path().join("big.iso")).unwrap();
    f.set_len(3 << 30).unwrap(); // sparse: reads as zeros, costs no disk here
    let mut child = Command::new(client())
        .args(["send", "-q", &b.addr.to_string(), "big.iso"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The host's hidden temp appears once the header is in: the body is on its way.
    wait_until("upload started", WAIT, || {
        b.entries().iter().any(|n| n.starts_with(".sy-tmp."))
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let line = b.transfer(1);
    assert!(line.contains("connection closed"), "{line}");
    wait_until("temp removed", WAIT, || b.entries().is_empty());
}

#[test]
fn client_killed_mid_resumable_upload_continues_where_it_stopped() {
    let b = Bulk::start("");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.img");
    {
        // Mostly sparse (cheap to make), with data at both ends and in the middle.
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::create(&path).unwrap();
        let len: u64 = 48 << 20;
        f.set_len(len).unwrap();
        f.write_all_at(&pattern(65_536, 6), 0).unwrap();
        f.write_all_at(&pattern(65_536, 7), 24 << 20).unwrap();
        f.write_all_at(b"tail", len - 4).unwrap();
    }
    let want = sha256_hex(&std::fs::read(&path).unwrap());
    let server = b.addr.to_string();
    let mut child = Command::new(client())
        .args(["send", "-q", "--resume", &server, "disk.img"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once at least 1 MiB has reached the server's temp file.
    wait_until("1 MiB received", WAIT, || {
        std::fs::read_dir(b.incoming()).unwrap().flatten().any(|e| {
            e.file_name().to_string_lossy().starts_with(".sy-tmp.")
                && e.metadata().is_ok_and(|m| m.len() >= 1 << 20)
        })
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let line = b.transfer(1);
    assert!(line.contains("kept for resume"), "{line}");
    assert!(b.visible().is_empty(), "{:?}", b.entries());

    // The same command again: only the rest is sent, and the whole file verifies.
    let out = run_client(&["send", "--resume", &server, "disk.img"], dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("resumed at "), "{stdout}");
    assert!(stdout.contains(&want), "{stdout}");
    assert_eq!(sha256_hex(&b.read("disk.img")), want);
    assert_eq!(b.entries(), [".disk.img.sha256", "disk.img"]);
}

/// A download of a file that is not in the page cache: the host reads it in off the
/// handler thread before each `sendfile` (which would otherwise wait for the disk on
/// it), and the client gets it exactly.
#[test]
fn a_cold_download_is_read_in_off_the_handler_thread_and_exact() {
    let b = Bulk::start("");
    let dir = tempfile::tempdir().unwrap();
    let body = pattern(12 << 20, 11);
    let path = b.incoming().join("cold.bin");
    std::fs::write(&path, &body).unwrap();
    evict_from_page_cache(&path);
    let deferred = || {
        b.host
            .metric("switchyard_file_reads_deferred_total{handler=\"bulk\"}")
            .unwrap_or(0.0)
    };
    let before = deferred();
    let out = run_client(
        &["get", &b.addr.to_string(), "cold.bin", "-o", "got.bin"],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read(dir.path().join("got.bin")).unwrap() == body);
    assert!(
        deferred() > before,
        "nothing was read in off the handler thread"
    );
}

#[test]
fn client_get_resume_fetches_only_the_rest_and_verifies_the_whole() {
    let b = Bulk::start("");
    let dir = tempfile::tempdir().unwrap();
    let body = pattern(1_000_000, 8);
    std::fs::write(dir.path().join("src.bin"), &body).unwrap();
    let server = b.addr.to_string();
    let out = run_client(&["send", &server, "src.bin", "--name", "f.bin"], dir.path());
    assert!(out.status.success());
    // An earlier download broke after 300000 bytes.
    std::fs::write(dir.path().join(".got.bin.part"), &body[..300_000]).unwrap();
    let out = run_client(
        &["get", "--resume", &server, "f.bin", "-o", "got.bin"],
        dir.path(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("verified") && stdout.contains(&sha256_hex(&body)),
        "{stdout}"
    );
    assert_eq!(std::fs::read(dir.path().join("got.bin")).unwrap(), body);
    let line = b.transfer(2);
    assert!(
        line.contains("direction=download") && line.contains("offset=300000"),
        "{line}"
    );
    // A corrupt part is caught by the whole-file digest, and removed.
    let mut bad = body[..300_000].to_vec();
    bad[10] ^= 1;
    std::fs::write(dir.path().join(".bad.bin.part"), &bad).unwrap();
    let out = run_client(
        &["get", "--resume", &server, "f.bin", "-o", "bad.bin"],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("digest mismatch"));
    assert!(!dir.path().join("bad.bin").exists());
    assert!(!dir.path().join(".bad.bin.part").exists());
}

#[test]
fn client_legacy_refuses_two_gib_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let f = std::fs::File::create(dir.path().join("big")).unwrap();
    f.set_len(1 << 31).unwrap(); // sparse: no disk used
    // Port 9 on loopback: nothing listens, and nothing must be tried.
    let out = run_client(&["send", "--legacy", "127.0.0.1:9", "big"], dir.path());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot send 2 GiB or more"), "{err}");
}

#[test]
fn transfers_are_recorded_by_audit() {
    let b = Bulk::start("");
    let mut s = b.connect();
    s.write_all(&4i32.to_be_bytes()).unwrap();
    s.write_all(b"data").unwrap();
    assert!(closed_by_server(&mut s));
    let audit = b.host.temp_dir().join("audit");
    wait_until("transcript with the transfer", WAIT, || {
        std::fs::read_dir(&audit)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                std::fs::read_to_string(e.path()).is_ok_and(|t| {
                    t.contains("switchyard.TransferCompleted/1")
                        && t.contains("\"protocol\":\"bulk\"")
                        && t.contains(&sha256_hex(b"data"))
                })
            })
    });
}

/// A >4 GiB upload (past every 32-bit length and offset), generated on the fly and
/// checked by digest, then deleted. ~15 s in a debug build. The bytes must really be
/// written (the server stores what it receives, so a sparse file cannot stand in, and
/// a tmpfs would take 4 GiB of memory instead), so the test needs the upload's size
/// plus the server's free-space reserve on the disk holding the temp directory. With
/// less it says so and skips locally; under CI it fails: CI machines must have the room.
#[test]
fn v2_upload_over_four_gib() {
    let len: u64 = (4 << 30) + 12_345;
    let b = Bulk::start("");
    let stat = rustix::fs::statvfs(b.incoming()).unwrap();
    let free = stat.f_bavail * stat.f_frsize;
    // The default reserve_free_bytes (64 MiB) and headroom for the rest of the suite
    // writing meanwhile.
    let need = len + (64 << 20) + (512 << 20);
    if free < need {
        skip(&format!(
            "{} MiB free under {}, the 4 GiB upload needs {} MiB",
            free >> 20,
            b.incoming().display(),
            need >> 20
        ));
        return;
    }
    let mut s = b.connect();
    s.write_all(&put_header("huge.bin", len, DIGEST_LAST, None, None))
        .unwrap();
    let mut h = Sha256::new();
    let block = pattern(1 << 20, 5);
    let mut sent = 0u64;
    while sent < len {
        let n = (len - sent).min(block.len() as u64) as usize;
        s.write_all(&block[..n]).unwrap();
        h.update(&block[..n]);
        sent += n as u64;
    }
    let d: [u8; 32] = h.finalize().into();
    s.write_all(&d).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    let r = read_reply(&mut s);
    assert_eq!((r.status, r.value, r.digest), (OK, len, Some(d)), "{r:?}");
    let path = b.incoming().join("huge.bin");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
    std::fs::remove_file(path).unwrap();
}
