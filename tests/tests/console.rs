//! The operator console without a browser: `/api/status` and `/api/events` as a
//! script reads them, who may read and act (token, `Origin`), and the actions
//! (reload, cancel a session) reaching the plugins.

use std::time::Duration;

use switchyard_e2e::admin_http::{Events, get, request};
use switchyard_e2e::{Host, run_switchyard};

const WAIT: Duration = Duration::from_secs(10);
const TOKEN: &str = "console-test-token-0123456789";

/// Chat and TFTP behind an admin listener at `admin`, with `extra` top-level fields.
fn topology(admin: &str, extra: &str) -> String {
    format!(
        r#"(
    admin: Some("{admin}"),
    {extra}
    listeners: {{
        "chat_udp": (kind: udp, bind: "127.0.0.1:0"),
        "tftp_udp": (kind: udp, bind: "127.0.0.1:0"),
        "bulk_tcp": (kind: tcp, bind: "127.0.0.1:0"),
    }},
    handlers: {{
        "chat": (plugin: "chat", config: (agent_secret: Some("s3cret-agent"))),
        "tftp": (plugin: "tftp", root: Some("$TMP/data"), config: ()),
        "bulk": (plugin: "bulk", root: Some("$TMP/data"), create_dirs: ["incoming"], config: ()),
    }},
    routes: [
        (from: "chat_udp", to: "chat"),
        (from: "tftp_udp", to: "tftp"),
        (from: "bulk_tcp", to: "bulk"),
    ],
)"#
    )
}

fn with_token(admin: &str) -> Host {
    Host::builder(&topology(
        admin,
        "admin_token_env: Some(\"SY_TEST_ADMIN_TOKEN\"),",
    ))
    .env("SY_TEST_ADMIN_TOKEN", TOKEN)
    .start()
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

#[test]
fn status_is_versioned_json_and_events_follow_a_refused_reload_with_its_position() {
    let host = Host::start(&topology("127.0.0.1:0", ""));
    let admin = host.addr("(admin)");
    let answer = get(admin, "/api/status");
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.head.contains("content-type: application/json"));
    let status = answer.json();
    assert_eq!(status["schema"], "switchyard.status/1");
    assert_eq!(status["host"]["pid"], host.pid());
    assert!(
        status["host"]["topology_file"]
            .as_str()
            .unwrap()
            .ends_with("topology.ron")
    );
    let names: Vec<&str> = status["handlers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["chat", "tftp", "bulk"]);
    assert_eq!(status["handlers"][1]["plugin"], "tftp");
    assert_eq!(status["handlers"][1]["state"], "running");
    let storage = status["handlers"][1]["storage"].as_str().unwrap();
    assert!(
        storage.starts_with("dir ") && storage.ends_with("/data"),
        "{storage}"
    );
    assert_eq!(status["handlers"][0]["storage"], "", "the chat has none");
    assert_eq!(status["reloads"][0]["outcome"], "started");

    let mut events = Events::open(admin, &[]);
    assert!(events.head(WAIT).contains("text/event-stream"));
    let first = events.next_status(WAIT).expect("a snapshot at once");
    assert_eq!(first["schema"], "switchyard.status/1");

    // A broken topology: the reload is refused and the stream shows where.
    std::fs::write(
        host.config_path(),
        topology("127.0.0.1:0", "").replace("kind: udp", "kind: udpp"),
    )
    .unwrap();
    host.signal("HUP");
    let refused = events
        .wait_for(Duration::from_secs(5), |s| {
            s["reloads"][0]["outcome"] == "refused"
        })
        .expect("the refused reload streamed");
    let error = refused["reloads"][0]["errors"][0].as_str().unwrap();
    assert!(
        error.contains("topology.ron:5:28: "),
        "file:line:col first: {error}"
    );
    assert_eq!(refused["reloads"][0]["trigger"], "signal");
    // The refusal was logged at ERROR: it is in the console's log ring too.
    assert!(
        refused["log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["level"] == "error" && r["msg"].as_str().unwrap().contains("reload refused")),
        "{}",
        refused["log"]
    );
}

#[test]
fn a_non_loopback_admin_without_a_token_is_refused_at_validate_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("open.ron");
    std::fs::write(&file, topology("0.0.0.0:0", "")).unwrap();
    let out = run_switchyard([std::path::Path::new("validate"), &file]);
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("open.ron:2:12"), "{text}");
    assert!(text.contains("not on loopback and has no token"), "{text}");

    // Named but not set: refused where the name is written.
    let file = dir.path().join("unset.ron");
    let extra = "admin_token_env: Some(\"SY_TEST_NOT_SET_ANYWHERE\"),";
    std::fs::write(&file, topology("0.0.0.0:0", extra)).unwrap();
    let out = run_switchyard([std::path::Path::new("validate"), &file]);
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("unset.ron:3:22"), "{text}");
}

#[test]
fn off_loopback_reading_needs_the_token_but_health_does_not() {
    let host = with_token("0.0.0.0:0");
    let port = host.addr("(admin)").port();
    let admin = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    for path in ["/api/status", "/", "/metrics", "/api/events"] {
        let refused = get(admin, path);
        assert_eq!(refused.status, 401, "{path}: {}", refused.body);
        assert!(refused.head.contains("www-authenticate: basic"), "{path}");
    }
    assert_eq!(get(admin, "/health").status, 200);
    let auth = bearer();
    let ok = request(admin, "GET", "/api/status", &[("Authorization", &auth)]);
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["host"]["token_required_to_read"], true);
    // Basic, as a browser sends it after the prompt (any user name).
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("ops:{TOKEN}")
        )
    );
    assert_eq!(
        request(admin, "GET", "/", &[("Authorization", &basic)]).status,
        200
    );
    // The token never shows.
    assert!(!ok.body.contains(TOKEN));
}

#[test]
fn actions_need_the_token_even_on_loopback_and_refuse_a_foreign_origin() {
    let host = Host::start(&topology("127.0.0.1:0", ""));
    let admin = host.addr("(admin)");
    let refused = request(admin, "POST", "/api/reload", &[]);
    assert_eq!(refused.status, 403, "no token configured: {}", refused.body);
    drop(host);

    let host = with_token("127.0.0.1:0");
    let admin = host.addr("(admin)");
    let auth = bearer();
    assert_eq!(request(admin, "POST", "/api/reload", &[]).status, 401);
    let wrong = request(
        admin,
        "POST",
        "/api/reload",
        &[("Authorization", "Bearer nope")],
    );
    assert_eq!(wrong.status, 401);
    let foreign = request(
        admin,
        "POST",
        "/api/reload",
        &[("Authorization", &auth), ("Origin", "http://evil.example")],
    );
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    assert!(
        host.wait_for_nth_log(3, |j| j["msg"] == "console action refused", WAIT)
            .is_some(),
        "each refusal logged"
    );
    let origin = format!("http://{admin}");
    let applied = request(
        admin,
        "POST",
        "/api/reload",
        &[("Authorization", &auth), ("Origin", &origin)],
    );
    assert_eq!(applied.status, 200, "{}", applied.body);
    let record = applied.json();
    assert_eq!(record["outcome"], "applied");
    assert_eq!(record["trigger"], "console");
    assert_eq!(record["generation"], 1);
    assert!(
        host.wait_for_log(
            |j| j["msg"] == "console action" && j["action"] == "reload",
            WAIT
        )
        .is_some()
    );
    let status = get(admin, "/api/status").json();
    assert_eq!(status["reloads"][0]["trigger"], "console");
    assert_eq!(status["reloads"].as_array().unwrap().len(), 2);
}
