//! End-to-end tests of the TFTP plugin's name handling for network-boot fleets, against
//! the real `switchyard` binary: a leading `/` (curl, tftp-hpa), backslashes, case
//! folding, per-client roots from other loopback source addresses, a UEFI-style size
//! probe (raw packets), and a bad remap rule reported by `validate` at its place.
//!
//! Loopback, port 0, bounded waits. Needs `cargo build --workspace` first. A missing
//! third-party client is skipped with a message, except under CI, where it fails.

use std::net::IpAddr;
use std::process::Command;

use switchyard_e2e::faults::tool;
use switchyard_e2e::tftp_server::{Server, WAIT, run_ok};
use switchyard_e2e::tftp_wire::{
    ack, client_socket, client_socket_from, download, error_code, finish_raw_download, recv, rrq,
    wrq,
};
use switchyard_e2e::{log_text, pseudo_random, run_switchyard, sha256_hex, wait_until};

/// Download `name` with raw lock-step packets from source address `from`.
fn download_from(s: &Server, from: &str, name: &str) -> Result<Vec<u8>, u16> {
    let ip: IpAddr = from.parse().unwrap();
    let sock = client_socket_from(ip);
    sock.send_to(&rrq(name, "octet", &[]), s.addr).unwrap();
    let (first, tid) = recv(&sock);
    if first.starts_with(&[0, 5]) {
        return Err(error_code(&first));
    }
    Ok(finish_raw_download(&sock, first, tid))
}

#[test]
fn a_leading_slash_names_the_root_for_curl_and_tftp_hpa() {
    let s = Server::start("");
    let content = pseudo_random(100_000, 19);
    std::fs::create_dir(s.root().join("grub")).unwrap();
    std::fs::write(s.root().join("grub/grub.cfg"), &content).unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut served = 0;
    if let Some(curl) = tool("curl") {
        let local = work.path().join("curl.cfg");
        let mut get = Command::new(&curl);
        // The second slash is the file name's own: curl sends "/grub/grub.cfg".
        get.args(["-sS", "--path-as-is", "-o"])
            .arg(&local)
            .arg(format!("tftp://{}//grub/grub.cfg", s.addr));
        run_ok(get);
        assert_eq!(
            sha256_hex(&std::fs::read(&local).unwrap()),
            sha256_hex(&content)
        );
        served += 1;
    }
    if let Some(tftp) = tool("tftp") {
        let local = work.path().join("hpa.cfg");
        let mut get = Command::new(&tftp);
        get.args(["127.0.0.1", &s.addr.port().to_string(), "-m", "binary"])
            .args(["-c", "get", "/grub/grub.cfg"])
            .arg(&local);
        run_ok(get);
        assert_eq!(
            sha256_hex(&std::fs::read(&local).unwrap()),
            sha256_hex(&content)
        );
        served += 1;
    }
    // The server saw the leading slash, once per client, and served the file under the
    // root.
    let seen = || {
        s.host
            .logs_where(|j| {
                j["msg"] == "transfer"
                    && j["file"] == "grub/grub.cfg"
                    && j["requested"] == "/grub/grub.cfg"
                    && j["result"] == "ok"
            })
            .len()
    };
    wait_until("one line per client", WAIT, || seen() == served);
    // Raw, the same; two slashes stay refused.
    assert_eq!(download(s.addr, "/grub/grub.cfg"), content);
    let sock = client_socket(s.addr);
    sock.send_to(&rrq("//grub/grub.cfg", "octet", &[]), s.addr)
        .unwrap();
    assert_eq!(error_code(&recv(&sock).0), 2);
}

#[test]
fn a_backslash_name_is_served_with_backslash_to_slash_and_refused_without() {
    let s = Server::start("backslash_to_slash: true");
    std::fs::create_dir_all(s.root().join("boot/x64")).unwrap();
    s.put_file("boot/x64/wdsnbp.com", b"windows boot");
    assert_eq!(download(s.addr, r"\boot\x64\wdsnbp.com"), b"windows boot");
    let line = s.expect_transfer("boot/x64/wdsnbp.com", "ok");
    assert!(line.contains(r"requested=\boot\x64\wdsnbp.com"), "{line}");
    // `..\` is `../` once converted, and stays out of the root.
    let sock = client_socket(s.addr);
    sock.send_to(&rrq(r"boot\..\..\secret", "octet", &[]), s.addr)
        .unwrap();
    assert_eq!(error_code(&recv(&sock).0), 2);

    let plain = Server::start("");
    std::fs::create_dir_all(plain.root().join("boot/x64")).unwrap();
    plain.put_file("boot/x64/wdsnbp.com", b"windows boot");
    let sock = client_socket(plain.addr);
    sock.send_to(&rrq(r"boot\x64\wdsnbp.com", "octet", &[]), plain.addr)
        .unwrap();
    assert_eq!(error_code(&recv(&sock).0), 2);
}

#[test]
fn capitals_find_the_lower_case_file_with_case_insensitive() {
    let s = Server::start("case_insensitive: true");
    std::fs::create_dir(s.root().join("Boot")).unwrap();
    s.put_file("small.txt", b"small");
    s.put_file("Boot/BCD", b"bcd");
    assert_eq!(download(s.addr, "SMALL.TXT"), b"small");
    let line = s.expect_transfer("small.txt", "ok");
    assert!(line.contains("requested=SMALL.TXT"), "{line}");
    assert_eq!(download(s.addr, "boot/bcd"), b"bcd");
    let sock = client_socket(s.addr);
    sock.send_to(&rrq("SMALL.TXT.gz", "octet", &[]), s.addr)
        .unwrap();
    assert_eq!(error_code(&recv(&sock).0), 1);

    let plain = Server::start("");
    plain.put_file("small.txt", b"small");
    let sock = client_socket(plain.addr);
    sock.send_to(&rrq("SMALL.TXT", "octet", &[]), plain.addr)
        .unwrap();
    assert_eq!(error_code(&recv(&sock).0), 1);
}

#[test]
fn client_dirs_and_unique_root_pick_the_directory_by_source_address() {
    let s = Server::start(
        r#"allow_create: true, unique_root: ip,
        client_dirs: [(cidr: "127.0.0.7/32", dir: "lab")]"#,
    );
    for (dir, content) in [("lab", "lab"), ("127.0.0.8", "eight"), ("127.0.0.1", "one")] {
        std::fs::create_dir(s.root().join(dir)).unwrap();
        s.put_file(&format!("{dir}/pxelinux.0"), content.as_bytes());
    }
    s.put_file("pxelinux.0", b"root");
    assert_eq!(
        download_from(&s, "127.0.0.7", "pxelinux.0").unwrap(),
        b"lab"
    );
    assert_eq!(
        download_from(&s, "127.0.0.8", "/pxelinux.0").unwrap(),
        b"eight"
    );
    assert_eq!(
        download_from(&s, "127.0.0.1", "pxelinux.0").unwrap(),
        b"one"
    );
    // No directory of its own: the root.
    assert_eq!(
        download_from(&s, "127.0.0.9", "pxelinux.0").unwrap(),
        b"root"
    );
    let line = s.expect_transfer("lab/pxelinux.0", "ok");
    assert!(line.contains("peer=127.0.0.7:"), "{line}");

    // An upload from 127.0.0.8 lands in its directory, nowhere else.
    let sock = client_socket_from("127.0.0.8".parse().unwrap());
    sock.send_to(&wrq("up.log", &[]), s.addr).unwrap();
    let (pkt, tid) = recv(&sock);
    assert_eq!(pkt, ack(0));
    sock.send_to(&switchyard_e2e::tftp_wire::data(1, b"log"), tid)
        .unwrap();
    assert_eq!(recv(&sock).0, ack(1));
    s.expect_transfer("127.0.0.8/up.log", "ok");
    assert_eq!(
        std::fs::read(s.root().join("127.0.0.8/up.log")).unwrap(),
        b"log"
    );
    assert!(!s.root().join("up.log").exists());
}

#[test]
fn a_uefi_size_probe_is_logged_at_info_and_counted_as_a_probe() {
    let s = Server::start("");
    let content = pseudo_random(5000, 23);
    s.put_file("bootx64.efi", &content);
    // Firmware asks the size alone, then refuses the OACK with ERROR 8.
    let sock = client_socket(s.addr);
    sock.send_to(&rrq("bootx64.efi", "octet", &[("tsize", "0")]), s.addr)
        .unwrap();
    let (oack, tid) = recv(&sock);
    assert_eq!(oack, b"\x00\x06tsize\x005000\x00", "an OACK with the size");
    let mut refuse = vec![0, 5, 0, 8];
    refuse.extend_from_slice(b"User aborted download\0");
    sock.send_to(&refuse, tid).unwrap();
    let line = s.host.expect_log(
        "the probe's line",
        |j| j["msg"] == "transfer" && j["file"] == "bootx64.efi",
        WAIT,
    );
    assert_eq!(line["level"], "info", "{}", log_text(&line));
    assert_eq!(line["result"], "probe", "{}", log_text(&line));
    assert!(
        log_text(&line).contains("size probe"),
        "{}",
        log_text(&line)
    );
    // Then the real download, as the firmware does next.
    assert_eq!(download(s.addr, "bootx64.efi"), content);
    s.expect_transfer("bootx64.efi", "ok");
    let probes = "switchyard_transfers_total{handler=\"tftp\",result=\"probe\"}";
    assert_eq!(s.host.metric(probes), Some(1.0));
    let aborted = "switchyard_transfers_total{handler=\"tftp\",result=\"aborted\"}";
    assert_eq!(
        s.host.metric(aborted),
        None,
        "not counted as a failed transfer"
    );
    let warnings = s
        .host
        .logs_where(|j| j["level"] == "warn" || j["level"] == "error");
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn validate_shows_a_bad_remap_regex_at_its_rule() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.ron");
    let topology = r#"(
    listeners: { "u": (kind: udp, bind: "127.0.0.1:0") },
    handlers: { "tftp": (plugin: "tftp", root: Some("/tmp"), config: (
        remap: [
            (match: r"^/tftpboot/", replace: "/"),
            (match: r"^(pxelinux\.cfg", replace: "x"),
        ],
    )) },
    routes: [ (from: "u", to: "tftp") ],
)"#;
    std::fs::write(&file, topology).unwrap();
    let out = run_switchyard(["validate".as_ref(), file.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("bad regex"), "{err}");
    assert!(err.contains("unclosed group"), "{err}");
    assert!(err.contains(&format!("{}:6:", file.display())), "{err}");
}
