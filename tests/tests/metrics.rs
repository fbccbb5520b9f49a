//! `/metrics` under real traffic, read by the reference Prometheus text-format parser
//! (`switchyard_e2e::prometheus`): refused and not-found requests (TFTP and files), an
//! upload cut off mid-body (files), and a bulk upload broken off and resumed. Every
//! family must parse with its declared type, and `switchyard_transfers_total` may only
//! carry the SDK's fixed `result` values, whatever reason each plugin logged.
//!
//! Loopback, port 0, bounded waits. Needs `cargo build --workspace` first, and
//! `SWITCHYARD_PYTHON` (a Python with `prometheus-client`, set up by `.ci/run`): without
//! it the tests skip with the setup printed, except under CI (`faults::in_ci`), where they fail.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use switchyard_e2e::files_wire::V2;
use switchyard_e2e::prometheus::{self, Family};
use switchyard_e2e::tftp_wire::{client_socket, error_code, recv, rrq, wrq};
use switchyard_e2e::{Host, bin_dir, http_get, tcp_connect, wait_until};

const WAIT: Duration = Duration::from_secs(30);

/// Every value `TransferCompleted::result` may take (`switchyard_sdk::messages::Outcome`).
const OUTCOMES: [&str; 10] = [
    "ok",
    "refused",
    "not_found",
    "aborted",
    "partial",
    "timeout",
    "invalid",
    "error",
    "other",
    "probe",
];

/// TFTP (downloads only), files (uploads up to 1 MB) and bulk, with the admin endpoint.
fn start() -> Host {
    let host = Host::start(
        r#"(
    admin: Some("127.0.0.1:0"),
    listeners: {
        "tftp_udp": (kind: udp, bind: "127.0.0.1:0"),
        "files_tcp": (kind: tcp, bind: "127.0.0.1:0"),
        "bulk_tcp": (kind: tcp, bind: "127.0.0.1:0"),
    },
    handlers: {
        "tftp": (plugin: "tftp", root: Some("$TMP/tftp")),
        "files": (plugin: "files", root: Some("$TMP/files"), config: (max_upload_bytes: 1000000)),
        "bulk": (plugin: "bulk", root: Some("$TMP/bulk")),
    },
    routes: [
        (from: "tftp_udp", to: "tftp"),
        (from: "files_tcp", to: "files"),
        (from: "bulk_tcp", to: "bulk"),
    ],
)"#,
    );
    for dir in ["tftp", "files", "bulk/incoming"] {
        std::fs::create_dir_all(host.temp_dir().join(dir)).unwrap();
    }
    host
}

/// `switchyard_transfers_total{handler,result}`, once at least `min` have been counted.
fn transfers(host: &Host, handler: &str, result: &str, min: f64) -> f64 {
    let sample = format!("switchyard_transfers_total{{handler=\"{handler}\",result=\"{result}\"}}");
    let mut value = 0.0;
    wait_until(&format!("{sample} >= {min}"), WAIT, || {
        value = host.metric(&sample).unwrap_or(0.0);
        value >= min
    });
    value
}

/// A TFTP RRQ for a missing file (error 1) and a WRQ to a server without uploads
/// (error 2): each answered from the listener and recorded.
fn tftp_refusals(addr: SocketAddr) {
    let sock = client_socket(addr);
    for (request, code) in [
        (rrq("missing.bin", "octet", &[]), 1),
        (wrq("up.bin", &[]), 2),
    ] {
        sock.send_to(&request, addr).unwrap();
        assert_eq!(error_code(&recv(&sock).0), code);
    }
}

/// A files PUT over the size limit (refused), a GET of a missing file (not found),
/// and a PUT whose client goes away mid-body (aborted).
fn files_traffic(addr: SocketAddr) {
    let mut c = V2::open(addr);
    assert!(c.ask("PUT big.bin 2000000").starts_with("ERR 413"));
    assert!(c.ask("GET nothing.bin").starts_with("ERR 404"));
    assert_eq!(c.ask("PUT cut.bin 500000"), "CONTINUE");
    c.s.write_all(&[7u8; 100_000]).unwrap();
    drop(c);
}

/// A resumable bulk upload (the `switchyard-bulk` client) killed once 1 MiB is in,
/// then sent again: it continues from the kept part and completes.
fn bulk_resumed_upload(host: &Host, addr: SocketAddr) {
    let client = bin_dir().join("switchyard-bulk");
    assert!(
        client.exists(),
        "{} missing: cargo build --workspace first",
        client.display()
    );
    let dir = tempfile::tempdir().unwrap();
    // Sparse, so cheap to make, and large enough to be caught mid-upload.
    let f = std::fs::File::create(dir.path().join("disk.img")).unwrap();
    f.set_len(64 << 20).unwrap();
    drop(f);
    let server = addr.to_string();
    let send = || {
        let mut cmd = Command::new(&client);
        cmd.args(["send", "-q", "--resume", &server, "disk.img"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    };
    let mut child = send().spawn().unwrap();
    let incoming = host.temp_dir().join("bulk/incoming");
    wait_until("1 MiB received", WAIT, || {
        std::fs::read_dir(&incoming).unwrap().flatten().any(|e| {
            e.file_name().to_string_lossy().starts_with(".sy-tmp.")
                && e.metadata().is_ok_and(|m| m.len() >= 1 << 20)
        })
    });
    child.kill().unwrap();
    child.wait().unwrap();
    transfers(host, "bulk", "partial", 1.0);
    let status = send().status().unwrap();
    assert!(status.success(), "the resumed upload failed");
}

/// The `result` values of `switchyard_transfers_total`, per handler, with their counts.
fn results(families: &[Family]) -> BTreeMap<(String, String), f64> {
    families
        .iter()
        .filter(|f| f.name == "switchyard_transfers")
        .flat_map(|f| &f.samples)
        .map(|s| {
            (
                (s.labels["handler"].clone(), s.labels["result"].clone()),
                s.value,
            )
        })
        .collect()
}

#[test]
fn transfer_results_are_bounded_and_the_exposition_parses_as_prometheus_text() {
    let Some(python) = prometheus::reference_parser() else {
        return;
    };
    let host = start();
    tftp_refusals(host.addr("tftp_udp"));
    files_traffic(host.addr("files_tcp"));
    bulk_resumed_upload(&host, host.addr("bulk_tcp"));
    for (handler, result) in [
        ("tftp", "not_found"),
        ("tftp", "refused"),
        ("files", "refused"),
        ("files", "not_found"),
        ("files", "aborted"),
        ("bulk", "partial"),
        ("bulk", "ok"),
    ] {
        transfers(&host, handler, result, 1.0);
    }
    // The reasons are in the log lines, not in the labels.
    assert!(host.logs_contain("bytes kept for resume"));
    assert!(host.logs_contain("client closed mid-upload"));

    let response = http_get(host.addr("(admin)"), "/metrics");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(
        head.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{head}"
    );
    assert!(
        !body.contains("# EOF") && !body.contains("# UNIT"),
        "{body}"
    );
    let families = prometheus::parse(&python, body);
    for f in &families {
        assert!(
            ["counter", "gauge"].contains(&f.kind.as_str()),
            "{} parsed as {}: its # TYPE line does not name its samples\n{body}",
            f.name,
            f.kind
        );
    }
    let kinds: BTreeMap<&str, &str> = families
        .iter()
        .map(|f| (f.name.as_str(), f.kind.as_str()))
        .collect();
    assert_eq!(kinds.get("switchyard_transfers"), Some(&"counter"));
    assert_eq!(kinds.get("switchyard_connections"), Some(&"counter"));
    assert_eq!(kinds.get("switchyard_connections_open"), Some(&"gauge"));

    let results = results(&families);
    for ((handler, result), n) in &results {
        assert!(
            OUTCOMES.contains(&result.as_str()),
            "{handler}: result {result:?} ({n}) is not one of the fixed outcomes"
        );
    }
    let count = |h: &str, r: &str| results.get(&(h.into(), r.into())).copied().unwrap_or(0.0);
    assert!(count("tftp", "refused") >= 1.0 && count("files", "refused") >= 1.0);
    assert!(count("tftp", "not_found") >= 1.0 && count("files", "not_found") >= 1.0);
    assert!(count("files", "aborted") >= 1.0, "{results:?}");
    assert!(
        count("bulk", "partial") >= 1.0 && count("bulk", "ok") >= 1.0,
        "{results:?}"
    );
}

/// A scraper that asks for OpenMetrics (as Prometheus does) gets it, under its own
/// content type and with its `# EOF`; anything else gets the 0.0.4 text.
#[test]
fn openmetrics_is_served_when_the_scraper_asks_for_it() {
    let host = start();
    let get = |accept: &str| {
        let mut s = tcp_connect(host.addr("(admin)"), WAIT);
        let req = format!("GET /metrics HTTP/1.0\r\nAccept: {accept}\r\n\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let om = get("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5");
    let (head, body) = om.split_once("\r\n\r\n").unwrap();
    assert!(
        head.contains("Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8"),
        "{head}"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");
    assert!(
        body.contains("# TYPE switchyard_connections counter\n"),
        "{body}"
    );

    let text = get("text/plain, */*;q=0.1");
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(
        body.contains("# TYPE switchyard_connections_total counter\n"),
        "{body}"
    );
    assert!(!body.contains("# EOF"), "{body}");
}
