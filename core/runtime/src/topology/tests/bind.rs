//! `bind` with host names, `dual_stack`, and the address clashes they can make.
//!
//! `localhost` and `.invalid` names go through the real resolver (`.invalid` never
//! resolves, RFC 6761); other names get fixed answers from [`Names`], so a name with
//! several addresses is tested the same on every machine.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;

use super::fake::{CWD, FakeCatalog, assert_at, compile_text, errors, only, pos};
use crate::topology::compile::compile_with;
use crate::topology::resolution::Resolve;
use crate::topology::{DiagnosticKind, SourceFile, Topology, TopologyErrors};

/// Names with fixed addresses; any other name fails as an unknown host would.
struct Names(HashMap<&'static str, Vec<&'static str>>);

impl Resolve for Names {
    fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        let ips = self.0.get(host).ok_or_else(|| {
            std::io::Error::other("failed to lookup address information: Name does not resolve")
        })?;
        Ok(ips
            .iter()
            .map(|ip| SocketAddr::new(ip.parse().unwrap(), port))
            .collect())
    }
}

/// `myhost.example`: an IPv6 and an IPv4 address, the IPv4 one listed twice (as
/// getaddrinfo does with one line per socket type); `empty.example`: no address.
fn names() -> Names {
    Names(HashMap::from([
        (
            "myhost.example",
            vec!["2001:db8::7", "192.0.2.7", "192.0.2.7"],
        ),
        ("empty.example", vec![]),
    ]))
}

fn compile_named(text: &str) -> Result<Topology, TopologyErrors> {
    compile_with(
        &SourceFile::new("file.ron", text),
        &FakeCatalog::default(),
        Path::new(CWD),
        &names(),
    )
}

/// A topology of `listeners` (RON map entries), all routed to one echo handler.
fn echo_on(listeners: &[(&str, &str)]) -> String {
    let defs: Vec<String> = listeners
        .iter()
        .map(|(name, def)| format!("        \"{name}\": {def},"))
        .collect();
    let routes: Vec<String> = listeners
        .iter()
        .map(|(name, _)| format!("(from: \"{name}\", to: \"h\")"))
        .collect();
    format!(
        "(\n    listeners: {{\n{}\n    }},\n    handlers: {{ \"h\": (plugin: \"echo\") }},\n    routes: [{}],\n)\n",
        defs.join("\n"),
        routes.join(", ")
    )
}

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn a_name_binds_every_address_it_resolves_to_once_each() {
    let text = echo_on(&[("u", r#"(kind: udp, bind: "myhost.example:69")"#)]);
    let t = compile_named(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        t.listeners[0].binds,
        vec![a("192.0.2.7:69"), a("[2001:db8::7]:69")]
    );
    assert!(!t.listeners[0].dual_stack);
}

#[test]
fn localhost_binds_exactly_what_the_system_resolver_answers() {
    let text = echo_on(&[("u", r#"(kind: udp, bind: "localhost:6969")"#)]);
    let t = compile_text(&text).unwrap_or_else(|e| panic!("{e}"));
    let mut expected: Vec<SocketAddr> = ("localhost", 6969).to_socket_addrs().unwrap().collect();
    expected.sort();
    expected.dedup();
    assert_eq!(t.listeners[0].binds, expected, "each once, IPv4 first");
    assert!(
        expected.contains(&a("127.0.0.1:6969")),
        "localhost resolves to 127.0.0.1 on every machine: {expected:?}"
    );
}

#[test]
fn a_literal_is_bound_as_written_without_the_resolver() {
    // `Names` knows no IP literal: a literal that reached it would fail to resolve.
    let text = echo_on(&[("u", r#"(kind: tcp, bind: "[fe80::1%2]:7")"#)]);
    let t = compile_named(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.listeners[0].binds, vec![a("[fe80::1%2]:7")]);
}

#[test]
fn a_name_that_does_not_resolve_is_an_error_at_its_bind_with_the_others() {
    let text = r#"(
    listeners: {
        "u": (kind: udp, bind: "nohost.invalid:69"),
        "t": (kind: tcp, bind: "other.invalid:70"),
    },
    handlers: { "h": (plugin: "nosuch") },
    routes: [(from: "u", to: "h"), (from: "t", to: "h")],
)
"#;
    // The real resolver: `.invalid` never resolves (RFC 6761).
    let e = errors(text);
    let unresolved: Vec<_> = e
        .iter()
        .filter(|d| d.kind == DiagnosticKind::Unresolved)
        .collect();
    assert_eq!(unresolved.len(), 2, "{e}");
    assert!(
        unresolved[0]
            .message
            .starts_with("host name `nohost.invalid` in `bind` of listener `u` does not resolve: "),
        "{}",
        unresolved[0].message
    );
    assert_at(unresolved[0], pos(text, "\"nohost.invalid:69\""));
    assert_at(unresolved[1], pos(text, "\"other.invalid:70\""));
    // Collected with the other errors, each shown as file:line:col.
    only(&e, DiagnosticKind::UnknownPlugin);
    let (line, col) = pos(text, "\"nohost.invalid:69\"");
    assert!(
        e.to_string().contains(&format!(
            "file.ron:{line}:{col}: host name `nohost.invalid`"
        )),
        "{e}"
    );

    // A name with no address at all is refused the same way.
    let text = echo_on(&[("u", r#"(kind: udp, bind: "empty.example:1")"#)]);
    let e = compile_named(&text).unwrap_err();
    let d = only(&e, DiagnosticKind::Unresolved);
    assert!(
        d.message.ends_with("does not resolve: it has no addresses"),
        "{}",
        d.message
    );
    assert_at(&d, pos(&text, "\"empty.example:1\""));
}

#[test]
fn dual_stack_is_only_for_an_ipv6_address() {
    let text = echo_on(&[
        ("six", r#"(kind: udp, bind: "[::]:0", dual_stack: true)"#),
        (
            "four",
            r#"(kind: udp, bind: "127.0.0.1:7", dual_stack: true)"#,
        ),
        (
            "name",
            r#"(kind: tcp, bind: "myhost.example:7", dual_stack: true)"#,
        ),
        (
            "off",
            r#"(kind: tcp, bind: "127.0.0.1:8", dual_stack: false)"#,
        ),
        ("bad", r#"(kind: tcp, bind: "[::1]:9", dual_stack: yes)"#),
    ]);
    let e = compile_named(&text).unwrap_err();
    let bad: Vec<_> = e
        .iter()
        .filter(|d| d.kind == DiagnosticKind::BadValue)
        .collect();
    assert_eq!(bad.len(), 3, "{e}");
    assert_eq!(
        bad[0].message,
        "`dual_stack` in listener `four` needs an IPv6 address; `127.0.0.1:7` is IPv4"
    );
    assert!(bad[0].help.as_deref().unwrap().contains("\"[::]:7\""));
    assert_at(bad[0], pos(&text, "true),\n        \"name\""));
    assert_eq!(
        bad[1].message,
        "`dual_stack` in listener `name` needs an IPv6 address, not the host name `myhost.example`"
    );
    assert_at(bad[1], pos(&text, "true),\n        \"off\""));
    assert!(
        bad[2]
            .message
            .starts_with("invalid `dual_stack` in listener `bad`"),
        "{}",
        bad[2].message
    );
    assert_at(bad[2], pos(&text, "yes"));
    assert_eq!(e.len(), 3, "nothing else is wrong: {e}");

    let ok = echo_on(&[("six", r#"(kind: udp, bind: "[::]:0", dual_stack: true)"#)]);
    let t = compile_named(&ok).unwrap_or_else(|e| panic!("{e}"));
    assert!(t.listeners[0].dual_stack);
}

#[test]
fn every_resolved_address_is_checked_for_clashes() {
    let text = echo_on(&[
        ("v4", r#"(kind: udp, bind: "192.0.2.7:69")"#),
        ("name", r#"(kind: udp, bind: "myhost.example:69")"#),
        ("tcp", r#"(kind: tcp, bind: "myhost.example:69")"#),
        ("v6", r#"(kind: udp, bind: "[2001:db8::7]:69")"#),
    ]);
    let e = compile_named(&text).unwrap_err();
    let found: Vec<_> = e
        .iter()
        .filter(|d| d.kind == DiagnosticKind::AddressConflict)
        .collect();
    assert_eq!(found.len(), 2, "{e}");
    assert_eq!(
        found[0].message,
        "listener `name` claims udp address `192.0.2.7:69`, already claimed by listener `v4`"
    );
    assert_eq!(
        found[0].help.as_deref(),
        Some("`myhost.example` resolves to `192.0.2.7:69`")
    );
    assert_at(found[0], pos(&text, "\"myhost.example:69\""));
    assert_eq!(
        found[1].message,
        "listener `v6` claims udp address `[2001:db8::7]:69`, already claimed by listener `name`"
    );
    assert_at(found[1], pos(&text, "\"[2001:db8::7]:69\""));
}

#[test]
fn a_dual_stack_wildcard_clashes_with_ipv4_and_an_ipv6_only_one_does_not() {
    let text = echo_on(&[
        ("v4", r#"(kind: tcp, bind: "0.0.0.0:7007")"#),
        ("v6only", r#"(kind: tcp, bind: "[::]:7007")"#),
        ("udp", r#"(kind: udp, bind: "[::]:7007", dual_stack: true)"#),
        (
            "dual",
            r#"(kind: tcp, bind: "[::]:7008", dual_stack: true)"#,
        ),
        ("lo", r#"(kind: tcp, bind: "127.0.0.1:7008")"#),
    ]);
    let e = errors(&text);
    let d = only(&e, DiagnosticKind::AddressConflict);
    assert_eq!(e.len(), 1, "{e}");
    assert_eq!(
        d.message,
        "listener `lo` claims tcp address `127.0.0.1:7008`, already claimed by listener `dual`"
    );
    assert!(
        d.help
            .as_deref()
            .unwrap()
            .contains("a dual-stack `[::]` every IPv4 address too"),
        "{:?}",
        d.help
    );
    assert_at(&d, pos(&text, "\"127.0.0.1:7008\""));
}
