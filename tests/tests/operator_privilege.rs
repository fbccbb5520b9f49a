//! Privilege drop, end to end (as root: CI runs as root; elsewhere these tests say
//! they were skipped, and fail under CI): what the dropped user cannot use is
//! refused at start with exit 78, by `serve` and by `validate`; the pid file and the
//! reload answers are removed after a drop.

use std::os::unix::fs::{PermissionsExt, chown};
use std::time::Duration;

use switchyard_e2e::faults::{SharedDir, require_root};
use switchyard_e2e::{Host, run_switchyard, udp_roundtrip};

const WAIT: Duration = Duration::from_secs(10);
const NOBODY: u32 = 65534;

fn tftp_as_nobody(root: &str) -> String {
    format!(
        r#"(
    user: Some("nobody"),
    listeners: {{ "t": (kind: udp, bind: "127.0.0.1:0"), "u": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{
        "tftp": (plugin: "tftp", root: Some("{root}")),
        "echo": (plugin: "echo"),
    }},
    routes: [(from: "t", to: "tftp"), (from: "u", to: "echo")],
)"#
    )
}

/// A directory tree `nobody` can search: the temp dir itself is 0700.
fn open_dir() -> SharedDir {
    let dir = SharedDir::new();
    std::fs::set_permissions(dir.join(""), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
fn a_root_the_dropped_user_cannot_write_is_refused_at_start() {
    if !require_root("switch to the user `nobody`") {
        return;
    }
    let dir = open_dir();
    let root = dir.join("tftp");
    std::fs::create_dir(&root).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    let topology = tftp_as_nobody(root.to_str().unwrap());

    let failure = Host::builder(&topology)
        .try_start()
        .expect_err("serve must refuse to start");
    assert_eq!(failure.code(), Some(78), "{}", failure.text());
    let text = failure.text();
    assert!(text.contains("not readable and writable"), "{text}");
    assert!(text.contains(root.to_str().unwrap()), "{text}");
    assert!(text.contains("nobody"), "{text}");

    // validate, run as root for a topology that drops to nobody, says the same.
    let file = dir.join("t.ron");
    std::fs::write(&file, &topology).unwrap();
    let out = run_switchyard(["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not readable and writable"),
        "{out:?}"
    );

    // Owned by nobody: valid, and served.
    chown(&root, Some(NOBODY), Some(NOBODY)).unwrap();
    let out = run_switchyard(["validate", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn a_missing_root_is_created_for_the_dropped_user() {
    if !require_root("switch to the user `nobody`") {
        return;
    }
    let dir = open_dir();
    chown(dir.join(""), Some(NOBODY), Some(NOBODY)).unwrap();
    let root = dir.join("made/here");
    let host = Host::start(&tftp_as_nobody(root.to_str().unwrap()));
    assert_eq!(udp_roundtrip(host.addr("u"), b"up", WAIT), b"up");
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&root).unwrap();
    assert_eq!(meta.uid(), NOBODY, "created for the user it will run as");
}

#[test]
fn the_pid_file_goes_after_a_privilege_drop_and_must_be_removable() {
    if !require_root("switch to the user `nobody`") {
        return;
    }
    let dir = open_dir();
    let root = dir.join("tftp");
    std::fs::create_dir(&root).unwrap();
    chown(&root, Some(NOBODY), Some(NOBODY)).unwrap();
    let topology = tftp_as_nobody(root.to_str().unwrap());

    // A pid file where nobody cannot remove it: refused at start.
    let locked = dir.join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    let failure = Host::builder(&topology)
        .arg("--pid-file")
        .arg(locked.join("s.pid").to_str().unwrap())
        .try_start()
        .expect_err("a pid file nobody cannot remove must be refused");
    assert_eq!(failure.code(), Some(78), "{}", failure.text());
    assert!(
        failure.text().contains("pid file directory"),
        "{}",
        failure.text()
    );
    assert!(!locked.join("s.pid").exists());

    // In a directory nobody can write (RuntimeDirectory=): removed at exit.
    let run = dir.join("run");
    std::fs::create_dir(&run).unwrap();
    chown(&run, Some(NOBODY), Some(NOBODY)).unwrap();
    let pid = run.join("s.pid");
    let mut host = Host::builder(&topology)
        .arg("--pid-file")
        .arg(pid.to_str().unwrap())
        .start();
    host.expect_log(
        "the drop",
        |j| j["msg"] == "running as an unprivileged user",
        WAIT,
    );
    assert!(pid.exists() && run.join("s.pid.reload").exists());
    host.signal("TERM");
    assert_eq!(host.wait_exit(WAIT).code(), Some(0));
    assert!(!pid.exists(), "pid file left behind");
    assert!(
        !run.join("s.pid.reload").exists(),
        "reload answer left behind"
    );
    assert!(
        !host.logs_contain("cannot remove the pid file"),
        "{}",
        host.stderr_lines().join("\n")
    );
}
