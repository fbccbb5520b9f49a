//! The host crashed or stopped in the middle of work, end to end: SIGKILL mid-upload
//! (nothing visible, temps swept by the next start), SIGKILL right after success (the
//! file is whole), the commit's system calls in order (strace), and SIGTERM during
//! transfers (they finish, then exit 0).
//!
//! One host serves files, bulk and tftp on subdirectories of one root
//! ([`storage_trio`]); a second host is started on the same root after a crash.
//! Attaching strace needs root and strace: without them that test skips with a printed
//! reason, except under CI (`faults::in_ci`), where it fails.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use switchyard_e2e::faults::{
    SharedDir, files_below, pattern, require_root, storage_trio, temps_below, tool,
};
use switchyard_e2e::files_wire::V2;
use switchyard_e2e::tftp_wire::{
    ack, client_socket, download, error_code, finish_raw_download, recv, rrq, send_data, upload,
    upload_start,
};
use switchyard_e2e::{Host, sha256_hex, tcp_connect, wait_until};

const WAIT: Duration = Duration::from_secs(20);

/// SIGKILL the host while an upload of each protocol is half-way: nothing is visible
/// under its name, and a host started again on the same roots sweeps every temp.
#[test]
fn host_killed_mid_upload_leaves_nothing_visible_and_the_restart_sweeps_the_temps() {
    let dir = SharedDir::new();
    let topology = storage_trio(&dir.text(), "");
    let mut host = Host::start(&topology);

    let mut files = V2::open(host.addr("files_tcp"));
    assert_eq!(files.ask("PUT half.bin 1000000"), "CONTINUE");
    files.s.write_all(&pattern(300_000, 1)).unwrap();
    let mut bulk = tcp_connect(host.addr("bulk_tcp"), WAIT);
    bulk.write_all(&1_000_000i32.to_be_bytes()).unwrap();
    bulk.write_all(&pattern(300_000, 2)).unwrap();
    let (tftp, tid) = upload_start(host.addr("tftp_udp"), "half.bin");
    for block in 1..=3 {
        assert_eq!(send_data(&tftp, tid, block, &[1; 512]), ack(block));
    }
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
    let topology = storage_trio(&dir.text(), "");
    let mut host = Host::start(&topology);
    let body = pattern(700_000, 3);

    let mut files = V2::open(host.addr("files_tcp"));
    let ok = files.put("done.bin", &body);
    let digest = sha256_hex(&body);
    let tftp_body = pattern(512 * 4 + 100, 4);
    upload(host.addr("tftp_udp"), "done.bin", &tftp_body);
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
    assert_eq!(download(again.addr("tftp_udp"), "done.bin"), tftp_body);
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
    let host = Host::start(&storage_trio(&dir.text(), ""));
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
    let mut host = Host::start(&storage_trio(&dir.text(), "drain_timeout_secs: 20,"));
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
