//! Storage faults, end to end: a real ENOSPC on a small tmpfs, EACCES on a root the
//! (privilege-dropped) host cannot use, two uploads of one name at once, and files
//! truncated while they are being downloaded.
//!
//! One host serves files, bulk and tftp on subdirectories of one root
//! ([`storage_trio`]), so each case is checked for the protocols that store files. The
//! bulk ENOSPC case lives in `bulk.rs`
//! (`enospc_mid_transfer_replies_no_space_and_removes_the_temp`); crashes and stops of
//! the host are in `faults_crash.rs`. Mounting and switching users need root: without
//! it these tests skip with a printed reason, except under CI (`faults::in_ci`), where they fail.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use switchyard_e2e::faults::{
    SharedDir, Tmpfs, files_below, pattern, read_until_closed, require_root, storage_trio,
    temps_below,
};
use switchyard_e2e::files_wire::V2;
use switchyard_e2e::tftp_wire::{
    ack, client_socket, download, error_code, recv, rrq, send_data, upload_start, wrq,
};
use switchyard_e2e::{Host, log_text, sha256_hex, tcp_connect, wait_until};

const WAIT: Duration = Duration::from_secs(20);

// ---- ENOSPC -----------------------------------------------------------------------------

/// A files `PUT` admitted while there was room runs out of it mid-body (the disk was
/// filled meanwhile): the client gets `ERR`, the temp is removed, and another upload in
/// flight on the same host at the same time completes intact.
#[test]
fn enospc_mid_files_put_is_an_error_and_leaves_no_temp_while_another_put_succeeds() {
    let Some(fs) = Tmpfs::mount("2m") else {
        return;
    };
    let host = Host::start(&storage_trio(&fs.text(), ""));
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
        |j| Some(log_text(j)).is_some_and(|m| m.contains("big.bin") && m.contains("no space left")),
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
    let host = Host::start(&storage_trio(&fs.text(), ""));
    let addr = host.addr("tftp_udp");
    let tftp = fs.path().join("tftp");
    std::fs::write(tftp.join("small.bin"), b"still served").unwrap();

    let (sock, tid) = upload_start(addr, "big.bin");
    assert_eq!(send_data(&sock, tid, 1, &[7; 512]), ack(1));
    let filler = fs.fill_leaving("filler", 16 * 1024);
    let refusal = (2..=200u16)
        .map(|block| (block, send_data(&sock, tid, block, &[7; 512])))
        .find(|(block, pkt)| *pkt != ack(*block))
        .map(|(_, pkt)| pkt);
    let refusal = refusal.expect("100 KB never filled the last 16 KB");
    assert_eq!(error_code(&refusal), 3, "{refusal:?}");
    assert!(String::from_utf8_lossy(&refusal).contains("disk full"));
    host.expect_log(
        "the failed upload",
        |j| {
            Some(log_text(j)).is_some_and(|m| m.contains("file=big.bin") && m.contains("disk full"))
        },
        WAIT,
    );
    wait_until("the temp removed", WAIT, || temps_below(&tftp).is_empty());
    assert_eq!(files_below(&tftp), ["small.bin"]);
    std::fs::remove_file(filler).unwrap();
    assert_eq!(download(addr, "small.bin"), b"still served");
    drop(host);
}

// ---- EACCES -----------------------------------------------------------------------------

/// The host drops root to `nobody`; once it runs, its roots are made root's own with
/// mode 0700 (at start they were open, or `serve` would refuse to start: see
/// `operator_privilege.rs`), so every file operation there is EACCES. Each protocol
/// answers with an error, the host logs it and keeps serving: once the operator fixes
/// the mode, the same host works.
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
        for sub in ["files", "tftp", "bulk", "bulk/incoming"] {
            std::fs::set_permissions(dir.join(sub), std::fs::Permissions::from_mode(mode)).unwrap();
        }
    };
    lock(0o777);
    let host = Host::start(&storage_trio(&dir.text(), r#"user: Some("nobody"),"#));
    host.expect_log(
        "the privilege drop",
        |j| j["msg"] == "running as an unprivileged user",
        WAIT,
    );
    lock(0o700);

    let mut c = V2::open(host.addr("files_tcp"));
    // EACCES is the storage's `PermissionDenied`, `SY_ERR_ACCESS` to the plugin, which
    // the files protocol answers with 403 (never 500: it is not an I/O fault).
    let (head, _) = c.get("f.txt");
    assert!(head.starts_with("ERR 403 "), "{head}");
    let put = c.ask("PUT new.txt 3");
    assert!(put.starts_with("ERR 403 "), "{put}");

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
                    && Some(log_text(j)).is_some_and(|m| {
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
    assert_eq!(download(tftp, "f.txt"), b"readable");
}

/// Two `PUT`s of one new name at once: both are admitted (the name is free when each
/// asks), exactly one is stored whole, the other gets `ERR 409` at the atomic rename,
/// and no temp is left.
#[test]
fn two_puts_of_one_name_at_once_store_exactly_one_whole() {
    let dir = SharedDir::new();
    let host = Host::start(&storage_trio(&dir.text(), ""));
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
    let host = Host::start(&storage_trio(&dir.text(), ""));
    let path = dir.join("tftp/f.bin");
    std::fs::write(&path, pattern(100_000, 6)).unwrap();
    let addr = host.addr("tftp_udp");
    let sock = client_socket(addr);
    sock.send_to(&rrq("f.bin", "octet", &[]), addr).unwrap();
    let (first, tid) = recv(&sock);
    assert_eq!(first.len(), 4 + 512);
    truncate_and_expect_error(&sock, tid, &path, 512, 200);
    host.expect_log(
        "the failed transfer",
        |j| {
            Some(log_text(j))
                .is_some_and(|m| m.contains("file=f.bin") && m.contains("file changed"))
        },
        WAIT,
    );
}

/// The same at the largest block size, where the host reads each next block ahead
/// while it waits for the ACK: a block read ahead before the truncation may still go
/// out whole, but then the transfer ends with an ERROR, never with a short DATA.
#[test]
fn a_file_truncated_during_a_tftp_download_at_blksize_65464_ends_it_with_an_error() {
    const BLOCK: usize = 65_464;
    let dir = SharedDir::new();
    let host = Host::start(&storage_trio(&dir.text(), ""));
    let path = dir.join("tftp/big.bin");
    std::fs::write(&path, pattern(10 * BLOCK, 8)).unwrap();
    let addr = host.addr("tftp_udp");
    let sock = client_socket(addr);
    sock.send_to(&rrq("big.bin", "octet", &[("blksize", "65464")]), addr)
        .unwrap();
    let (oack, tid) = recv(&sock);
    assert_eq!(oack[..2], [0, 6], "an OACK first: {oack:?}");
    sock.send_to(&ack(0), tid).unwrap();
    let (first, _) = recv(&sock);
    assert_eq!(first.len(), 4 + BLOCK);
    truncate_and_expect_error(&sock, tid, &path, BLOCK, 10);
}

/// Truncate `path` (being downloaded in `block`-byte blocks, block 1 received) to 600
/// bytes, then ACK on: every DATA that follows is whole, and the transfer ends with
/// ERROR "file changed" before block `last`.
fn truncate_and_expect_error(
    sock: &std::net::UdpSocket,
    tid: std::net::SocketAddr,
    path: &std::path::Path,
    block_len: usize,
    last: u16,
) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(600)
        .unwrap();
    let mut block = 1u16;
    let end = loop {
        sock.send_to(&ack(block), tid).unwrap();
        let (pkt, _) = recv(sock);
        if pkt[..2] != [0, 3] {
            break pkt;
        }
        assert_eq!(
            pkt.len(),
            4 + block_len,
            "a short DATA {block}: a truncated file passed as whole"
        );
        block = u16::from_be_bytes([pkt[2], pkt[3]]);
        assert!(block < last, "the whole file went out after its truncation");
    };
    assert_eq!(error_code(&end), 0, "{end:?}");
    assert!(String::from_utf8_lossy(&end).contains("file changed"));
}

/// A file truncated while files sends it (sendfile): the connection is closed before
/// the announced length, so the client knows it has not got the file, and the server
/// logs the failed transfer.
#[test]
fn a_file_truncated_during_a_files_get_closes_short_of_the_announced_length() {
    let dir = SharedDir::new();
    let host = Host::start(&storage_trio(&dir.text(), ""));
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
        |j| Some(log_text(j)).is_some_and(|m| m.contains("big.bin") && m.contains("result=error")),
        WAIT,
    );
}
