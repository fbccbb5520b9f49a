//! A handler that cannot serve is visibly down, rather than silently deaf.
//!
//! Before, a handler past its restart intensity (or whose instance could not be
//! created) stopped its actor, but the server kept the listener sockets for the next
//! reload: TCP connects completed in the kernel's backlog and hung until the client
//! gave up, datagrams piled up unread, and a reload later served the stale queued
//! connections. Now its TCP listeners are shut down — a connect is refused, queued
//! connections are reset — and its datagrams are read and dropped, counted under
//! `switchyard_errors_total{kind="handler_down"}`. `/health` says which handler is down
//! and why. A reload brings it back: the server binds the shut-down listeners afresh
//! (`Server::forget_dead_listeners`) and starts a new instance.

use actix::Context;
use slog::error;

use super::InstanceActor;
use super::messages::StopHandler;

impl InstanceActor {
    /// Make this handler visibly down, for `why` (shown by `/health`).
    pub(super) fn go_down(&mut self, why: &str, ctx: &mut Context<Self>) {
        self.shared.stopped.set(true);
        self.shared.metrics.set_down(Some(why));
        self.instance = None;
        self.res.release_instance_resources(ctx);
        for child in self.children.borrow().values() {
            child.do_send(StopHandler);
        }
        for (h, gate) in self.accept_handles.drain(..) {
            gate.close();
            actix::AsyncContext::cancel_future(ctx, h);
        }
        // Shutting a listening socket down resets its queued connections and refuses
        // new ones; the server's duplicate is the same socket, so it goes down too.
        for listener in self.tcp_listening.drain(..) {
            if let Err(e) = rustix::net::shutdown(&listener, rustix::net::Shutdown::Read) {
                error!(self.shared.log, "cannot shut a listener down"; "error" => %e);
            }
        }
        error!(self.shared.log, "handler down"; "why" => why,
            "hint" => "reload the topology to restart it");
        self.tell_peers_down(why);
    }
}
