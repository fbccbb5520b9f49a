//! Messages an [`InstanceActor`] handles: typed messages from other handlers, its own
//! deferred flushes, and the server's drain and status requests. (The drain deadline's
//! message is `deadline`'s.)

use std::sync::Arc;
use std::time::Duration;

use super::InstanceActor;
use super::event::HostEvent;
use super::instance_actor::Role;
use actix::{ActorContext, AsyncContext, Context, Handler, Message};
use switchyard_sdk::DrainCause;

/// A typed message for input port `port` of the receiving handler.
#[derive(Debug, Clone)]
pub struct TypedMessage {
    pub port: u32,
    /// The sender, `handler.port`.
    pub source: Arc<str>,
    pub type_name: Arc<str>,
    pub data: Arc<[u8]>,
}

impl Message for TypedMessage {
    type Result = ();
}

impl Handler<TypedMessage> for InstanceActor {
    type Result = ();
    fn handle(&mut self, msg: TypedMessage, ctx: &mut Context<Self>) {
        let ev = HostEvent::Message {
            port: msg.port,
            type_name: &msg.type_name,
            source: &msg.source,
            data: &msg.data,
        };
        self.deliver(ev, ctx);
    }
}

/// Resume writing a connection's output queue (scheduled, never run inside a plugin call).
#[derive(Debug)]
pub struct Flush(pub u64);

impl Message for Flush {
    type Result = ();
}

impl Handler<Flush> for InstanceActor {
    type Result = ();
    fn handle(&mut self, msg: Flush, ctx: &mut Context<Self>) {
        let waiting = self
            .res
            .conns
            .get(&msg.0)
            .is_some_and(|c| c.flush_wait.is_some());
        if !waiting {
            self.flush(msg.0, ctx);
        }
    }
}

/// Stop accepting and tell the plugin to finish what it has.
#[derive(Debug)]
pub struct Drain;

impl Message for Drain {
    type Result = ();
}

impl Handler<Drain> for InstanceActor {
    type Result = ();
    fn handle(&mut self, _: Drain, ctx: &mut Context<Self>) {
        if let Role::Handler = self.role {
            self.shared.draining.set(true);
            for (h, gate) in self.accept_handles.drain(..) {
                gate.close();
                ctx.cancel_future(h);
            }
            for child in self.children.borrow().values() {
                child.do_send(Drain);
            }
        }
        self.deliver(HostEvent::Drain, ctx);
    }
}

/// How much work is still in flight (sessions, connections, connection actors).
#[derive(Debug)]
pub struct Busy;

impl Message for Busy {
    type Result = u64;
}

impl Handler<Busy> for InstanceActor {
    type Result = u64;
    fn handle(&mut self, _: Busy, _ctx: &mut Context<Self>) -> u64 {
        self.busy()
    }
}

/// Stop a handler whose restart intensity was exceeded in a connection actor.
#[derive(Debug)]
pub struct StopHandler;

impl Message for StopHandler {
    type Result = ();
}

impl Handler<StopHandler> for InstanceActor {
    type Result = ();
    fn handle(&mut self, _: StopHandler, ctx: &mut Context<Self>) {
        if let Role::Handler = self.role {
            for child in self.children.borrow().values() {
                child.do_send(StopHandler);
            }
        }
        ctx.stop();
    }
}

/// Replaced or removed by a reload: stop listening (the replacement reads the same
/// sockets now) and drain. The instance lives on, taking no new sessions, while the
/// ones it has (on its own sockets and connections) end by themselves, and stops when
/// idle, like nginx's old workers. `deadline` (`reload_drain_timeout_secs`) bounds
/// that: the sessions left then are cut, and told so (`deadline`).
#[derive(Debug)]
pub struct Retire {
    pub deadline: Option<Duration>,
    /// A successor took the handler's place (rather than the handler being removed)
    /// and did not take its state: the instance gets `SY_EV_REPLACED` first, to tell
    /// the peers of its listener sockets, which now reach the successor.
    pub replaced: bool,
}

impl Message for Retire {
    type Result = ();
}

impl Handler<Retire> for InstanceActor {
    type Result = ();
    fn handle(&mut self, msg: Retire, ctx: &mut Context<Self>) {
        self.stop_listening(ctx);
        if msg.replaced {
            self.deliver(HostEvent::Replaced, ctx);
        }
        self.handle(Drain, ctx);
        // Told (above): the listener sockets go with nothing more to send on them.
        self.forget_listeners();
        ctx.run_interval(Duration::from_millis(100), |act, ctx| {
            if act.busy() == 0 {
                ctx.stop();
            }
        });
        if let Some(deadline) = msg.deadline {
            ctx.run_later(deadline, |act, ctx| {
                act.cut_at_deadline(DrainCause::Reload, ctx)
            });
        }
    }
}

/// The drain deadline passed and the goodbyes had their grace: drop everything now
/// (temp files are deleted), stop.
#[derive(Debug)]
pub struct Abort;

impl Message for Abort {
    type Result = ();
}

impl Handler<Abort> for InstanceActor {
    type Result = ();
    fn handle(&mut self, _: Abort, ctx: &mut Context<Self>) {
        self.abort_now(true, ctx);
    }
}

impl InstanceActor {
    /// Drop the instance and everything it owned (temp files are deleted) and stop;
    /// with `children`, a handler actor has its connection actors do the same.
    pub(super) fn abort_now(&mut self, children: bool, ctx: &mut Context<Self>) {
        if let (Role::Handler, true) = (&self.role, children) {
            for child in self.children.borrow().values() {
                child.do_send(Abort);
            }
        }
        self.instance = None;
        self.res.release_instance_resources(ctx);
        ctx.stop();
    }
}

/// Reading was resumed on a connection with held bytes: deliver them first.
#[derive(Debug)]
pub struct ReplayHeld(pub u64);

impl Message for ReplayHeld {
    type Result = ();
}

impl Handler<ReplayHeld> for InstanceActor {
    type Result = ();
    fn handle(&mut self, msg: ReplayHeld, ctx: &mut Context<Self>) {
        self.replay_held(msg.0, ctx);
    }
}
