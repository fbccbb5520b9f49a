//! The rules of a reload, on plain data: no sockets, no plugins.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::topology::{
    Limits, ListenerKind, ListenerSpec, PluginDescription, RestartPolicy, StorageKind,
};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A handler of plugin `echo`, with the defaults (also used by `prepare`'s tests).
pub(in crate::server) fn handler(name: &str, listeners: &[&str]) -> HandlerSpec {
    HandlerSpec {
        name: name.into(),
        plugin: PluginDescription {
            name: "echo".into(),
            path: PathBuf::from("/plugins/libswitchyard_echo.so"),
            version: "1".into(),
            listener_kinds: 3,
            instance_mode: 0,
            ports: Vec::new(),
            storage: StorageKind::Served,
            sharding: 0,
            storage_waits: false,
        },
        root: None,
        object_storage: None,
        symlinks: Default::default(),
        config_text: String::new(),
        create_dirs: Vec::new(),
        busy_poll: Duration::ZERO,
        workers: 1,
        restart: RestartPolicy::default(),
        limits: Limits::default(),
        listeners: listeners.iter().map(|l| l.to_string()).collect(),
        outputs: Vec::new(),
        bus_outputs: Vec::new(),
    }
}

fn listener(name: &str, kind: ListenerKind, binds: &[&str], handler: &str) -> ListenerSpec {
    let binds = binds.iter().map(|b| addr(b)).collect();
    listener_spec(name, kind, binds, handler)
}

/// A listener of `handler` on `binds` (also used by `prepare`'s and the server's tests).
pub(in crate::server) fn listener_spec(
    name: &str,
    kind: ListenerKind,
    binds: Vec<SocketAddr>,
    handler: &str,
) -> ListenerSpec {
    ListenerSpec {
        name: name.into(),
        kind,
        binds,
        dual_stack: false,
        handler: handler.into(),
    }
}

fn topology(handlers: Vec<HandlerSpec>, listeners: Vec<ListenerSpec>) -> Topology {
    Topology {
        listeners,
        handlers,
        drain_timeout: Duration::from_secs(10),
        reload_drain_timeout: None,
        admin: None,
        admin_token: None,
        user: None,
        plugin_dirs: Vec::new(),
        access_log: None,
        storages: Vec::new(),
        bus: None,
        bus_inputs: Vec::new(),
    }
}

/// `echo` on a UDP listener, `chat` on a TCP one, both bound to fixed ports.
fn two_handlers() -> Topology {
    topology(
        vec![
            handler("echo", &["echo_udp"]),
            handler("chat", &["chat_tcp"]),
        ],
        vec![
            listener("echo_udp", ListenerKind::Udp, &["127.0.0.1:7000"], "echo"),
            listener("chat_tcp", ListenerKind::Tcp, &["127.0.0.1:7001"], "chat"),
        ],
    )
}

/// Every handler on library 1, every socket bound where it asked (port 0 as `:40000`).
fn running(t: &Topology) -> Running<'_> {
    Running {
        handlers: t
            .handlers
            .iter()
            .map(|spec| RunningHandler {
                spec,
                library: LibraryId(1),
                stopped: false,
            })
            .collect(),
        listeners: t
            .listeners
            .iter()
            .map(|spec| RunningListener {
                spec,
                sockets: spec
                    .binds
                    .iter()
                    .map(|&wanted| {
                        let mut local = wanted;
                        if local.port() == 0 {
                            local.set_port(40000);
                        }
                        SocketAddrs { wanted, local }
                    })
                    .collect(),
            })
            .collect(),
        admin: t.admin,
    }
}

/// Library 1 for every handler of `t`.
fn libraries(t: &Topology) -> HashMap<String, LibraryId> {
    t.handlers
        .iter()
        .map(|h| (h.name.clone(), LibraryId(1)))
        .collect()
}

fn reuse(listener: &str, local: &str) -> SocketStep {
    SocketStep::Reuse {
        listener: listener.into(),
        index: 0,
        local: addr(local),
    }
}

fn summary(kept: &[&str], started: &[&str], replaced: &[&str], retired: &[&str]) -> ReloadSummary {
    let v = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
    ReloadSummary {
        kept: v(kept),
        started: v(started),
        replaced: v(replaced),
        retired: v(retired),
    }
}

#[test]
fn nothing_changed_keeps_everything() {
    let old = two_handlers();
    let new = two_handlers();
    let plan = ReloadPlan::new(&running(&old), &new, &libraries(&new));
    assert_eq!(plan.summary(), summary(&["echo", "chat"], &[], &[], &[]));
    assert_eq!(
        plan.listeners[0].sockets,
        vec![reuse("echo_udp", "127.0.0.1:7000")]
    );
    assert_eq!(
        plan.listeners[1].sockets,
        vec![reuse("chat_tcp", "127.0.0.1:7001")]
    );
    assert!(plan.closed.is_empty());
    assert!(plan.roots.is_empty());
    assert_eq!(plan.admin, AdminStep::Absent);
}

#[test]
fn from_nothing_everything_starts_and_binds() {
    let mut new = two_handlers();
    new.handlers[0].root = Some("/srv/data".into());
    new.admin = Some(addr("127.0.0.1:9100"));
    let plan = ReloadPlan::new(&Running::default(), &new, &libraries(&new));
    assert_eq!(plan.summary(), summary(&[], &["echo", "chat"], &[], &[]));
    assert!(
        plan.listeners
            .iter()
            .all(|l| l.sockets == [SocketStep::Bind])
    );
    assert_eq!(plan.roots, ["echo"]);
    assert_eq!(plan.admin, AdminStep::Open(addr("127.0.0.1:9100")));
}

#[test]
fn a_changed_config_replaces_that_handler_only_on_the_same_socket() {
    let mut old = two_handlers();
    old.handlers[0].root = Some("/srv/echo".into());
    old.handlers[1].root = Some("/srv/chat".into());
    let mut new = old.clone();
    new.handlers[1].config_text = "(motd: \"hi\")".into();
    let plan = ReloadPlan::new(&running(&old), &new, &libraries(&new));
    assert_eq!(plan.summary(), summary(&["echo"], &[], &["chat"], &[]));
    assert_eq!(plan.step("chat"), Some(HandlerStep::Replace));
    // The unchanged listener of the replaced handler hands over its socket.
    assert_eq!(
        plan.listeners[1].sockets,
        vec![reuse("chat_tcp", "127.0.0.1:7001")]
    );
    assert_eq!(
        plan.roots,
        ["chat"],
        "a root is opened for what starts only"
    );
    assert!(plan.closed.is_empty());
}

#[test]
fn a_removed_handler_retires_and_its_socket_closes() {
    let old = two_handlers();
    let mut new = two_handlers();
    new.handlers.remove(1);
    new.listeners.remove(1);
    let plan = ReloadPlan::new(&running(&old), &new, &libraries(&new));
    assert_eq!(plan.summary(), summary(&["echo"], &[], &[], &["chat"]));
    assert_eq!(plan.closed, [addr("127.0.0.1:7001")]);
}

#[test]
fn an_added_handler_starts_on_a_new_socket() {
    let old = two_handlers();
    let mut new = two_handlers();
    new.handlers.push(handler("files", &["files_tcp"]));
    new.listeners.push(listener(
        "files_tcp",
        ListenerKind::Tcp,
        &["127.0.0.1:7002"],
        "files",
    ));
    let plan = ReloadPlan::new(&running(&old), &new, &libraries(&new));
    assert_eq!(
        plan.summary(),
        summary(&["echo", "chat"], &["files"], &[], &[])
    );
    assert_eq!(plan.listeners[2].sockets, [SocketStep::Bind]);
}

#[test]
fn a_stopped_handler_is_replaced_even_when_unchanged() {
    let old = two_handlers();
    let new = two_handlers();
    let mut view = running(&old);
    view.handlers[0].stopped = true;
    let plan = ReloadPlan::new(&view, &new, &libraries(&new));
    assert_eq!(plan.summary(), summary(&["chat"], &[], &["echo"], &[]));
}

#[test]
fn a_changed_library_replaces_the_handler() {
    let old = two_handlers();
    let new = two_handlers();
    let mut libs = libraries(&new);
    libs.insert("chat".into(), LibraryId(2));
    let plan = ReloadPlan::new(&running(&old), &new, &libs);
    assert_eq!(plan.summary(), summary(&["echo"], &[], &["chat"], &[]));
    // A library that did not load counts as changed too.
    libs.remove("echo");
    let plan = ReloadPlan::new(&running(&old), &new, &libs);
    assert_eq!(plan.summary(), summary(&[], &[], &["echo", "chat"], &[]));
}

#[test]
fn a_moved_listener_replaces_its_handler_and_binds_the_new_address() {
    let old = two_handlers();
    let mut new = two_handlers();
    new.listeners[0].binds = vec![addr("127.0.0.1:7100")];
    let plan = ReloadPlan::new(&running(&old), &new, &libraries(&new));
    assert_eq!(plan.summary(), summary(&["chat"], &[], &["echo"], &[]));
    assert_eq!(plan.listeners[0].sockets, [SocketStep::Bind]);
    assert_eq!(plan.closed, [addr("127.0.0.1:7000")]);
}

#[test]
fn a_renamed_listener_keeps_its_socket_but_replaces_its_handler() {
    let old = two_handlers();
    let mut new = two_handlers();
    new.listeners[0].name = "udp".into();
    new.handlers[0].listeners = vec!["udp".into()];
    let plan = ReloadPlan::new(&running(&old), &new, &libraries(&new));
    assert_eq!(plan.summary(), summary(&["chat"], &[], &["echo"], &[]));
    assert_eq!(
        plan.listeners[0].sockets,
        vec![reuse("echo_udp", "127.0.0.1:7000")],
        "an ip:P is taken over under any name"
    );
    assert!(plan.closed.is_empty());
}

#[test]
fn an_address_changes_socket_with_its_kind_or_dual_stack_mode() {
    let old = topology(
        vec![handler("h", &["l"])],
        vec![listener("l", ListenerKind::Tcp, &["[::]:7000"], "h")],
    );
    let mut udp = old.clone();
    udp.listeners[0].kind = ListenerKind::Udp;
    let plan = ReloadPlan::new(&running(&old), &udp, &libraries(&udp));
    assert_eq!(plan.listeners[0].sockets, [SocketStep::Bind]);
    let mut dual = old.clone();
    dual.listeners[0].dual_stack = true;
    let plan = ReloadPlan::new(&running(&old), &dual, &libraries(&dual));
    assert_eq!(plan.listeners[0].sockets, [SocketStep::Bind]);
    assert_eq!(plan.closed, [addr("[::]:7000")]);
}

#[test]
fn port_zero_is_taken_over_by_the_same_listener_only() {
    let old = topology(
        vec![handler("h", &["l"])],
        vec![listener("l", ListenerKind::Udp, &["127.0.0.1:0"], "h")],
    );
    let plan = ReloadPlan::new(&running(&old), &old, &libraries(&old));
    assert_eq!(plan.summary(), summary(&["h"], &[], &[], &[]));
    assert_eq!(plan.listeners[0].sockets, [reuse("l", "127.0.0.1:40000")]);

    // Another name asking for port 0 gets its own ephemeral port...
    let mut renamed = old.clone();
    renamed.listeners[0].name = "m".into();
    renamed.handlers[0].listeners = vec!["m".into()];
    let plan = ReloadPlan::new(&running(&old), &renamed, &libraries(&renamed));
    assert_eq!(plan.listeners[0].sockets, [SocketStep::Bind]);
    assert_eq!(plan.closed, [addr("127.0.0.1:40000")]);

    // ...while naming the port that was picked takes the socket over.
    let mut pinned = renamed.clone();
    pinned.listeners[0].binds = vec![addr("127.0.0.1:40000")];
    let plan = ReloadPlan::new(&running(&old), &pinned, &libraries(&pinned));
    assert_eq!(plan.listeners[0].sockets, [reuse("l", "127.0.0.1:40000")]);
}

#[test]
fn a_port_zero_listener_gaining_an_address_binds_it_on_its_port() {
    let old = topology(
        vec![handler("h", &["l"])],
        vec![listener("l", ListenerKind::Udp, &["127.0.0.1:0"], "h")],
    );
    let mut grown = old.clone();
    grown.listeners[0].binds.push(addr("[::1]:0"));
    let plan = ReloadPlan::new(&running(&old), &grown, &libraries(&grown));
    assert_eq!(
        plan.listeners[0].sockets,
        [reuse("l", "127.0.0.1:40000"), SocketStep::Bind]
    );
    assert_eq!(plan.listeners[0].kept_port(), Some(40000));
    assert_eq!(plan.summary(), summary(&[], &[], &["h"], &[]));
}

#[test]
fn the_admin_endpoint_is_opened_kept_rebound_or_closed() {
    let (a, b) = (addr("127.0.0.1:9100"), addr("127.0.0.1:9101"));
    let step = |before: Option<SocketAddr>, after: Option<SocketAddr>| {
        let mut old = two_handlers();
        old.admin = before;
        let mut new = two_handlers();
        new.admin = after;
        let plan = ReloadPlan::new(&running(&old), &new, &libraries(&new));
        assert_eq!(
            plan.summary().kept.len(),
            2,
            "the admin endpoint is no handler"
        );
        plan.admin
    };
    assert_eq!(step(None, None), AdminStep::Absent);
    assert_eq!(step(None, Some(a)), AdminStep::Open(a));
    assert_eq!(step(Some(a), Some(a)), AdminStep::Keep(a));
    assert_eq!(step(Some(a), Some(b)), AdminStep::Rebind { from: a, to: b });
    assert_eq!(step(Some(a), None), AdminStep::Close(a));
    assert_eq!(AdminStep::Rebind { from: a, to: b }.to_bind(), Some(b));
    assert!(AdminStep::Close(a).closes_running() && !AdminStep::Keep(a).closes_running());
}
