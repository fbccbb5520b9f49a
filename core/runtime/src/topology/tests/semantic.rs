//! The checking stage: plugins, configs, routes, listener kinds, cycles and addresses.

use super::fake::{assert_at, errors, only, pos, pos_nth};
use crate::topology::DiagnosticKind;

/// A topology around `body`, which holds the listeners, handlers and routes fields.
fn with(body: &str) -> String {
    format!("(\n{body}\n)\n")
}

#[test]
fn an_unknown_plugin_carries_the_catalog_reason_at_each_use() {
    let text = with(
        r#"    listeners: {},
    handlers: { "a": (plugin: "nosuch"), "b": (plugin: "nosuch") },"#,
    );
    let e = errors(&text);
    let found: Vec<_> = e
        .iter()
        .filter(|d| d.kind == DiagnosticKind::UnknownPlugin)
        .collect();
    assert_eq!(found.len(), 2, "{e}");
    assert_eq!(
        found[0].message,
        "cannot load plugin `nosuch` for handler `a`: plugin `nosuch` not found: looked for libswitchyard_nosuch.so"
    );
    assert_at(found[0], pos(&text, "\"nosuch\""));
    assert_at(found[1], pos_nth(&text, "\"nosuch\"", 1));
}

#[test]
fn a_config_error_is_mapped_to_its_place_in_the_file() {
    let text = with(
        r#"    listeners: {},
    handlers: {
        "s": (
            plugin: "strict",
            config: (
                size: 1,
                nmae: "x",
            ),
        ),
    },"#,
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e}");
    let d = only(&e, DiagnosticKind::Config);
    assert!(
        d.message.starts_with("invalid config for handler `s`: "),
        "{}",
        d.message
    );
    assert!(d.message.contains("nmae"), "{}", d.message);
    assert_at(&d, pos(&text, "nmae"));
}

#[test]
fn a_config_error_on_the_first_line_of_the_config_is_offset_by_its_column() {
    let text = with(
        r#"    listeners: {},
    handlers: { "s": (plugin: "strict", config: (size: "big")) },"#,
    );
    let d = only(&errors(&text), DiagnosticKind::Config);
    let (line, col) = pos(&text, "\"big\"");
    // The plugin's column is inside the config text, which starts mid-line; ron places
    // a type error at the space before the value, and the caret skips to the value.
    assert_eq!((d.line, d.col), (line, col), "{}", d.message);
}

#[test]
fn a_missing_config_is_checked_as_empty_and_reported_at_the_handler() {
    let text = with(
        r#"    listeners: {},
    handlers: { "s": (plugin: "strict") },"#,
    );
    let d = only(&errors(&text), DiagnosticKind::Config);
    assert!(d.message.contains("size"), "{}", d.message);
    assert_at(&d, pos(&text, "\"s\""));
}

#[test]
fn dangling_routes_suggest_names_and_ports() {
    let text = with(
        r#"    listeners: { "chat_udp": (kind: udp, bind: "127.0.0.1:6000") },
    handlers: { "chat": (plugin: "chat"), "audit": (plugin: "audit") },
    routes: [
        (from: "chat_udp", to: "chatt"),
        (from: "chat_ud", to: "chat"),
        (from: "caht.messages", to: "audit.events"),
        (from: "chat.mesages", to: "audit.events"),
        (from: "chat.messages", to: "audit.nothing_like_it"),
    ],"#,
    );
    let e = errors(&text);
    let found: Vec<_> = e
        .iter()
        .filter(|d| d.kind == DiagnosticKind::DanglingRoute)
        .collect();
    assert_eq!(found.len(), 5, "{e}");
    assert_eq!(found[0].message, "route target `chatt` names no handler");
    assert_eq!(found[0].help.as_deref(), Some("did you mean `chat`?"));
    assert_at(found[0], pos(&text, "\"chatt\""));
    assert_eq!(
        found[1].message,
        "route source `chat_ud` names no listener or handler"
    );
    assert_eq!(found[1].help.as_deref(), Some("did you mean `chat_udp`?"));
    assert_eq!(found[2].message, "`caht.messages` names no handler `caht`");
    assert_eq!(found[2].help.as_deref(), Some("did you mean `chat`?"));
    assert_eq!(
        found[3].message,
        "handler `chat` (plugin `chat`) has no port `mesages`"
    );
    assert_eq!(found[3].help.as_deref(), Some("did you mean `messages`?"));
    assert_at(found[3], pos(&text, "\"chat.mesages\""));
    assert_eq!(
        found[4].message,
        "handler `audit` (plugin `audit`) has no port `nothing_like_it`"
    );
    assert_eq!(
        found[4].help.as_deref(),
        Some("its ports: `events` or `alerts`")
    );
    // chat_udp's only route was dangling: it is routed to no handler.
    let unrouted = only(&e, DiagnosticKind::ListenerRouting);
    assert_eq!(
        unrouted.message,
        "listener `chat_udp` is routed to no handler"
    );
}

#[test]
fn listeners_routed_to_none_or_to_two_handlers() {
    let text = with(
        r#"    listeners: {
        "lonely": (kind: udp, bind: "127.0.0.1:1"),
        "greedy": (kind: udp, bind: "127.0.0.1:2"),
    },
    handlers: { "a": (plugin: "echo"), "b": (plugin: "echo") },
    routes: [(from: "greedy", to: "a"), (from: "greedy", to: "b")],"#,
    );
    let e = errors(&text);
    let found: Vec<_> = e
        .iter()
        .filter(|d| d.kind == DiagnosticKind::ListenerRouting)
        .collect();
    assert_eq!(found.len(), 2, "{e}");
    assert_eq!(
        found[0].message,
        "listener `lonely` is routed to no handler"
    );
    assert_at(found[0], pos(&text, "\"lonely\""));
    assert_eq!(
        found[1].message,
        "listener `greedy` is routed to more than one handler"
    );
    assert!(
        found[1]
            .help
            .as_deref()
            .unwrap_or("")
            .contains("handler `a`")
    );
    assert_at(found[1], pos(&text, "\"b\")"));
}

#[test]
fn a_name_used_by_a_listener_and_a_handler_is_refused() {
    let text = with(
        r#"    listeners: { "echo": (kind: udp, bind: "127.0.0.1:1") },
    handlers: { "echo": (plugin: "echo") },
    routes: [(from: "echo", to: "echo")],"#,
    );
    let d = only(&errors(&text), DiagnosticKind::BadName);
    assert_eq!(d.message, "`echo` names both a listener and a handler");
    assert_at(&d, pos_nth(&text, "\"echo\"", 1));
}

#[test]
fn listener_kinds_the_plugin_does_not_accept() {
    let text = with(
        r#"    listeners: {
        "u": (kind: udp, bind: "127.0.0.1:1"),
        "t": (kind: tcp, bind: "127.0.0.1:2"),
        "p": (kind: udp, bind: "127.0.0.1:3"),
    },
    handlers: { "files": (plugin: "files"), "chat": (plugin: "chat"), "pc": (plugin: "perconn") },
    routes: [(from: "u", to: "files"), (from: "t", to: "chat"), (from: "p", to: "pc")],"#,
    );
    let e = errors(&text);
    let found: Vec<_> = e
        .iter()
        .filter(|d| d.kind == DiagnosticKind::ListenerKind)
        .collect();
    assert_eq!(found.len(), 3, "{e}");
    assert_eq!(
        found[0].message,
        "listener `u` is udp, but handler `files` (plugin `files`) accepts only tcp listeners"
    );
    assert_at(found[0], pos(&text, "udp"));
    assert_eq!(
        found[1].message,
        "listener `t` is tcp, but handler `chat` (plugin `chat`) accepts only udp listeners"
    );
    assert_eq!(
        found[2].message,
        "listener `p` is udp, but plugin `perconn` (handler `pc`) runs one instance per connection"
    );
    assert_at(found[2], pos_nth(&text, "udp", 1));
}

#[test]
fn port_types_and_directions_must_match() {
    let text = with(
        r#"    listeners: {},
    handlers: { "chat": (plugin: "chat"), "audit": (plugin: "audit") },
    routes: [
        (from: "audit.alerts", to: "chat.inbox"),
        (from: "chat.inbox", to: "audit.events"),
        (from: "chat.messages", to: "audit.alerts"),
    ],"#,
    );
    let e = errors(&text);
    let mismatch = only(&e, DiagnosticKind::TypeMismatch);
    assert_eq!(
        mismatch.message,
        "type mismatch: `audit.alerts` emits `Alert` but `chat.inbox` accepts `ChatMessage`"
    );
    assert_at(&mismatch, pos(&text, "\"chat.inbox\")"));
    let direction: Vec<_> = e
        .iter()
        .filter(|d| d.kind == DiagnosticKind::BadRoute)
        .collect();
    assert_eq!(direction.len(), 2, "{e}");
    assert_eq!(
        direction[0].message,
        "direction mismatch: `chat.inbox` is an input port, and a route starts at an output port"
    );
    assert_at(direction[0], pos(&text, "\"chat.inbox\", to"));
    assert_eq!(
        direction[1].message,
        "direction mismatch: `audit.alerts` is an output port, and a route ends at an input port"
    );
}

#[test]
fn listeners_go_to_whole_handlers_and_handlers_route_from_ports() {
    let text = with(
        r#"    listeners: { "u": (kind: udp, bind: "127.0.0.1:1"), "v": (kind: udp, bind: "127.0.0.1:2") },
    handlers: { "chat": (plugin: "chat"), "audit": (plugin: "audit") },
    routes: [
        (from: "u", to: "chat.inbox"),
        (from: "v", to: "u"),
        (from: "chat", to: "audit.events"),
        (from: "chat.messages", to: "audit"),
        (from: "chat.messages", to: "v"),
        (from: "u.x", to: "audit.events"),
    ],"#,
    );
    let e = errors(&text);
    let bad: Vec<_> = e
        .iter()
        .filter(|d| d.kind == DiagnosticKind::BadRoute)
        .collect();
    let messages: Vec<&str> = bad.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "listener `u` is routed to a port, `chat.inbox`",
            "listener `v` is routed to listener `u`",
            "route from handler `chat` names no port",
            "route to handler `audit` names no port",
            "messages cannot be routed to listener `v`",
        ],
        "{e}"
    );
    assert_eq!(
        bad[0].help.as_deref(),
        Some("a listener is routed to a whole handler: `to: \"chat\"`")
    );
    assert_eq!(
        bad[2].help.as_deref(),
        Some("routes between handlers go from an output port: `chat.messages`")
    );
    assert_eq!(
        bad[3].help.as_deref(),
        Some("messages go to an input port: `audit.events`")
    );
    let from_listener = e
        .iter()
        .find(|d| d.message == "`u` is a listener, which has no ports");
    assert!(from_listener.is_some(), "{e}");
}

#[test]
fn a_cycle_is_reported_with_its_path() {
    let text = with(
        r#"    listeners: {},
    handlers: { "a": (plugin: "audit"), "b": (plugin: "audit"), "c": (plugin: "audit") },
    routes: [
        (from: "a.alerts", to: "b.events"),
        (from: "b.alerts", to: "c.events"),
        (from: "c.alerts", to: "a.events"),
    ],"#,
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e}");
    let d = only(&e, DiagnosticKind::Cycle);
    assert_eq!(d.message, "cycle in message routes: a -> b -> c -> a");
    assert_at(&d, pos(&text, "(from: \"c.alerts\""));
}

#[test]
fn a_route_repeated_is_reported() {
    let text = with(
        r#"    listeners: {},
    handlers: { "chat": (plugin: "chat"), "audit": (plugin: "audit") },
    routes: [(from: "chat.messages", to: "audit.events"), (from: "chat.messages", to: "audit.events")],"#,
    );
    let d = only(&errors(&text), DiagnosticKind::Duplicate);
    assert_eq!(d.message, "this route is given twice");
    assert_at(&d, pos_nth(&text, "(from: \"chat.messages\"", 1));
}

#[test]
fn two_listeners_on_one_address_conflict() {
    let text = with(
        r#"    listeners: {
        "a": (kind: udp, bind: "127.0.0.1:7007"),
        "b": (kind: udp, bind: "127.0.0.1:7007"),
        "c": (kind: tcp, bind: "127.0.0.1:7007"),
        "d": (kind: tcp, bind: "0.0.0.0:7007"),
        "e": (kind: udp, bind: "127.0.0.1:0"),
        "f": (kind: udp, bind: "127.0.0.1:0"),
        "g": (kind: tcp, bind: "[::]:7007"),
    },
    handlers: { "h": (plugin: "echo") },
    routes: [
        (from: "a", to: "h"), (from: "b", to: "h"), (from: "c", to: "h"), (from: "d", to: "h"),
        (from: "e", to: "h"), (from: "f", to: "h"), (from: "g", to: "h"),
    ],"#,
    );
    let e = errors(&text);
    let found: Vec<_> = e
        .iter()
        .filter(|d| d.kind == DiagnosticKind::AddressConflict)
        .collect();
    assert_eq!(found.len(), 2, "{e}");
    assert_eq!(
        found[0].message,
        "listener `b` claims udp address `127.0.0.1:7007`, already claimed by listener `a`"
    );
    assert_at(found[0], pos_nth(&text, "\"127.0.0.1:7007\"", 1));
    assert_eq!(
        found[1].message,
        "listener `d` claims tcp address `0.0.0.0:7007`, already claimed by listener `c`"
    );
    assert!(
        found[1]
            .help
            .as_deref()
            .unwrap_or("")
            .contains("unspecified IP")
    );
}

#[test]
fn two_semantic_errors_in_one_file_are_both_reported() {
    let text = with(
        r#"    listeners: { "u": (kind: udp, bind: "127.0.0.1:7007") },
    handlers: { "echo": (plugin: "echo"), "x": (plugin: "nosuch") },
    routes: [(from: "u", to: "echo"), (from: "echo.out", to: "ghost.in")],"#,
    );
    let e = errors(&text);
    // The plugin, and both ends of the bad route.
    assert_eq!(e.len(), 3, "{e}");
    let plugin = only(&e, DiagnosticKind::UnknownPlugin);
    assert_at(&plugin, pos(&text, "\"nosuch\""));
    let routes: Vec<_> = e
        .iter()
        .filter(|d| d.kind == DiagnosticKind::DanglingRoute)
        .collect();
    assert_eq!(
        routes[0].message,
        "handler `echo` (plugin `echo`) has no port `out`"
    );
    assert_eq!(routes[0].help.as_deref(), Some("its ports: nothing"));
    assert_at(routes[0], pos(&text, "\"echo.out\""));
    assert_eq!(routes[1].message, "`ghost.in` names no handler `ghost`");
    assert_at(routes[1], pos(&text, "\"ghost.in\""));
}

#[test]
fn reading_and_checking_errors_come_together_in_file_order() {
    let text = with(
        r#"    listeners: { "u": (kind: udp, bind: "127.0.0.1:7007", extra: 1) },
    handlers: { "echo": (plugin: "nosuch") },
    routes: [(from: "u", to: "ecko")],"#,
    );
    let e = errors(&text);
    let kinds: Vec<DiagnosticKind> = e.iter().map(|d| d.kind).collect();
    assert_eq!(
        kinds,
        [
            DiagnosticKind::ListenerRouting, // at the listener's name, before `extra`
            DiagnosticKind::UnknownField,
            DiagnosticKind::UnknownPlugin,
            DiagnosticKind::DanglingRoute
        ]
    );
    let lines: Vec<u32> = e.iter().map(|d| d.line).collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
}

#[test]
fn a_listener_route_repeated_is_a_duplicate_not_a_second_handler() {
    let text = with(
        r#"    listeners: { "u": (kind: udp, bind: "127.0.0.1:1") },
    handlers: { "h": (plugin: "echo") },
    routes: [(from: "u", to: "h"), (from: "u", to: "h")],"#,
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e}");
    let d = only(&e, DiagnosticKind::Duplicate);
    assert_at(&d, pos_nth(&text, "(from: \"u\"", 1));
}

#[test]
fn a_route_with_two_bad_port_names_reports_both() {
    let text = with(
        r#"    listeners: {},
    handlers: { "chat": (plugin: "chat"), "audit": (plugin: "audit") },
    routes: [(from: "chat.mesages", to: "audit.event")],"#,
    );
    let e = errors(&text);
    assert_eq!(e.len(), 2, "{e}");
    let found: Vec<_> = e.iter().collect();
    assert_at(found[0], pos(&text, "\"chat.mesages\""));
    assert_at(found[1], pos(&text, "\"audit.event\""));
    assert!(
        found[0]
            .help
            .as_deref()
            .is_some_and(|h| h.contains("messages")),
        "{e}"
    );
    assert!(
        found[1]
            .help
            .as_deref()
            .is_some_and(|h| h.contains("events")),
        "{e}"
    );
}

#[test]
fn a_value_check_naming_its_field_is_placed_at_that_value() {
    let text = with(
        r#"    listeners: {},
    handlers: {
        "s": (
            plugin: "strict",
            config: (
                name: "x",
                size: 1000,
            ),
        ),
    },"#,
    );
    let d = only(&errors(&text), DiagnosticKind::Config);
    assert_eq!(
        d.message,
        "invalid config for handler `s`: `size`: at most 100"
    );
    assert_at(&d, pos(&text, "1000"));
}
