//! The operator console in a real browser: headless Chromium (over the DevTools
//! protocol, `switchyard_e2e::cdp`) opens `/` and the test reads the rendered page —
//! a TFTP download and a bulk upload with growing byte counts, then finished; a
//! refused reload (asked from the page's own button) with its error position; a
//! waiting chat visitor, released from the page. A screenshot goes to the test's temp
//! directory and, when `SWITCHYARD_SCREENSHOT` names a path, there too (the README's
//! `docs/console.png` is made that way).
//!
//! The only browser test (a browser costs CI seconds); a machine without Chromium
//! fails it.

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use switchyard_e2e::cdp::Browser;
use switchyard_e2e::slow_link::{SlowTcp, SlowUdp};
use switchyard_e2e::{Host, bin_dir, pseudo_random};

const WAIT: Duration = Duration::from_secs(20);
const TOKEN: &str = "browser-test-token-9876543210";
/// Bytes per second through each slow link: 1.5 MB then takes ~5 s.
const RATE: u64 = 300_000;
const SIZE: usize = 1_500_000;

fn topology() -> String {
    r#"(
    admin: Some("127.0.0.1:0"),
    admin_token_env: Some("SY_BROWSER_ADMIN_TOKEN"),
    listeners: {
        "chat_udp": (kind: udp, bind: "127.0.0.1:0"),
        "tftp_udp": (kind: udp, bind: "127.0.0.1:0"),
        "bulk_tcp": (kind: tcp, bind: "127.0.0.1:0"),
    },
    handlers: {
        "chat": (plugin: "chat", config: (agent_secret: Some("agent-secret-1"))),
        "tftp": (plugin: "tftp", root: Some("$TMP/data"), config: ()),
        "bulk": (plugin: "bulk", root: Some("$TMP/data"), create_dirs: ["incoming"], config: ()),
    },
    routes: [
        (from: "chat_udp", to: "chat"),
        (from: "tftp_udp", to: "tftp"),
        (from: "bulk_tcp", to: "bulk"),
    ],
)"#
    .to_owned()
}

/// The transfer rows the page shows: each row's cells' text.
fn transfer_rows(b: &mut Browser) -> Vec<Vec<String>> {
    let rows = b.eval(
        "[...document.querySelectorAll('#transfers tr.transfer')]\
         .map(tr => [...tr.cells].map(td => td.innerText))",
    );
    serde_json::from_value(rows).unwrap_or_default()
}

/// Bytes done of the row showing `file` going `dir` (`send` or `receive`), read from
/// its `done / total` cell.
fn bytes_shown(b: &mut Browser, file: &str, dir: &str) -> Option<u64> {
    transfer_rows(b)
        .into_iter()
        .find(|cells| cells.get(2).is_some_and(|c| c == file) && cells[3].contains(dir))
        .and_then(|cells| cells[4].split(" / ").next()?.trim().parse().ok())
}

fn spawn(bin: &str, args: &[&str], cwd: &std::path::Path) -> Child {
    Command::new(bin_dir().join(bin))
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{bin}: {e}"))
}

fn finished_text(b: &mut Browser) -> String {
    b.text("#finished")
}

#[test]
fn the_page_shows_transfers_growing_a_refused_reload_and_a_waiting_visitor() {
    let host = Host::builder(&topology())
        .env("SY_BROWSER_ADMIN_TOKEN", TOKEN)
        .start();
    let admin = host.addr("(admin)");
    let data = host.temp_dir().join("data");
    std::fs::write(data.join("big.bin"), pseudo_random(SIZE, 5)).unwrap();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("upload.bin"), pseudo_random(SIZE, 6)).unwrap();

    let mut b = Browser::start(1400, 1300);
    b.navigate(&format!("http://{admin}/"));
    b.wait_for("the page connected to the event stream", WAIT, |b| {
        (b.text("#live") == "live").then_some(())
    });
    assert!(b.text("#handlers").contains("tftp"), "{}", b.text("body"));

    // A visitor waiting for an agent.
    let visitor = UdpSocket::bind("127.0.0.1:0").unwrap();
    visitor.set_read_timeout(Some(WAIT)).unwrap();
    visitor
        .send_to(b"is anyone there?", host.addr("chat_udp"))
        .unwrap();
    let visitor_addr = visitor.local_addr().unwrap().to_string();
    b.wait_for("the waiting visitor", WAIT, |b| {
        let chat = b.text("#chat");
        (chat.contains("visitor waiting") && chat.contains(&visitor_addr)).then_some(())
    });
    assert!(
        !b.text("body").contains("anyone there"),
        "no chat text shown"
    );

    // A slow download and a slow upload.
    let tftp_link = SlowUdp::start(host.addr("tftp_udp"), RATE);
    let bulk_link = SlowTcp::start(host.addr("bulk_tcp"), None, Some(RATE));
    let (tftp, bulk) = (tftp_link.addr().to_string(), bulk_link.addr().to_string());
    let mut get = spawn("switchyard-tftp", &["get", &tftp, "big.bin"], work.path());
    let mut send = spawn(
        "switchyard-bulk",
        &["send", &bulk, "upload.bin"],
        work.path(),
    );
    let first_down = b.wait_for("the download on the page", WAIT, |b| {
        bytes_shown(b, "big.bin", "send").filter(|&n| n > 0)
    });
    let first_up = b.wait_for("the upload on the page", WAIT, |b| {
        bytes_shown(b, "upload.bin", "receive").filter(|&n| n > 0)
    });
    b.wait_for("both byte counts growing", WAIT, |b| {
        let down = bytes_shown(b, "big.bin", "send")?;
        let up = bytes_shown(b, "upload.bin", "receive")?;
        (down > first_down && up > first_up).then_some(())
    });
    let row = transfer_rows(&mut b)
        .into_iter()
        .find(|c| c[2] == "big.bin")
        .expect("the download row");
    assert!(
        row[4].ends_with(&format!("/ {SIZE}")),
        "total shown: {row:?}"
    );
    assert!(row[6].ends_with("/s"), "rate shown: {row:?}");
    assert!(
        row[8].contains("blksize=512 window=1"),
        "TFTP options: {row:?}"
    );

    // A broken topology, reloaded from the page's button: refused, with its position.
    let good = std::fs::read_to_string(host.config_path()).unwrap();
    std::fs::write(host.config_path(), good.replace("kind: tcp", "kind: tcpp")).unwrap();
    b.eval(&format!(
        "document.getElementById('token').value = {}; document.getElementById('reload').click();",
        Value::from(TOKEN)
    ));
    let refused = b.wait_for("the refused reload on the page", WAIT, |b| {
        let reloads = b.text("#reloads");
        reloads.contains("refused").then_some(reloads)
    });
    assert!(refused.contains("topology.ron:7:28"), "{refused}");
    assert!(refused.contains("console"), "the trigger: {refused}");
    std::fs::write(host.config_path(), good).unwrap();

    // The picture, while everything is on it.
    let shot = host.temp_dir().join("console.png");
    b.screenshot(&shot);
    if let Some(path) = std::env::var_os("SWITCHYARD_SCREENSHOT") {
        std::fs::copy(&shot, PathBuf::from(path)).unwrap();
    }

    // The visitor released from the page: told, and gone from it.
    b.eval("[...document.querySelectorAll('#chat tr.waiting button')].forEach(b => b.click())");
    let mut buf = [0u8; 2048];
    let told = loop {
        let n = visitor.recv(&mut buf).expect("the visitor hears of it");
        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
        if line.contains("operator") {
            break line;
        }
    };
    assert!(told.contains("closed this session"), "{told}");
    b.wait_for("the visitor gone from the page", WAIT, |b| {
        (!b.text("#chat").contains(&visitor_addr)).then_some(())
    });

    // Both transfers finish and move to the finished list.
    let got = get.wait().unwrap();
    let sent = send.wait().unwrap();
    assert!(got.success() && sent.success(), "clients: {got:?} {sent:?}");
    b.wait_for("both finished on the page", WAIT, |b| {
        let rows =
            b.eval("[...document.querySelectorAll('#finished tbody tr')].map(tr => tr.innerText)");
        let rows: Vec<String> = serde_json::from_value(rows).unwrap_or_default();
        let ok = |file: &str| {
            rows.iter()
                .any(|r| r.contains(file) && r.contains(&SIZE.to_string()) && r.ends_with("ok"))
        };
        (ok("big.bin") && ok("upload.bin")).then_some(())
    });
    assert!(
        transfer_rows(&mut b).is_empty(),
        "nothing in flight: {}",
        finished_text(&mut b)
    );
    assert_eq!(
        std::fs::read(work.path().join("big.bin")).unwrap(),
        pseudo_random(SIZE, 5)
    );
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
    drop((tftp_link, bulk_link));
}
