//! Storage faults, end to end: a real ENOSPC on a small tmpfs, EACCES on a root the
//! (privilege-dropped) host cannot use, the host SIGKILLed mid-upload and restarted on
//! the same root, and the host SIGKILLed right after it said an upload succeeded.
//!
//! One host serves files, bulk and tftp on subdirectories of one root, so each case is
//! checked for every protocol that stores files. The bulk ENOSPC case lives in
//! `bulk.rs` (`enospc_mid_transfer_replies_no_space_and_removes_the_temp`).
//! Mounting and switching users need root: without it these tests skip with a printed
//! reason, except under `CI=true`, where they fail.

use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use switchyard_e2e::faults::{
    SharedDir, Tmpfs, files_below, pattern, read_until_closed, require_root, temps_below, tool,
};
use switchyard_e2e::files_wire::V2;
use switchyard_e2e::tftp_wire::{
    ack, client_socket, data, error_code, finish_raw_download, recv, rrq, wrq,
};
use switchyard_e2e::{Host, sha256_hex, tcp_connect, wait_until};

const WAIT: Duration = Duration::from_secs(20);

/// Topology text: files, bulk and tftp with their roots at `<root>/files`, `<root>/bulk`
/// and `<root>/tftp`, every free-space reserve off (the disk itself is the limit), and
/// `top` prepended inside the topology (e.g. `user: Some("nobody"),`).
fn trio(root: &str, top: &str) -> String {
    format!(
        r#"(
    {top}
    listeners: {{
        "files_tcp": (kind: tcp, bind: "127.0.0.1:0"),
        "bulk_tcp": (kind: tcp, bind: "127.0.0.1:0"),
        "tftp_udp": (kind: udp, bind: "127.0.0.1:0"),
    }},
    handlers: {{
        "files": (plugin: "files", root: Some("{root}/files"), config: (reserve_free_bytes: 0)),
        "bulk": (plugin: "bulk", root: Some("{root}/bulk"), create_dirs: ["incoming"],
                 config: (reserve_free_bytes: 0, resume: false)),
        "tftp": (plugin: "tftp", root: Some("{root}/tftp"),
                 config: (allow_create: true, reserve_free_bytes: 0)),
    }},
    routes: [
        (from: "files_tcp", to: "files"),
        (from: "bulk_tcp", to: "bulk"),
        (from: "tftp_udp", to: "tftp"),
    ],
)"#
    )
}

fn text(p: &Path) -> String {
    p.to_str().expect("UTF-8 path").to_owned()
}

/// A TFTP upload of `name` that has reached block `blocks` (512 bytes each) and waits:
/// the socket and the server's transfer port, to go on or to abandon it.
fn tftp_upload_started(server: SocketAddr, name: &str, blocks: u16) -> (UdpSocket, SocketAddr) {
    let sock = client_socket(server);
    sock.send_to(&wrq(name, &[]), server).unwrap();
    let (pkt, tid) = recv(&sock);
    assert_eq!(pkt, ack(0));
    for block in 1..=blocks {
        sock.send_to(&data(block, &[block as u8; 512]), tid)
            .unwrap();
        let mut pkt = recv(&sock).0;
        while pkt == ack(block - 1) {
            pkt = recv(&sock).0; // a retransmission on a slow machine
        }
        assert_eq!(pkt, ack(block));
    }
    (sock, tid)
}

/// A lock-step TFTP download of `name`, whole.
fn tftp_get(server: SocketAddr, name: &str) -> Vec<u8> {
    let sock = client_socket(server);
    sock.send_to(&rrq(name, "octet", &[]), server).unwrap();
    let (first, tid) = recv(&sock);
    finish_raw_download(&sock, first, tid)
}

// ---- ENOSPC -----------------------------------------------------------------------------

/// A files `PUT` admitted while there was room runs out of it mid-body (the disk was
/// filled meanwhile): the client gets `ERR`, the temp is removed, and another upload in
/// flight on the same host at the same time completes intact.
#[test]
fn enospc_mid_files_put_is_an_error_and_leaves_no_temp_while_another_put_succeeds() {
    let Some(fs) = Tmpfs::mount("2m") else {
        return;
    };
    let host = Host::start(&trio(&text(fs.path()), ""));
    let addr = host.addr("files_tcp");
    let small = pattern(2000, 1);
    let mut other = V2::open(addr);
    assert_eq!(other.ask("PUT small.bin 2000"), "CONTINUE");
    other.s.write_all(&small[..1000]).unwrap();

    let mut big = V2::open(addr);
    assert_eq!(big.ask("PUT big.bin 1000000"), "CONTINUE");
    let filler = fs.fill_leaving("filler", 64 * 1024);
    // The server may stop reading once the write failed: a failed send is fine.
    let _ = big.s.write_all(&pattern(1_000_000, 2));
    let reply = big.line();
    assert!(reply.starts_with("ERR 507"), "{reply}");
    host.expect_log(
        "the failed upload",
        |j| {
            j["msg"]
                .as_str()
                .is_some_and(|m| m.contains("big.bin") && m.contains("no space left"))
        },
        WAIT,
    );
    let files = fs.path().join("files");
    wait_until("only the other upload's temp left", WAIT, || {
        temps_below(&files).len() == 1
    });
    assert!(!files.join("big.bin").exists());

    // The other transfer never noticed.
    std::fs::remove_file(filler).unwrap();
    other.s.write_all(&small[1000..]).unwrap();
    assert_eq!(
        other.line(),
        format!("OK small.bin 2000 {}", sha256_hex(&small))
    );
    assert_eq!(std::fs::read(files.join("small.bin")).unwrap(), small);
    assert_eq!(files_below(&files), [".small.bin.sha256", "small.bin"]);
    drop(host);
}

/// A TFTP WRQ that runs out of space gets ERROR 3 (disk full) and its temp is removed;
/// a download on the same host still works.
#[test]
fn enospc_mid_tftp_wrq_is_error_3_and_leaves_no_temp() {
    let Some(fs) = Tmpfs::mount("2m") else {
        return;
    };
    let host = Host::start(&trio(&text(fs.path()), ""));
    let addr = host.addr("tftp_udp");
    let tftp = fs.path().join("tftp");
    std::fs::write(tftp.join("small.bin"), b"still served").unwrap();

    let (sock, tid) = tftp_upload_started(addr, "big.bin", 1);
    let filler = fs.fill_leaving("filler", 16 * 1024);
    let mut refusal = None;
    for block in 2..=200u16 {
        sock.send_to(&data(block, &[7; 512]), tid).unwrap();
        let mut pkt = recv(&sock).0;
        while pkt == ack(block - 1) {
            pkt = recv(&sock).0;
        }
        if pkt != ack(block) {
            refusal = Some(pkt);
            break;
        }
    }
    let refusal = refusal.expect("100 KB never filled the last 16 KB");
    assert_eq!(error_code(&refusal), 3, "{refusal:?}");
    assert!(String::from_utf8_lossy(&refusal).contains("disk full"));
    host.expect_log(
        "the failed upload",
        |j| {
            j["msg"]
                .as_str()
                .is_some_and(|m| m.contains("file=big.bin") && m.contains("disk full"))
        },
        WAIT,
    );
    wait_until("the temp removed", WAIT, || temps_below(&tftp).is_empty());
    assert_eq!(files_below(&tftp), ["small.bin"]);
    std::fs::remove_file(filler).unwrap();
    assert_eq!(tftp_get(addr, "small.bin"), b"still served");
    drop(host);
}

// ---- EACCES -----------------------------------------------------------------------------

/// The host drops root to `nobody`; its roots belong to root with mode 0700, so every
/// file operation there is EACCES. Each protocol answers with an error, the host logs
/// it and keeps serving: once the operator fixes the mode, the same host works.
#[test]
fn eacces_on_the_root_is_an_error_to_the_peer_and_the_host_keeps_serving() {
    if !require_root("switch to the user `nobody`") {
        return;
    }
    let dir = SharedDir::new();
    for sub in ["files", "tftp", "bulk/incoming"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        std::fs::write(dir.join(sub).join("f.txt"), b"readable").unwrap();
    }
    // The parent must be searchable for nobody when the mode is fixed below; the
    // roots themselves are root's only.
    std::fs::set_permissions(dir.join(""), std::fs::Permissions::from_mode(0o755)).unwrap();
    let lock = |mode| {
        for sub in ["files", "tftp", "bulk/incoming"] {
            std::fs::set_permissions(dir.join(sub), std::fs::Permissions::from_mode(mode)).unwrap();
        }
    };
    lock(0o700);
    let host = Host::start(&trio(&dir.text(), r#"user: Some("nobody"),"#));
    host.expect_log(
        "the privilege drop",
        |j| j["msg"] == "running as an unprivileged user",
        WAIT,
    );

    let mut c = V2::open(host.addr("files_tcp"));
    let (head, _) = c.get("f.txt");
    assert!(
        head.starts_with("ERR 403") || head.starts_with("ERR 500"),
        "{head}"
    );
    let put = c.ask("PUT new.txt 3");
    assert!(
        put.starts_with("ERR 403") || put.starts_with("ERR 500"),
        "{put}"
    );

    let tftp = host.addr("tftp_udp");
    let sock = client_socket(tftp);
    sock.send_to(&rrq("f.txt", "octet", &[]), tftp).unwrap();
    assert_eq!(error_code(&recv(&sock).0), 2, "RRQ: access violation");
    sock.send_to(&wrq("new.txt", &[]), tftp).unwrap();
    assert_eq!(error_code(&recv(&sock).0), 2, "WRQ: access violation");

    let mut b = tcp_connect(host.addr("bulk_tcp"), WAIT);
    b.write_all(&3i32.to_be_bytes()).unwrap();
    b.write_all(b"abc").unwrap();
    read_until_closed(&mut b, WAIT);
    for handler in ["files", "tftp", "bulk"] {
        host.expect_log(
            &format!("{handler} logging the refusal"),
            |j| {
                j["handler"] == handler
                    && j["msg"].as_str().is_some_and(|m| {
                        m.contains("access denied") || m.contains("access violation")
                    })
            },
            WAIT,
        );
    }
    assert!(
        files_below(&dir.join(""))
            .iter()
            .all(|f| f.ends_with("f.txt"))
    );

    // Same host, same connection: fixed permissions make it work.
    lock(0o755);
    assert_eq!(c.get("f.txt"), ("OK 8 -".to_owned(), b"readable".to_vec()));
    assert_eq!(tftp_get(tftp, "f.txt"), b"readable");
}

// ---- the host killed -----------------------------------------------------------------------

/// SIGKILL the host while an upload of each protocol is half-way: nothing is visible
/// under its name, and a host started again on the same roots sweeps every temp.
#[test]
fn host_killed_mid_upload_leaves_nothing_visible_and_the_restart_sweeps_the_temps() {
    let dir = SharedDir::new();
    let topology = trio(&dir.text(), "");
    let mut host = Host::start(&topology);

    let mut files = V2::open(host.addr("files_tcp"));
    assert_eq!(files.ask("PUT half.bin 1000000"), "CONTINUE");
    files.s.write_all(&pattern(300_000, 1)).unwrap();
    let mut bulk = tcp_connect(host.addr("bulk_tcp"), WAIT);
    bulk.write_all(&1_000_000i32.to_be_bytes()).unwrap();
    bulk.write_all(&pattern(300_000, 2)).unwrap();
    let _tftp = tftp_upload_started(host.addr("tftp_udp"), "half.bin", 3);
    wait_until("a temp file per upload", WAIT, || {
        temps_below(&dir.join("")).len() == 3
    });

    host.signal("KILL");
    host.wait_exit(WAIT);
    let left = files_below(&dir.join(""));
    assert!(
        left.iter().all(|f| Path::new(f)
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))),
        "a partial upload is visible: {left:?}"
    );

    let again = Host::start(&topology);
    for handler in ["files", "bulk", "tftp"] {
        let swept = again.expect_log(
            &format!("{handler}'s sweep"),
            |j| j["msg"] == "removed temp files left by a crash" && j["handler"] == handler,
            WAIT,
        );
        assert_eq!(swept["count"], 1, "{swept}");
    }
    assert_eq!(files_below(&dir.join("")), Vec::<String>::new());
    // And the restarted host serves uploads on those roots.
    let mut c = V2::open(again.addr("files_tcp"));
    assert!(c.put("after.bin", b"ok").starts_with("OK after.bin 2 "));
}

/// SIGKILL the host the moment it has said an upload succeeded: the file is there,
/// whole, with the digest it announced (files `OK`, the final TFTP ACK), and a restarted
/// host serves it. A process crash cannot lose committed data because the commit is
/// done (fdatasync, rename, directory fsync) before the reply is sent; this test proves
/// the order "commit, then reply", not survival of a power cut.
#[test]
fn host_killed_right_after_success_keeps_the_whole_file() {
    let dir = SharedDir::new();
    let topology = trio(&dir.text(), "");
    let mut host = Host::start(&topology);
    let body = pattern(700_000, 3);

    let mut files = V2::open(host.addr("files_tcp"));
    let ok = files.put("done.bin", &body);
    let digest = sha256_hex(&body);
    let tftp_body = pattern(512 * 4 + 100, 4);
    let tftp = host.addr("tftp_udp");
    let sock = client_socket(tftp);
    sock.send_to(&wrq("done.bin", &[]), tftp).unwrap();
    let (pkt, tid) = recv(&sock);
    assert_eq!(pkt, ack(0));
    for (i, chunk) in tftp_body.chunks(512).enumerate() {
        let block = i as u16 + 1;
        sock.send_to(&data(block, chunk), tid).unwrap();
        let mut pkt = recv(&sock).0;
        while pkt == ack(block - 1) {
            pkt = recv(&sock).0;
        }
        assert_eq!(pkt, ack(block));
    }
    host.signal("KILL"); // at once after the last ACK
    host.wait_exit(WAIT);

    assert_eq!(ok, format!("OK done.bin {} {digest}", body.len()));
    let on_disk = std::fs::read(dir.join("files/done.bin")).unwrap();
    assert_eq!(sha256_hex(&on_disk), digest);
    assert_eq!(std::fs::read(dir.join("tftp/done.bin")).unwrap(), tftp_body);

    let again = Host::start(&topology);
    let mut c = V2::open(again.addr("files_tcp"));
    assert_eq!(
        c.get("done.bin"),
        (format!("OK {} {digest}", body.len()), body)
    );
    assert_eq!(tftp_get(again.addr("tftp_udp"), "done.bin"), tftp_body);
}

/// The system calls of one commit, watched with strace attached to the running host:
/// the file's data is synced (`fdatasync`) before the rename that makes it visible,
/// and the directory that received the name is synced (`fsync` of the rename's target
/// directory fd) right after, before the client hears `OK`. That order is what makes
/// "success" survive a crash of the machine, not only of the process; the test proves
/// the order of calls, not what a given disk does with them.
#[test]
fn commit_is_fdatasync_then_rename_then_directory_fsync() {
    let (Some(strace), true) = (tool("strace"), require_root("attach strace")) else {
        return;
    };
    let dir = SharedDir::new();
    let host = Host::start(&trio(&dir.text(), ""));
    let trace = dir.join("trace.txt");
    let mut tracer = Command::new(strace)
        .args([
            "-f",
            "-qq",
            "-e",
            "trace=fdatasync,fsync,rename,renameat,renameat2,linkat",
        ])
        .arg("-o")
        .arg(&trace)
        .args(["-p", &host.pid().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run strace");
    // strace creates its output file once it is attached; then a probe upload must show up.
    let probe = |name: &str| {
        let mut c = V2::open(host.addr("files_tcp"));
        assert!(c.put(name, b"probe").starts_with("OK "));
    };
    wait_until("strace attached and tracing", WAIT, || {
        probe(&format!("probe{}.bin", rand_suffix()));
        std::fs::read_to_string(&trace).is_ok_and(|t| t.contains("probe"))
    });
    let body = pattern(100_000, 12);
    let mut c = V2::open(host.addr("files_tcp"));
    assert!(c.put("commit.bin", &body).starts_with("OK commit.bin "));
    let text = std::fs::read_to_string(&trace).unwrap();
    let _ = tracer.kill();
    let _ = tracer.wait();

    // Only completed calls, without the pid column.
    let calls: Vec<String> = text
        .lines()
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .filter(|c| c.ends_with("= 0"))
        .collect();
    let at = calls
        .iter()
        .position(|c| c.starts_with("renameat2(") && c.contains("\"commit.bin\""))
        .unwrap_or_else(|| panic!("no rename to commit.bin in:\n{text}"));
    assert!(
        calls[at - 1].starts_with("fdatasync("),
        "before the rename: {}",
        calls[at - 1]
    );
    // renameat2(olddirfd, "old", newdirfd, "new", flags): the directory to sync.
    let target_dir = calls[at].split(", ").nth(2).expect("newdirfd");
    assert_eq!(
        calls.get(at + 1),
        Some(&format!("fsync({target_dir}) = 0")),
        "after the rename:\n{text}"
    );
}

/// A suffix that differs between calls, for probe names.
fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// SIGTERM while a files upload and a TFTP download are half-way: both finish (the
/// upload is stored whole, the download is byte-exact), new work is refused, and the
/// host exits 0 once they are done.
#[test]
fn sigterm_during_transfers_lets_them_finish_then_exits_0() {
    let dir = SharedDir::new();
    let mut host = Host::start(&trio(&dir.text(), "drain_timeout_secs: 20,"));
    let tftp_body = pattern(512 * 20 + 7, 8);
    std::fs::write(dir.join("tftp/d.bin"), &tftp_body).unwrap();
    let body = pattern(500_000, 9);
    let mut up = V2::open(host.addr("files_tcp"));
    assert_eq!(up.ask("PUT up.bin 500000"), "CONTINUE");
    up.s.write_all(&body[..200_000]).unwrap();
    let tftp = host.addr("tftp_udp");
    let sock = client_socket(tftp);
    sock.send_to(&rrq("d.bin", "octet", &[]), tftp).unwrap();
    let (first, tid) = recv(&sock);

    host.signal("TERM");
    host.expect_log("draining", |j| j["msg"] == "draining", WAIT);
    // The handler hears of the drain just after the host logs it: a request that still
    // slips in is ended by its client at once (so it does not hold up the exit).
    wait_until("new requests refused", WAIT, || {
        let probe = client_socket(tftp);
        probe.send_to(&rrq("d.bin", "octet", &[]), tftp).unwrap();
        let (pkt, from) = recv(&probe);
        if pkt[..2] == [0, 3] {
            probe.send_to(b"\x00\x05\x00\x00stop\x00", from).unwrap();
            return false;
        }
        error_code(&pkt) == 0 && String::from_utf8_lossy(&pkt).contains("shutting down")
    });

    up.s.write_all(&body[200_000..]).unwrap();
    assert_eq!(up.line(), format!("OK up.bin 500000 {}", sha256_hex(&body)));
    let got = finish_raw_download(&sock, first, tid);
    assert_eq!(got, tftp_body);
    drop(up);
    let status = host.wait_exit(WAIT);
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(std::fs::read(dir.join("files/up.bin")).unwrap(), body);
}

/// Two `PUT`s of one new name at once: both are admitted (the name is free when each
/// asks), exactly one is stored whole, the other gets `ERR 409` at the atomic rename,
/// and no temp is left.
#[test]
fn two_puts_of_one_name_at_once_store_exactly_one_whole() {
    let dir = SharedDir::new();
    let host = Host::start(&trio(&dir.text(), ""));
    let addr = host.addr("files_tcp");
    let bodies = [pattern(300_000, 10), pattern(300_000, 11)];
    let mut clients: Vec<V2> = bodies.iter().map(|_| V2::open(addr)).collect();
    for c in &mut clients {
        assert_eq!(c.ask("PUT same.bin 300000"), "CONTINUE");
    }
    for (c, body) in clients.iter_mut().zip(&bodies) {
        c.s.write_all(body).unwrap();
    }
    let replies: Vec<String> = clients.iter_mut().map(V2::line).collect();
    let ok: Vec<usize> = (0..2).filter(|&i| replies[i].starts_with("OK ")).collect();
    assert_eq!(ok.len(), 1, "{replies:?}");
    let loser = 1 - ok[0];
    assert!(replies[loser].starts_with("ERR 409 "), "{replies:?}");
    assert_eq!(
        std::fs::read(dir.join("files/same.bin")).unwrap(),
        bodies[ok[0]]
    );
    wait_until("no temp left", WAIT, || {
        temps_below(&dir.join("files")).is_empty()
    });
}

// ---- a file changed during its download -------------------------------------------------

/// A file truncated while TFTP sends it: the client gets an ERROR, never a short DATA
/// block (which would end the transfer as if the truncated file were whole).
#[test]
fn a_file_truncated_during_a_tftp_download_ends_it_with_an_error() {
    let dir = SharedDir::new();
    let host = Host::start(&trio(&dir.text(), ""));
    let path = dir.join("tftp/f.bin");
    std::fs::write(&path, pattern(100_000, 6)).unwrap();
    let addr = host.addr("tftp_udp");
    let sock = client_socket(addr);
    sock.send_to(&rrq("f.bin", "octet", &[]), addr).unwrap();
    let (first, tid) = recv(&sock);
    assert_eq!(first.len(), 4 + 512);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(600)
        .unwrap();
    let mut block = 1u16;
    let end = loop {
        sock.send_to(&ack(block), tid).unwrap();
        let (pkt, _) = recv(&sock);
        if pkt[..2] != [0, 3] {
            break pkt;
        }
        assert_eq!(
            pkt.len(),
            4 + 512,
            "a short DATA {block}: a truncated file passed as whole"
        );
        block = u16::from_be_bytes([pkt[2], pkt[3]]);
    };
    assert_eq!(error_code(&end), 0, "{end:?}");
    assert!(String::from_utf8_lossy(&end).contains("file changed"));
    host.expect_log(
        "the failed transfer",
        |j| {
            j["msg"]
                .as_str()
                .is_some_and(|m| m.contains("file=f.bin") && m.contains("file changed"))
        },
        WAIT,
    );
}

/// A file truncated while files sends it (sendfile): the connection is closed before
/// the announced length, so the client knows it has not got the file, and the server
/// logs the failed transfer.
#[test]
fn a_file_truncated_during_a_files_get_closes_short_of_the_announced_length() {
    let dir = SharedDir::new();
    let host = Host::start(&trio(&dir.text(), ""));
    let path = dir.join("files/big.bin");
    let size = 32 << 20;
    std::fs::write(&path, pattern(size, 7)).unwrap();
    let mut c = V2::open(host.addr("files_tcp"));
    let head = c.ask("GET big.bin");
    assert!(head.starts_with(&format!("OK {size} ")), "{head}");
    let mut some = vec![0u8; 1 << 20];
    std::io::Read::read_exact(&mut c.r, &mut some).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(2 << 20)
        .unwrap();
    let buffered = c.r.buffer().len();
    let rest = read_until_closed(&mut c.s, WAIT);
    let got = some.len() + buffered + rest;
    assert!(
        got < size,
        "{got} of {size} bytes: the truncation went unnoticed"
    );
    host.expect_log(
        "the failed download",
        |j| {
            j["msg"]
                .as_str()
                .is_some_and(|m| m.contains("big.bin") && m.contains("result=error"))
        },
        WAIT,
    );
}
