//! The top-level `access_log`: its defaults, its values, and each bad part reported at
//! its place.

use std::path::PathBuf;
use std::time::Duration;

use super::fake::{CWD, assert_at, compile_text, errors, pos};
use crate::topology::{AccessLogFormat, AccessLogSpec, DiagnosticKind};

/// A valid topology with `access_log` set to `value`.
fn with(value: &str) -> String {
    format!(
        "(\n    access_log: {value},\n    listeners: {{ \"u\": (kind: udp, bind: \"127.0.0.1:0\") }},\n    handlers: {{ \"h\": (plugin: \"echo\") }},\n    routes: [(from: \"u\", to: \"h\")],\n)\n"
    )
}

#[test]
fn absent_or_none_means_no_access_log() {
    let none = compile_text(&with("None")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(none.access_log, None);
    let absent = with("None").replace("    access_log: None,\n", "");
    assert_eq!(compile_text(&absent).unwrap().access_log, None);
}

#[test]
fn a_path_alone_takes_nginx_like_defaults_and_is_resolved() {
    let t =
        compile_text(&with(r#"Some((path: "logs/access.log"))"#)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        t.access_log,
        Some(AccessLogSpec {
            path: PathBuf::from(CWD).join("logs/access.log"),
            buffer_bytes: 64 * 1024,
            flush: Duration::from_secs(1),
            format: AccessLogFormat::Text,
        })
    );
}

#[test]
fn every_field_is_read() {
    let t = compile_text(&with(
        r#"Some((path: "/var/log/sy.log", buffer_kib: 8, flush_ms: 250, format: json))"#,
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let a = t.access_log.expect("an access log");
    assert_eq!(a.path, PathBuf::from("/var/log/sy.log"));
    assert_eq!(
        (a.buffer_bytes, a.flush, a.format),
        (8 * 1024, Duration::from_millis(250), AccessLogFormat::Json)
    );
}

#[test]
fn each_bad_part_is_reported_at_its_place() {
    let text =
        with(r#"Some((path: "", buffer_kib: 0, flush_ms: 3600000, format: xml, rotate: true))"#);
    let e = errors(&text);
    let at = |needle: &str| {
        e.iter()
            .find(|d| d.line == pos(&text, needle).0 && d.col == pos(&text, needle).1)
            .unwrap_or_else(|| panic!("nothing reported at {needle}: {e}"))
            .clone()
    };
    assert_eq!(at("\"\"").message, "`path` in `access_log` is empty");
    assert_eq!(
        at("0, flush").message,
        "`buffer_kib` in `access_log` must be between 1 and 16384"
    );
    assert_eq!(
        at("3600000").message,
        "`flush_ms` in `access_log` must be between 1 and 60000"
    );
    assert!(at("xml").message.contains("unknown variant `xml`"), "{e}");
    let unknown = at("rotate");
    assert_eq!(unknown.kind, DiagnosticKind::UnknownField);
    assert_eq!(e.len(), 5, "{e}");
}

#[test]
fn a_missing_path_and_a_wrong_shape_are_reported() {
    let text = with("Some((buffer_kib: 4))");
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e}");
    assert_eq!(
        e.iter().next().unwrap().message,
        "missing field `path` in `access_log`"
    );
    assert_at(e.iter().next().unwrap(), pos(&text, "(buffer_kib"));

    let text = with(r#""access.log""#);
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e}");
    let d = e.iter().next().unwrap();
    assert_eq!(d.message, "invalid `access_log`");
    assert_eq!(d.kind, DiagnosticKind::BadValue);
    assert_at(d, pos(&text, "\"access.log\""));
}
