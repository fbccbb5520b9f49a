//! The reading stage: syntax, fields, values, names and addresses, each at its place.

use super::fake::{assert_at, errors, only, pos, pos_nth};
use crate::topology::{DiagnosticKind, load};

/// A valid skeleton to break in one place at a time.
fn topology(listeners: &str, handlers: &str, routes: &str) -> String {
    format!(
        "(\n    listeners: {{\n{listeners}\n    }},\n    handlers: {{\n{handlers}\n    }},\n    routes: [\n{routes}\n    ],\n)\n"
    )
}

const ECHO: &str = r#"        "echo": (plugin: "echo"),"#;

#[test]
fn a_syntax_error_is_reported_at_its_line_and_column() {
    let text = topology(
        r#"        "u": (kind: udp, bind: "127.0.0.1:7007"),"#,
        ECHO,
        r#"        (from: "u" to: "echo"),"#,
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e}");
    let d = only(&e, DiagnosticKind::Syntax);
    assert!(d.message.starts_with("syntax error"), "{}", d.message);
    assert_at(&d, pos(&text, "to: \"echo\""));
}

#[test]
fn an_unclosed_file_is_a_syntax_error() {
    let e = errors("(\n  listeners: {},\n  handlers: {\n");
    let d = only(&e, DiagnosticKind::Syntax);
    assert_eq!(d.message, "syntax error: Unexpected end of RON");
    assert_at(&d, (3, 13)); // the last `{`, not the empty line after it
}

#[test]
fn a_file_that_is_not_a_struct_says_what_a_topology_looks_like() {
    let e = errors("[1, 2]");
    let d = only(&e, DiagnosticKind::Syntax);
    assert_at(&d, (1, 1));
    assert!(
        d.help.as_deref().unwrap_or("").contains("listeners"),
        "{d:?}"
    );
}

#[test]
fn unknown_fields_suggest_the_closest_known_one() {
    let text = topology(
        r#"        "u": (kind: udp, bnd: "127.0.0.1:7007"),"#,
        r#"        "echo": (plugin: "echo", confg: ()),"#,
        r#"        (from: "u", to: "echo"),"#,
    )
    .replace("routes:", "ruotes:");
    let e = errors(&text);
    let unknown: Vec<_> = e
        .iter()
        .filter(|d| d.kind == DiagnosticKind::UnknownField)
        .collect();
    assert_eq!(unknown.len(), 3, "{e}");
    assert_eq!(unknown[0].message, "unknown field `bnd` in listener `u`");
    assert_eq!(unknown[0].help.as_deref(), Some("did you mean `bind`?"));
    assert_at(unknown[0], pos(&text, "bnd"));
    assert_eq!(
        unknown[1].message,
        "unknown field `confg` in handler `echo`"
    );
    assert_eq!(unknown[1].help.as_deref(), Some("did you mean `config`?"));
    assert_at(unknown[1], pos(&text, "confg"));
    assert_eq!(unknown[2].message, "unknown field `ruotes` in the topology");
    assert_eq!(unknown[2].help.as_deref(), Some("did you mean `routes`?"));
    // The listener has no `bind` now: reported too, at the listener's `(`.
    let missing = only(&e, DiagnosticKind::MissingField);
    assert_eq!(missing.message, "missing field `bind` in listener `u`");
    assert_at(&missing, pos(&text, "(kind"));
}

#[test]
fn an_unknown_field_far_from_every_known_one_lists_them() {
    let text = topology("", r#"        "echo": (plugin: "echo", zzz: 1),"#, "");
    let d = only(&errors(&text), DiagnosticKind::UnknownField);
    assert_eq!(
        d.help.as_deref(),
        Some(
            "expected `plugin`, `root`, `storage`, `create_dirs`, `config`, `restart`, `limits`, `busy_poll_us`, `workers` or `symlinks`"
        )
    );
}

#[test]
fn missing_required_fields_are_reported_at_the_struct() {
    let text = "// no handlers\n  (\n    listeners: {},\n)";
    let d = only(&errors(text), DiagnosticKind::MissingField);
    assert_eq!(d.message, "missing field `handlers` in the topology");
    assert_at(&d, (2, 3));
    let text = topology("", r#"        "h": (config: ()),"#, "");
    let d = only(&errors(&text), DiagnosticKind::MissingField);
    assert_eq!(d.message, "missing field `plugin` in handler `h`");
    assert_at(&d, pos(&text, "(config"));
}

#[test]
fn a_bad_enum_value_suggests_the_right_one() {
    let text = topology(
        r#"        "u": (kind: udpp, bind: "127.0.0.1:7007"),"#,
        ECHO,
        r#"        (from: "u", to: "echo"),"#,
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "no cascade from the bad listener: {e}");
    let d = only(&e, DiagnosticKind::BadValue);
    assert_eq!(
        d.message,
        "invalid `kind` of listener `u`: unknown variant `udpp`, expected `udp` or `tcp`"
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `udp`?"));
    assert_at(&d, pos(&text, "udpp"));
}

#[test]
fn bad_bind_addresses_are_each_reported() {
    let text = topology(
        r#"        "a": (kind: udp, bind: "local_host:7007"),
        "b": (kind: tcp, bind: "127.0.0.1"),
        "c": (kind: tcp, bind: "127.0.0.1:99999"),
        "d": (kind: tcp, bind: "::1:80"),
        "e": (kind: tcp, bind: 7007),"#,
        ECHO,
        r#"(from: "a", to: "echo"), (from: "b", to: "echo"), (from: "c", to: "echo"), (from: "d", to: "echo"), (from: "e", to: "echo")"#,
    );
    let e = errors(&text);
    let bad: Vec<_> = e
        .iter()
        .filter(|d| d.kind == DiagnosticKind::BadAddress)
        .collect();
    assert_eq!(bad.len(), 4, "{e}");
    for (d, needle) in bad.iter().zip([
        "\"local_host:7007\"",
        "\"127.0.0.1\"",
        "\"127.0.0.1:99999\"",
        "\"::1:80\"",
    ]) {
        assert_at(d, pos(&text, needle));
        assert!(
            d.message.starts_with(&format!(
                "invalid bind address `{}`",
                needle.trim_matches('"')
            )),
            "{}",
            d.message
        );
        assert!(d.help.as_deref().unwrap_or("").contains("[::1]:7007"));
    }
    let not_string = only(&e, DiagnosticKind::BadValue);
    assert!(
        not_string
            .message
            .starts_with("invalid `bind` in listener `e`"),
        "{}",
        not_string.message
    );
    assert_at(&not_string, pos(&text, "7007)"));
}

#[test]
fn bad_numbers_and_zero_limits_are_reported_at_the_value() {
    let text = topology(
        "",
        r#"        "h": (plugin: "echo", restart: (max_restarts: -1, within_secs: 10), limits: (max_connections: 0), busy_poll_us: 5000),"#,
        "",
    );
    let e = errors(&text);
    let bad: Vec<_> = e
        .iter()
        .filter(|d| d.kind == DiagnosticKind::BadValue)
        .collect();
    assert_eq!(bad.len(), 3, "{e}");
    assert!(
        bad[0]
            .message
            .starts_with("invalid `max_restarts` in `restart` of handler `h`"),
        "{}",
        bad[0].message
    );
    assert_at(bad[0], pos(&text, "-1"));
    assert_eq!(
        bad[1].message,
        "`max_connections` in `limits` of handler `h` must be at least 1"
    );
    assert_at(bad[1], pos(&text, "0), busy"));
    assert_eq!(
        bad[2].message,
        "`busy_poll_us` of handler `h` is at most 1000"
    );
    assert_at(bad[2], pos(&text, "5000"));
}

#[test]
fn a_malformed_refusal_line_is_reported_at_its_value() {
    let long = format!("\"{}\"", "x".repeat(513));
    // Too long, a line break, a tab, an escape, empty: each one diagnostic, at the
    // `Some(` that holds it, in file:line:col like every other topology error.
    let cases = [
        long.as_str(),
        r#""busy\ntry later""#,
        r#""a\tb""#,
        r#""\u{1b}[31mred""#,
        r#""""#,
    ];
    for value in cases {
        let text = topology(
            "",
            &format!(
                r#"        "h": (plugin: "echo", limits: (max_connections: 2, refusal: Some({value}))),"#
            ),
            "",
        );
        let e = errors(&text);
        let d = only(&e, DiagnosticKind::BadValue);
        assert_eq!(e.len(), 1, "{value}: {e}");
        assert_eq!(
            d.message, "`refusal` in `limits` of handler `h` must be one line of 1 to 512 bytes",
            "{value}"
        );
        let (line, col) = pos(&text, "Some(");
        assert_at(&d, (line, col));
        let out = crate::topology::render(&e, false);
        assert!(out.contains(&format!("[file.ron:{line}:{col}]")), "{out}");
        assert!(
            out.contains("no line breaks or control characters"),
            "{out}"
        );
    }
    // 512 printable bytes are fine.
    let text = topology(
        "",
        &format!(
            r#"        "h": (plugin: "echo", limits: (refusal: Some("{}"))),"#,
            "é".repeat(256)
        ),
        "",
    );
    let t = super::fake::compile_text(&text).unwrap();
    assert_eq!(
        t.handlers[0].limits.refusal.as_deref().map(str::len),
        Some(512)
    );
}

#[test]
fn drain_timeouts_are_whole_seconds_reported_at_the_value() {
    let text = "(\n    drain_timeout_secs: 2,\n    reload_drain_timeout_secs: -5,\n    listeners: {},\n    handlers: {},\n)\n";
    let e = errors(text);
    let d = only(&e, DiagnosticKind::BadValue);
    assert!(
        d.message
            .starts_with("invalid `reload_drain_timeout_secs` in the topology"),
        "{}",
        d.message
    );
    assert_at(&d, pos(text, "-5"));
    assert_eq!((d.line, d.col), (3, 32));
    let e = errors(&text.replace("-5", "\"1 minute\""));
    let d = only(&e, DiagnosticKind::BadValue);
    assert_eq!((d.line, d.col), (3, 32), "{}", d.message);
}

#[test]
fn duplicate_names_and_fields_are_reported_at_the_second_one() {
    let text = topology(
        r#"        "u": (kind: udp, bind: "127.0.0.1:1", kind: tcp),"#,
        r#"        "echo": (plugin: "echo"),
        "echo": (plugin: "echo"),"#,
        r#"(from: "u", to: "echo")"#,
    );
    let e = errors(&text);
    let dups: Vec<_> = e
        .iter()
        .filter(|d| d.kind == DiagnosticKind::Duplicate)
        .collect();
    assert_eq!(dups.len(), 2, "{e}");
    assert_eq!(
        dups[0].message,
        "field `kind` is given twice in listener `u`"
    );
    assert_at(dups[0], pos_nth(&text, "kind", 1));
    assert_eq!(dups[1].message, "handler `echo` is defined twice");
    assert_at(dups[1], pos_nth(&text, "\"echo\": (", 1));
}

#[test]
fn names_must_be_strings_without_dots() {
    let text = topology(
        r#"        "a.b": (kind: udp, bind: "127.0.0.1:1"),"#,
        r#"        echo: (plugin: "echo"),"#,
        "",
    );
    let e = errors(&text);
    let bad: Vec<_> = e
        .iter()
        .filter(|d| d.kind == DiagnosticKind::BadName)
        .collect();
    assert_eq!(bad.len(), 2, "{e}");
    assert_eq!(bad[0].message, "invalid listener name `a.b`");
    assert_at(bad[0], pos(&text, "\"a.b\""));
    assert_eq!(bad[1].message, "a handler name must be a string");
    assert_eq!(
        bad[1].help.as_deref(),
        Some("write it in quotes: `\"echo\"`")
    );
}

#[test]
fn wrong_shapes_are_reported_without_hiding_other_entries() {
    let text = topology(
        r#"        "a": "udp 127.0.0.1:1",
        "b": (kind: tdp, bind: "127.0.0.1:2"),"#,
        ECHO,
        r#"(from: "a", to: "echo"), (from: "b", to: "echo"), "c""#,
    );
    let e = errors(&text);
    let bad: Vec<_> = e
        .iter()
        .filter(|d| d.kind == DiagnosticKind::BadValue)
        .collect();
    assert_eq!(bad.len(), 3, "{e}");
    assert_eq!(bad[0].message, "listener `a` must be a struct");
    assert_at(bad[0], pos(&text, "\"udp 127"));
    assert!(bad[1].message.contains("`tdp`"));
    assert_eq!(bad[2].message, "a route must be a struct");
    assert_at(bad[2], pos(&text, "\"c\""));
}

#[test]
fn an_unreadable_file_is_a_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.ron");
    let e = load(&path).unwrap_err();
    let d = only(&e, DiagnosticKind::Io);
    assert!(
        d.message
            .starts_with(&format!("cannot read topology file `{}`", path.display())),
        "{}",
        d.message
    );
    assert_eq!((d.line, d.col, d.span.clone()), (0, 0, None));
}

#[test]
fn a_file_on_disk_loads_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.ron");
    std::fs::write(&path, "(listeners: {}, handlers: {})").unwrap();
    let src = load(&path).unwrap();
    assert_eq!(
        (src.path.as_path(), &*src.text),
        (path.as_path(), "(listeners: {}, handlers: {})")
    );
}

#[test]
fn an_empty_or_comment_only_file_is_a_syntax_error_not_a_panic() {
    for text in ["", "   \n", "// nothing here\n"] {
        let e = errors(text);
        let d = only(&e, DiagnosticKind::Syntax);
        assert!(
            d.message.starts_with("syntax error"),
            "{text:?}: {}",
            d.message
        );
    }
}

#[test]
fn crlf_files_report_the_same_places() {
    let text = "(\r\n    listeners: {},\r\n    handlers: { \"h\": (plugin: \"echo\", bogus: 1) },\r\n)\r\n";
    let d = only(&errors(text), DiagnosticKind::UnknownField);
    assert_at(&d, pos(text, "bogus"));
    assert_eq!(d.line, 3);
}

#[test]
fn ron_extensions_at_the_top_do_not_break_reading() {
    let text = "#![enable(implicit_some)]\n(listeners: {}, handlers: { \"h\": (plugin: \"echo\", root: \"/d\") })";
    let t = super::fake::compile_text(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.handlers[0].root, Some(std::path::PathBuf::from("/d")));
}
