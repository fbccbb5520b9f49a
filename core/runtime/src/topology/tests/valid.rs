//! Topologies that compile, and exactly what they compile to.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::fake::{CWD, FakeCatalog, compile_text, plugin};
use crate::topology::compile::compile_in;
use crate::topology::{
    HandlerSpec, Limits, ListenerKind, ListenerSpec, OutputRoute, RestartPolicy, SourceFile,
    Topology,
};

const FULL: &str = r#"
// A topology with every feature.
(
    plugin_dirs: ["plugins", "/opt/switchyard"],
    plugins: { "echo": "target/debug/libswitchyard_echo.so" },
    drain_timeout_secs: 3,
    reload_drain_timeout_secs: 120,
    listeners: {
        "echo_udp": (kind: udp, bind: "127.0.0.1:7007"),
        "echo_tcp": (kind: tcp, bind: "[::]:7008", dual_stack: true),
        "chat_udp": (kind: udp, bind: "0.0.0.0:0"),
    },
    handlers: {
        "echo": (
            plugin: "echo",
            root: Some("./data"),
            config: (prefix: "> "),
            busy_poll_us: 40,
            restart: (max_restarts: 2, within_secs: 30),
            limits: (max_connections: 10, max_connections_per_ip: 2, max_write_buffer: 4096, refusal: Some("ERR 503 busy")),
        ),
        "chat": (plugin: "chat", config: ()),
        "audit": (plugin: "audit", limits: (max_connections: 5)),
    },
    routes: [
        (from: "echo_udp", to: "echo"),
        (from: "echo_tcp", to: "echo"),
        (from: "chat_udp", to: "chat"),
        (from: "chat.messages", to: "audit.events"),
    ],
)
"#;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn a_full_topology_compiles_to_the_expected_graph() {
    let t = compile_text(FULL).unwrap_or_else(|e| panic!("{e}"));
    let cwd = PathBuf::from(CWD);
    assert_eq!(
        t.listeners,
        vec![
            ListenerSpec {
                name: "echo_udp".into(),
                kind: ListenerKind::Udp,
                binds: vec![addr("127.0.0.1:7007")],
                dual_stack: false,
                handler: "echo".into()
            },
            ListenerSpec {
                name: "echo_tcp".into(),
                kind: ListenerKind::Tcp,
                binds: vec![addr("[::]:7008")],
                dual_stack: true,
                handler: "echo".into()
            },
            ListenerSpec {
                name: "chat_udp".into(),
                kind: ListenerKind::Udp,
                binds: vec![addr("0.0.0.0:0")],
                dual_stack: false,
                handler: "chat".into()
            },
        ]
    );
    assert_eq!(
        t.handlers[0],
        HandlerSpec {
            name: "echo".into(),
            plugin: plugin("echo").unwrap(),
            root: Some(cwd.join("data")),
            object_storage: None,
            symlinks: Default::default(),
            config_text: "(prefix: \"> \")".into(),
            create_dirs: Vec::new(),
            busy_poll: Duration::from_micros(40),
            workers: 1,
            restart: RestartPolicy {
                max_restarts: 2,
                within: Duration::from_secs(30)
            },
            limits: Limits {
                max_connections: 10,
                max_connections_per_ip: 2,
                max_write_buffer: 4096,
                refusal: Some("ERR 503 busy".into()),
            },
            listeners: vec!["echo_udp".into(), "echo_tcp".into()],
            outputs: vec![],
            bus_outputs: vec![],
        }
    );
    let chat = &t.handlers[1];
    assert_eq!(
        (
            chat.name.as_str(),
            chat.config_text.as_str(),
            chat.root.as_ref()
        ),
        ("chat", "()", None)
    );
    assert_eq!(chat.restart, RestartPolicy::default());
    assert_eq!(chat.listeners, vec!["chat_udp".to_string()]);
    assert_eq!(
        chat.outputs,
        vec![OutputRoute {
            port: 0,
            to_handler: "audit".into(),
            to_port: 0,
            type_name: "ChatMessage".into()
        }]
    );
    let audit = &t.handlers[2];
    assert_eq!(audit.config_text, "", "no config: empty text");
    assert_eq!(
        audit.limits,
        Limits {
            max_connections: 5,
            ..Limits::default()
        }
    );
    assert!(audit.listeners.is_empty() && audit.outputs.is_empty());
    assert_eq!(t.drain_timeout, Duration::from_secs(3));
    assert_eq!(t.reload_drain_timeout, Some(Duration::from_secs(120)));
    assert_eq!(
        t.plugin_dirs,
        vec![cwd.join("plugins"), PathBuf::from("/opt/switchyard")]
    );
}

#[test]
fn plugins_are_described_once_with_resolved_explicit_paths_and_dirs() {
    let catalog = FakeCatalog::default();
    let text = FULL
        .replace(
            r#""audit": (plugin: "audit", limits: (max_connections: 5)),"#,
            r#""echo2": (plugin: "echo"),"#,
        )
        .replace(r#"(from: "chat.messages", to: "audit.events"),"#, "");
    compile_in(
        &SourceFile::new("f.ron", text),
        &catalog,
        std::path::Path::new(CWD),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let calls = catalog.described.borrow();
    let names: Vec<&str> = calls.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, ["echo", "chat"], "each plugin described once");
    let cwd = PathBuf::from(CWD);
    assert_eq!(
        calls[0].1,
        Some(cwd.join("target/debug/libswitchyard_echo.so"))
    );
    assert_eq!(calls[1].1, None);
    assert_eq!(
        calls[0].2,
        vec![cwd.join("plugins"), PathBuf::from("/opt/switchyard")]
    );
}

#[test]
fn defaults_apply_when_optional_parts_are_absent() {
    let t = compile_text(
        r#"(listeners: { "u": (kind: udp, bind: "[::]:0") }, handlers: { "h": (plugin: "echo") }, routes: [(from: "u", to: "h")])"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.drain_timeout, Duration::from_secs(10));
    assert_eq!(
        t.reload_drain_timeout, None,
        "retired instances keep their sessions"
    );
    assert!(t.plugin_dirs.is_empty());
    assert_eq!(
        t.handlers[0].restart,
        RestartPolicy {
            max_restarts: 5,
            within: Duration::from_secs(10)
        }
    );
    assert_eq!(
        t.handlers[0].limits,
        Limits {
            max_connections: 1024,
            max_connections_per_ip: 64,
            max_write_buffer: 8 * 1024 * 1024,
            refusal: None,
        }
    );
    assert_eq!(t.listeners[0].binds, vec![addr("[::]:0")]);
    assert!(!t.listeners[0].dual_stack, "IPv6-only unless asked");
}

#[test]
fn ipv6_binds_parse_with_and_without_scope_and_port_zero_twice_is_fine() {
    let t = compile_text(
        r#"(
        listeners: {
            "a": (kind: tcp, bind: "[::1]:0"),
            "b": (kind: tcp, bind: "[::1]:0"),
            "c": (kind: udp, bind: "[fe80::1%2]:9000"),
            "d": (kind: udp, bind: "[2001:db8::7]:9000"),
        },
        handlers: { "h": (plugin: "echo") },
        routes: [(from: "a", to: "h"), (from: "b", to: "h"), (from: "c", to: "h"), (from: "d", to: "h")],
    )"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let binds: Vec<SocketAddr> = t.listeners.iter().flat_map(|l| l.binds.clone()).collect();
    assert_eq!(
        binds,
        vec![
            addr("[::1]:0"),
            addr("[::1]:0"),
            addr("[fe80::1%2]:9000"),
            addr("[2001:db8::7]:9000")
        ]
    );
    assert_eq!(t.handlers[0].listeners, vec!["a", "b", "c", "d"]);
}

#[test]
fn root_may_be_a_bare_string_or_none() {
    let text = |root: &str| {
        format!(r#"(listeners: {{}}, handlers: {{ "h": (plugin: "echo", root: {root}) }})"#)
    };
    let root_of = |root: &str| {
        compile_text(&text(root))
            .unwrap_or_else(|e| panic!("{e}"))
            .handlers[0]
            .root
            .clone()
    };
    assert_eq!(root_of("\"/var/data\""), Some(PathBuf::from("/var/data")));
    assert_eq!(
        root_of("Some(\"rel\")"),
        Some(PathBuf::from(CWD).join("rel"))
    );
    assert_eq!(root_of("None"), None);
}

#[test]
fn a_fan_out_and_a_chain_without_loops_compile() {
    let t: Topology = compile_text(
        r#"(
        listeners: { "u": (kind: udp, bind: "127.0.0.1:6000") },
        handlers: { "chat": (plugin: "chat"), "a1": (plugin: "audit"), "a2": (plugin: "audit") },
        routes: [
            (from: "u", to: "chat"),
            (from: "chat.messages", to: "a1.events"),
            (from: "chat.messages", to: "a2.events"),
            (from: "a1.alerts", to: "a2.events"),
        ],
    )"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let to: Vec<&str> = t.handlers[0]
        .outputs
        .iter()
        .map(|o| o.to_handler.as_str())
        .collect();
    assert_eq!(to, ["a1", "a2"]);
    assert_eq!(
        t.handlers[1].outputs,
        vec![OutputRoute {
            port: 1,
            to_handler: "a2".into(),
            to_port: 0,
            type_name: "Alert".into()
        }]
    );
}

#[test]
fn compiled_topologies_compare_for_reload_diffs() {
    let a = compile_text(FULL).unwrap_or_else(|e| panic!("{e}"));
    let b = compile_text(&FULL.replace("prefix: \"> \"", "prefix: \"# \""))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.listeners, b.listeners);
    assert_ne!(
        a.handlers[0], b.handlers[0],
        "a config change changes the handler"
    );
    assert_eq!(a.handlers[1..], b.handlers[1..]);
}

/// Every plugin unknown: only the reading stage and the listener routing are checked.
#[derive(Debug)]
struct NoPlugins;

impl crate::topology::PluginCatalog for NoPlugins {
    fn describe(
        &self,
        name: &str,
        _: Option<&std::path::Path>,
        _: &[PathBuf],
    ) -> Result<crate::topology::PluginDescription, crate::topology::PluginProblem> {
        Err(crate::topology::PluginProblem::new(
            crate::topology::LoadFailure::NotFound,
            format!("no `{name}` in this test"),
        ))
    }

    fn check_config(
        &self,
        _: &crate::topology::PluginDescription,
        _: &str,
    ) -> Vec<crate::topology::ConfigDiagnostic> {
        Vec::new()
    }
}

#[test]
fn the_repository_topologies_read_cleanly() {
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let mut files = vec![config.join("topology.ron")];
    for entry in std::fs::read_dir(config.join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ron") {
            files.push(path);
        }
    }
    for file in files {
        let src = crate::topology::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let Err(e) = compile_in(&src, &NoPlugins, std::path::Path::new(CWD)) else {
            continue;
        };
        let other: Vec<_> = e
            .iter()
            .filter(|d| d.kind != crate::topology::DiagnosticKind::UnknownPlugin)
            .collect();
        assert!(other.is_empty(), "{}: {other:#?}", file.display());
    }
}

#[test]
fn plugin_names_may_hold_dots_and_explicit_paths_reach_the_catalog() {
    let catalog = FakeCatalog::default();
    let text = r#"(plugins: { "echo.v2": "libs/echo.so" }, listeners: {}, handlers: { "h": (plugin: "echo") })"#;
    compile_in(
        &SourceFile::new("f.ron", text),
        &catalog,
        std::path::Path::new(CWD),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        catalog.described.borrow()[0].1,
        None,
        "`echo.v2` is another plugin"
    );
}
