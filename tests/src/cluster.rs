//! Hosts on a cluster bus, for the bus's end-to-end tests: a topology with a `bus`
//! section on a test [`crate::nats::NatsServer`], the bus metrics of a host, its
//! subscriptions, and the audit transcript a host writes of what it received.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::Host;

/// How long the bus steps of a test may take (a connection, a subscription, a message).
pub const BUS_WAIT: Duration = Duration::from_secs(20);

/// A topology whose `bus` (on `url`, as host `name`, with `extra` fields) carries
/// `routes`, with `handlers` and a UDP listener `u` routed to handler `f`.
pub fn topology(url: &str, name: &str, extra: &str, handlers: &str, routes: &str) -> String {
    format!(
        r#"(
    drain_timeout_secs: 5,
    admin: Some("127.0.0.1:0"),
    bus: Some((kind: nats, servers: ["{url}"], name: "{name}", subject_prefix: "sy.test", {extra})),
    listeners: {{ "u": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{ {handlers} }},
    routes: [ (from: "u", to: "f"), {routes} ],
)"#
    )
}

/// The `faulty` test plugin as handler `f` (its `emit` command emits a `ChatMessage`
/// on `out`; messages on `in` (`TransferCompleted/1`) and `any` are logged).
pub const FAULTY: &str = r#""f": (plugin: "faulty"),"#;

/// The audit plugin as handler `audit`, its transcript under the host's temp dir.
pub const AUDIT: &str = r#""audit": (plugin: "audit", root: Some("$TMP/audit"), config: (file: "transcript.jsonl", flush_interval_ms: 50)),"#;

/// A bus metric of `host` (`switchyard_bus_<sample>`), 0 when not yet recorded.
pub fn bus_metric(host: &Host, sample: &str) -> f64 {
    host.metric(&format!("switchyard_bus_{sample}"))
        .unwrap_or(0.0)
}

/// Wait until `host`'s bus is connected (or not, `up: false`).
pub fn wait_connected(host: &Host, up: bool) {
    crate::wait_until(
        &format!("switchyard_bus_connected {}", u8::from(up)),
        BUS_WAIT,
        || bus_metric(host, "connected") == f64::from(u8::from(up)),
    );
}

/// Wait until `host` logged its subscription to `subject` as ready (the `n`th time).
pub fn wait_subscribed(host: &Host, subject: &str, n: usize) {
    let found = host.wait_for_nth_log(
        n,
        |j| j["msg"] == "bus subscription ready" && j["subject"] == subject,
        BUS_WAIT,
    );
    assert!(
        found.is_some(),
        "no subscription to `{subject}` (#{n}); the host logged:\n{}",
        host.stderr_lines().join("\n")
    );
}

/// Every record of the audit transcript in `host`'s temp dir, in order.
pub fn transcript(host: &Host) -> Vec<Value> {
    let dir = host.temp_dir().join("audit");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("transcript-") && n.ends_with(".jsonl"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.iter().flat_map(|n| records(&dir.join(n))).collect()
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON record per line"))
        .collect()
}

/// Ask `host`'s handler `f` to emit one `ChatMessage`; panics unless it says it did.
pub fn emit(host: &Host) {
    let reply = crate::udp_roundtrip(host.addr("u"), b"emit", Duration::from_secs(5));
    assert_eq!(String::from_utf8_lossy(&reply), "emitted 0");
}
