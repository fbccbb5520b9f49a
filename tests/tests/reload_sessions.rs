//! A reload keeps the sessions of the instances it replaces (issue #16): the old
//! instance lives on, taking nothing new, until its transfers end by themselves —
//! well past `drain_timeout_secs`, which once cut them. And with
//! `reload_drain_timeout_secs` the sessions left then are cut and told: the TFTP
//! client gets an ERROR, the files client `ERR 503` after the bytes it got, and the
//! host logs one WARN line per session and counts it in
//! `switchyard_sessions_cut_total{why="reload"}`.
//!
//! Each transfer runs through a paced relay (`switchyard_e2e::slow_link`), so it lasts
//! as long as the test needs on any machine, with small files; the clients are the
//! real ones (curl, `switchyard-tftp`, `switchyard-files`, `switchyard-bulk`).
//! Loopback, port 0, bounded waits.

#[path = "sessions/clients.rs"]
mod clients;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use clients::{Done, ours, spawn};
use serde_json::Value;
use switchyard_e2e::faults::tool;
use switchyard_e2e::slow_link::{SlowTcp, SlowUdp};
use switchyard_e2e::{Host, prometheus, pseudo_random, sha256_hex};

const WAIT: Duration = Duration::from_secs(60);
/// The topology's `drain_timeout_secs`: the old cut came this long after a reload.
const DRAIN: Duration = Duration::from_secs(2);
/// TFTP answers paced to this (bytes per second): 2.5 MB take about 6.5 s.
const TFTP_RATE: u64 = 400_000;
/// Files and bulk bytes paced to this.
const TCP_RATE: u64 = 1_000_000;

/// Three handlers; `v` changes one config value of each, so a reload replaces all
/// three, and their worker count (`v + 1`: the sessions kept live on the old workers,
/// spread over several). `reload_cut`: `reload_drain_timeout_secs`, if any.
fn topology(tmp: &Path, v: u32, reload_cut: Option<u64>) -> String {
    let reload = reload_cut.map_or(String::new(), |s| {
        format!("reload_drain_timeout_secs: {s},")
    });
    format!(
        r#"(
    admin: Some("127.0.0.1:0"),
    drain_timeout_secs: {drain},
    {reload}
    listeners: {{
        "tftp_udp": (kind: udp, bind: "127.0.0.1:0"),
        "files_tcp": (kind: tcp, bind: "127.0.0.1:0"),
        "bulk_tcp": (kind: tcp, bind: "127.0.0.1:0"),
    }},
    handlers: {{
        "tftp": (plugin: "tftp", root: Some("{data}"), workers: {workers},
                 config: (max_transfers: {tftp})),
        "files": (plugin: "files", root: Some("{data}"), workers: {workers},
                  config: (idle_timeout_secs: {files})),
        "bulk": (plugin: "bulk", root: Some("{data}"), create_dirs: ["incoming"], workers: {workers},
                 config: (header_timeout_secs: {bulk})),
    }},
    routes: [
        (from: "tftp_udp", to: "tftp"), (from: "files_tcp", to: "files"),
        (from: "bulk_tcp", to: "bulk"),
    ],
)"#,
        drain = DRAIN.as_secs(),
        data = tmp.join("data").display(),
        tftp = 60 + v,
        files = 60 + v,
        bulk = 10 + v,
        workers = v + 1,
    )
}

fn start(reload_cut: Option<u64>) -> Host {
    // `$TMP`: the harness puts the host's own temp dir there (reloads write it out).
    // At `debug`: the tests read each plugin's transfer lines, which a transfer that
    // went well logs at that level (docs/decisions/access-log.md).
    let host = Host::builder(&topology(Path::new("$TMP"), 1, reload_cut))
        .log_level("debug")
        .start();
    std::fs::create_dir_all(host.temp_dir().join("data/incoming")).unwrap();
    host
}

/// Rewrite the topology with `v` and reload; the moment the reload was applied.
fn reload(host: &Host, v: u32, reload_cut: Option<u64>) -> Instant {
    std::fs::write(host.config_path(), topology(host.temp_dir(), v, reload_cut)).unwrap();
    let before = host.logs_where(|j| j["msg"] == "reloaded").len();
    host.signal("HUP");
    host.wait_for_nth_log(before + 1, |j| j["msg"] == "reloaded", WAIT)
        .unwrap_or_else(|| panic!("no reload:\n{}", host.stderr_lines().join("\n")));
    let at = Instant::now();
    let line = host.logs_where(|j| j["msg"] == "reloaded").pop().unwrap();
    let mut replaced: Vec<&str> = line["replaced"].as_str().unwrap().split(',').collect();
    replaced.sort_unstable();
    assert_eq!(replaced, ["bulk", "files", "tftp"], "{line}");
    at
}

/// A transfer's summary line from handler `h` (each plugin logs `transfer ...`).
fn finished_on_server(host: &Host, h: &str) -> Vec<Value> {
    host.logs_where(|j| j["handler"] == h && j["msg"] == "transfer")
}

fn curl_get(curl: &Path, from: &SlowUdp, name: &str, to: &Path) -> Command {
    let mut c = Command::new(curl);
    c.args(["-sS", "-v", "--tftp-blksize", "512", "-o"])
        .arg(to)
        .arg(format!("tftp://{}/{name}", from.addr()));
    c
}

fn assert_ok(what: &str, done: &Done) {
    assert!(
        done.status.success(),
        "{what}: {:?}\nstdout: {}\nstderr: {}",
        done.status,
        done.stdout,
        done.stderr
    );
}

#[test]
fn a_reload_keeps_the_transfers_of_the_instances_it_replaces() {
    let Some(curl) = tool("curl") else { return };
    let host = start(None);
    let data = host.temp_dir().join("data");
    let work = tempfile::tempdir().unwrap();
    let tftp_file = pseudo_random(2_500_000, 1);
    let files_file = pseudo_random(8_000_000, 2);
    let bulk_file = pseudo_random(6_000_000, 3);
    std::fs::write(data.join("t.bin"), &tftp_file).unwrap();
    std::fs::write(data.join("f.bin"), &files_file).unwrap();
    std::fs::write(work.path().join("b.bin"), &bulk_file).unwrap();
    // The digest is remembered now, so the GET's reply carries it and the client
    // needs no `HASH` afterwards (a draining instance starts nothing new).
    let files_addr = host.addr("files_tcp").to_string();
    let mut hash = ours("files");
    hash.args(["-q", "hash", &files_addr, "f.bin"]);
    assert_ok("hash", &spawn("hash", hash, work.path()).wait(WAIT));

    let (tftp, files, bulk) = (
        host.addr("tftp_udp"),
        host.addr("files_tcp"),
        host.addr("bulk_tcp"),
    );
    let (link_curl, link_ours) = (
        SlowUdp::start(tftp, TFTP_RATE),
        SlowUdp::start(tftp, TFTP_RATE),
    );
    let link_files = SlowTcp::start(files, Some(TCP_RATE), None);
    let link_bulk = SlowTcp::start(bulk, None, Some(TCP_RATE));
    let started = Instant::now();
    let by_curl = curl_get(&curl, &link_curl, "t.bin", &work.path().join("curl.bin"));
    let mut c = spawn("curl", by_curl, work.path());
    let mut ours_tftp = ours("tftp");
    ours_tftp
        .args(["get", "-q", &link_ours.addr().to_string(), "t.bin"])
        .arg(work.path().join("ours.bin"));
    let mut t = spawn("switchyard-tftp", ours_tftp, work.path());
    let mut get = ours("files");
    get.args(["-q", "get", &link_files.addr().to_string(), "f.bin"])
        .arg(work.path().join("f.bin"));
    let mut f = spawn("switchyard-files", get, work.path());
    let mut send = ours("bulk");
    send.args(["send", "-q", &link_bulk.addr().to_string(), "b.bin"]);
    let mut b = spawn("switchyard-bulk", send, work.path());

    std::thread::sleep(Duration::from_secs(1));
    let reloaded = reload(&host, 2, None);
    // Past the old cut: every transfer is still under way on its old instance.
    std::thread::sleep(
        (reloaded + DRAIN + Duration::from_millis(800)).saturating_duration_since(Instant::now()),
    );
    for (what, client) in [
        ("curl", &mut c),
        ("switchyard-tftp", &mut t),
        ("switchyard-files", &mut f),
        ("switchyard-bulk", &mut b),
    ] {
        assert!(
            client.running(),
            "{what} already ended: the test proves nothing"
        );
    }
    for h in ["tftp", "files", "bulk"] {
        let done = finished_on_server(&host, h);
        assert!(
            done.is_empty(),
            "{h} ended on the server before the old cut: {done:?}"
        );
    }
    let running_past = reloaded.elapsed();
    // The gauge adds up both instances of each handler: the retired one holds them all.
    for (h, n) in [("tftp", 2.0), ("files", 1.0), ("bulk", 1.0)] {
        let sample = format!("switchyard_sessions_active{{handler=\"{h}\"}}");
        assert_eq!(host.metric(&sample), Some(n), "{sample}");
    }

    let (c, t, f, b) = (c.wait(WAIT), t.wait(WAIT), f.wait(WAIT), b.wait(WAIT));
    for (what, done) in [
        ("curl", &c),
        ("switchyard-tftp", &t),
        ("switchyard-files", &f),
        ("switchyard-bulk", &b),
    ] {
        assert_ok(what, done);
    }
    let tftp_sha = sha256_hex(&tftp_file);
    for got in ["curl.bin", "ours.bin"] {
        let bytes = std::fs::read(work.path().join(got)).unwrap();
        assert_eq!(sha256_hex(&bytes), tftp_sha, "{got}");
    }
    let got = std::fs::read(work.path().join("f.bin")).unwrap();
    assert_eq!(sha256_hex(&got), sha256_hex(&files_file), "files GET");
    let stored = std::fs::read(data.join("incoming/b.bin")).unwrap();
    assert_eq!(sha256_hex(&stored), sha256_hex(&bulk_file), "bulk upload");
    assert!(b.stdout.contains(&sha256_hex(&bulk_file)), "{}", b.stdout);
    // Ended on the old instances, whole, and nothing was cut.
    for h in ["tftp", "files", "bulk"] {
        let lines = finished_on_server(&host, h);
        assert!(
            !lines.is_empty() && lines.iter().all(|j| j["result"] == "ok"),
            "{h}: {lines:?}"
        );
    }
    assert!(
        host.logs_where(|j| j["msg"] == "session cut at the drain deadline")
            .is_empty()
    );
    eprintln!(
        "measured: still running {:.1?} after the reload; curl {:.1?}, switchyard-tftp {:.1?}, \
         switchyard-files {:.1?}, switchyard-bulk {:.1?} in all",
        running_past,
        c.at - started,
        t.at - started,
        f.at - started,
        b.at - started
    );
}

#[test]
fn reload_drain_timeout_cuts_what_is_left_and_tells_each_client() {
    let Some(curl) = tool("curl") else { return };
    let host = start(Some(1));
    let data = host.temp_dir().join("data");
    let work = tempfile::tempdir().unwrap();
    let tftp_file = pseudo_random(4_000_000, 4);
    let files_file = pseudo_random(16_000_000, 5);
    std::fs::write(data.join("t.bin"), &tftp_file).unwrap();
    std::fs::write(data.join("f.bin"), &files_file).unwrap();
    let bulk_file = pseudo_random(16_000_000, 6);
    std::fs::write(work.path().join("b.bin"), &bulk_file).unwrap();
    let (tftp, files) = (host.addr("tftp_udp"), host.addr("files_tcp"));
    let link_curl = SlowUdp::start(tftp, TFTP_RATE);
    let link_files = SlowTcp::start(files, Some(TCP_RATE), None);
    let link_bulk = SlowTcp::start(host.addr("bulk_tcp"), None, Some(TCP_RATE));
    let mut send = ours("bulk");
    send.args(["send", "-q", &link_bulk.addr().to_string(), "b.bin"]);
    let mut b = spawn("switchyard-bulk", send, work.path());
    let mut c = spawn(
        "curl",
        curl_get(&curl, &link_curl, "t.bin", &work.path().join("t.bin")),
        work.path(),
    );
    let mut get = ours("files");
    get.args(["-q", "get", &link_files.addr().to_string(), "f.bin"])
        .arg(work.path().join("f.bin"));
    let mut f = spawn("switchyard-files", get, work.path());
    std::thread::sleep(Duration::from_secs(1));
    assert!(c.running() && f.running() && b.running());
    let reloaded = reload(&host, 2, Some(1));

    // curl is told at the cut, one second after the reload: no waiting for its timeout.
    let c = c.wait(WAIT);
    let took = c.at - reloaded;
    assert!(
        took < Duration::from_secs(3),
        "curl ended {took:?} after the reload"
    );
    assert_eq!(c.status.code(), Some(71), "curl: TFTP error; {}", c.stderr);
    assert!(
        c.stderr.contains("TFTP error: server shutting down"),
        "{}",
        c.stderr
    );
    // The files client gets the bytes sent, then the error tail.
    let cut = host.expect_log(
        "the files session cut",
        |j| j["msg"] == "session cut at the drain deadline" && j["handler"] == "files",
        WAIT,
    );
    link_files.full_speed();
    let f = f.wait(WAIT);
    assert_eq!(f.status.code(), Some(75), "{}", f.stderr);
    let told = "server: 503 server shutting down (after ";
    assert!(f.stderr.contains(told), "{}", f.stderr);
    assert!(
        f.stderr
            .contains(&format!(" of {} bytes)", files_file.len())),
        "{}",
        f.stderr
    );
    assert!(
        !work.path().join("f.bin").exists(),
        "nothing partial is kept"
    );
    // The uploader reads the server's reply once its sending fails.
    link_bulk.full_speed();
    let b = b.wait(WAIT);
    assert_eq!(b.status.code(), Some(75), "{}", b.stderr);
    let told = "cut by the server: unavailable: server shutting down";
    assert!(b.stderr.contains(told), "{}", b.stderr);
    let incoming: Vec<_> = std::fs::read_dir(data.join("incoming"))
        .unwrap()
        .flatten()
        .collect();
    assert!(
        incoming.is_empty(),
        "nothing partial is visible: {incoming:?}"
    );

    // One WARN line per session, naming the file and how far it got.
    let lines = host.logs_where(|j| j["msg"] == "session cut at the drain deadline");
    assert_eq!(lines.len(), 3, "{lines:?}");
    for (h, file, direction) in [
        ("tftp", "t.bin", "send"),
        ("files", "f.bin", "send"),
        ("bulk", "b.bin", "receive"),
    ] {
        let j = lines
            .iter()
            .find(|j| j["handler"] == h)
            .unwrap_or_else(|| panic!("{h}: {lines:?}"));
        assert_eq!(
            (j["level"].as_str(), j["resource"].as_str()),
            (Some("warn"), Some(file)),
            "{j}"
        );
        assert_eq!(
            (j["why"].as_str(), j["direction"].as_str()),
            (Some("reload"), Some(direction)),
            "{j}"
        );
        assert!(j["bytes_done"].as_u64().unwrap() > 0, "{j}");
        assert!(j["peer"].as_str().unwrap().starts_with("127.0.0.1:"), "{j}");
    }
    assert_eq!(
        cut["bytes_total"].as_u64(),
        Some(files_file.len() as u64),
        "{cut}"
    );
    for h in ["tftp", "files", "bulk"] {
        let sample = format!("switchyard_sessions_cut_total{{handler=\"{h}\",why=\"reload\"}}");
        assert_eq!(host.metric(&sample), Some(1.0), "{sample}");
        let aborted = format!("switchyard_transfers_total{{handler=\"{h}\",result=\"aborted\"}}");
        assert_eq!(host.metric(&aborted), Some(1.0), "{aborted}");
    }
    // The new instance serves on: only the old one was cut.
    let mut again = ours("tftp");
    again
        .args(["get", "-q", &tftp.to_string(), "t.bin"])
        .arg(work.path().join("again.bin"));
    assert_ok(
        "a new download",
        &spawn("again", again, work.path()).wait(WAIT),
    );
    let again = std::fs::read(work.path().join("again.bin")).unwrap();
    assert_eq!(sha256_hex(&again), sha256_hex(&tftp_file));
    // And the exposition still parses, the new family typed as a counter.
    if let Some(python) = prometheus::reference_parser() {
        let body = switchyard_e2e::http_get(host.addr("(admin)"), "/metrics");
        let body = body.split_once("\r\n\r\n").unwrap().1;
        let families = prometheus::parse(&python, body);
        let cut = families
            .iter()
            .find(|f| f.name == "switchyard_sessions_cut")
            .expect("the family");
        assert_eq!(cut.kind, "counter");
        assert_eq!(cut.samples.len(), 3, "{:?}", cut.samples);
    }
}
