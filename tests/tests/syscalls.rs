//! What a small request costs the host in system calls, counted with strace by
//! `benches/syscalls.sh` (the benchmark's own script, run here on the build under
//! test): a GET of a 1 KiB file on a kept-alive files v2 connection costs at most 12,
//! with and without an access log, and none of them reads a digest side file, advises
//! the kernel, clears a flag or writes a log line.
//!
//! Needs strace and python3: without them the test skips with the reason, except under
//! CI (`faults::in_ci`), where it fails. The host runs as strace's child, so no ptrace
//! permission is needed.

use std::collections::BTreeMap;
use std::process::Command;

use switchyard_e2e::faults::tool;
use switchyard_e2e::{bin_dir, repo_root};

/// Most system calls the host may make for one GET.
const MAX_PER_GET: f64 = 12.0;

/// Run the script; its row's calls per GET and the breakdown by name.
fn measure(access_log: bool) -> (f64, BTreeMap<String, f64>) {
    let out = Command::new(repo_root().join("benches/syscalls.sh"))
        .env("SKIP_BUILD", "1")
        .env("BIN", bin_dir())
        .env("GETS", "400")
        .env("ACCESS_LOG", if access_log { "1" } else { "0" })
        .output()
        .expect("run benches/syscalls.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "benches/syscalls.sh failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let row: Vec<&str> = stdout.trim_end().split('\t').collect();
    assert_eq!(row.len(), 4, "one TSV row expected: {stdout:?}");
    assert_eq!((row[0], row[1]), ("files-v2-get-1024B", "400"));
    let total: f64 = row[2].parse().expect("calls per GET");
    let breakdown = row[3]
        .split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("name=count");
            (k.to_owned(), v.parse::<f64>().expect("a count"))
        })
        .collect::<BTreeMap<_, _>>();
    let sum: f64 = breakdown.values().sum();
    assert!((sum - total).abs() < 0.1, "{total} vs {breakdown:?}");
    (total, breakdown)
}

#[test]
fn a_kept_alive_get_costs_at_most_12_host_system_calls() {
    let (Some(_), Some(_)) = (tool("strace"), tool("python3")) else {
        return;
    };
    for access_log in [false, true] {
        let (total, calls) = measure(access_log);
        let what = format!("access log {access_log}: {total} per GET: {calls:?}");
        assert!(total <= MAX_PER_GET, "{what}");
        let per = |name: &str| calls.get(name).copied().unwrap_or(0.0);
        // The work itself: the request in, one open and one fstat, the small file read
        // from the page cache onto the reply (`RWF_NOWAIT`), reply and file out in one
        // send, the descriptor closed.
        for name in ["openat2", "fstat", "preadv2", "sendto", "close"] {
            assert!((per(name) - 1.0).abs() < 0.05, "one {name}: {what}");
        }
        assert!(
            per("sendfile") < 0.05,
            "a 1 KiB file goes with its reply: {what}"
        );
        // Nothing else per GET: no side file read (the digest is cached), no advice
        // for a small file, no flag cleared or descriptor duplicated, no log write,
        // no wake-up of another thread.
        for name in [
            "pread64",
            "fadvise64",
            "newfstatat",
            "write",
            "futex",
            "sched_yield",
        ] {
            assert!(per(name) < 0.05, "no {name} per GET: {what}");
        }
        // A debug build's `close` of an `OwnedFd` first checks it with
        // `fcntl(F_GETFD)` (a std debug assertion); the host under test is built
        // with the same profile as this test.
        let fcntl = if cfg!(debug_assertions) { 1.0 } else { 0.0 };
        assert!(per("fcntl") < fcntl + 0.05, "fcntl per GET: {what}");
    }
}
