//! SIGTERM with transfers in flight at `drain_timeout_secs` (issue #16): each client
//! is told — curl gets the TFTP ERROR at the deadline instead of timing out half a
//! minute later, the files client reads `ERR 503` after the bytes it got — the host
//! logs one WARN line per cut session (file, bytes done), and exits 0.
//!
//! The transfers run through paced relays (`switchyard_e2e::slow_link`) so they are
//! surely in flight at the deadline on any machine. Loopback, port 0, bounded waits.

#[path = "sessions/clients.rs"]
mod clients;

use std::process::Command;
use std::time::{Duration, Instant};

use clients::{ours, spawn};
use switchyard_e2e::faults::tool;
use switchyard_e2e::slow_link::{SlowTcp, SlowUdp};
use switchyard_e2e::{Host, log_text, pseudo_random};

const WAIT: Duration = Duration::from_secs(60);
const DRAIN: Duration = Duration::from_secs(2);

#[test]
fn sigterm_tells_every_session_it_cuts_logs_each_and_exits_0() {
    let Some(curl) = tool("curl") else { return };
    let mut host = Host::start(&format!(
        r#"(
    drain_timeout_secs: {},
    listeners: {{
        "tftp_udp": (kind: udp, bind: "127.0.0.1:0"),
        "files_tcp": (kind: tcp, bind: "127.0.0.1:0"),
    }},
    handlers: {{
        "tftp": (plugin: "tftp", root: Some("$TMP/data"), workers: 2),
        "files": (plugin: "files", root: Some("$TMP/data"), workers: 2),
    }},
    routes: [ (from: "tftp_udp", to: "tftp"), (from: "files_tcp", to: "files") ],
)"#,
        DRAIN.as_secs()
    ));
    let data = host.temp_dir().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // 20 s of TFTP and 16 s of files at their pace: both surely in flight at the cut.
    let (tftp_len, files_len) = (8_000_000, 16_000_000);
    std::fs::write(data.join("t.bin"), pseudo_random(tftp_len, 1)).unwrap();
    std::fs::write(data.join("f.bin"), pseudo_random(files_len, 2)).unwrap();
    let work = tempfile::tempdir().unwrap();
    let link_tftp = SlowUdp::start(host.addr("tftp_udp"), 400_000);
    let link_files = SlowTcp::start(host.addr("files_tcp"), Some(1_000_000), None);
    let mut get = Command::new(&curl);
    get.args(["-sS", "-v", "--tftp-blksize", "512", "-o"])
        .arg(work.path().join("t.bin"))
        .arg(format!("tftp://{}/t.bin", link_tftp.addr()));
    let mut c = spawn("curl", get, work.path());
    let mut get = ours("files");
    get.args(["-q", "get", &link_files.addr().to_string(), "f.bin"])
        .arg(work.path().join("f.bin"));
    let mut f = spawn("switchyard-files", get, work.path());
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        c.running() && f.running(),
        "both in flight before the signal"
    );

    host.signal("TERM");
    let term = Instant::now();
    // curl hears of it at the deadline, not from its own timeout.
    let c = c.wait(WAIT);
    let took = c.at - term;
    assert!(
        took < DRAIN + Duration::from_secs(2),
        "curl ended {took:?} after SIGTERM"
    );
    assert!(
        took >= DRAIN - Duration::from_millis(200),
        "curl ended before the deadline: {took:?}"
    );
    assert_eq!(
        c.status.code(),
        Some(71),
        "curl exits with its TFTP error: {}",
        c.stderr
    );
    assert!(
        c.stderr.contains("TFTP error: server shutting down"),
        "{}",
        c.stderr
    );
    assert_eq!(c.stdout, "", "curl's bytes went to its file only");
    let got = std::fs::metadata(work.path().join("t.bin")).map_or(0, |m| m.len());
    assert!(got > 0 && got < tftp_len as u64, "curl kept {got} bytes");
    let status = host.wait_exit(WAIT);
    assert_eq!(status.code(), Some(0), "{}", host.stderr_lines().join("\n"));
    // What the host wrote before it exited reaches the files client: the body's
    // bytes, then the error tail.
    link_files.full_speed();
    let f = f.wait(WAIT);
    assert_eq!(f.status.code(), Some(75), "{}", f.stderr);
    assert!(
        f.stderr
            .contains("server: 503 server shutting down (after "),
        "{}\n{}",
        f.stderr,
        host.stderr_lines().join("\n")
    );
    assert!(
        f.stderr.contains(&format!(" of {files_len} bytes)")),
        "{}",
        f.stderr
    );

    // One WARN line per cut session, naming its file and the bytes done.
    let cut = host.logs_where(|j| j["msg"] == "session cut at the drain deadline");
    assert_eq!(cut.len(), 2, "{cut:?}");
    for (h, file, len) in [("tftp", "t.bin", tftp_len), ("files", "f.bin", files_len)] {
        let j = cut
            .iter()
            .find(|j| j["handler"] == h)
            .unwrap_or_else(|| panic!("{h}: {cut:?}"));
        let line = log_text(j);
        assert_eq!(j["level"], "warn", "{line}");
        assert_eq!(
            (j["resource"].as_str(), j["why"].as_str()),
            (Some(file), Some("shutdown")),
            "{line}"
        );
        let done = j["bytes_done"].as_u64().unwrap();
        assert!(done > 0 && done < len as u64, "{line}");
        assert_eq!(j["bytes_total"].as_u64(), Some(len as u64), "{line}");
        assert!(line.contains("direction=send"), "{line}");
    }
    assert!(host.logs_contain("drain deadline reached"));
    eprintln!(
        "measured: curl told {took:.2?} after SIGTERM (drain_timeout_secs {})",
        DRAIN.as_secs()
    );
}
