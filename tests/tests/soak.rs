//! CI's short soak: `switchyard-soak` (tests/soak) with small numbers, two rounds,
//! against a host it starts on port 0. The full run is `benches/soak`; this one proves on every
//! change that all four protocols work at once, every transferred byte is right,
//! and fds, sessions and memory return to baseline afterwards.

use std::process::Command;
use std::time::Duration;

use switchyard_e2e::{bin_dir, run_with_timeout, switchyard_bin};

#[test]
fn a_short_soak_of_all_four_protocols_passes() {
    let soak = bin_dir().join("switchyard-soak");
    assert!(
        soak.is_file(),
        "{} not found: run `cargo build --workspace` first",
        soak.display()
    );
    let mut cmd = Command::new(soak);
    cmd.arg("--switchyard").arg(switchyard_bin()).args([
        "--duration",
        "5",
        "--tcp",
        "20",
        "--tftp",
        "20",
        "--chat-rooms",
        "2",
        "--chat-members",
        "3",
        "--chat-visitors",
        "2",
        "--max-size",
        "262144",
    ]);
    // Warm-up, 2 x 3 s of load, settling and the host's drain: well under a minute.
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    let report = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "soak failed ({}):\n{report}\n{stderr}",
        out.status
    );
    assert!(report.contains("## errors: 0"), "{report}");
    assert!(report.trim_end().ends_with("PASS"), "{report}");
    // Every protocol really carried load (a count column > 0 for each).
    for op in [
        "files.put_get_delete",
        "bulk.put_get",
        "tftp.get",
        "tftp.put_get",
        "chat.room_line",
        "chat.desk",
    ] {
        let count: u64 = report
            .lines()
            .find_map(|l| l.strip_prefix(op))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no `{op}` line in the report:\n{report}"));
        assert!(count > 0, "no {op} completed:\n{report}");
    }
}
