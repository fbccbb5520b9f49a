//! The `bus` section: read in full, and every error at its `file:line:col`.

use super::fake::{assert_at, compile_text, errors, only, pos, pos_nth};
use crate::topology::DiagnosticKind;
use crate::topology::document;
use crate::topology::reader::Reader;
use crate::topology::{BusCredentials, BusSpec};

/// A small valid topology with `bus` set to `bus`.
fn layout(bus: &str) -> String {
    format!(
        r#"(
    bus: {bus},
    listeners: {{ "t": (kind: tcp, bind: "127.0.0.1:0") }},
    handlers: {{ "files": (plugin: "files", root: Some("./data")) }},
    routes: [ (from: "t", to: "files") ],
)
"#
    )
}

/// `Some((kind: nats, <fields>))` with the required fields before `fields`.
fn nats(fields: &str) -> String {
    format!(r#"Some((kind: nats, servers: ["nats://127.0.0.1:4222"], name: "host-a", {fields}))"#)
}

/// What `document::read` kept of the bus.
fn read_bus(text: &str) -> Option<BusSpec> {
    let mut r = Reader::new(text);
    document::read(&mut r).expect("a document").bus
}

#[test]
fn a_checked_bus_compiles_into_the_topology() {
    let text = layout(&nats(
        r#"subject_prefix: "sy.prod", user_env: "SY_NATS_USER", password_env: "SY_NATS_PASS", max_queued: 64"#,
    ));
    let topo = compile_text(&text).expect("valid");
    let bus = topo.bus.expect("a bus");
    assert_eq!(bus.max_queued, 64);
    assert!(topo.bus_inputs.is_empty());
    let spec = read_bus(&text).expect("read in full");
    assert_eq!(spec.servers, ["nats://127.0.0.1:4222"]);
    assert_eq!(
        (spec.name.as_str(), spec.subject_prefix.as_str()),
        ("host-a", "sy.prod")
    );
    assert_eq!(
        spec.credentials,
        BusCredentials::UserPassword {
            user_env: "SY_NATS_USER".into(),
            password_env: "SY_NATS_PASS".into()
        }
    );
}

#[test]
fn defaults_a_token_and_none() {
    let spec = read_bus(&layout(&nats(r#"token_env: "SY_NATS_TOKEN""#))).unwrap();
    assert_eq!(spec.subject_prefix, "switchyard");
    assert_eq!(
        spec.credentials,
        BusCredentials::Token {
            token_env: "SY_NATS_TOKEN".into()
        }
    );
    assert!(compile_text(&layout("None")).is_ok());
}

#[test]
fn bad_servers_are_reported_at_their_item() {
    for (server, says) in [
        ("http://127.0.0.1:4222", "scheme"),
        ("nats://me:secret@127.0.0.1:4222", "environment variables"),
        ("nats://127.0.0.1:4222/x", "no path"),
        ("127.0.0.1 4222", "not a URL"),
    ] {
        let text = layout(&format!(
            r#"Some((kind: nats, servers: ["nats://127.0.0.1:4222", "{server}"], name: "a"))"#
        ));
        let d = only(&errors(&text), DiagnosticKind::BadValue);
        assert_at(&d, pos(&text, &format!("\"{server}\"")));
        assert!(d.message.contains(says), "{server}: {}", d.message);
    }
    let text = layout(r#"Some((kind: nats, servers: [], name: "a"))"#);
    assert_at(
        &only(&errors(&text), DiagnosticKind::BadValue),
        pos(&text, "[]"),
    );
}

#[test]
fn a_bad_prefix_or_name_is_reported_at_its_value() {
    let text = layout(&nats(r#"subject_prefix: "sy..prod""#));
    let d = only(&errors(&text), DiagnosticKind::BadValue);
    assert_at(&d, pos(&text, "\"sy..prod\""));
    let text = layout(r#"Some((kind: nats, servers: ["nats://h"], name: "host a"))"#);
    let d = only(&errors(&text), DiagnosticKind::BadValue);
    assert_at(&d, pos(&text, "\"host a\""));
    assert!(d.message.contains("`name`"), "{}", d.message);
    let text = layout(&nats("max_queued: 0"));
    let d = only(&errors(&text), DiagnosticKind::BadValue);
    assert_at(&d, pos(&text, "0))"));
    assert!(d.message.contains("at least 1"), "{}", d.message);
    let text = layout(&nats(r#"subject_prefix: "sy.>""#));
    assert_at(
        &only(&errors(&text), DiagnosticKind::BadValue),
        pos(&text, "\"sy.>\""),
    );
}

#[test]
fn credentials_must_be_a_pair_or_a_token_and_valid_names() {
    let text = layout(&nats(r#"user_env: "SY_USER""#));
    let d = only(&errors(&text), DiagnosticKind::BadValue);
    assert_at(&d, pos(&text, "\"SY_USER\""));
    assert!(d.message.contains("only one of"), "{}", d.message);
    let text = layout(&nats(r#"user_env: "U", password_env: "P", token_env: "T""#));
    let d = only(&errors(&text), DiagnosticKind::BadValue);
    assert_at(&d, pos(&text, "\"T\""));
    let text = layout(&nats(r#"token_env: "1TOKEN""#));
    let d = only(&errors(&text), DiagnosticKind::BadValue);
    assert_at(&d, pos(&text, "\"1TOKEN\""));
}

#[test]
fn unknown_fields_kinds_and_shapes_are_reported_at_their_place() {
    let text = layout(&nats(r#"severs: []"#));
    assert_at(
        &only(&errors(&text), DiagnosticKind::UnknownField),
        pos(&text, "severs"),
    );
    let text = layout(r#"Some((kind: kafka, servers: ["nats://h"], name: "a"))"#);
    assert_at(
        &only(&errors(&text), DiagnosticKind::BadValue),
        pos(&text, "kafka"),
    );
    let text = layout(r#"Some((kind: nats, servers: ["nats://h"]))"#);
    assert!(
        errors(&text)
            .iter()
            .any(|d| d.kind == DiagnosticKind::MissingField)
    );
    let text = layout(r#""nats://h""#);
    assert_at(
        &only(&errors(&text), DiagnosticKind::BadValue),
        pos(&text, "\"nats://h\""),
    );
}

#[test]
fn streams_compile_with_their_defaults_and_bounds() {
    let text = layout(&nats(
        r#"streams: { "transcript": (subjects: ["chat.lines", "transfers"], max_bytes: 2097152, max_age_secs: 3600, duplicate_window_secs: 60), "other": (subjects: ["x"]) }"#,
    ));
    let spec = read_bus(&text).expect("read in full");
    assert_eq!(spec.streams.len(), 2);
    let t = &spec.streams[0];
    assert_eq!(
        (t.name.as_str(), t.subjects.clone(), t.max_bytes),
        (
            "transcript",
            vec!["chat.lines".into(), "transfers".into()],
            2 << 20
        )
    );
    assert_eq!(t.max_age.as_secs(), 3600);
    assert_eq!(t.duplicate_window.as_secs(), 60);
    let o = &spec.streams[1];
    assert_eq!((o.max_bytes, o.max_age.as_secs()), (1 << 30, 7 * 24 * 3600));
    assert_eq!(o.duplicate_window.as_secs(), 120);
    assert!(compile_text(&text).is_ok());
}

#[test]
fn every_stream_mistake_is_reported_at_its_value() {
    let text = layout(&nats(
        r#"streams: { "a.b": (subjects: ["s1"]), "t": (subjects: ["s1", "s..2", "t1", "t1"], max_bytes: 10, max_age_secs: 120, duplicate_window_secs: 600), "u": (subjects: []) }"#,
    ));
    let all = errors(&text);
    let at = |needle: &str| pos(&text, needle);
    let found: Vec<_> = all
        .diagnostics
        .iter()
        .map(|d| (d.message.clone(), d.line, d.col))
        .collect();
    let has = |says: &str, (line, col): (u32, u32)| {
        assert!(
            found
                .iter()
                .any(|(m, l, c)| m.contains(says) && (*l, *c) == (line, col)),
            "no `{says}` at {line}:{col} in {found:?}"
        )
    };
    has("invalid stream name `a.b`", at("\"a.b\""));
    has(
        "captured by stream `a.b` already",
        pos_nth(&text, "\"s1\"", 1),
    );
    has("invalid `subject`", at("\"s..2\""));
    has("given twice in stream `t`", pos_nth(&text, "\"t1\"", 1));
    has("between 1048576", at("10,"));
    has("longer than `max_age_secs`", at("600"));
    has("no subject", at("[])"));
    assert_eq!(found.len(), 7, "{found:?}");
}
