//! Where a transfer's packets go and come from ([`Tftp::transfer_socket`]): a socket of
//! its own, on an ephemeral port or on a free port of `port_range` (tftpd-hpa `-R`,
//! dnsmasq `--tftp-port-range`; the host's `open_udp_in`), or the listen socket.
//!
//! `single_port: true`: every transfer is served from the listen socket, as dnsmasq's
//! `--tftp-single-port` does, for a firewall or NAT that passes only replies from the
//! port the client asked (a reply from a new port looks like an unsolicited packet).
//!
//! A transfer is then told apart by the client's address *and port* on the listener it
//! asked on (`Tftp::by_peer`). The host shards a client IP's datagrams to one worker
//! (`Sharding::PeerIp`), so all of a transfer's packets reach the instance that runs
//! it. Everything else is a normal transfer: the same machines, retransmissions,
//! timeouts, dally, limits and sessions.
//!
//! What differs, by necessity:
//! - **Strangers.** A packet from another address or port cannot reach a transfer: it
//!   is a datagram on the listener, judged by the admission (rate limited like every
//!   request). A DATA or ACK from a client port with no transfer gets the ERROR 5 a
//!   transfer port would answer; any other non-request gets ERROR 4, as on the
//!   listener in the usual mode.
//! - **One transfer per client port.** A request from the address and port of a
//!   transfer that is still running is a repeat when it is the same datagram byte for
//!   byte (our first answer was lost): it is dropped, and the transfer's own
//!   retransmission answers it. Any other request from there (another file, other
//!   options, or any request once the transfer has ended and only dallies) means the
//!   client has moved on: the old transfer ends as aborted ("superseded"), without an
//!   ERROR (it would reach the client's new transfer), and the new request is judged
//!   as usual. A netascii request still waiting for its file counts the same way.
//! - **A reload.** After a reload that replaces the handler, the listener's datagrams
//!   reach the new instance, so this one could no longer hear its transfers: at
//!   `Event::Replaced` every transfer on the listener is told ERROR 0 ("server
//!   reloaded, please retry") and ends as aborted. Transfers on their own ports (the
//!   usual mode) finish where they are.

use std::net::SocketAddr;

use switchyard_sdk::prelude::*;

use super::{Tftp, storage_error};
use crate::packet::{ErrorCode, OP_RRQ, OP_WRQ, opcode};
use crate::transfer::Action;

/// The refusal when every port of `port_range` is taken.
const NO_FREE_PORT: &str = "no free transfer port";

/// Session keys of transfers on the listener: above every socket id the host gives
/// (the key space of transfers on their own sockets), one per transfer id.
const SESSION_KEYS: u64 = 1 << 63;

/// Why a transfer ended without an ERROR: its client sent a new request.
const SUPERSEDED: &str = "superseded by a new request from the same port";
/// What transfers on the listener are told when a reload replaces the instance.
const RELOADED: &str = "server reloaded, please retry";

/// The host session key of transfer `id` on the listener.
pub(super) fn session_key(id: u64) -> u64 {
    SESSION_KEYS | id
}

impl Tftp {
    /// The socket of a new transfer, and whether it is its own: the listener with
    /// `single_port`, else one on a free port of `port_range` or an ephemeral one.
    pub(super) fn transfer_socket(
        &self,
        ctx: &mut Ctx<'_>,
        listener: SocketId,
    ) -> Result<(SocketId, bool), (ErrorCode, &'static str)> {
        if self.cfg.single_port {
            return Ok((listener, false));
        }
        let opened = match self.cfg.port_range.ports() {
            Some(ports) => ctx.open_udp_in(listener, ports),
            None => ctx.open_udp(listener),
        };
        match opened {
            Ok((socket, _)) => Ok((socket, true)),
            Err(HostError::Busy) => Err((ErrorCode::NotDefined, NO_FREE_PORT)),
            Err(e) => Err(storage_error(e)),
        }
    }

    /// A datagram on `listener` from `peer`, with `single_port`.
    pub(super) fn on_listener(
        &mut self,
        ctx: &mut Ctx<'_>,
        listener: SocketId,
        peer: SocketAddr,
        data: &[u8],
    ) {
        let is_request = matches!(opcode(data), Some(OP_RRQ | OP_WRQ));
        if let Some(&id) = self.by_peer.get(&(listener, peer)) {
            if !is_request {
                return self.on_transfer_packet(ctx, id, peer, data);
            }
            let repeat = self
                .transfers
                .get(&id)
                .is_some_and(|l| l.running && l.request == data);
            if repeat {
                return ctx.debug(format_args!(
                    "dropped datagram from {peer}: repeated request"
                ));
            }
            self.supersede(ctx, id);
        }
        if is_request && let Some((id, repeat)) = self.opening_of(listener, peer, data) {
            if repeat {
                return ctx.debug(format_args!(
                    "dropped datagram from {peer}: repeated request"
                ));
            }
            self.let_go(ctx, id, None);
        }
        if is_request && let Some(token) = self.parked_of(listener, peer) {
            if self.prefetching[&token].req.datagram == data {
                return ctx.debug(format_args!(
                    "dropped datagram from {peer}: repeated request"
                ));
            }
            self.supersede_parked(ctx, token);
        }
        self.on_request(ctx, listener, peer, data);
    }

    /// The netascii request of `peer` on `listener` still waiting for its file.
    fn parked_of(&self, listener: SocketId, peer: SocketAddr) -> Option<u64> {
        self.prefetching
            .iter()
            .find(|(_, p)| p.listener == listener && p.peer == peer)
            .map(|(&token, _)| token)
    }

    /// End transfer `id`: its client has moved on to a new request. Nothing is sent.
    fn supersede(&mut self, ctx: &mut Ctx<'_>, id: u64) {
        let Some(mut live) = self.transfers.remove(&id) else {
            return;
        };
        let mut out = Vec::new();
        if live.running {
            live.machine.cut(SUPERSEDED, &mut out);
            out.retain(|a| !matches!(a, Action::Send { .. }));
        }
        if !out.iter().any(|a| matches!(a, Action::Close)) {
            out.push(Action::Close);
        }
        self.step(ctx, id, live, out);
    }

    /// Drop the waiting netascii request `token`: its client has moved on.
    fn supersede_parked(&mut self, ctx: &mut Ctx<'_>, token: u64) {
        let Some(p) = self.prefetching.remove(&token) else {
            return;
        };
        let _ = ctx.close_file(p.file);
        self.transfer_ended(ctx, p.peer, p.req.kind, &p.req.path);
        ctx.debug(format_args!(
            "request from {} for {} {SUPERSEDED}",
            p.peer, p.req.requested
        ));
    }

    /// A reload replaced this instance: the listener's datagrams now reach the
    /// successor, so every transfer on it is told to retry (ERROR 0) and ends.
    pub(super) fn replaced(&mut self, ctx: &mut Ctx<'_>) {
        if !self.cfg.single_port {
            return;
        }
        let on_listener: Vec<u64> = self
            .transfers
            .iter()
            .filter(|(_, l)| !l.own_socket)
            .map(|(&id, _)| id)
            .collect();
        for id in on_listener {
            let Some(mut live) = self.transfers.remove(&id) else {
                continue;
            };
            let mut out = Vec::new();
            if live.running {
                live.machine.cut(RELOADED, &mut out);
            }
            if out.is_empty() {
                out.push(Action::Close);
            }
            self.step(ctx, id, live, out);
        }
        self.let_go_all(ctx, RELOADED);
        for (_, p) in std::mem::take(&mut self.prefetching) {
            let _ = ctx.close_file(p.file);
            self.transfer_ended(ctx, p.peer, p.req.kind, &p.req.path);
            let what = (Some(p.req.kind), p.req.requested.as_str());
            let code = ErrorCode::NotDefined;
            Tftp::refuse(ctx, p.listener, p.peer, what, code, RELOADED);
        }
    }
}
