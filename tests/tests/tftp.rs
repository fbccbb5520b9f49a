//! End-to-end tests of the TFTP plugin against the real `switchyard` binary: our client,
//! the seed's RRQ packet, and interop with curl, tftp-hpa and atftp (sha256 of every
//! transferred file compared), then every safety point over the wire.
//!
//! Loopback, port 0, bounded waits. Needs `cargo build --workspace` first. A missing
//! third-party client is skipped with a message, except under CI (`faults::in_ci`), where it fails.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use switchyard_e2e::faults::tool;
use switchyard_e2e::tftp_server::{Server, WAIT, run_ok};
use switchyard_e2e::tftp_wire::{
    ack, client_socket, client_socket_from, data, error_code, finish_raw_download, recv,
    recv_skipping, rrq, try_recv, wrq,
};
use switchyard_e2e::{
    Host, bin_dir, evict_from_page_cache, repo_root, run_with_timeout, sha256_hex, wait_until,
};

/// Deterministic, incompressible-looking bytes.
fn bytes(n: usize, seed: u32) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn our_client() -> Command {
    let path = bin_dir().join("switchyard-tftp");
    assert!(
        path.is_file(),
        "{} not built: run `cargo build --workspace` first",
        path.display()
    );
    Command::new(path)
}

// ---- our client --------------------------------------------------------------------------

#[test]
fn our_client_round_trips_octet_and_netascii() {
    let s = Server::start("allow_create: true");
    let content = bytes(300_000, 1);
    s.put_file("a.bin", &content);
    let work = tempfile::tempdir().unwrap();
    let server = s.addr.to_string();
    for (i, opts) in [
        vec![],
        vec!["--blksize", "1468"],
        vec!["--blksize", "8192", "--windowsize", "8"],
        vec!["--blksize", "65464", "--timeout", "2"],
    ]
    .into_iter()
    .enumerate()
    {
        let local = work.path().join(format!("got{i}.bin"));
        let mut get = our_client();
        get.args(["get", &server, "a.bin"]).arg(&local).args(&opts);
        run_ok(get);
        assert_eq!(
            sha256_hex(&std::fs::read(&local).unwrap()),
            sha256_hex(&content),
            "{opts:?}"
        );
        let mut put = our_client();
        put.args(["put", &server])
            .arg(&local)
            .arg(format!("up{i}.bin"))
            .args(&opts);
        run_ok(put);
        assert_eq!(
            s.sha(&format!("up{i}.bin")),
            sha256_hex(&content),
            "{opts:?}"
        );
    }
    // netascii: the server stores local line ends, the wire carries CR LF.
    let text = b"first line\nsecond\r\nbare\rcr\n".repeat(100);
    let local = work.path().join("t.txt");
    std::fs::write(&local, &text).unwrap();
    let mut put = our_client();
    put.args(["put", &server])
        .arg(&local)
        .args(["t.txt", "--mode", "netascii"]);
    run_ok(put);
    assert_eq!(std::fs::read(s.root().join("t.txt")).unwrap(), text);
    let back = work.path().join("back.txt");
    let mut get = our_client();
    get.args(["get", &server, "t.txt"])
        .arg(&back)
        .args(["--mode", "netascii"]);
    run_ok(get);
    assert_eq!(std::fs::read(&back).unwrap(), text);
    let line = s.expect_transfer("t.txt", "ok");
    assert!(line.contains("mode=netascii"), "{line}");
}

/// An empty file, and a file a whole number of blocks long, end with an empty DATA
/// block: the host sends an empty file range as the header alone (it once took an empty
/// read for a missed one).
#[test]
fn files_ending_on_a_block_boundary_end_with_an_empty_block() {
    let s = Server::start("");
    let work = tempfile::tempdir().unwrap();
    let server = s.addr.to_string();
    let files = [
        ("empty.bin", 0, "512"),
        ("two.bin", 1024, "512"),
        ("big.bin", 3 * 8192, "8192"),
    ];
    for (name, size, blksize) in files {
        let content = bytes(size, 9);
        s.put_file(name, &content);
        let local = work.path().join(name);
        let mut get = our_client();
        get.args(["get", &server, name])
            .arg(&local)
            .args(["--blksize", blksize]);
        run_ok(get);
        assert_eq!(std::fs::read(&local).unwrap(), content, "{name}");
    }
    for (name, _, _) in files {
        s.expect_transfer(name, "ok");
    }
}

/// A file that is not in the page cache is read off the actor thread (the issue: no
/// blocking file read on an actor thread with a cold cache), and the datagrams built
/// from those deferred reads still arrive complete and in order.
#[test]
fn cold_cache_reads_are_deferred_and_the_download_is_exact() {
    let s = Server::start("");
    let content = bytes(4_000_000, 7);
    s.put_file("cold.bin", &content);
    let work = tempfile::tempdir().unwrap();
    let server = s.addr.to_string();
    let deferred = || {
        s.host
            .metric("switchyard_file_reads_deferred_total{handler=\"tftp\"}")
            .unwrap_or(0.0)
    };
    for (i, opts) in [vec!["--blksize", "1468"], vec!["--windowsize", "8"]]
        .into_iter()
        .enumerate()
    {
        evict_from_page_cache(&s.root().join("cold.bin"));
        let before = deferred();
        let local = work.path().join(format!("cold{i}.bin"));
        let mut get = our_client();
        get.args(["get", &server, "cold.bin"])
            .arg(&local)
            .args(&opts);
        run_ok(get);
        assert_eq!(
            sha256_hex(&std::fs::read(&local).unwrap()),
            sha256_hex(&content),
            "{opts:?}"
        );
        assert!(
            deferred() > before,
            "a cold download ({opts:?}) read nothing off the actor thread"
        );
    }
}

/// netascii reads the file through the plugin (to convert line ends): the host first
/// brings it into the page cache off the actor thread, then the download goes on, exact.
#[test]
fn a_cold_netascii_download_is_prefetched_and_exact() {
    let s = Server::start("");
    let text = b"line one\nline two\r\nbare cr\r end\n".repeat(20_000);
    s.put_file("cold.txt", &text);
    evict_from_page_cache(&s.root().join("cold.txt"));
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("cold.txt");
    let mut get = our_client();
    get.args(["get", &s.addr.to_string(), "cold.txt"])
        .arg(&local)
        .args(["--mode", "netascii"]);
    run_ok(get);
    assert!(
        std::fs::read(&local).unwrap() == text,
        "netascii round trip"
    );
    let line = s.expect_transfer("cold.txt", "ok");
    assert!(line.contains("mode=netascii"), "{line}");
}

#[test]
fn our_client_failure_exits_nonzero_and_writes_nothing() {
    let s = Server::start("");
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("missing.bin");
    let out = run_with_timeout(
        {
            let mut c = our_client();
            c.args(["get", &s.addr.to_string(), "missing.bin"])
                .arg(&local);
            c
        },
        WAIT,
    );
    assert_eq!(
        out.status.code(),
        Some(78),
        "the remote file does not exist"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("error 1"));
    assert_eq!(
        std::fs::read_dir(work.path()).unwrap().count(),
        0,
        "no file, no temp"
    );
}

#[test]
fn ipv6_listener_serves_our_client() {
    let s = Server::start_on("[::1]:0", "");
    let content = bytes(5000, 7);
    s.put_file("six.bin", &content);
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("six.bin");
    let mut get = our_client();
    get.args(["get", &s.addr.to_string(), "six.bin"])
        .arg(&local);
    run_ok(get);
    assert_eq!(std::fs::read(&local).unwrap(), content);
}

// ---- the seed's packet ----------------------------------------------------------------------

#[test]
fn seed_rrq_gets_data_block_one_and_completes() {
    let s = Server::start("");
    let content = bytes(2000, 3);
    s.put_file("seed.txt", &content);
    // struct.pack('!H%dsb5sb' % len(name), 1, name, 0, b'octet', 0), as the seed sends it.
    let seed = repo_root().join("tests/seed/b_udp_rrq_client.py");
    if seed.is_file() {
        let text = std::fs::read_to_string(&seed).unwrap();
        assert!(
            text.contains("struct.pack('!H%dsb5sb'"),
            "the seed still packs an RRQ"
        );
    }
    let mut pkt = vec![0u8, 1];
    pkt.extend_from_slice(b"seed.txt");
    pkt.push(0);
    pkt.extend_from_slice(b"octet");
    pkt.push(0);
    let sock = client_socket(s.addr);
    sock.send_to(&pkt, s.addr).unwrap();
    let (first, tid) = recv(&sock);
    assert_eq!(first[..4], [0, 3, 0, 1], "DATA block 1");
    assert_ne!(tid.port(), s.addr.port(), "answered from a new TID");
    assert_eq!(finish_raw_download(&sock, first, tid), content);
    s.expect_transfer("seed.txt", "ok");
}

// ---- interop ------------------------------------------------------------------------------

#[test]
fn curl_get_and_put_at_every_blksize() {
    let Some(curl) = tool("curl") else { return };
    let s = Server::start("allow_create: true");
    let content = bytes(1_000_000, 11);
    s.put_file("c.bin", &content);
    let work = tempfile::tempdir().unwrap();
    for bs in ["512", "1468", "8192", "65464"] {
        let local = work.path().join(format!("c{bs}.bin"));
        let mut get = Command::new(&curl);
        get.args(["-sS", "--tftp-blksize", bs, "-o"])
            .arg(&local)
            .arg(format!("tftp://{}/c.bin", s.addr));
        run_ok(get);
        assert_eq!(
            sha256_hex(&std::fs::read(&local).unwrap()),
            sha256_hex(&content),
            "get {bs}"
        );
        let mut put = Command::new(&curl);
        put.args(["-sS", "--tftp-blksize", bs, "-T"])
            .arg(&local)
            .arg(format!("tftp://{}/up{bs}.bin", s.addr));
        run_ok(put);
        assert_eq!(
            s.sha(&format!("up{bs}.bin")),
            sha256_hex(&content),
            "put {bs}"
        );
    }
}

#[test]
fn curl_download_beyond_65535_blocks_rolls_over() {
    let Some(curl) = tool("curl") else { return };
    let s = Server::start("");
    // 65536 blocks of 512 and a bit: block numbers wrap to 0 once.
    let content = bytes(65_537 * 512 + 100, 5);
    s.put_file("big.bin", &content);
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("big.bin");
    let mut get = Command::new(&curl);
    get.args(["-sS", "--tftp-blksize", "512", "-o"])
        .arg(&local)
        .arg(format!("tftp://{}/big.bin", s.addr));
    run_ok(get);
    assert_eq!(
        sha256_hex(&std::fs::read(&local).unwrap()),
        sha256_hex(&content)
    );
    let line = s.expect_transfer("big.bin", "ok");
    assert!(line.contains(&format!("bytes={}", content.len())), "{line}");
}

#[test]
fn tftp_hpa_get_and_put_both_modes() {
    let Some(tftp) = tool("tftp") else { return };
    let s = Server::start("allow_create: true");
    let content = bytes(200_000, 13);
    s.put_file("h.bin", &content);
    let text = b"one\ntwo\r\nthree\rfour\n".repeat(50);
    s.put_file("h.txt", &text);
    let work = tempfile::tempdir().unwrap();
    let port = s.addr.port().to_string();
    let got = work.path().join("h.bin");
    let mut get = Command::new(&tftp);
    get.args(["127.0.0.1", &port, "-m", "binary", "-c", "get", "h.bin"])
        .arg(&got);
    run_ok(get);
    assert_eq!(
        sha256_hex(&std::fs::read(&got).unwrap()),
        sha256_hex(&content)
    );
    let got_txt = work.path().join("h.txt");
    let mut get = Command::new(&tftp);
    get.args(["127.0.0.1", &port, "-m", "netascii", "-c", "get", "h.txt"])
        .arg(&got_txt);
    run_ok(get);
    assert_eq!(std::fs::read(&got_txt).unwrap(), text);
    let mut put = Command::new(&tftp);
    put.args(["127.0.0.1", &port, "-m", "binary", "-c", "put"])
        .arg(&got)
        .arg("hup.bin");
    run_ok(put);
    assert_eq!(s.sha("hup.bin"), sha256_hex(&content));
}

#[test]
fn atftp_blksize_and_windowsize_get_and_put() {
    let Some(atftp) = tool("atftp") else { return };
    let s = Server::start("allow_create: true");
    let content = bytes(700_000, 17);
    s.put_file("w.bin", &content);
    let work = tempfile::tempdir().unwrap();
    let port = s.addr.port().to_string();
    for (i, opts) in [
        vec!["blksize 1468"],
        vec!["blksize 65464"],
        vec!["blksize 1468", "windowsize 8"],
        vec!["blksize 8192", "windowsize 8"],
    ]
    .into_iter()
    .enumerate()
    {
        let local = work.path().join(format!("w{i}.bin"));
        let mut get = Command::new(&atftp);
        for o in &opts {
            get.args(["--option", o]);
        }
        get.args(["-g", "-r", "w.bin", "-l"])
            .arg(&local)
            .args(["127.0.0.1", &port]);
        run_ok(get);
        assert_eq!(
            sha256_hex(&std::fs::read(&local).unwrap()),
            sha256_hex(&content),
            "get {opts:?}"
        );
        let mut put = Command::new(&atftp);
        for o in &opts {
            put.args(["--option", o]);
        }
        put.args(["-p", "-l"])
            .arg(&local)
            .args(["-r", &format!("wu{i}.bin"), "127.0.0.1", &port]);
        run_ok(put);
        assert_eq!(
            s.sha(&format!("wu{i}.bin")),
            sha256_hex(&content),
            "put {opts:?}"
        );
    }
    let line = s.expect_transfer("w.bin", "ok");
    assert!(line.contains("options="), "{line}");
    assert!(
        s.host.logs_contain("windowsize=8"),
        "the window was granted"
    );
}

// ---- safety ---------------------------------------------------------------------------------

#[test]
fn names_outside_the_root_are_access_violations() {
    let s = Server::start("allow_create: true");
    s.put_file("ok.txt", b"fine");
    std::os::unix::fs::symlink("/etc/passwd", s.root().join("link")).unwrap();
    let outside = s.host.temp_dir().join("secret");
    std::fs::write(&outside, b"secret").unwrap();
    std::fs::create_dir(s.root().join("d")).unwrap();
    let sock = client_socket(s.addr);
    for name in [
        "../secret",
        "d/../../secret",
        "//etc/passwd",
        "/../secret",
        "..\\secret",
        "d//x",
        "link",
    ] {
        sock.send_to(&rrq(name, "octet", &[]), s.addr).unwrap();
        let (pkt, _) = recv(&sock);
        assert_eq!(error_code(&pkt), 2, "{name:?}");
    }
    sock.send_to(&rrq("missing", "octet", &[]), s.addr).unwrap();
    assert_eq!(error_code(&recv(&sock).0), 1);
    // A leading `/` names the root: `/etc/passwd` is `etc/passwd` under it, missing.
    sock.send_to(&rrq("/etc/passwd", "octet", &[]), s.addr)
        .unwrap();
    assert_eq!(error_code(&recv(&sock).0), 1);
    sock.send_to(&rrq("ok.txt", "mail", &[]), s.addr).unwrap();
    assert_eq!(error_code(&recv(&sock).0), 4);
    // Uploads out of the root are refused the same way; nothing appears.
    sock.send_to(&wrq("../evil", &[]), s.addr).unwrap();
    assert_eq!(error_code(&recv(&sock).0), 2);
    assert!(!s.host.temp_dir().join("evil").exists());
}

#[test]
fn uploads_are_off_by_default_and_never_overwrite() {
    let s = Server::start("");
    let sock = client_socket(s.addr);
    sock.send_to(&wrq("new.bin", &[]), s.addr).unwrap();
    assert_eq!(error_code(&recv(&sock).0), 2);
    assert!(s.entries().is_empty());

    let s = Server::start("allow_create: true");
    s.put_file("keep.bin", b"original");
    let sock = client_socket(s.addr);
    sock.send_to(&wrq("keep.bin", &[]), s.addr).unwrap();
    assert_eq!(error_code(&recv(&sock).0), 6);
    assert_eq!(
        std::fs::read(s.root().join("keep.bin")).unwrap(),
        b"original"
    );
}

#[test]
fn vanished_uploader_leaves_nothing_visible_ever() {
    let s =
        Server::start("allow_create: true, timeout_ms: 100, max_timeout_ms: 200, max_retries: 2");
    let sock = client_socket(s.addr);
    sock.send_to(&wrq("half.bin", &[]), s.addr).unwrap();
    let (pkt, tid) = recv(&sock);
    assert_eq!(pkt, ack(0));
    sock.send_to(&data(1, &[7u8; 512]), tid).unwrap();
    recv_skipping(&sock, &ack(1), &ack(0));
    // While the transfer is open, only a hidden temp file exists.
    assert!(
        s.entries().iter().all(|n| n.starts_with('.')),
        "{:?}",
        s.entries()
    );
    // The client vanishes: the server retries, gives up, and removes the temp file.
    let line = s.expect_transfer("half.bin", "timeout");
    assert!(line.contains("retransmits=2"), "{line}");
    wait_until("temp file removed", WAIT, || s.entries().is_empty());
}

#[test]
fn oversized_upload_is_error_3_with_tsize_and_without() {
    let s = Server::start("allow_create: true, max_upload_bytes: 1000");
    let sock = client_socket(s.addr);
    sock.send_to(&wrq("big.bin", &[("tsize", "5000")]), s.addr)
        .unwrap();
    assert_eq!(error_code(&recv(&sock).0), 3);
    sock.send_to(&wrq("big2.bin", &[]), s.addr).unwrap();
    let (pkt, tid) = recv(&sock);
    assert_eq!(pkt, ack(0));
    sock.send_to(&data(1, &[1u8; 512]), tid).unwrap();
    recv_skipping(&sock, &ack(1), &ack(0));
    sock.send_to(&data(2, &[1u8; 512]), tid).unwrap();
    let mut pkt = recv(&sock).0;
    while pkt == ack(1) {
        pkt = recv(&sock).0;
    }
    assert_eq!(error_code(&pkt), 3);
    s.expect_transfer("big2.bin", "refused reason=\"file too large\"");
    wait_until("no file left", WAIT, || s.entries().is_empty());
}

#[test]
fn foreign_tid_gets_error_5_and_the_transfer_goes_on() {
    let s = Server::start("");
    let content = bytes(1500, 9);
    s.put_file("f.bin", &content);
    let sock = client_socket(s.addr);
    sock.send_to(&rrq("f.bin", "octet", &[]), s.addr).unwrap();
    let (first, tid) = recv(&sock);
    let intruder = client_socket(s.addr);
    intruder.send_to(&ack(1), tid).unwrap();
    assert_eq!(error_code(&recv(&intruder).0), 5);
    assert_eq!(finish_raw_download(&sock, first, tid), content);
    s.expect_transfer("f.bin", "ok");
}

#[test]
fn duplicate_acks_do_not_duplicate_data() {
    // A long timeout: any second copy of block 2 could only come from the duplicates.
    let s = Server::start("timeout_ms: 10000, max_timeout_ms: 10000");
    s.put_file("d.bin", &bytes(3000, 2));
    let sock = client_socket(s.addr);
    sock.send_to(&rrq("d.bin", "octet", &[]), s.addr).unwrap();
    let (first, tid) = recv(&sock);
    assert_eq!(first[..4], [0, 3, 0, 1]);
    sock.send_to(&ack(1), tid).unwrap();
    sock.send_to(&ack(1), tid).unwrap();
    sock.send_to(&ack(1), tid).unwrap();
    let (second, _) = recv(&sock);
    assert_eq!(second[..4], [0, 3, 0, 2]);
    assert!(try_recv(&sock, Duration::from_millis(1000)).is_none());
}

#[test]
fn request_flood_from_one_source_is_dropped_silently() {
    let s = Server::start("requests_per_sec: 1, request_burst: 5");
    s.put_file("r.bin", b"tiny");
    let sock = client_socket(s.addr);
    // Distinct requests (a missing file): each would get an ERROR 1 if admitted.
    for i in 0..40 {
        sock.send_to(&rrq(&format!("none{i}"), "octet", &[]), s.addr)
            .unwrap();
    }
    let mut answers = 0;
    while try_recv(&sock, Duration::from_millis(500)).is_some() {
        answers += 1;
    }
    assert_eq!(answers, 5, "the burst is answered, the rest dropped");
}

#[test]
fn transfers_are_emitted_to_the_audit_plugin() {
    let host = Host::start(
        r#"(
    listeners: { "tftp_udp": (kind: udp, bind: "127.0.0.1:0") },
    handlers: {
        "tftp": (plugin: "tftp", root: Some("$TMP/data")),
        "audit": (plugin: "audit", root: Some("$TMP/audit"), config: (file: "t.jsonl", flush_interval_ms: 100)),
    },
    routes: [ (from: "tftp_udp", to: "tftp"), (from: "tftp.transfers", to: "audit.events") ],
)"#,
    );
    let root = host.temp_dir().join("data");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("e.bin"), b"event").unwrap();
    let addr = host.addr("tftp_udp");
    let sock = client_socket(addr);
    sock.send_to(&rrq("e.bin", "octet", &[]), addr).unwrap();
    let (first, tid) = recv(&sock);
    finish_raw_download(&sock, first, tid);
    let audit = host.temp_dir().join("audit");
    let start = Instant::now();
    let record = loop {
        let found = std::fs::read_dir(&audit).ok().and_then(|d| {
            d.filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                .find(|t| t.contains("TransferCompleted"))
        });
        if let Some(t) = found {
            break t;
        }
        assert!(
            start.elapsed() < WAIT,
            "no TransferCompleted in the audit log"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        record.contains("e.bin") && record.contains("download"),
        "{record}"
    );
}

#[test]
fn example_topology_validates() {
    let path: &Path = Path::new("config/examples/tftp.ron");
    let out =
        switchyard_e2e::run_switchyard(["validate".as_ref(), repo_root().join(path).as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn no_room_on_disk_is_error_3_before_anything_is_written() {
    // Reserve more than any disk has: every upload finds no room.
    let s = Server::start("allow_create: true, reserve_free_bytes: 18446744073709551615");
    let sock = client_socket(s.addr);
    sock.send_to(&wrq("full.bin", &[]), s.addr).unwrap();
    assert_eq!(error_code(&recv(&sock).0), 3);
    sock.send_to(&wrq("full2.bin", &[("tsize", "10")]), s.addr)
        .unwrap();
    assert_eq!(error_code(&recv(&sock).0), 3);
    assert!(s.entries().is_empty());
}

#[test]
fn per_client_and_total_transfer_limits() {
    let s = Server::start("max_transfers_per_client: 1, max_transfers: 2");
    s.put_file("l.bin", &bytes(5000, 4));
    let first = client_socket(s.addr);
    first.send_to(&rrq("l.bin", "octet", &[]), s.addr).unwrap();
    let (pkt, tid) = recv(&first);
    assert_eq!(pkt[..4], [0, 3, 0, 1]);
    // Same address, another port: over the per-client limit while the first runs.
    let second = client_socket(s.addr);
    second.send_to(&rrq("l.bin", "octet", &[]), s.addr).unwrap();
    let (refusal, _) = recv(&second);
    assert_eq!(error_code(&refusal), 0);
    assert!(
        String::from_utf8_lossy(&refusal).contains("too many transfers from your address"),
        "{refusal:?}"
    );
    // Another address is under its own per-client limit and fills the total (2).
    let other = client_socket_from("127.0.0.2".parse().unwrap());
    other.send_to(&rrq("l.bin", "octet", &[]), s.addr).unwrap();
    let (pkt, other_tid) = recv(&other);
    assert_eq!(pkt[..4], [0, 3, 0, 1]);
    // A third address has no transfer of its own, so only the total limit refuses it.
    let third = client_socket_from("127.0.0.3".parse().unwrap());
    third.send_to(&rrq("l.bin", "octet", &[]), s.addr).unwrap();
    let (busy, _) = recv(&third);
    assert_eq!(error_code(&busy), 0);
    assert!(
        String::from_utf8_lossy(&busy).contains("server busy"),
        "{busy:?}"
    );
    // Once the first ends (its client sends ERROR), the slot is free again: the total
    // is back under its limit for the third address, and the first address may ask again.
    first.send_to(b"\x00\x05\x00\x00bye\x00", tid).unwrap();
    s.expect_transfer("l.bin", "aborted reason=\"peer error 0: bye\"");
    third.send_to(&rrq("l.bin", "octet", &[]), s.addr).unwrap();
    let (pkt, third_tid) = recv(&third);
    assert_eq!(pkt[..4], [0, 3, 0, 1]);
    // Full again (other + third): the per-client slot of 127.0.0.1 is free, the total is not.
    second.send_to(&rrq("l.bin", "octet", &[]), s.addr).unwrap();
    let (busy, _) = recv(&second);
    assert!(
        String::from_utf8_lossy(&busy).contains("server busy"),
        "{busy:?}"
    );
    other
        .send_to(b"\x00\x05\x00\x00bye\x00", other_tid)
        .unwrap();
    third
        .send_to(b"\x00\x05\x00\x00bye\x00", third_tid)
        .unwrap();
    // Three aborts in all (first, other, third): both slots are free again.
    let aborted = |j: &serde_json::Value| {
        j["msg"] == "transfer" && j["file"] == "l.bin" && j["result"] == "aborted"
    };
    assert!(
        s.host.wait_for_nth_log(3, aborted, WAIT).is_some(),
        "the other two transfers did not end: {}",
        s.host.stderr_lines().join("\n")
    );
    second.send_to(&rrq("l.bin", "octet", &[]), s.addr).unwrap();
    assert_eq!(recv(&second).0[..4], [0, 3, 0, 1]);
}
