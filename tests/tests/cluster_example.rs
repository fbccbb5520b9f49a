//! `examples/cluster/up` and `down` (the two-host example's scripts): a component that
//! does not come up makes `up` exit non-zero with that component's log tail, and stops
//! what it started. Run against a stand-in `nats-server` that fails the way a taken
//! port makes the real one fail, so no fixed port is bound here; the example served
//! for real is `sample_configs.rs::example_cluster`, and the walk-through is
//! `examples/cluster/README.md`.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use switchyard_e2e::{repo_root, run_with_timeout};

#[test]
fn up_exits_non_zero_with_the_log_tail_of_a_component_that_does_not_come_up() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("nats-server");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho '[FTL] Error listening on port: 127.0.0.1:4222, \"address already in use\"'\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = dir.path().join("run");
    let mut up = Command::new(repo_root().join("examples/cluster/up"));
    // NATS comes first: the store is never started (any executable stands for it).
    up.env("NATS_SERVER", &fake)
        .env("WEED", "/bin/true")
        .env("CLUSTER_RUN_DIR", &run)
        .env("CLUSTER_WAIT_SECS", "5")
        .env("SWITCHYARD", switchyard_e2e::switchyard_bin());
    let out = run_with_timeout(up, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("up: nats-server (it exited) did not come up within 5s"),
        "{stderr}"
    );
    assert!(
        stderr.contains("address already in use"),
        "the log tail: {stderr}"
    );
    // What it started is stopped and its pid file gone; the log stays.
    assert!(!run.join("nats.pid").exists());
    assert!(run.join("nats.log").exists());
    let mut down = Command::new(repo_root().join("examples/cluster/down"));
    down.env("CLUSTER_RUN_DIR", &run);
    let out = run_with_timeout(down, Duration::from_secs(30));
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "down: nothing was running\n"
    );
}
