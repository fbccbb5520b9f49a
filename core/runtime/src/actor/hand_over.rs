//! The replaced actor's side of a state handover ([`HandOver`]): stop listening,
//! quiesce, `export_state`, detach the connections, send it all to the successor, and
//! end as its answer says.
//!
//! Quiet means: every connection's output queue written, no receive into a file, no
//! prefetch and no datagram waiting for a file read (see `handover::still_busy`);
//! reading is paused meanwhile, except on a connection receiving into a file (which
//! needs its bytes to finish). Past [`QUIESCE_LIMIT`] the host gives up: the instance
//! keeps its sessions and retires as without the hook, and the successor starts fresh.

use std::time::Instant;

use actix::{ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Message};
use slog::{info, warn};
use switchyard_sdk::abi;
use tokio::sync::oneshot;

use super::InstanceActor;
use super::event::HostEvent;
use super::handover::{
    ConnActivity, Phase, QUIESCE_LIMIT, QUIESCE_POLL, Successor, TakeOver, still_busy,
};
use super::messages::{ReplayHeld, Retire};

/// Replaced by a reload whose successor takes state: hand the instance's state and
/// connections over through `successor`, or, when that cannot be, `retire`.
#[derive(Debug)]
pub struct HandOver {
    pub successor: Successor,
    /// How to retire when the state does not move (`replaced` set).
    pub retire: Retire,
}

impl Message for HandOver {
    type Result = ();
}

/// A handover under way, carried from one quiesce check to the next.
#[derive(Debug)]
struct Pending {
    successor: Successor,
    retire: Retire,
    since: Instant,
}

impl Handler<HandOver> for InstanceActor {
    type Result = ();
    fn handle(&mut self, msg: HandOver, ctx: &mut Context<Self>) {
        self.stop_listening(ctx);
        let pending = Pending {
            successor: msg.successor,
            retire: msg.retire,
            since: Instant::now(),
        };
        self.quiesce(pending, ctx);
    }
}

impl InstanceActor {
    /// Export once quiet; look again shortly while not; give up past the limit.
    fn quiesce(&mut self, pending: Pending, ctx: &mut Context<Self>) {
        if self.instance.is_none() {
            info!(
                self.shared.log,
                "state not handed over: the old instance is gone"
            );
            return self.without_handover(pending, ctx);
        }
        for c in self.res.conns.values() {
            if c.recv.is_none() && !c.recv_finishing {
                c.read.pause();
            }
        }
        let conns = self.res.conns.iter().map(|(&id, c)| ConnActivity {
            id,
            queued: c.out.len(),
            receiving: c.recv.is_some() || c.recv_finishing,
            closing: c.closing,
        });
        let deferred = self.res.sockets.values().map(|s| s.backlog.len()).sum();
        match still_busy(conns, self.res.prefetches.len(), deferred) {
            None => self.export(pending, ctx),
            Some(busy) if pending.since.elapsed() >= QUIESCE_LIMIT => {
                warn!(self.shared.log, "state not handed over: the old instance did not quiesce in time; it keeps its sessions and drains, the new one starts fresh";
                    "busy" => busy, "waited_secs" => QUIESCE_LIMIT.as_secs());
                self.without_handover(pending, ctx);
            }
            Some(_) => {
                ctx.run_later(QUIESCE_POLL, move |act, ctx| act.quiesce(pending, ctx));
            }
        }
    }

    /// The instance is quiet: ask it for its state, and send state and connections.
    fn export(&mut self, pending: Pending, ctx: &mut Context<Self>) {
        self.phase = Phase::Exporting { state: None };
        let status = self.call_instance(ctx, |inst, now, calls| inst.export_state(now, calls));
        let state = match std::mem::take(&mut self.phase) {
            Phase::Exporting { state } => state,
            _ => None,
        };
        if status == abi::SY_ERR_PANICKED {
            // The instance is gone with its state; its peers need not lose their
            // connections too: the successor takes them as new ones.
            self.shared.metrics.error("plugin_panic");
            warn!(
                self.shared.log,
                "state not handed over: export_state panicked; the new instance starts fresh and takes the connections as new"
            );
            let conns = self.detach_conns(ctx);
            self.res.release_instance_resources(ctx);
            let takeover = TakeOver {
                conns,
                since: pending.since,
                ..TakeOver::fresh()
            };
            let _ = pending.successor.send(takeover);
            self.forget_listeners();
            ctx.stop();
            return;
        }
        let state = match (status, state) {
            (abi::SY_OK, Some(state)) => state,
            (abi::SY_OK, None) => {
                info!(
                    self.shared.log,
                    "state not handed over: the old instance handed nothing over"
                );
                return self.without_handover(pending, ctx);
            }
            (status, _) => {
                warn!(self.shared.log, "state not handed over: export_state failed";
                    "status" => abi::status_name(status));
                return self.without_handover(pending, ctx);
            }
        };
        let conns = self.detach_conns(ctx);
        let moved: Vec<u64> = conns.iter().map(|c| c.id).collect();
        let (answer, answered) = oneshot::channel();
        let takeover = TakeOver {
            state: Some(state),
            conns,
            answer: Some(answer),
            since: pending.since,
        };
        let Pending {
            successor, retire, ..
        } = pending;
        if let Err(back) = successor.send(takeover) {
            // The successor stopped waiting: everything stays here, as without the hook.
            warn!(
                self.shared.log,
                "state not handed over: the new instance no longer waits for it"
            );
            for c in back.conns {
                self.adopt_conn(c, false, ctx);
            }
            return self.fall_back(retire, ctx);
        }
        // Nothing reaches the instance until the successor has answered.
        ctx.wait(
            actix::fut::wrap_future::<_, Self>(answered).map(move |taken, act, ctx| {
                act.handed_over(taken.unwrap_or(false), moved, retire, ctx)
            }),
        );
    }

    /// The successor answered. Taken: the instance is destroyed without another event
    /// (timers, files and own sockets go with it). Refused: the moved connections are
    /// gone from here (`CONN_CLOSED`), then it retires as replaced.
    fn handed_over(
        &mut self,
        taken: bool,
        moved: Vec<u64>,
        retire: Retire,
        ctx: &mut Context<Self>,
    ) {
        if taken {
            self.instance = None;
            self.res.release_instance_resources(ctx);
            self.forget_listeners();
            ctx.stop();
            return;
        }
        for conn in moved {
            let ev = HostEvent::ConnClosed {
                conn,
                status: abi::SY_ERR_CLOSED,
            };
            self.deliver(ev, ctx);
        }
        self.handle(retire, ctx);
    }

    /// No handover: the successor starts fresh, this instance keeps its sessions.
    fn without_handover(&mut self, pending: Pending, ctx: &mut Context<Self>) {
        let _ = pending.successor.send(TakeOver::fresh());
        self.fall_back(pending.retire, ctx);
    }

    /// Read the connections again (as the plugin wants them read) and retire.
    fn fall_back(&mut self, retire: Retire, ctx: &mut Context<Self>) {
        for (&id, c) in &self.res.conns {
            if !c.want_read || c.closing || c.recv_finishing {
                continue;
            }
            if c.held.is_empty() {
                c.read.resume();
            } else {
                ctx.notify(ReplayHeld(id));
            }
        }
        self.handle(retire, ctx);
    }
}
