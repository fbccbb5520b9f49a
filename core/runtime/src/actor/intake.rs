//! What comes in on a handler's listeners: datagrams and connections, taken here or
//! handed to the worker that owns them (`shard`), and the listener sockets themselves
//! (attached, sent on, given up).
//!
//! With several workers only worker 0 reads the listener sockets; the others hold
//! duplicates to send on (a reply leaves by the socket its request came in on) and get
//! what is theirs as [`ShardDatagram`] and [`AdoptConn`] messages.

use std::os::fd::AsFd;
use std::rc::Rc;

use actix::{Actor, AsyncContext, Context, Handler};
use slog::{error, warn};
use tokio::net::TcpStream;

use super::event::HostEvent;
use super::instance_actor::InstanceActor;
use super::io::io_status;
use super::refusal;
use super::shard::{AdoptConn, Peers, ShardDatagram, WorkerDown, worker_of};
use super::shared::ConnSlot;
use super::streams::{Accept, Accepted, Gate, UdpItem};

impl InstanceActor {
    pub(super) fn on_accepted(&mut self, item: Accepted, ctx: &mut Context<Self>) {
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
        let worker = self.worker_for_conn(peer);
        let slot = match self.shared.take_conn_slot(peer.ip(), worker) {
            Ok(slot) => slot,
            Err(limit) => {
                self.shared.metrics.error("conn_limit");
                let now = std::time::Instant::now();
                let due = self.shared.refusals.borrow_mut().note(peer.ip(), now);
                if let Some(unlogged) = due {
                    warn!(self.shared.log, "connection refused: limit reached";
                        "peer" => %peer, "limit" => limit, "listener" => &*item.listener,
                        "refused_unlogged" => unlogged);
                }
                refusal::send_and_close(stream, refusal::line(&self.shared.limits, limit));
                return;
            }
        };
        if worker != self.shared.worker {
            self.hand_conn_to(worker, stream, peer, &item.listener, slot);
            return;
        }
        self.serve_conn(stream, peer, item.listener, slot, ctx);
    }

    /// Serve an accepted connection on this worker: in a connection actor of its own
    /// (per-connection plugin) or in this actor's instance.
    pub(super) fn serve_conn(
        &mut self,
        stream: TcpStream,
        peer: std::net::SocketAddr,
        listener: Rc<str>,
        slot: ConnSlot,
        ctx: &mut Context<Self>,
    ) {
        if self.per_connection() {
            let id = self.shared.next_id();
            let child = self.connection_actor(id, (stream, peer, listener, slot));
            let addr = child.start();
            self.children.borrow_mut().insert(id, addr);
            // The child removes itself from `children` when it stops (see `stopped`).
        } else {
            self.open_conn(stream, peer, listener, slot, ctx);
        }
    }

    pub(super) fn on_datagram(&mut self, item: UdpItem, ctx: &mut Context<Self>) {
        let Some(sock) = self.res.sockets.get(&item.socket) else {
            return;
        };
        if self.shared.stopped.get() {
            // Down (`down.rs`): dropped, and counted, rather than left to pile up.
            self.shared.metrics.error("handler_down");
            return;
        }
        match item.result {
            Ok((peer, data)) => {
                self.shared.metrics.datagrams_in.inc();
                self.shared.metrics.bytes_in.inc_by(data.len() as u64);
                if sock.listener.is_some()
                    && let Some(owner) = self.datagram_owner_elsewhere(peer)
                {
                    self.hand_datagram_to(owner, item.socket, peer, data);
                    return;
                }
                self.datagram_in(item.socket, peer, &data, ctx);
            }
            Err(e) => {
                // An ICMP error from an earlier send: the socket stays usable.
                slog::debug!(self.shared.log, "udp socket error"; "socket" => item.socket, "error" => %e);
                let ev = HostEvent::SocketError {
                    socket: item.socket,
                    status: io_status(&e),
                };
                self.deliver(ev, ctx);
            }
        }
    }

    /// Deliver a datagram that came in on `socket` (read here, or by worker 0).
    pub(super) fn datagram_in(
        &mut self,
        socket: u64,
        peer: std::net::SocketAddr,
        data: &[u8],
        ctx: &mut Context<Self>,
    ) {
        let Some(sock) = self.res.sockets.get(&socket) else {
            return;
        };
        let listener = sock.listener.clone();
        let local = sock.local;
        let ev = HostEvent::Datagram {
            socket,
            peer,
            local,
            listener: listener.as_deref(),
            data,
        };
        self.deliver(ev, ctx);
    }

    /// Start taking datagrams and connections on the listener sockets handed over.
    pub(super) fn attach_listeners(&mut self, ctx: &mut Context<Self>) {
        if self.shared.wide.workers() > 1 && self.peers.is_none() {
            // Worker 0 reads for every worker, so it waits until it knows them; the
            // others only send on the listener sockets (`shard`).
            self.listen_on_peers = true;
            return;
        }
        if self.shared.worker != 0 {
            self.attach_send_only(ctx);
            return;
        }
        for l in std::mem::take(&mut self.pending_udp) {
            let name: Rc<str> = Rc::from(l.name.as_str());
            if let Err(e) = self.res.attach_udp(l.id, l.socket, Some(name.clone()), ctx) {
                error!(self.shared.log, "cannot attach UDP listener"; "listener" => &*name, "error" => %e);
            }
        }
        for l in std::mem::take(&mut self.pending_tcp) {
            let name: Rc<str> = Rc::from(l.name.as_str());
            let listener = l.socket;
            let tokio_listener = listener
                .set_nonblocking(true)
                .and_then(|()| tokio::net::TcpListener::from_std(listener));
            match tokio_listener {
                Ok(l) => {
                    if let Ok(dup) = l.as_fd().try_clone_to_owned() {
                        self.tcp_listening.push(std::net::TcpListener::from(dup));
                    }
                    let gate = Gate::open();
                    let handle = ctx.add_stream(Accept::new(l, name, gate.clone()));
                    self.accept_handles.push((handle, gate));
                }
                Err(e) => {
                    error!(self.shared.log, "cannot attach TCP listener"; "listener" => &*name, "error" => %e)
                }
            }
        }
    }

    /// Take nothing more from the listener sockets (a successor reads them now). The
    /// UDP ones stay, receiving nothing, so the instance can still send on them (to
    /// tell its peers there it was replaced) until [`Self::forget_listeners`].
    pub(super) fn stop_listening(&mut self, ctx: &mut Context<Self>) {
        for (h, gate) in self.accept_handles.drain(..) {
            gate.close();
            ctx.cancel_future(h);
        }
        for s in self.res.sockets.values().filter(|s| s.listener.is_some()) {
            s.stop_receiving(ctx);
        }
    }

    /// Drop this actor's duplicates of the listener sockets (after
    /// [`Self::stop_listening`]).
    pub(super) fn forget_listeners(&mut self) {
        self.res.sockets.retain(|_, s| s.listener.is_none());
    }

    /// The worker a new connection from `peer` goes to: by IP for a plugin sharded by
    /// IP, else the least loaded. This one while the others are not known.
    fn worker_for_conn(&self, peer: std::net::SocketAddr) -> usize {
        let wide = &self.shared.wide;
        if self.peers.is_none() || wide.workers() <= 1 {
            return self.shared.worker;
        }
        match self.shared.plugin.info().sharding {
            switchyard_sdk::abi::SY_SHARD_PEER_IP => {
                worker_of(peer, switchyard_sdk::abi::SY_SHARD_PEER_IP, wide.workers())
            }
            _ => wide.least_loaded(),
        }
    }

    /// Give an accepted connection (its slot taken for `worker`) to that worker.
    fn hand_conn_to(
        &self,
        worker: usize,
        stream: TcpStream,
        peer: std::net::SocketAddr,
        listener: &str,
        slot: ConnSlot,
    ) {
        let Some(to) = self.peers.as_ref().and_then(|p| p.conns.get(worker)) else {
            return;
        };
        match stream.into_std() {
            Ok(stream) => to.do_send(AdoptConn {
                stream,
                peer,
                listener: listener.to_owned(),
                slot,
            }),
            Err(e) => {
                warn!(self.shared.log, "cannot hand a connection to its worker"; "peer" => %peer, "error" => %e)
            }
        }
    }

    /// The other worker that owns `peer`'s datagrams, if it is not this one.
    fn datagram_owner_elsewhere(&self, peer: std::net::SocketAddr) -> Option<usize> {
        let n = self.peers.as_ref()?.datagrams.len();
        let k = worker_of(peer, self.shared.plugin.info().sharding, n);
        (k != self.shared.worker).then_some(k)
    }

    fn hand_datagram_to(
        &self,
        worker: usize,
        socket: u64,
        peer: std::net::SocketAddr,
        data: Vec<u8>,
    ) {
        if let Some(to) = self.peers.as_ref().and_then(|p| p.datagrams.get(worker)) {
            to.do_send(ShardDatagram { socket, peer, data });
        }
    }

    /// Register the listener sockets to send on only (a worker other than 0).
    fn attach_send_only(&mut self, ctx: &mut Context<Self>) {
        for l in std::mem::take(&mut self.pending_udp) {
            let name: Rc<str> = Rc::from(l.name.as_str());
            match self.res.attach_udp(l.id, l.socket, Some(name.clone()), ctx) {
                Ok(_) => {
                    if let Some(s) = self.res.sockets.get(&l.id) {
                        s.stop_receiving(ctx);
                    }
                }
                Err(e) => {
                    error!(self.shared.log, "cannot attach UDP listener"; "listener" => &*name, "error" => %e)
                }
            }
        }
        // Worker 0 accepts for everyone.
        self.pending_tcp.clear();
    }

    /// This worker's peers are known: tell the other workers when it goes down.
    pub(super) fn tell_peers_down(&self, why: &str) {
        let Some(peers) = &self.peers else { return };
        for (k, to) in peers.down.iter().enumerate() {
            if k != self.shared.worker {
                to.do_send(WorkerDown {
                    why: why.to_owned(),
                });
            }
        }
    }
}

impl Handler<Peers> for InstanceActor {
    type Result = ();
    fn handle(&mut self, peers: Peers, ctx: &mut Context<Self>) {
        self.peers = Some(peers);
        if std::mem::take(&mut self.listen_on_peers) {
            self.attach_listeners(ctx);
        }
    }
}

impl Handler<ShardDatagram> for InstanceActor {
    type Result = ();
    fn handle(&mut self, msg: ShardDatagram, ctx: &mut Context<Self>) {
        if self.shared.stopped.get() {
            self.shared.metrics.error("handler_down");
            return;
        }
        self.datagram_in(msg.socket, msg.peer, &msg.data, ctx);
    }
}

impl Handler<AdoptConn> for InstanceActor {
    type Result = ();
    fn handle(&mut self, msg: AdoptConn, ctx: &mut Context<Self>) {
        if self.shared.stopped.get() || self.shared.draining.get() {
            return; // dropping the stream closes it, the slot frees itself
        }
        let stream = msg
            .stream
            .set_nonblocking(true)
            .and_then(|()| TcpStream::from_std(msg.stream));
        match stream {
            Ok(stream) => {
                let listener: Rc<str> = Rc::from(msg.listener.as_str());
                self.serve_conn(stream, msg.peer, listener, msg.slot, ctx);
            }
            Err(e) => {
                warn!(self.shared.log, "cannot adopt a connection"; "peer" => %msg.peer, "error" => %e)
            }
        }
    }
}

impl Handler<WorkerDown> for InstanceActor {
    type Result = ();
    fn handle(&mut self, msg: WorkerDown, ctx: &mut Context<Self>) {
        if !self.shared.stopped.get() {
            self.go_down(&msg.why, ctx);
        }
    }
}
