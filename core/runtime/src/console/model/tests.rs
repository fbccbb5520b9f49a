//! The JSON schema as operators and the page read it: field names, tags, nulls.

use super::*;

fn sample() -> Status {
    Status {
        schema: SCHEMA,
        host: HostStatus {
            version: "0.1.0".into(),
            pid: 42,
            started_unix_ms: 1_000,
            uptime_secs: 5,
            topology_file: "config/topology.ron".into(),
            token_required_to_read: false,
            actions_enabled: true,
        },
        reloads: vec![ReloadRecord {
            generation: 1,
            at_unix_ms: 2_000,
            outcome: ReloadOutcome::Refused,
            trigger: "console",
            errors: vec!["t.ron:3:14: unknown field `listners`".into()],
            summary: String::new(),
        }],
        handlers: vec![
            HandlerStatus {
                name: "tftp".into(),
                plugin: "tftp".into(),
                plugin_version: "0.1.0".into(),
                state: HandlerState::Running { draining_old: 1 },
                workers: 1,
                restarts: 0,
                connections_open: 0,
                sessions: 1,
                limits: LimitsView {
                    max_connections: 1024,
                    max_connections_per_ip: 64,
                    max_write_buffer: 8 << 20,
                },
                listeners: vec!["tftp".into()],
                storage: "dir /srv/tftp".into(),
            },
            HandlerStatus {
                name: "echo".into(),
                plugin: "echo".into(),
                plugin_version: "0.1.0".into(),
                state: HandlerState::Stopped {
                    reason: "restart intensity exceeded".into(),
                },
                workers: 1,
                restarts: 6,
                connections_open: 0,
                sessions: 0,
                limits: LimitsView {
                    max_connections: 1,
                    max_connections_per_ip: 1,
                    max_write_buffer: 1,
                },
                listeners: Vec::new(),
                storage: String::new(),
            },
        ],
        sessions: vec![SessionView {
            id: "0.0.0.7".into(),
            handler: "tftp".into(),
            peer: "127.0.0.1:5000".into(),
            resource: "big.bin".into(),
            state: "sending".into(),
            direction: "send",
            bytes_done: 512,
            bytes_total: None,
            rate_bps: 1024,
            elapsed_ms: 500,
        }],
        finished: Vec::new(),
        log: vec![LogRecord {
            at_unix_ms: 3_000,
            level: "warn",
            msg: "careful".into(),
            fields: vec![("peer".into(), "127.0.0.1:9".into())],
        }],
        bus: Some(BusStatus {
            servers: vec!["nats://127.0.0.1:4222".into()],
            name: "host-a".into(),
            subject_prefix: "sy.test".into(),
            state: "disconnected",
            since_unix_ms: 4_000,
            queued: 3,
            dropped: 40,
            hosts: vec![
                ClusterHost {
                    name: "host-a".into(),
                    version: "0.1.0".into(),
                    started_unix_ms: 1_000,
                    admin: Some("127.0.0.1:9000".into()),
                    last_seen_ms: 1_200,
                    this_host: true,
                },
                ClusterHost {
                    name: "host-b".into(),
                    version: "0.1.0".into(),
                    started_unix_ms: 1_500,
                    admin: None,
                    last_seen_ms: 4_800,
                    this_host: false,
                },
            ],
            hosts_listed_unix_ms: Some(3_900),
            presence_error: Some("not connected".into()),
        }),
        storages: vec![StorageStatus {
            name: "shared".into(),
            endpoint: "http://127.0.0.1:8333".into(),
            bucket: "switchyard".into(),
            prefix: "hosts".into(),
            state: "failing",
            failing_since_unix_ms: Some(5_000),
            last_error: Some("stat `x`: connection refused".into()),
            last_error_unix_ms: Some(5_500),
            last_ok_unix_ms: Some(4_000),
            in_flight: 2,
            spooled_bytes: 700_000,
        }],
    }
}

#[test]
fn the_document_names_its_schema_first_and_has_every_section() {
    let json = serde_json::to_value(sample()).unwrap();
    let text = serde_json::to_string(&sample()).unwrap();
    assert!(
        text.starts_with("{\"schema\":\"switchyard.status/1\""),
        "{text}"
    );
    for key in [
        "host", "reloads", "handlers", "sessions", "finished", "log", "bus", "storages",
    ] {
        assert!(json.get(key).is_some(), "missing `{key}` in {json}");
    }
    assert_eq!(json["host"]["topology_file"], "config/topology.ron");
    assert_eq!(json["host"]["actions_enabled"], true);
}

#[test]
fn handler_state_is_a_flat_tag_with_its_details() {
    let json = serde_json::to_value(sample()).unwrap();
    let running = &json["handlers"][0];
    assert_eq!(running["state"], "running");
    assert_eq!(running["draining_old"], 1);
    assert_eq!(running["limits"]["max_connections_per_ip"], 64);
    assert_eq!(running["storage"], "dir /srv/tftp");
    let stopped = &json["handlers"][1];
    assert_eq!(stopped["state"], "stopped");
    assert_eq!(stopped["reason"], "restart intensity exceeded");
    assert!(stopped.get("draining_old").is_none());
}

#[test]
fn reloads_sessions_and_log_records_read_as_documented() {
    let json = serde_json::to_value(sample()).unwrap();
    let reload = &json["reloads"][0];
    assert_eq!(reload["outcome"], "refused");
    assert_eq!(reload["trigger"], "console");
    assert_eq!(reload["errors"][0], "t.ron:3:14: unknown field `listners`");
    let session = &json["sessions"][0];
    assert_eq!(session["direction"], "send");
    assert_eq!(session["bytes_total"], serde_json::Value::Null);
    assert_eq!(session["bytes_done"], 512);
    assert_eq!(json["log"][0]["fields"][0][0], "peer");
    assert_eq!(json["log"][0]["level"], "warn");
}

#[test]
fn the_bus_names_its_connection_state_and_each_host_of_the_cluster() {
    let json = serde_json::to_value(sample()).unwrap();
    let bus = &json["bus"];
    assert_eq!(bus["servers"][0], "nats://127.0.0.1:4222");
    assert_eq!(bus["name"], "host-a");
    assert_eq!(bus["subject_prefix"], "sy.test");
    assert_eq!(bus["state"], "disconnected");
    assert_eq!(bus["since_unix_ms"], 4_000);
    assert_eq!(
        (bus["queued"].as_u64(), bus["dropped"].as_u64()),
        (Some(3), Some(40))
    );
    assert_eq!(bus["hosts_listed_unix_ms"], 3_900);
    assert_eq!(bus["presence_error"], "not connected");
    let hosts = bus["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 2);
    assert_eq!(hosts[0]["name"], "host-a");
    assert_eq!(hosts[0]["this_host"], true);
    assert_eq!(hosts[0]["admin"], "127.0.0.1:9000");
    assert_eq!(hosts[0]["last_seen_ms"], 1_200);
    assert_eq!(hosts[0]["started_unix_ms"], 1_000);
    assert_eq!(hosts[0]["version"], "0.1.0");
    assert_eq!(hosts[1]["this_host"], false);
    assert_eq!(hosts[1]["admin"], serde_json::Value::Null);
}

#[test]
fn without_a_bus_or_storages_the_sections_are_null_and_empty() {
    let mut status = sample();
    status.bus = None;
    status.storages.clear();
    let json = serde_json::to_value(status).unwrap();
    assert_eq!(json["bus"], serde_json::Value::Null);
    assert_eq!(json["storages"], serde_json::json!([]));
}

#[test]
fn a_storage_says_where_it_is_how_it_answers_and_what_it_spools() {
    let json = serde_json::to_value(sample()).unwrap();
    let s = &json["storages"][0];
    assert_eq!(s["name"], "shared");
    assert_eq!(s["endpoint"], "http://127.0.0.1:8333");
    assert_eq!(
        (s["bucket"].as_str(), s["prefix"].as_str()),
        (Some("switchyard"), Some("hosts"))
    );
    assert_eq!(s["state"], "failing");
    assert_eq!(s["failing_since_unix_ms"], 5_000);
    assert_eq!(s["last_error"], "stat `x`: connection refused");
    assert_eq!(s["last_error_unix_ms"], 5_500);
    assert_eq!(s["last_ok_unix_ms"], 4_000);
    assert_eq!(s["in_flight"], 2);
    assert_eq!(s["spooled_bytes"], 700_000);
    let fields: Vec<&String> = s.as_object().unwrap().keys().collect();
    assert_eq!(fields.len(), 11, "{fields:?}");
}
