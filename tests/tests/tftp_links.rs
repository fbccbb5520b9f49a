//! End-to-end tests of symlinks under a TFTP root, against the real `switchyard`
//! binary: a per-client link inside the root served to curl, tftp-hpa and raw packets;
//! links that leave the root (or name a hidden file) refused with ERROR 2; and the
//! handler's `symlinks: refuse`, which refuses every link.
//!
//! Loopback, port 0, bounded waits. Needs `cargo build --workspace` first. A missing
//! third-party client is skipped with a message, except under CI, where it fails.

use std::os::unix::fs::symlink;
use std::process::Command;

use switchyard_e2e::faults::tool;
use switchyard_e2e::pseudo_random;
use switchyard_e2e::tftp_server::{Server, run_ok};
use switchyard_e2e::tftp_wire::{client_socket, download, error_code, recv, rrq};

/// The first answer to a raw RRQ of `name`.
fn first_answer(s: &Server, name: &str) -> Vec<u8> {
    let sock = client_socket(s.addr);
    sock.send_to(&rrq(name, "octet", &[]), s.addr).unwrap();
    recv(&sock).0
}

/// A PXE tree: `default` and links to it, in the forms operators write them; links
/// out of the root and into a hidden file; a secret beside the root.
fn boot_tree(s: &Server, menu: &[u8]) {
    let root = s.root();
    std::fs::write(root.join("default"), menu).unwrap();
    std::fs::create_dir(root.join("pxelinux.cfg")).unwrap();
    symlink("../default", root.join("pxelinux.cfg/01-aa-bb-cc-dd-ee-ff")).unwrap();
    // Absolute, naming the root by its own path (as `ln -s /srv/tftp/default` does).
    symlink(root.join("default"), root.join("pxelinux.cfg/C0A80001")).unwrap();
    let secret = s.host.temp_dir().join("secret");
    std::fs::write(&secret, b"not for peers").unwrap();
    symlink("../secret", root.join("out-relative")).unwrap();
    symlink(&secret, root.join("out-absolute")).unwrap();
    std::fs::write(root.join(".default.sha256"), b"side file").unwrap();
    symlink(".default.sha256", root.join("to-hidden")).unwrap();
}

#[test]
fn an_in_root_symlink_is_served_and_an_escaping_one_refused() {
    let s = Server::start("");
    let menu = pseudo_random(70_000, 23);
    boot_tree(&s, &menu);
    let work = tempfile::tempdir().unwrap();
    if let Some(curl) = tool("curl") {
        let local = work.path().join("curl.cfg");
        let mut get = Command::new(&curl);
        get.args(["-sS", "-o"]).arg(&local).arg(format!(
            "tftp://{}/pxelinux.cfg/01-aa-bb-cc-dd-ee-ff",
            s.addr
        ));
        run_ok(get);
        assert_eq!(std::fs::read(&local).unwrap(), menu);
    }
    if let Some(tftp) = tool("tftp") {
        let local = work.path().join("hpa.cfg");
        let mut get = Command::new(&tftp);
        get.args(["127.0.0.1", &s.addr.port().to_string(), "-m", "binary"])
            .args(["-c", "get", "pxelinux.cfg/C0A80001"])
            .arg(&local);
        run_ok(get);
        assert_eq!(std::fs::read(&local).unwrap(), menu);
    }
    assert_eq!(download(s.addr, "pxelinux.cfg/01-aa-bb-cc-dd-ee-ff"), menu);
    // The log names the file as asked: the link is the host's business.
    s.expect_transfer("pxelinux.cfg/01-aa-bb-cc-dd-ee-ff", "ok");

    for name in ["out-relative", "out-absolute", "to-hidden"] {
        assert_eq!(error_code(&first_answer(&s, name)), 2, "{name}");
    }
    if let Some(tftp) = tool("tftp") {
        // tftp-hpa exits 0 on a refused transfer: what counts is that nothing came.
        let local = work.path().join("escaped");
        let mut get = Command::new(&tftp);
        get.args(["127.0.0.1", &s.addr.port().to_string(), "-m", "binary"])
            .args(["-c", "get", "out-relative"])
            .arg(&local);
        let out = switchyard_e2e::run_with_timeout(get, switchyard_e2e::tftp_server::WAIT);
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(text.contains("Error code 2"), "{text}");
        assert!(std::fs::read(&local).unwrap_or_default().is_empty());
    }
}

#[test]
fn symlinks_refuse_refuses_every_link_and_serves_files() {
    let s = Server::start_with("127.0.0.1:0", "symlinks: refuse,", "");
    boot_tree(&s, b"menu");
    for name in [
        "pxelinux.cfg/01-aa-bb-cc-dd-ee-ff",
        "pxelinux.cfg/C0A80001",
        "out-relative",
    ] {
        assert_eq!(error_code(&first_answer(&s, name)), 2, "{name}");
    }
    assert_eq!(download(s.addr, "default"), b"menu");
}
