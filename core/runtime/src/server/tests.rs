//! The server carrying plans out, with real sockets but no plugin: listeners without
//! handlers and the admin endpoint are enough to see prepare and switch at work.

use std::net::SocketAddr;
use std::time::Duration;

use slog::o;

use super::*;
use crate::server::plan::tests::listener_spec;
use crate::topology::{ListenerKind, ListenerSpec};

fn listener(name: &str, kind: ListenerKind, addr: SocketAddr) -> ListenerSpec {
    listener_spec(name, kind, vec![addr], "nobody")
}

fn topology(listeners: Vec<ListenerSpec>, admin: Option<SocketAddr>) -> Topology {
    Topology {
        listeners,
        handlers: Vec::new(),
        drain_timeout: Duration::from_secs(1),
        reload_drain_timeout: None,
        admin,
        admin_token: None,
        user: None,
        plugin_dirs: Vec::new(),
        access_log: None,
        storages: Vec::new(),
        bus: None,
        bus_inputs: Vec::new(),
    }
}

fn log() -> Logger {
    Logger::root(slog::Discard, o!())
}

fn local(server: &Server, listener: &str) -> SocketAddr {
    server.listeners[listener].sockets[0].local
}

#[test]
fn a_start_reports_every_address_it_cannot_bind() {
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let t = topology(
        vec![
            listener("u", ListenerKind::Udp, udp.local_addr().unwrap()),
            listener("t", ListenerKind::Tcp, tcp.local_addr().unwrap()),
        ],
        None,
    );
    let errors = Server::start(&t, &Catalog::new(Vec::new()), &log()).unwrap_err();
    let names: Vec<&str> = errors
        .iter()
        .map(|e| match e {
            StartError::Bind { listener, .. } => listener.as_str(),
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(names, ["u", "t"]);
}

#[test]
fn a_reload_keeps_sockets_and_moves_or_closes_the_admin_endpoint() {
    actix_rt::System::new().block_on(async {
        let catalog = Catalog::new(Vec::new());
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let first = topology(vec![listener("u", ListenerKind::Udp, any)], Some(any));
        let mut server = Server::start(&first, &catalog, &log()).unwrap();
        let bound = local(&server, "u");

        assert_eq!(
            server.reload(&first, &catalog).unwrap(),
            ReloadSummary::default()
        );
        assert_eq!(local(&server, "u"), bound, "port 0 kept its socket");
        assert_eq!(server.admin.as_ref().map(|a| a.addr), Some(any));

        // Renamed and pinned to the port picked: the same socket, under the new name.
        let pinned = topology(vec![listener("v", ListenerKind::Udp, bound)], None);
        server.reload(&pinned, &catalog).unwrap();
        assert_eq!(local(&server, "v"), bound);
        assert!(!server.listeners["v"].sockets[0].fresh);
        assert!(server.admin.is_none(), "removing `admin` closes it");

        // A refused reload changes nothing.
        let taken = std::net::TcpListener::bind(any).unwrap();
        let mut refused = pinned.clone();
        refused.admin = Some(taken.local_addr().unwrap());
        refused.listeners[0].name = "w".into();
        assert_eq!(server.reload(&refused, &catalog).unwrap_err().0.len(), 1);
        assert!(server.listeners.contains_key("v") && server.admin.is_none());
    });
}
