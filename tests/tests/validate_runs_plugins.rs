//! `validate` runs each plugin's own value checks (a dry `new`, with no I/O), so a
//! configuration the plugin refuses is caught where the operator looks, with no change
//! to the plugin; `serve` refuses to start with it (exit 78). A plugin whose `new` needs
//! I/O (audit lists its directory) cannot be judged dry and still validates.

use std::path::Path;

use switchyard_e2e::run_switchyard;

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    let file = dir.join("t.ron");
    std::fs::write(&file, text).unwrap();
    file
}

const CHAT_ZERO_SESSIONS: &str = r#"(
    listeners: { "u": (kind: udp, bind: "127.0.0.1:0") },
    handlers: { "chat": (plugin: "chat", config: (max_sessions: 0)) },
    routes: [ (from: "u", to: "chat") ],
)"#;

#[test]
fn a_config_refused_by_the_plugins_new_fails_validate_and_serve() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), CHAT_ZERO_SESSIONS);
    let out = run_switchyard(["validate".as_ref(), file.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("topology::config"), "{err}");
    assert!(
        err.contains("max_sessions, max_rooms and max_room_members: at least 1"),
        "{err}"
    );
    assert!(err.contains(&format!("{}:3:", file.display())), "{err}");

    let out = run_switchyard(["serve".as_ref(), "--config".as_ref(), file.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("max_sessions"), "{err}");
}

#[test]
fn a_plugin_whose_new_needs_io_is_left_to_the_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("audit")).unwrap();
    let file = write(
        dir.path(),
        &format!(
            r#"(
    listeners: {{}},
    handlers: {{ "audit": (plugin: "audit", root: Some("{}"), config: (file: "audit/chat.jsonl")) }},
)"#,
            dir.path().display()
        ),
    );
    let out = run_switchyard(["validate".as_ref(), file.as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A reload to a config the plugin's `new` refuses is refused, and the running handler
/// is kept, serving.
#[test]
fn a_reload_to_a_config_new_refuses_is_refused_and_the_old_handler_kept() {
    let serving = CHAT_ZERO_SESSIONS.replace("max_sessions: 0", "max_sessions: 10");
    let host = switchyard_e2e::Host::start(&serving);
    std::fs::write(host.config_path(), CHAT_ZERO_SESSIONS).unwrap();
    host.signal("HUP");
    let refused = host.expect_log(
        "the refusal",
        |j| {
            j["msg"]
                .as_str()
                .is_some_and(|m| m.starts_with("reload refused"))
        },
        std::time::Duration::from_secs(10),
    );
    assert!(
        switchyard_e2e::log_text(&refused).contains("max_sessions"),
        "{refused}"
    );
    // The running chat answers a stranger's line (the desk's auto-reply or a notice).
    let reply =
        switchyard_e2e::udp_roundtrip(host.addr("u"), b"/who", std::time::Duration::from_secs(5));
    assert!(!reply.is_empty());
}
