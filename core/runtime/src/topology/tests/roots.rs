//! Private roots against served ones: the topology compiler's view (the path logic
//! itself is tested in `roots.rs`).

use super::fake::{assert_at, compile_text, errors, only, pos};
use crate::topology::DiagnosticKind;

/// A topology of a served `files` handler at `served` and a private `audit` handler
/// at `private`, with `top` added at the top level.
fn layout(top: &str, served: &str, private: &str) -> String {
    format!(
        r#"(
    {top}
    listeners: {{ "t": (kind: tcp, bind: "127.0.0.1:0") }},
    handlers: {{
        "files": (plugin: "files", root: Some("{served}")),
        "audit": (plugin: "audit", root: Some("{private}")),
    }},
    routes: [ (from: "t", to: "files") ],
)
"#
    )
}

#[test]
fn a_private_root_inside_a_served_root_is_an_error_at_the_private_root() {
    let text = layout("", "./data", "./data/audit");
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e}");
    let d = only(&e, DiagnosticKind::NestedRoots);
    assert_at(&d, pos(&text, "Some(\"./data/audit\")"));
    assert!(
        d.message.contains("handler `audit`") && d.message.contains("`files` (root `./data`)"),
        "{}",
        d.message
    );
    assert!(
        d.help.as_deref().unwrap().contains("allow_nested_roots"),
        "{d:?}"
    );
}

#[test]
fn equal_spellings_and_a_served_root_inside_a_private_one_are_errors_too() {
    for (served, private) in [
        ("data", "./data/"),
        ("./data/../data", "data"),
        ("/srv/switchyard/data", "data/audit"),
        ("./state/audit/public", "./state"),
    ] {
        let e = errors(&layout("", served, private));
        only(&e, DiagnosticKind::NestedRoots);
    }
}

#[test]
fn separate_roots_and_the_opt_out_compile() {
    compile_text(&layout("", "./data", "./state/audit")).unwrap();
    compile_text(&layout("", "./data", "./data2")).unwrap();
    compile_text(&layout(
        "allow_nested_roots: true,",
        "./data",
        "./data/audit",
    ))
    .unwrap();
}

#[test]
fn served_roots_may_share_and_nest() {
    let text = r#"(
    listeners: { "t": (kind: tcp, bind: "127.0.0.1:0"), "u": (kind: udp, bind: "127.0.0.1:0") },
    handlers: {
        "a": (plugin: "files", root: Some("./data")),
        "b": (plugin: "echo", root: Some("data")),
        "c": (plugin: "files", root: Some("./data/incoming")),
    },
    routes: [ (from: "t", to: "a"), (from: "u", to: "b") ],
)
"#;
    compile_text(text).unwrap();
}

#[test]
fn every_private_root_is_reported_with_other_errors_and_a_bad_flag_is_refused() {
    let text = r#"(
    listeners: { "t": (kind: tcp, bind: "127.0.0.1:0") },
    handlers: {
        "files": (plugin: "files", root: Some("./data")),
        "audit": (plugin: "audit", root: Some("./data/audit")),
        "audit2": (plugin: "audit", root: Some("./data/audit2")),
        "ghost": (plugin: "nosuch"),
    },
    routes: [ (from: "t", to: "files") ],
)
"#;
    let e = errors(text);
    let nested: Vec<_> = e
        .iter()
        .filter(|d| d.kind == DiagnosticKind::NestedRoots)
        .collect();
    assert_eq!(nested.len(), 2, "{e}");
    assert_at(nested[1], pos(text, "Some(\"./data/audit2\")"));
    only(&e, DiagnosticKind::UnknownPlugin);

    let e = errors(&layout("allow_nested_roots: 1,", "./data", "./state"));
    assert_eq!(e.len(), 1, "{e}");
    assert_at(
        &e.diagnostics[0],
        pos(&layout("allow_nested_roots: 1,", "./data", "./state"), "1,"),
    );
}

/// `symlinks` on a handler: `follow_inside` (the default) or `refuse`; a typo is
/// reported at its value with a suggestion, and the field without a `root` too.
#[test]
fn symlinks_is_a_storage_policy_checked_at_its_place() {
    let handler = |fields: &str| {
        format!(
            r#"(
    listeners: {{ "t": (kind: tcp, bind: "127.0.0.1:0") }},
    handlers: {{ "files": (plugin: "files", {fields}) }},
    routes: [ (from: "t", to: "files") ],
)
"#
        )
    };
    use crate::storage::Symlinks;
    let t = compile_text(&handler(r#"root: Some("./data")"#)).unwrap();
    assert_eq!(
        t.handlers[0].symlinks,
        Symlinks::FollowInside,
        "the default"
    );
    let t = compile_text(&handler(r#"root: Some("./data"), symlinks: refuse"#)).unwrap();
    assert_eq!(t.handlers[0].symlinks, Symlinks::Refuse);
    let t = compile_text(&handler(r#"root: Some("./data"), symlinks: follow_inside"#)).unwrap();
    assert_eq!(t.handlers[0].symlinks, Symlinks::FollowInside);

    let text = handler(r#"root: Some("./data"), symlinks: refused"#);
    let e = errors(&text);
    let d = only(&e, DiagnosticKind::BadValue);
    assert_at(&d, pos(&text, "refused"));
    assert!(
        d.message.contains("`symlinks` of handler `files`"),
        "{}",
        d.message
    );
    assert!(d.help.as_deref().unwrap_or("").contains("refuse"), "{d:?}");

    let text = handler("symlinks: refuse");
    let e = errors(&text);
    let d = only(&e, DiagnosticKind::BadValue);
    assert_at(&d, pos(&text, "refuse"));
    assert!(d.message.contains("needs a `root`"), "{}", d.message);
}
