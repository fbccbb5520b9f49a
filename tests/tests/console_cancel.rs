//! Cancelling sessions from the operator console (`POST /api/sessions/.../cancel`):
//! each plugin gets `SY_EV_SESSION_CANCEL` and tells its peer in its protocol's
//! terms — a chat visitor a line, a TFTP peer ERROR 0, a bulk uploader and a files
//! downloader their error replies — and the session ends as `aborted`.

use std::net::UdpSocket;
use std::time::Duration;

use switchyard_e2e::admin_http::{get, request, session_where};
use switchyard_e2e::slow_link::SlowTcp;
use switchyard_e2e::tftp_wire::{client_socket, error_code, recv, rrq};
use switchyard_e2e::{Host, bin_dir, pseudo_random, wait_until};

const WAIT: Duration = Duration::from_secs(10);
const TOKEN: &str = "console-cancel-token-0123456789";

fn start() -> Host {
    Host::builder(
        r#"(
    admin: Some("127.0.0.1:0"),
    admin_token_env: Some("SY_TEST_ADMIN_TOKEN"),
    listeners: {
        "chat_udp": (kind: udp, bind: "127.0.0.1:0"),
        "tftp_udp": (kind: udp, bind: "127.0.0.1:0"),
        "bulk_tcp": (kind: tcp, bind: "127.0.0.1:0"),
        "files_tcp": (kind: tcp, bind: "127.0.0.1:0"),
    },
    handlers: {
        "chat": (plugin: "chat", config: (agent_secret: Some("s3cret-agent"))),
        "tftp": (plugin: "tftp", root: Some("$TMP/data"), config: ()),
        "bulk": (plugin: "bulk", root: Some("$TMP/data"), create_dirs: ["incoming"], config: ()),
        "files": (plugin: "files", root: Some("$TMP/data"), config: ()),
    },
    routes: [
        (from: "chat_udp", to: "chat"),
        (from: "tftp_udp", to: "tftp"),
        (from: "bulk_tcp", to: "bulk"),
        (from: "files_tcp", to: "files"),
    ],
)"#,
    )
    .env("SY_TEST_ADMIN_TOKEN", TOKEN)
    .start()
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

/// Cancel session `s` through the console; the answer's status.
fn cancel(admin: std::net::SocketAddr, s: &serde_json::Value) -> u16 {
    let path = format!(
        "/api/sessions/{}/{}/cancel",
        s["handler"].as_str().unwrap(),
        s["id"].as_str().unwrap()
    );
    request(admin, "POST", &path, &[("Authorization", &bearer())]).status
}

/// Wait until `file` is in the finished list with `result`.
fn finished_as(admin: std::net::SocketAddr, file: &str, result: &str) {
    wait_until(&format!("{file} finished as {result}"), WAIT, || {
        get(admin, "/api/status").json()["finished"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["resource"] == file && f["result"] == result)
    });
}

#[test]
fn cancelling_releases_a_waiting_visitor_and_a_tftp_peer_gets_an_error() {
    let host = start();
    let admin = host.addr("(admin)");

    // A visitor writes and waits for an agent.
    let visitor = UdpSocket::bind("127.0.0.1:0").unwrap();
    visitor.set_read_timeout(Some(WAIT)).unwrap();
    visitor
        .send_to(b"my order never came", host.addr("chat_udp"))
        .unwrap();
    let mut buf = [0u8; 2048];
    visitor.recv(&mut buf).unwrap(); // the auto reply
    let mut waiting = None;
    wait_until("the visitor is listed as waiting", WAIT, || {
        waiting = session_where(admin, "chat", |s| s["state"] == "visitor waiting");
        waiting.is_some()
    });
    let waiting = waiting.unwrap();
    assert_eq!(waiting["peer"], visitor.local_addr().unwrap().to_string());
    let status_text = get(admin, "/api/status").body;
    assert!(
        !status_text.contains("never came"),
        "no chat text in the status"
    );

    assert_eq!(cancel(admin, &waiting), 200);
    let n = visitor.recv(&mut buf).unwrap();
    let told = String::from_utf8_lossy(&buf[..n]);
    assert!(told.contains("operator closed this session"), "{told}");
    wait_until("the visitor is gone from the status", WAIT, || {
        session_where(admin, "chat", |_| true).is_none()
    });
    assert_eq!(cancel(admin, &waiting), 404, "ended already");

    // A TFTP download left unacknowledged: in flight until cancelled.
    let data = host.temp_dir().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("big.bin"), vec![7u8; 100_000]).unwrap();
    let client = client_socket(host.addr("tftp_udp"));
    client
        .send_to(&rrq("big.bin", "octet", &[]), host.addr("tftp_udp"))
        .unwrap();
    let (_first, tid) = recv(&client);
    let mut transfer = None;
    wait_until("the download is listed", WAIT, || {
        transfer = session_where(admin, "tftp", |s| s["resource"] == "big.bin");
        transfer.is_some()
    });
    let transfer = transfer.unwrap();
    assert_eq!(transfer["direction"], "send");
    assert_eq!(transfer["bytes_total"], 100_000);
    assert_eq!(cancel(admin, &transfer), 200);
    // Retransmissions of block 1 may come first; then the ERROR.
    let error = loop {
        let (pkt, from) = recv(&client);
        assert_eq!(from, tid);
        if pkt[1] == 5 {
            break pkt;
        }
    };
    assert_eq!(error_code(&error), 0);
    assert!(String::from_utf8_lossy(&error).contains("cancelled by the server's operator"));
    wait_until(
        "the transfer is in the finished list as aborted",
        WAIT,
        || {
            get(admin, "/api/status").json()["finished"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["resource"] == "big.bin" && f["result"] == "aborted")
        },
    );
    assert!(
        host.wait_for_nth_log(
            3,
            |j| j["msg"] == "console action" && j["action"] == "cancel",
            WAIT
        )
        .is_some()
    );
}

#[test]
fn cancelling_a_bulk_upload_tells_the_client_and_stores_nothing() {
    let host = start();
    let admin = host.addr("(admin)");
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("up.bin"), pseudo_random(2_000_000, 3)).unwrap();
    let link = SlowTcp::start(host.addr("bulk_tcp"), None, Some(200_000));
    let client = std::process::Command::new(bin_dir().join("switchyard-bulk"))
        .args(["send", &link.addr().to_string(), "up.bin"])
        .current_dir(work.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut upload = None;
    wait_until("the upload is listed with some bytes", WAIT, || {
        upload = session_where(admin, "bulk", |s| {
            s["resource"] == "up.bin" && s["bytes_done"].as_u64() > Some(0)
        });
        upload.is_some()
    });
    let upload = upload.unwrap();
    assert_eq!(upload["direction"], "receive");
    assert_eq!(upload["bytes_total"], 2_000_000);
    assert_eq!(cancel(admin, &upload), 200);
    let out = client.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("cancelled by the server's operator"),
        "{said}"
    );
    finished_as(admin, "up.bin", "aborted");
    let incoming = host.temp_dir().join("data/incoming");
    let left: Vec<_> = std::fs::read_dir(&incoming)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "nothing stored, nothing partial: {left:?}");
    drop(link);
}

#[test]
fn cancelling_a_files_download_ends_its_body_with_the_error_line() {
    let host = start();
    let admin = host.addr("(admin)");
    let data = host.temp_dir().join("data");
    std::fs::write(data.join("big.bin"), pseudo_random(4_000_000, 4)).unwrap();
    let work = tempfile::tempdir().unwrap();
    let link = SlowTcp::start(host.addr("files_tcp"), Some(200_000), None);
    let client = std::process::Command::new(bin_dir().join("switchyard-files"))
        .args(["-q", "get", &link.addr().to_string(), "big.bin"])
        .arg(work.path().join("big.bin"))
        .current_dir(work.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut download = None;
    wait_until("the download is listed with some bytes", WAIT, || {
        download = session_where(admin, "files", |s| {
            s["resource"] == "big.bin" && s["bytes_done"].as_u64() > Some(0)
        });
        download.is_some()
    });
    let download = download.unwrap();
    assert_eq!(download["direction"], "send");
    assert_eq!(cancel(admin, &download), 200);
    link.full_speed();
    let out = client.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("cancelled by the server's operator"),
        "{said}"
    );
    assert!(!work.path().join("big.bin").exists(), "no partial target");
    finished_as(admin, "big.bin", "aborted");
    drop(link);
}
