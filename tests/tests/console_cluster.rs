//! The console's cluster and storage sections against real services (issue 23): two
//! hosts on one `nats-server` list each other through the hosts bucket, follow NATS
//! going away and coming back, and lose a killed host within the record's max age
//! (a host stopped cleanly goes at once); an `s3` storage on SeaweedFS reads `ok`,
//! then `failing` with the error once the store is stopped, then `ok` again.

use std::time::{Duration, Instant};

use serde_json::Value;
use switchyard_e2e::admin_http::get;
use switchyard_e2e::cluster::{FAULTY, topology};
use switchyard_e2e::nats::NatsServer;
use switchyard_e2e::seaweed::{BUCKET, Seaweed};
use switchyard_e2e::{Host, tftp_wire};

/// How long a bus or store step may take to show.
const WAIT: Duration = Duration::from_secs(30);
/// The hosts bucket's max age (`bus::presence::MAX_AGE`) and heartbeat.
const MAX_AGE: Duration = Duration::from_secs(15);
const HEARTBEAT: Duration = Duration::from_secs(5);

/// Milliseconds since the Unix epoch, as the status's times are.
fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn status(host: &Host) -> Value {
    let answer = get(host.addr("(admin)"), "/api/status");
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()
}

/// Poll `host`'s status until `pred` holds; the status then, or a panic with the last
/// one seen.
fn wait_status(host: &Host, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = status(host);
        if pred(&now) {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {WAIT:?}; last status: {now:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The host names a status lists in its cluster section.
fn listed(status: &Value) -> Vec<String> {
    status["bus"]["hosts"]
        .as_array()
        .map(|hosts| {
            hosts
                .iter()
                .map(|h| h["name"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn bus_state(status: &Value) -> &str {
    status["bus"]["state"].as_str().unwrap_or_default()
}

fn cluster_host(name: &str, url: &str) -> Host {
    Host::start(&topology(url, name, "", FAULTY, ""))
}

#[test]
fn each_host_lists_the_cluster_follows_nats_and_loses_a_dead_host_within_the_max_age() {
    let Some(mut nats) = NatsServer::start() else {
        return;
    };
    let a = cluster_host("host-a", &nats.url());
    let mut b = cluster_host("host-b", &nats.url());
    for (host, me) in [(&a, "host-a"), (&b, "host-b")] {
        let now = wait_status(host, "both hosts listed and connected", |s| {
            bus_state(s) == "connected" && listed(s) == ["host-a", "host-b"]
        });
        let bus = &now["bus"];
        assert_eq!(bus["name"], me);
        assert_eq!(bus["servers"][0], nats.url());
        assert_eq!(bus["subject_prefix"], "sy.test");
        assert_eq!(bus["presence_error"], Value::Null);
        assert!(bus["queued"].is_u64() && bus["dropped"].is_u64(), "{bus}");
        for h in bus["hosts"].as_array().unwrap() {
            assert_eq!(h["this_host"], h["name"] == me, "{h}");
            assert_eq!(h["version"], now["host"]["version"], "{h}");
            assert!(h["last_seen_ms"].as_u64().unwrap() <= MAX_AGE.as_millis() as u64);
        }
    }
    // What A lists of B is B's own account: its admin address and its start.
    let of_b = status(&b);
    let seen_from_a = status(&a)["bus"]["hosts"][1].clone();
    assert_eq!(seen_from_a["name"], "host-b");
    assert_eq!(seen_from_a["admin"], b.addr("(admin)").to_string());
    assert_eq!(
        seen_from_a["started_unix_ms"],
        of_b["host"]["started_unix_ms"]
    );

    // NATS away: disconnected, since then; back: connected, the hosts heard again.
    let stopped_at = unix_ms_now();
    nats.stop();
    let down = wait_status(&a, "A disconnected", |s| bus_state(s) == "disconnected");
    assert!(down["bus"]["since_unix_ms"].as_u64().unwrap() >= stopped_at);
    let restarted_at = unix_ms_now();
    nats.restart();
    for host in [&a, &b] {
        let up = wait_status(host, "connected again, the hosts listed afresh", |s| {
            bus_state(s) == "connected"
                && s["bus"]["hosts_listed_unix_ms"].as_u64() > Some(restarted_at)
                && listed(s) == ["host-a", "host-b"]
        });
        assert!(up["bus"]["since_unix_ms"].as_u64().unwrap() >= restarted_at);
    }

    // B killed: gone from A's list once its record is older than the max age (plus
    // the heartbeat that lists it).
    b.signal("KILL");
    b.wait_exit(Duration::from_secs(5));
    let killed = Instant::now();
    wait_status(&a, "B gone from A's list", |s| listed(s) == ["host-a"]);
    let dead_for = killed.elapsed();
    assert!(
        dead_for <= MAX_AGE + HEARTBEAT + Duration::from_secs(3),
        "a dead host listed {dead_for:?} after it died"
    );

    // C stopped cleanly deletes its record: gone at A's next listing, well before
    // its record would expire.
    let mut c = cluster_host("host-c", &nats.url());
    wait_status(&a, "C listed on A", |s| listed(s) == ["host-a", "host-c"]);
    c.signal("TERM");
    assert!(c.wait_exit(Duration::from_secs(15)).success());
    let left = Instant::now();
    wait_status(&a, "C gone from A's list", |s| listed(s) == ["host-a"]);
    let took = left.elapsed();
    assert!(
        took < MAX_AGE - Duration::from_secs(3),
        "a host that left cleanly listed {took:?} after it stopped"
    );
    eprintln!("killed host gone after {dead_for:?}; cleanly stopped host after {took:?}");
}

#[test]
fn without_a_bus_or_a_store_the_sections_are_empty_and_the_page_has_their_places() {
    let host = Host::start(
        r#"(
    admin: Some("127.0.0.1:0"),
    listeners: { "u": (kind: udp, bind: "127.0.0.1:0") },
    handlers: { "f": (plugin: "faulty") },
    routes: [ (from: "u", to: "f") ],
)"#,
    );
    let now = status(&host);
    assert_eq!(now["bus"], Value::Null);
    assert_eq!(now["storages"], serde_json::json!([]));
    let page = get(host.addr("(admin)"), "/");
    assert_eq!(page.status, 200);
    for id in [
        "id=\"cluster-section\" hidden",
        "id=\"storages-section\" hidden",
        "id=\"cluster\"",
        "id=\"storages\"",
        "id=\"bus-state\"",
    ] {
        assert!(page.body.contains(id), "the page has no `{id}`");
    }
}

#[test]
fn a_storage_reads_ok_then_failing_with_its_error_when_the_store_stops_then_ok_again() {
    let Some(mut store) = Seaweed::start() else {
        return;
    };
    const KEY: &str = "AKIDCONSOLETEST";
    const SECRET: &str = "console-secret-0123456789";
    let host = Host::builder(&format!(
        r#"(
    admin: Some("127.0.0.1:0"),
    storages: {{ "shared": (kind: s3, endpoint: "{}", bucket: "{BUCKET}", prefix: "console",
        access_key_env: "SY_TEST_S3_KEY", secret_key_env: "SY_TEST_S3_SECRET") }},
    listeners: {{ "tftp_udp": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{ "tftp": (plugin: "tftp", storage: "shared") }},
    routes: [ (from: "tftp_udp", to: "tftp") ],
)"#,
        store.endpoint()
    ))
    .env("SY_TEST_S3_KEY", KEY)
    .env("SY_TEST_S3_SECRET", SECRET)
    .start();
    let storage = |s: &Value| s["storages"][0].clone();
    let ok = wait_status(&host, "the storage ok", |s| {
        storage(s)["state"] == "ok" && storage(s)["last_ok_unix_ms"].is_u64()
    });
    let s = storage(&ok);
    assert_eq!(ok["storages"].as_array().unwrap().len(), 1);
    assert_eq!(s["name"], "shared");
    assert_eq!(s["endpoint"], store.endpoint());
    assert_eq!(
        (s["bucket"].as_str(), s["prefix"].as_str()),
        (Some(BUCKET), Some("console"))
    );
    assert_eq!(s["failing_since_unix_ms"], Value::Null);
    assert_eq!(s["last_error"], Value::Null);
    assert_eq!(s["in_flight"], 0);
    // A download is spooled: its bytes show.
    let body = switchyard_e2e::pseudo_random(300_000, 7);
    let put = store.request("PUT", &format!("/{BUCKET}/console/boot.bin"), &body);
    assert_eq!(put.unwrap().0, 200);
    assert_eq!(tftp_wire::download(host.addr("tftp_udp"), "boot.bin"), body);
    let spooled = wait_status(&host, "the download spooled", |s| {
        storage(s)["spooled_bytes"].as_u64() >= Some(body.len() as u64)
    });
    assert_eq!(storage(&spooled)["state"], "ok");

    // The store gone: failing (found by the idle probe), with the error's text.
    let stopped_at = unix_ms_now();
    store.stop();
    let failing = wait_status(&host, "the storage failing", |s| {
        storage(s)["state"] == "failing"
    });
    let s = storage(&failing);
    assert!(
        s["failing_since_unix_ms"].as_u64().unwrap() >= stopped_at,
        "{s}"
    );
    let error = s["last_error"]
        .as_str()
        .expect("the error's text")
        .to_owned();
    assert!(!error.is_empty());
    assert!(
        s["last_error_unix_ms"].as_u64().unwrap() >= stopped_at,
        "{s}"
    );
    let text = failing.to_string();
    assert!(!text.contains(SECRET) && !text.contains(KEY), "{text}");

    // Back: ok again; the last error stays for the operator to read.
    store.restart();
    let back = wait_status(&host, "the storage ok again", |s| {
        storage(s)["state"] == "ok"
    });
    let s = storage(&back);
    assert_eq!(s["failing_since_unix_ms"], Value::Null);
    assert_eq!(s["last_error"], error.as_str());
    eprintln!("storage error shown: {error}");
}
