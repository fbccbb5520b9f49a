//! Reload answers, end to end: `switchyard reload` waits for the host's outcome, a
//! changed admin address is applied, and the example systemd unit's command lines
//! (not systemd itself) run as the unit runs them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use switchyard_e2e::{
    Host, http_get, repo_root, run_switchyard, switchyard_bin, udp_roundtrip, wait_until,
};

const WAIT: Duration = Duration::from_secs(10);

fn echo_topology(admin: &str, prefix: &str, route_to: &str) -> String {
    format!(
        r#"(
    admin: Some("{admin}"),
    listeners: {{ "u": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{ "echo": (plugin: "echo", config: (prefix: "{prefix}")) }},
    routes: [(from: "u", to: "{route_to}")],
)"#
    )
}

/// The admin address of the newest `listening` record for `(admin)`.
fn admin_addr(host: &Host) -> SocketAddr {
    host.logs_where(|j| j["msg"] == "listening" && j["listener"] == "(admin)")
        .last()
        .and_then(|j| j["addr"].as_str()?.parse().ok())
        .expect("an admin listening record")
}

#[test]
fn reload_exits_0_when_applied_78_when_refused_and_rebinds_admin() {
    let dir = tempfile::tempdir().unwrap();
    let pid = dir.path().join("switchyard.pid");
    let pid_arg = pid.to_str().unwrap();
    let host = Host::builder(&echo_topology("127.0.0.1:0", "", "echo"))
        .arg("--pid-file")
        .arg(pid_arg)
        .start();
    let u = host.addr("u");

    // Applied: exit 0, and the new config serves at once.
    std::fs::write(
        host.config_path(),
        echo_topology("127.0.0.1:0", "v2:", "echo"),
    )
    .unwrap();
    let out = run_switchyard(["reload", "--pid-file", pid_arg]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("reload applied"),
        "{out:?}"
    );
    assert_eq!(udp_roundtrip(u, b"x", WAIT), b"v2:x");

    // Refused: exit 78 with the position of the dangling route (line 5), old one runs.
    std::fs::write(
        host.config_path(),
        echo_topology("127.0.0.1:0", "v3:", "nowhere"),
    )
    .unwrap();
    let out = run_switchyard(["reload", "--pid-file", pid_arg]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    assert!(stderr.contains("topology.ron:5:"), "{stderr}");
    assert!(stderr.contains("refused"), "{stderr}");
    assert_eq!(udp_roundtrip(u, b"y", WAIT), b"v2:y");

    // A new admin address: bound, served, the old one closed.
    let old_admin = admin_addr(&host);
    assert!(http_get(old_admin, "/health").starts_with("HTTP/1.0 200"));
    std::fs::write(
        host.config_path(),
        echo_topology("127.0.0.2:0", "v2:", "echo"),
    )
    .unwrap();
    let out = run_switchyard(["reload", "--pid-file", pid_arg]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // The `listening` record may reach the log reader after `reload` has exited.
    let new_admin: SocketAddr = host
        .wait_for_log(
            |j| {
                j["msg"] == "listening"
                    && j["listener"] == "(admin)"
                    && j["addr"]
                        .as_str()
                        .is_some_and(|a| a.starts_with("127.0.0.2:"))
            },
            WAIT,
        )
        .and_then(|j| j["addr"].as_str()?.parse().ok())
        .expect("the new admin address logged");
    assert!(http_get(new_admin, "/health").starts_with("HTTP/1.0 200"));
    wait_until("the old admin endpoint closed", WAIT, || {
        std::net::TcpStream::connect_timeout(&old_admin, Duration::from_secs(1)).is_err()
    });
    // The reload answers count in the metrics too.
    let metrics = http_get(new_admin, "/metrics");
    assert!(metrics.contains("switchyard_reloads_total"), "{metrics}");
}

#[test]
fn reload_without_an_answering_host_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let pid = dir.path().join("gone.pid");
    // A pid that exists but is no switchyard: this test process, with no answer file.
    std::fs::write(&pid, format!("{}\n", std::process::id())).unwrap();
    let out = run_switchyard(["reload", "--pid-file", pid.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("gone.pid.reload"),
        "{out:?}"
    );
}

/// One `Key=value` line of the unit file.
fn unit_value(unit: &str, key: &str) -> String {
    unit.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("the unit has no {key}="))
        .to_owned()
}

/// The unit's command line, its paths moved into `tmp` and the binary to the build.
fn unit_command(line: &str, tmp: &Path) -> Command {
    let line = line
        .replace(
            "/usr/local/bin/switchyard",
            &switchyard_bin().display().to_string(),
        )
        .replace("/etc/switchyard", &tmp.join("etc").display().to_string())
        .replace("/run/switchyard", &tmp.join("run").display().to_string());
    let mut words = line.split_whitespace();
    let mut cmd = Command::new(words.next().unwrap());
    cmd.args(words).current_dir(tmp.join("state"));
    cmd
}

#[test]
fn the_systemd_unit_command_lines_validate_serve_reload_and_stop() {
    let unit = std::fs::read_to_string(repo_root().join("config/switchyard.service")).unwrap();
    for key in [
        "StateDirectory",
        "RuntimeDirectory",
        "LimitNOFILE",
        "ExecStartPre",
    ] {
        unit_value(&unit, key);
    }
    assert_eq!(unit_value(&unit, "WorkingDirectory"), "/var/lib/switchyard");
    let tmp = tempfile::tempdir().unwrap();
    for d in ["etc", "run", "state"] {
        std::fs::create_dir(tmp.path().join(d)).unwrap();
    }
    let topology: PathBuf = tmp.path().join("etc/topology.ron");
    let serving = |prefix: &str| {
        format!(
            r#"(
    listeners: {{ "u": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{
        "echo": (plugin: "echo", config: (prefix: "{prefix}")),
        "tftp": (plugin: "tftp", root: Some("./data")),
    }},
    routes: [(from: "u", to: "echo")],
)"#
        )
    };
    std::fs::write(&topology, serving("")).unwrap();

    let pre = unit_command(&unit_value(&unit, "ExecStartPre"), tmp.path())
        .output()
        .unwrap();
    assert!(pre.status.success(), "ExecStartPre: {pre:?}");

    let mut start = unit_command(&unit_value(&unit, "ExecStart"), tmp.path());
    // The plugins next to the build's binary, as next to an installed one.
    let mut serve = start
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid_file = tmp.path().join("run/switchyard.pid");
    wait_until("the pid file", WAIT, || pid_file.exists());
    wait_until("the first answer", WAIT, || {
        tmp.path().join("run/switchyard.pid.reload").exists()
    });
    assert!(
        tmp.path().join("state/data").is_dir(),
        "root made under WorkingDirectory"
    );

    std::fs::write(&topology, serving("v2:")).unwrap();
    let reload = unit_command(&unit_value(&unit, "ExecReload"), tmp.path())
        .output()
        .unwrap();
    assert!(reload.status.success(), "ExecReload: {reload:?}");

    std::fs::write(&topology, "(broken").unwrap();
    let refused = unit_command(&unit_value(&unit, "ExecReload"), tmp.path())
        .output()
        .unwrap();
    assert_eq!(
        refused.status.code(),
        Some(78),
        "ExecReload refused: {refused:?}"
    );
    let pre = unit_command(&unit_value(&unit, "ExecStartPre"), tmp.path())
        .output()
        .unwrap();
    assert_eq!(
        pre.status.code(),
        Some(78),
        "ExecStartPre on a broken file: {pre:?}"
    );

    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let kill = Command::new("kill").arg(pid.trim()).status().unwrap();
    assert!(kill.success());
    let status = serve.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(!pid_file.exists(), "pid file removed");
    assert!(!tmp.path().join("run/switchyard.pid.reload").exists());
}

/// A reload hands the listener sockets to the new handler while the old one stops
/// taking from them. A datagram that arrives in that moment must be answered (by
/// either), never taken by the retiring handler and dropped: around each of 30
/// reloads, a burst of datagrams is sent while the host switches, and every one must
/// be answered; a connection right after each reload must be served.
#[test]
fn requests_during_and_right_after_each_reload_are_answered() {
    let topology = |prefix: &str| {
        format!(
            r#"(
    listeners: {{ "u": (kind: udp, bind: "127.0.0.1:0"), "t": (kind: tcp, bind: "127.0.0.1:0") }},
    handlers: {{ "echo": (plugin: "echo", config: (prefix: "{prefix}")) }},
    routes: [(from: "u", to: "echo"), (from: "t", to: "echo")],
)"#
        )
    };
    let host = Host::start(&topology("p0:"));
    let (u, t) = (host.addr("u"), host.addr("t"));
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    const BURST: usize = 40;
    for n in 1..=30 {
        std::fs::write(host.config_path(), topology(&format!("p{n}:"))).unwrap();
        host.signal("HUP");
        for i in 0..BURST {
            sock.send_to(format!("{n}-{i}").as_bytes(), u).unwrap();
            if i % 8 == 0 {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        let mut answered = std::collections::BTreeSet::new();
        let mut buf = [0u8; 64];
        while answered.len() < BURST {
            let Ok(len) = sock.recv(&mut buf) else {
                panic!(
                    "reload {n}: {} of {BURST} datagrams answered",
                    answered.len()
                );
            };
            let text = String::from_utf8_lossy(&buf[..len]).into_owned();
            let body = text.split_once(':').map_or("", |(_, b)| b).to_owned();
            if body.starts_with(&format!("{n}-")) {
                answered.insert(body);
            }
        }
        host.wait_for_nth_log(n, |j| j["msg"] == "reloaded", WAIT)
            .unwrap_or_else(|| panic!("reload {n} not logged"));
        // (echo puts its prefix on datagrams only)
        assert_eq!(
            switchyard_e2e::tcp_roundtrip(t, b"y", WAIT),
            b"y",
            "reload {n}"
        );
    }
}
