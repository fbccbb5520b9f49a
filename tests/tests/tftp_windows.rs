//! End-to-end: windows of 64 KiB blocks with atftp, whose default socket buffer
//! (208 KiB) holds three such datagrams. Before the window handling of
//! `plugins/tftp/src/transfer/burst.rs` and `client_buffer_kib`, atftp asking
//! blksize 65464 with windowsize 4 or 16 lost every window's tail and never finished.
//!
//! The server and atftp share one CPU (`taskset`), so that a window sent back to back
//! fills atftp's buffer before atftp runs even from a slow (debug) build of the
//! server, as on a fast link to a slower client. That these tests complete proves
//! interop; that the sender's adaptation is what saves a collapsing window is proven
//! on the simulated network (`transfer::sim`, a receiver holding 3 datagrams), where
//! timing is exact.
//!
//! Loopback, port 0, bounded waits; every transfer compared by sha256. Needs
//! `cargo build --workspace` first, atftp and taskset (under CI a missing one fails).

use std::path::{Path, PathBuf};
use std::process::Command;

use switchyard_e2e::faults::tool;
use switchyard_e2e::sha256_hex;
use switchyard_e2e::tftp_server::{Server, run_ok};

/// Deterministic, incompressible-looking bytes.
fn bytes(n: usize, seed: u32) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// Pin every thread of the server to CPU 0, where atftp will run too.
fn share_one_cpu(taskset: &Path, s: &Server) {
    let mut pin = Command::new(taskset);
    pin.args(["-a", "-p", "-c", "0", &s.host.pid().to_string()]);
    run_ok(pin);
}

/// atftp, on CPU 0, gets `name` from `s` with blksize 65464 and `windowsize` into
/// `local`; the file must arrive whole.
fn atftp_get(tools: &(PathBuf, PathBuf), s: &Server, name: &str, windowsize: u16, local: &Path) {
    let port = s.addr.port().to_string();
    let mut get = Command::new(&tools.1);
    get.args(["-c", "0"])
        .arg(&tools.0)
        .args(["--option", "blksize 65464"])
        .args(["--option", &format!("windowsize {windowsize}")])
        .args(["-g", "-r", name, "-l"])
        .arg(local)
        .args(["127.0.0.1", &port]);
    run_ok(get);
}

/// Serve a file of `size` bytes with the plugin's `config`, on one CPU with atftp,
/// and fetch it with windows of 4 and 16 blocks of 65464 bytes, each byte-exact.
/// Returns the transfer's log line.
fn fetch_in_windows_of_4_and_16(config: &str, size: usize, seed: u32) -> Option<String> {
    let (Some(atftp), Some(taskset)) = (tool("atftp"), tool("taskset")) else {
        return None;
    };
    let tools = (atftp, taskset);
    let s = Server::start(config);
    let content = bytes(size, seed);
    s.put_file("boot.img", &content);
    share_one_cpu(&tools.1, &s);
    let work = tempfile::tempdir().unwrap();
    for windowsize in [4u16, 16] {
        let local = work.path().join(format!("w{windowsize}.img"));
        atftp_get(&tools, &s, "boot.img", windowsize, &local);
        assert_eq!(
            sha256_hex(&std::fs::read(&local).unwrap()),
            sha256_hex(&content),
            "{config}: windowsize {windowsize}"
        );
    }
    Some(s.expect_transfer("boot.img", "ok"))
}

#[test]
fn atftp_64k_blocks_in_windows_of_4_and_16_arrive_byte_exact() {
    // The default: a window is granted only as large as a 160 KiB buffer holds.
    let Some(line) = fetch_in_windows_of_4_and_16("", 6 * 1024 * 1024 + 123, 5) else {
        return;
    };
    assert!(
        line.contains("windowsize=2"),
        "two 64 KiB blocks fit a 160 KiB buffer: {line}"
    );
}

#[test]
fn with_no_buffer_assumed_the_sender_learns_the_burst_and_the_file_arrives() {
    // Every window asked is granted: the tails are lost in atftp's buffer, and the
    // sender sends the windows in the bursts it learns instead.
    let Some(line) = fetch_in_windows_of_4_and_16("client_buffer_kib: 0", 3 * 1024 * 1024 + 77, 6)
    else {
        return;
    };
    assert!(
        line.contains("windowsize=4"),
        "the window asked was granted: {line}"
    );
}
