//! Turning a compiled topology into running actors, and draining them.
//!
//! Listener sockets are bound first, all of them, before any actor starts: a taken
//! port or a bad address fails the start with the listener's name, and nothing is left
//! half-running. Then one [`InstanceActor`] per handler starts with its sockets.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix::{Actor, Addr};
use slog::{Logger, info, o};
use socket2::{Domain, Protocol, Socket, Type};

use crate::actor::{
    Busy, Drain, HandlerLimits, HandlerPlan, InstanceActor, OutputRoute, Registry, RestartPolicy, Shared,
};
use crate::catalog::Catalog;
use crate::storage::Root;
use crate::topology::{ListenerKind, Topology};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener's address could not be bound (in use, not local, no permission).
    #[error("listener `{listener}` cannot bind {addr}: {source}")]
    Bind { listener: String, addr: SocketAddr, source: std::io::Error },
    /// A handler's storage root could not be opened or created.
    #[error("handler `{handler}`: storage root {root}: {reason}")]
    Root { handler: String, root: String, reason: String },
    /// A plugin named by the topology could not be loaded (it was at validation).
    #[error("handler `{handler}`: {reason}")]
    Plugin { handler: String, reason: String },
}

/// A bound listener socket.
#[derive(Debug)]
pub enum BoundSocket {
    Udp(std::net::UdpSocket),
    Tcp(std::net::TcpListener),
}

/// Bind one listener. IPv6 sockets are v6-only, so `[::]:P` and `0.0.0.0:P` coexist.
pub fn bind(kind: ListenerKind, addr: SocketAddr) -> std::io::Result<BoundSocket> {
    let domain = Domain::for_address(addr);
    match kind {
        ListenerKind::Udp => {
            let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
            if addr.is_ipv6() {
                s.set_only_v6(true)?;
            }
            // Bigger buffers: a burst of datagrams must not be dropped by the kernel
            // while the actor is busy (best effort: capped by net.core.rmem_max).
            let _ = s.set_recv_buffer_size(4 << 20);
            let _ = s.set_send_buffer_size(4 << 20);
            s.bind(&addr.into())?;
            Ok(BoundSocket::Udp(s.into()))
        }
        ListenerKind::Tcp => {
            let s = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
            if addr.is_ipv6() {
                s.set_only_v6(true)?;
            }
            s.set_reuse_address(true)?;
            s.bind(&addr.into())?;
            s.listen(1024)?;
            Ok(BoundSocket::Tcp(s.into()))
        }
    }
}

/// The running handlers.
#[derive(Debug)]
pub struct Server {
    handlers: Vec<(String, Addr<InstanceActor>)>,
    registry: Registry,
    log: Logger,
}

impl Server {
    /// Bind every listener, then start every handler. Must run inside an actix system.
    pub fn start(topology: &Topology, catalog: &Catalog, log: &Logger) -> Result<Server, StartError> {
        let mut udp: HashMap<String, Vec<(String, std::net::UdpSocket)>> = HashMap::new();
        let mut tcp: HashMap<String, Vec<(String, std::net::TcpListener)>> = HashMap::new();
        let mut bound_addrs = Vec::new();
        for l in &topology.listeners {
            let sock = bind(l.kind, l.bind).map_err(|source| StartError::Bind {
                listener: l.name.clone(),
                addr: l.bind,
                source,
            })?;
            let local = match &sock {
                BoundSocket::Udp(s) => s.local_addr(),
                BoundSocket::Tcp(s) => s.local_addr(),
            }
            .unwrap_or(l.bind);
            bound_addrs.push((l.name.clone(), l.kind, local));
            match sock {
                BoundSocket::Udp(s) => udp.entry(l.handler.clone()).or_default().push((l.name.clone(), s)),
                BoundSocket::Tcp(s) => tcp.entry(l.handler.clone()).or_default().push((l.name.clone(), s)),
            }
        }

        let registry: Registry = Rc::default();
        let mut handlers = Vec::new();
        for h in &topology.handlers {
            let plugin = catalog
                .load(&h.plugin.path)
                .map_err(|reason| StartError::Plugin { handler: h.name.clone(), reason })?;
            let root = match &h.root {
                Some(path) => Some(Rc::new(Root::open(path).map_err(|e| StartError::Root {
                    handler: h.name.clone(),
                    root: path.display().to_string(),
                    reason: e.to_string(),
                })?)),
                None => None,
            };
            let plan = HandlerPlan {
                name: h.name.clone(),
                plugin,
                config_text: h.config_text.clone(),
                root: h.root.clone(),
                restart: RestartPolicy { max_restarts: h.restart.max_restarts, within: h.restart.within },
                limits: HandlerLimits {
                    max_connections: h.limits.max_connections,
                    max_connections_per_ip: h.limits.max_connections_per_ip,
                    max_write_buffer: h.limits.max_write_buffer,
                },
                outputs: h
                    .outputs
                    .iter()
                    .map(|r| OutputRoute {
                        port: r.port,
                        to_handler: r.to_handler.clone(),
                        to_port: r.to_port,
                        type_name: r.type_name.clone(),
                    })
                    .collect(),
                udp: udp.remove(&h.name).unwrap_or_default(),
                tcp: tcp.remove(&h.name).unwrap_or_default(),
            };
            let hlog = log.new(o!("handler" => h.name.clone(), "plugin" => plan.plugin.info().name.clone()));
            let shared = Rc::new(Shared::new(&plan, hlog, root, Rc::clone(&registry)));
            let addr = InstanceActor::handler(plan, shared).start();
            registry.borrow_mut().insert(h.name.clone(), addr.clone());
            handlers.push((h.name.clone(), addr));
        }
        for (name, kind, addr) in bound_addrs {
            info!(log, "listening"; "listener" => name, "kind" => kind.as_str(), "addr" => %addr);
        }
        Ok(Server { handlers, registry, log: log.clone() })
    }

    /// Stop accepting, let in-flight work finish until `deadline`, and say whether
    /// everything finished in time.
    pub async fn drain(&self, deadline: Duration) -> bool {
        for (_, addr) in &self.handlers {
            addr.do_send(Drain);
        }
        let start = Instant::now();
        loop {
            let mut busy = 0u64;
            for (_, addr) in &self.handlers {
                // A stopped handler answers nothing: it has no work left.
                busy += addr.send(Busy).await.unwrap_or(0);
            }
            if busy == 0 {
                info!(self.log, "drained"; "secs" => start.elapsed().as_secs_f64());
                return true;
            }
            if start.elapsed() >= deadline {
                info!(self.log, "drain deadline reached; aborting what is left"; "in_flight" => busy);
                return false;
            }
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Names of the handlers that are running.
    pub fn handler_names(&self) -> impl Iterator<Item = &str> {
        self.handlers.iter().map(|(n, _)| n.as_str())
    }

    /// The registry used for typed messages (for reload, which swaps entries).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}
