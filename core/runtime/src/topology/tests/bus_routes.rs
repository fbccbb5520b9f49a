//! Routes between ports and bus subjects: what they compile to, and each mistake at
//! the end where it is written.

use super::fake::{assert_at, compile_text, errors, only, pos, pos_nth};
use crate::topology::{BusInputRoute, BusOutputRoute, DiagnosticKind};

/// `chat` (out `messages: ChatMessage`, in `inbox: ChatMessage`) and `audit` (in
/// `events: *`, out `alerts: Alert`), a bus, and `routes`.
fn layout(routes: &str) -> String {
    layout_with(
        "Some((kind: nats, servers: [\"nats://127.0.0.1:4222\"], name: \"a\"))",
        routes,
    )
}

fn layout_with(bus: &str, routes: &str) -> String {
    format!(
        r#"(
    bus: {bus},
    listeners: {{ "u": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{
        "chat": (plugin: "chat"),
        "audit": (plugin: "audit", root: Some("./state")),
    }},
    routes: [
        (from: "u", to: "chat"),
{routes}
    ],
)
"#
    )
}

#[test]
fn routes_to_and_from_subjects_compile_with_their_types() {
    let text = layout(
        r#"        (from: "chat.messages", to: "bus:chat.lines"),
        (from: "bus:chat.lines", to: "audit.events"),
        (from: "bus:chat.lines", to: "chat.inbox"),
        (from: "bus:alerts", to: "audit.events", own: true),"#,
    );
    let t = compile_text(&text).expect("valid");
    assert_eq!(
        t.handlers[0].bus_outputs,
        vec![BusOutputRoute {
            port: 0,
            subject: "chat.lines".into(),
            type_name: "ChatMessage".into()
        }]
    );
    assert!(t.handlers[1].bus_outputs.is_empty());
    let input = |subject: &str, handler: &str, port, type_name: &str, own| BusInputRoute {
        subject: subject.into(),
        handler: handler.into(),
        port,
        type_name: type_name.into(),
        own,
    };
    assert_eq!(
        t.bus_inputs,
        vec![
            input("chat.lines", "audit", 0, "*", false),
            input("chat.lines", "chat", 1, "ChatMessage", false),
            input("alerts", "audit", 0, "*", true),
        ]
    );
}

#[test]
fn a_subject_carries_one_type_checked_like_a_route_between_handlers() {
    // Audit's alerts are `Alert`; chat's inbox takes `ChatMessage`.
    let text = layout(
        r#"        (from: "audit.alerts", to: "bus:x"),
        (from: "bus:x", to: "audit.events"),
        (from: "bus:x", to: "chat.inbox"),"#,
    );
    let d = only(&errors(&text), DiagnosticKind::TypeMismatch);
    assert_at(&d, pos_nth(&text, "\"chat.inbox\"", 0));
    assert!(
        d.message
            .contains("bus subject `x` carries `Alert` (from `audit.alerts`)")
            && d.message.contains("`chat.inbox` accepts `ChatMessage`"),
        "{}",
        d.message
    );
    // Two publishers of different types on one subject.
    let text = layout(
        r#"        (from: "audit.alerts", to: "bus:y"),
        (from: "chat.messages", to: "bus:y"),"#,
    );
    let d = only(&errors(&text), DiagnosticKind::TypeMismatch);
    assert_at(&d, pos(&text, "\"chat.messages\""));
}

#[test]
fn bus_ends_without_a_bus_or_malformed_are_reported_where_written() {
    let text = layout_with(
        "None",
        r#"        (from: "chat.messages", to: "bus:chat.lines"),"#,
    );
    let d = only(&errors(&text), DiagnosticKind::BadRoute);
    assert_at(&d, pos(&text, "\"bus:chat.lines\""));
    assert!(d.message.contains("no `bus`"), "{}", d.message);
    let text = layout(r#"        (from: "chat.messages", to: "bus:chat..lines"),"#);
    let d = only(&errors(&text), DiagnosticKind::BadRoute);
    assert_at(&d, pos(&text, "\"bus:chat..lines\""));
    let text = layout(r#"        (from: "bus:a", to: "bus:b"),"#);
    assert_at(
        &only(&errors(&text), DiagnosticKind::BadRoute),
        pos(&text, "\"bus:b\""),
    );
    let text = layout(r#"        (from: "chat", to: "bus:b"),"#);
    let d = only(&errors(&text), DiagnosticKind::BadRoute);
    assert!(d.message.contains("names no output port"), "{}", d.message);
    // Direction and unknown ports, as for routes between handlers.
    let text = layout(r#"        (from: "bus:a", to: "chat.messages"),"#);
    assert_at(
        &only(&errors(&text), DiagnosticKind::BadRoute),
        pos(&text, "\"chat.messages\""),
    );
    let text = layout(r#"        (from: "chat.mesages", to: "bus:a"),"#);
    let d = only(&errors(&text), DiagnosticKind::DanglingRoute);
    assert_eq!(d.help.as_deref(), Some("did you mean `messages`?"));
}

#[test]
fn own_only_on_routes_from_the_bus_and_repeats_refused() {
    let text = layout(r#"        (from: "chat.messages", to: "audit.events", own: true),"#);
    assert_at(
        &only(&errors(&text), DiagnosticKind::BadValue),
        pos(&text, "true"),
    );
    let text = layout(
        r#"        (from: "chat.messages", to: "bus:a"),
        (from: "chat.messages", to: "bus:a"),"#,
    );
    only(&errors(&text), DiagnosticKind::Duplicate);
}

#[test]
fn a_subject_delivered_back_to_its_own_publisher_is_a_cycle() {
    let text = layout(
        r#"        (from: "chat.messages", to: "bus:loop"),
        (from: "bus:loop", to: "chat.inbox", own: true),"#,
    );
    let d = only(&errors(&text), DiagnosticKind::Cycle);
    assert!(d.message.contains("chat -> chat"), "{}", d.message);
    // Without `own`, the host never gets its own messages back: no loop.
    let text = layout(
        r#"        (from: "chat.messages", to: "bus:loop"),
        (from: "bus:loop", to: "chat.inbox"),"#,
    );
    assert!(compile_text(&text).is_ok());
}
