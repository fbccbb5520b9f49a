//! The actix actors that run plugins.
//!
//! One actor type, [`InstanceActor`], in two roles:
//! - **handler**: one per topology handler. It owns the listener sockets (UDP sockets
//!   and TCP acceptors) routed to the handler and, for a per-handler plugin, the
//!   plugin instance and everything that instance opened (sockets, connections,
//!   timers, files).
//! - **connection**: for a per-connection plugin, one per accepted TCP connection, with
//!   its own instance; a panic there costs that one connection.
//!
//! Plugins do no I/O: the actor delivers events to the instance and executes what the
//! instance asks through [`crate::hostapi::HostCalls`] (see `calls`). All actors run on
//! the actix system thread; a call into a plugin never happens inside another.
//!
//! # Supervision
//! A plugin panic is caught by the SDK and reported as `SY_ERR_PANICKED`. The actor
//! then destroys the instance and everything it owned, counts a restart against the
//! handler's policy, and creates a fresh instance (per-handler) or closes the
//! connection (per-connection). Past `max_restarts` within `within`, the handler stops
//! alone with an ERROR log line; every other handler keeps serving.
//!
//! # Layout
//! - `shared`: state shared by a handler's actors (plan, limits, counters, routes);
//!   limits, restart policy and routes are the topology's own types.
//! - `streams`: UDP datagram, TCP accept and TCP read streams.
//! - `resources`: what an instance owns (sockets, connections, timers, files).
//! - `calls`: the `HostCalls` implementation: the plugin's actions, executed.
//! - `conn`: connection writes (queue, sendfile, shutdown) and reads into files.
//! - `messages`: typed messages between handlers, drain and status queries.

mod calls;
mod conn;
mod conn_out;
mod event;
mod file_cache;
mod io;
mod messages;
mod prefetch;
mod resources;
pub mod shared;
mod streams;
mod udp_out;
mod writeback;

use std::rc::Rc;

use actix::{Actor, ActorContext, AsyncContext, Context, StreamHandler};
use slog::{error, info, warn};
use switchyard_sdk::abi;
use tokio::net::TcpStream;

use event::HostEvent;
pub use messages::{Abort, Busy, Drain, Retire, StopHandler, TypedMessage};
use resources::{Conn, Resources};
pub use shared::{HandlerPlan, Registry, Shared};
use streams::{Accept, Accepted, ConnItem, UdpItem};

use crate::instance::Instance;

/// Read size of a connection in normal operation.
const READ_CHUNK: usize = 64 * 1024;

#[derive(Debug)]
enum Role {
    Handler,
    Connection { id: u64 },
}

/// Runs one plugin instance (or, for a per-connection handler, only its listeners).
#[derive(Debug)]
pub struct InstanceActor {
    shared: Rc<Shared>,
    role: Role,
    instance: Option<Instance>,
    res: Resources,
    /// Listener sockets waiting to be attached in `started`.
    pending_udp: Vec<(String, std::net::UdpSocket)>,
    pending_tcp: Vec<(String, std::net::TcpListener)>,
    /// The connection a per-connection actor was made for, until `started`.
    pending_conn: Option<(TcpStream, std::net::SocketAddr, Rc<str>, shared::ConnSlot)>,
    /// Listener accept streams, each with the gate closed before it is cancelled.
    accept_handles: Vec<(actix::SpawnHandle, streams::Gate)>,
}

impl InstanceActor {
    /// A handler actor; its listeners start with the actor.
    pub fn handler(plan: HandlerPlan, shared: Rc<Shared>) -> InstanceActor {
        InstanceActor {
            shared,
            role: Role::Handler,
            instance: None,
            res: Resources::default(),
            pending_udp: plan.udp,
            pending_tcp: plan.tcp,
            pending_conn: None,
            accept_handles: Vec::new(),
        }
    }

    fn per_connection(&self) -> bool {
        self.shared.plugin.info().instance_mode == abi::SY_INSTANCE_PER_CONNECTION
    }

    /// Create the instance and deliver `START`. `false` if the plugin refused.
    fn create_instance(&mut self, ctx: &mut Context<Self>) -> bool {
        let shared = Rc::clone(&self.shared);
        let created = {
            let mut calls = calls::Calls { actor: self, ctx };
            Instance::create(&shared.plugin, &shared.config_text, &mut calls)
        };
        match created {
            Ok(inst) => {
                self.instance = Some(inst);
                self.deliver(HostEvent::Start, ctx);
                true
            }
            Err(status) => {
                error!(self.shared.log, "plugin refused to create an instance";
                    "status" => abi::status_name(status));
                false
            }
        }
    }

    /// Deliver one event to the instance (if any) and handle a panic.
    fn deliver(&mut self, event: HostEvent<'_>, ctx: &mut Context<Self>) {
        let Some(mut inst) = self.instance.take() else {
            return;
        };
        let event = event.lower(self.shared.now_ms());
        let status = {
            let mut calls = calls::Calls { actor: self, ctx };
            inst.deliver(&event, &mut calls)
        };
        if status == abi::SY_ERR_PANICKED {
            drop(inst);
            self.on_panic(ctx);
        } else if self.instance.is_none() {
            self.instance = Some(inst);
        }
    }

    /// The instance panicked and is gone: free what it owned, then restart or stop.
    fn on_panic(&mut self, ctx: &mut Context<Self>) {
        self.res.release_instance_resources(ctx);
        self.shared.metrics.restarts.inc();
        self.shared.metrics.error("plugin_panic");
        let within_limit = self.shared.record_restart();
        let restarts = self.shared.recent_restarts();
        let policy = self.shared.restart;
        match &self.role {
            Role::Handler if !within_limit => {
                error!(self.shared.log, "handler stopped: plugin restart intensity exceeded";
                    "hint" => "reload the topology to restart it",
                    "restarts" => restarts, "max_restarts" => policy.max_restarts,
                    "within_secs" => policy.within.as_secs_f64());
                self.shared.stopped.set(true);
                self.shared.metrics.set_stopped(true);
                ctx.stop();
            }
            Role::Handler => {
                warn!(self.shared.log, "plugin panicked; instance recreated";
                    "restarts" => restarts, "max_restarts" => policy.max_restarts);
                if !self.create_instance(ctx) {
                    self.shared.stopped.set(true);
                    self.shared.metrics.set_stopped(true);
                    ctx.stop();
                }
            }
            // A panic costs its own connection only. Stopping the whole handler here
            // would let a few crafted requests take the service down for everyone, so
            // past the intensity limit this is an ERROR for the operator, not a stop.
            Role::Connection { .. } if !within_limit => {
                error!(self.shared.log, "plugin keeps panicking on connections; each costs only its connection";
                    "restarts" => restarts, "max_restarts" => policy.max_restarts,
                    "within_secs" => policy.within.as_secs_f64());
                ctx.stop();
            }
            Role::Connection { .. } => {
                warn!(self.shared.log, "plugin panicked; its connection is closed";
                    "restarts" => restarts, "max_restarts" => policy.max_restarts);
                ctx.stop();
            }
        }
    }

    /// Attach an accepted connection to this actor and tell the instance.
    fn open_conn(
        &mut self,
        stream: TcpStream,
        peer: std::net::SocketAddr,
        listener: Rc<str>,
        slot: shared::ConnSlot,
        ctx: &mut Context<Self>,
    ) -> u64 {
        let id = self.shared.next_id();
        let local = stream.local_addr().unwrap_or(peer);
        let _ = stream.set_nodelay(true);
        let stream = Rc::new(stream);
        let read = Rc::new(streams::ReadControl::new(READ_CHUNK));
        let handle = ctx.add_stream(streams::ConnRead::new(
            Rc::clone(&stream),
            id,
            Rc::clone(&read),
        ));
        self.res
            .conns
            .insert(id, Conn::new(stream, handle, read, slot));
        let ev = HostEvent::ConnOpened {
            conn: id,
            peer,
            local,
            listener: &listener,
        };
        self.deliver(ev, ctx);
        id
    }

    fn on_accepted(&mut self, item: Accepted, ctx: &mut Context<Self>) {
        let (stream, peer) = match item.result {
            Ok(c) => c,
            Err(e) => {
                warn!(self.shared.log, "accept failed"; "listener" => &*item.listener, "error" => %e);
                return;
            }
        };
        if self.shared.stopped.get() || self.shared.draining.get() {
            return; // dropping the stream closes it
        }
        let slot = match self.shared.take_conn_slot(peer.ip()) {
            Ok(slot) => slot,
            Err(limit) => {
                self.shared.metrics.error("conn_limit");
                warn!(self.shared.log, "connection refused: limit reached";
                    "peer" => %peer, "limit" => limit, "listener" => &*item.listener);
                return;
            }
        };
        if self.per_connection() {
            let shared = Rc::clone(&self.shared);
            let id = shared.next_id();
            let child = InstanceActor {
                shared: Rc::clone(&shared),
                role: Role::Connection { id },
                instance: None,
                res: Resources::default(),
                pending_udp: Vec::new(),
                pending_tcp: Vec::new(),
                pending_conn: Some((stream, peer, item.listener, slot)),
                accept_handles: Vec::new(),
            };
            let addr = child.start();
            shared.children.borrow_mut().insert(id, addr);
            // The child removes itself from `children` when it stops (see `stopped`).
        } else {
            self.open_conn(stream, peer, item.listener, slot, ctx);
        }
    }

    fn on_datagram(&mut self, item: UdpItem, ctx: &mut Context<Self>) {
        let Some(sock) = self.res.sockets.get(&item.socket) else {
            return;
        };
        match item.result {
            Ok((peer, data)) => {
                self.shared.metrics.datagrams_in.inc();
                self.shared.metrics.bytes_in.inc_by(data.len() as u64);
                let listener = sock.listener.clone();
                let local = sock.local;
                let ev = HostEvent::Datagram {
                    socket: item.socket,
                    peer,
                    local,
                    listener: listener.as_deref(),
                    data: &data,
                };
                self.deliver(ev, ctx);
            }
            Err(e) => {
                // An ICMP error from an earlier send: the socket stays usable.
                slog::debug!(self.shared.log, "udp socket error"; "socket" => item.socket, "error" => %e);
                let ev = HostEvent::SocketError {
                    socket: item.socket,
                    status: io::io_status(&e),
                };
                self.deliver(ev, ctx);
            }
        }
    }

    /// Sessions in flight, for draining.
    fn busy(&self) -> u64 {
        let own = self.instance.as_ref().map_or(0, Instance::active_sessions);
        own + self.res.conns.len() as u64 + self.shared.children.borrow().len() as u64
    }
}

impl Actor for InstanceActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.shared
            .live
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        match self.role {
            Role::Handler => {
                for (name, sock) in std::mem::take(&mut self.pending_udp) {
                    let name: Rc<str> = Rc::from(name.as_str());
                    if let Err(e) = self
                        .res
                        .attach_udp(&self.shared, sock, Some(name.clone()), ctx)
                    {
                        error!(self.shared.log, "cannot attach UDP listener"; "listener" => &*name, "error" => %e);
                    }
                }
                for (name, listener) in std::mem::take(&mut self.pending_tcp) {
                    let name: Rc<str> = Rc::from(name.as_str());
                    let tokio_listener = listener
                        .set_nonblocking(true)
                        .and_then(|()| tokio::net::TcpListener::from_std(listener));
                    match tokio_listener {
                        Ok(l) => {
                            let gate = streams::Gate::open();
                            let handle = ctx.add_stream(Accept::new(l, name, gate.clone()));
                            self.accept_handles.push((handle, gate));
                        }
                        Err(e) => {
                            error!(self.shared.log, "cannot attach TCP listener"; "listener" => &*name, "error" => %e)
                        }
                    }
                }
                // The sessions gauge: sampled, so the event path pays nothing for it.
                ctx.run_interval(std::time::Duration::from_secs(1), |act, _| {
                    act.shared.metrics.sessions.set(act.busy() as i64);
                });
                if !self.per_connection() && !self.create_instance(ctx) {
                    self.shared.stopped.set(true);
                    ctx.stop();
                }
            }
            Role::Connection { .. } => {
                if !self.create_instance(ctx) {
                    ctx.stop();
                    return;
                }
                if let Some((stream, peer, listener, slot)) = self.pending_conn.take() {
                    self.open_conn(stream, peer, listener, slot, ctx);
                }
            }
        }
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        // Destroy the instance before the files and sockets it used go away.
        self.instance = None;
        self.shared
            .live
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        match self.role {
            Role::Handler => {
                self.shared.handler_stopped.set(true);
                if self.shared.stopped.get() {
                    info!(self.shared.log, "handler stopped");
                }
            }
            Role::Connection { id, .. } => {
                self.shared.children.borrow_mut().remove(&id);
            }
        }
        // The handler's thread (see `Server::start_handler`) ends with the last actor
        // on it: the handler, or its last per-connection actor after it.
        if self.shared.handler_stopped.get() && self.shared.children.borrow().is_empty() {
            actix::Arbiter::current().stop();
        }
    }
}

impl StreamHandler<UdpItem> for InstanceActor {
    fn handle(&mut self, item: UdpItem, ctx: &mut Context<Self>) {
        self.on_datagram(item, ctx);
    }
    fn finished(&mut self, _ctx: &mut Context<Self>) {}
}

impl StreamHandler<Accepted> for InstanceActor {
    fn handle(&mut self, item: Accepted, ctx: &mut Context<Self>) {
        self.on_accepted(item, ctx);
    }
    fn finished(&mut self, _ctx: &mut Context<Self>) {}
}

impl StreamHandler<ConnItem> for InstanceActor {
    fn handle(&mut self, item: ConnItem, ctx: &mut Context<Self>) {
        self.on_conn_input(item, ctx);
    }
    fn finished(&mut self, _ctx: &mut Context<Self>) {}
}
