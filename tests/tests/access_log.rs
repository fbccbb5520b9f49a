//! The access log end to end: a topology with `access_log`, files GETs (served, and
//! one refused), TFTP downloads; logrotate's move and SIGUSR1; a shutdown that writes
//! what waited; a reload that moves it; and without one, the lines at `debug` only.
//!
//! The flush time is a minute in these tests, so every line seen was written by a
//! reopen, a full buffer or the shutdown, never by the timer: "nothing lost" is what
//! is being tested, not luck.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use switchyard_e2e::files_wire::V2;
use switchyard_e2e::tftp_wire::download;
use switchyard_e2e::{Host, wait_until};

const WAIT: Duration = Duration::from_secs(20);

fn topology(access_log: &str) -> String {
    format!(
        r#"(
    {access_log}
    admin: Some("127.0.0.1:0"),
    listeners: {{
        "files_tcp": (kind: tcp, bind: "127.0.0.1:0"),
        "tftp_udp": (kind: udp, bind: "127.0.0.1:0"),
    }},
    handlers: {{
        "files": (plugin: "files", root: Some("$TMP/data")),
        "tftp": (plugin: "tftp", root: Some("$TMP/data")),
    }},
    routes: [ (from: "files_tcp", to: "files"), (from: "tftp_udp", to: "tftp") ],
)"#
    )
}

fn json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

fn text_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Files: `n` GETs of `k1` on one kept-alive connection and one GET of a missing file.
fn gets(host: &Host, n: usize) {
    let mut c = V2::open(host.addr("files_tcp"));
    for _ in 0..n {
        let (reply, body) = c.get("k1");
        assert!(reply.starts_with("OK 1024 "), "{reply}");
        assert_eq!(body.len(), 1024);
    }
    assert!(c.ask("GET nope.bin").starts_with("ERR 404"));
}

#[test]
fn gets_are_logged_reopened_on_sigusr1_and_written_at_shutdown() {
    let mut host = Host::start(&topology(
        r#"access_log: Some((path: "$TMP/access.log", buffer_kib: 64, flush_ms: 60000, format: json)),"#,
    ));
    let dir = host.temp_dir().to_path_buf();
    let (log, moved) = (dir.join("access.log"), dir.join("access.log.1"));
    std::fs::write(dir.join("data/k1"), [7u8; 1024]).unwrap();
    std::fs::write(dir.join("data/boot.bin"), [1u8; 3000]).unwrap();

    gets(&host, 5);
    assert_eq!(download(host.addr("tftp_udp"), "boot.bin").len(), 3000);
    // The TFTP session ends when the server has the last ACK: wait for it to count.
    let tftp_ok = r#"switchyard_transfers_total{handler="tftp",result="ok"}"#;
    wait_until("the TFTP transfer ended", WAIT, || {
        host.metric(tftp_ok) == Some(1.0)
    });
    assert_eq!(
        json_lines(&log),
        Vec::<Value>::new(),
        "buffered for a minute"
    );
    // logrotate: move the file, then SIGUSR1. What waited goes to the moved file.
    std::fs::rename(&log, &moved).unwrap();
    host.signal("USR1");
    host.expect_log("the reopen", |j| j["msg"] == "access log reopened", WAIT);
    wait_until("a new file at the path", WAIT, || log.exists());
    let before = json_lines(&moved);
    assert_eq!(before.len(), 7, "{before:#?}");
    let ok: Vec<&Value> = before
        .iter()
        .filter(|j| j["handler"] == "files" && j["outcome"] == "ok")
        .collect();
    assert_eq!(ok.len(), 5, "{before:#?}");
    for j in &ok {
        assert_eq!(j["resource"], "k1");
        assert_eq!(j["direction"], "send");
        assert!(j["bytes"].as_u64().is_some_and(|b| b >= 1024), "{j}");
        assert!(
            j["peer"]
                .as_str()
                .is_some_and(|p| p.starts_with("127.0.0.1:")),
            "{j}"
        );
        assert!(j["duration_ms"].as_f64().is_some_and(|d| d >= 0.0), "{j}");
        assert!(j["ts"].as_str().is_some_and(|t| t.ends_with('Z')), "{j}");
    }
    let refused = before
        .iter()
        .find(|j| j["outcome"] == "not_found")
        .expect("the refused GET");
    assert_eq!(
        (&refused["handler"], &refused["resource"], &refused["bytes"]),
        (
            &Value::from("files"),
            &Value::from("nope.bin"),
            &Value::from(0)
        )
    );
    let tftp = before
        .iter()
        .find(|j| j["handler"] == "tftp")
        .expect("tftp");
    assert_eq!(
        (&tftp["resource"], &tftp["outcome"], &tftp["bytes"]),
        (
            &Value::from("boot.bin"),
            &Value::from("ok"),
            &Value::from(3000)
        )
    );

    // After the reopen: new lines go to the new file, and a shutdown writes them.
    gets(&host, 3);
    host.signal("TERM");
    assert_eq!(host.wait_exit(WAIT).code(), Some(0));
    assert_eq!(json_lines(&moved).len(), 7, "the moved file is done");
    let after = json_lines(&log);
    assert_eq!(after.len(), 4, "nothing lost at shutdown: {after:#?}");
    assert_eq!(after.iter().filter(|j| j["outcome"] == "ok").count(), 3);
    // The routine lines did not reach the main log (it is at info).
    assert!(
        !host.logs_contain("cmd=GET") && host.logs_where(|j| j["msg"] == "access").is_empty(),
        "{:?}",
        host.stderr_lines()
    );
}

#[test]
fn text_lines_name_every_field_and_a_reload_moves_the_log_or_is_refused() {
    let host = Host::start(&topology(
        r#"access_log: Some((path: "$TMP/a.log", flush_ms: 60000)),"#,
    ));
    let dir = host.temp_dir().to_path_buf();
    std::fs::write(dir.join("data/k1"), [7u8; 1024]).unwrap();
    gets(&host, 2);
    // A reload to another file: the old one is written out and closed.
    let moved_to = topology(r#"access_log: Some((path: "$TMP/b.log", flush_ms: 60000)),"#)
        .replace("$TMP", dir.to_str().unwrap());
    host.reload_to(&moved_to, 1);
    let a = text_lines(&dir.join("a.log"));
    assert_eq!(a.len(), 3, "{a:?}");
    let line = &a[0];
    for part in [
        " handler=files ",
        " peer=127.0.0.1:",
        " resource=k1 ",
        " direction=send ",
        " bytes=1024 ",
        " outcome=ok ",
        " duration_ms=",
    ] {
        assert!(line.contains(part), "{part:?} in {line:?}");
    }
    assert!(a[2].contains(" resource=nope.bin ") && a[2].contains(" outcome=not_found "));
    // A reload to an access log that cannot be opened is refused: b.log goes on.
    let bad = moved_to.replace("b.log", "no/such/dir/c.log");
    std::fs::write(host.config_path(), &bad).unwrap();
    host.signal("HUP");
    let refused = host.expect_log(
        "the refused reload",
        |j| j["msg"] == "reload refused, keeping the running topology",
        WAIT,
    );
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("no/such/dir/c.log")),
        "{refused}"
    );
    gets(&host, 1);
    host.signal("TERM");
    let b: Vec<String> = wait_for_lines(&dir.join("b.log"), 2);
    assert_eq!(b.len(), 2, "{b:?}");
    assert_eq!(
        text_lines(&dir.join("a.log")).len(),
        3,
        "the old file is left alone"
    );
}

/// Wait until the host wrote `n` lines to `path` (it exits after a SIGTERM).
fn wait_for_lines(path: &Path, n: usize) -> Vec<String> {
    wait_until("the access log's lines", WAIT, || {
        text_lines(path).len() >= n
    });
    text_lines(path)
}

#[test]
fn without_an_access_log_the_lines_go_to_the_main_log_at_debug() {
    let host = Host::builder(&topology("")).log_level("debug").start();
    std::fs::write(host.temp_dir().join("data/k1"), [7u8; 1024]).unwrap();
    gets(&host, 1);
    let line = host.expect_log(
        "the access record",
        |j| j["msg"] == "access" && j["outcome"] == "ok",
        WAIT,
    );
    assert_eq!(line["level"], "debug");
    assert_eq!(
        (
            &line["handler"],
            &line["resource"],
            &line["direction"],
            &line["bytes"]
        ),
        (
            &Value::from("files"),
            &Value::from("k1"),
            &Value::from("send"),
            &Value::from(1024)
        )
    );

    let quiet = Host::start(&topology(""));
    std::fs::write(quiet.temp_dir().join("data/k1"), [7u8; 1024]).unwrap();
    gets(&quiet, 3);
    // The refusal's own line (an error reply) is still at info; the GETs are not.
    quiet.expect_log("the refusal", |j| j["result"] == "not_found", WAIT);
    assert!(
        quiet
            .logs_where(|j| j["msg"] == "access" || j["msg"] == "transfer")
            .is_empty(),
        "{:?}",
        quiet.stderr_lines()
    );
}

#[test]
fn an_access_log_that_cannot_be_opened_stops_the_start_naming_it() {
    let failed = Host::builder(&topology(
        r#"access_log: Some((path: "$TMP/no/such/dir/access.log")),"#,
    ))
    .try_start()
    .expect_err("the directory does not exist");
    assert_eq!(failed.code(), Some(78), "{}", failed.text());
    assert!(failed.text().contains("no/such/dir"), "{}", failed.text());
}
