//! The successor's side of a state handover: wait for the replaced instance's word,
//! then create the instance, `import_state`, adopt the connections under their ids,
//! and only then attach the listeners and deliver what was held.
//!
//! While it waits (in `ctx.wait`), the actor handles no message and no listener is
//! attached: datagrams and connections wait in the kernel's queues, typed messages in
//! the mailbox, all in order. It waits [`AWAIT_LIMIT`] at most (a predecessor stuck
//! in plugin code), then starts fresh.

use actix::{ActorFutureExt, AsyncContext, Context};
use slog::{error, info, warn};
use switchyard_sdk::abi;

use super::InstanceActor;
use super::event::HostEvent;
use super::handover::{AWAIT_LIMIT, HandedState, Phase, Predecessor, TakeOver};

impl InstanceActor {
    /// Hold back until the predecessor hands over (or gives up, or is gone).
    pub(super) fn await_predecessor(&mut self, predecessor: Predecessor, ctx: &mut Context<Self>) {
        let wait = tokio::time::timeout(AWAIT_LIMIT, predecessor);
        ctx.wait(
            actix::fut::wrap_future::<_, Self>(wait).map(|arrived, act, ctx| {
                let takeover = match arrived {
                    Ok(Ok(takeover)) => takeover,
                    // Gone without a word (stopped, aborted): nothing to take.
                    Ok(Err(_)) => TakeOver::fresh(),
                    Err(_) => {
                        warn!(act.shared.log, "no state from the replaced instance in time; starting fresh";
                            "waited_secs" => AWAIT_LIMIT.as_secs());
                        TakeOver::fresh()
                    }
                };
                act.take_over(takeover, ctx);
            }),
        );
    }

    /// Start serving with what the predecessor sent.
    fn take_over(&mut self, takeover: TakeOver, ctx: &mut Context<Self>) {
        let TakeOver {
            state,
            conns,
            answer,
            since,
        } = takeover;
        let offered = state.as_ref().map(|s| (s.version, s.data.len()));
        let taken = self.new_instance(ctx)
            && match state {
                Some(state) => self.import(state, conns.len(), ctx),
                None => false,
            };
        if let Some(answer) = answer {
            let _ = answer.send(taken);
        }
        self.attach_listeners(ctx);
        if self.instance.is_none() {
            // The plugin refused to create an instance (logged): the connections close,
            // and the handler is visibly down on its listeners.
            self.go_down("its instance could not be created", ctx);
            return;
        }
        if let (true, Some((version, bytes))) = (taken, offered) {
            info!(self.shared.log, "state handed over";
                "version" => version, "bytes" => bytes, "connections" => conns.len(),
                "paused_ms" => since.elapsed().as_secs_f64() * 1000.0);
        }
        self.deliver(HostEvent::Start, ctx);
        let mut held = Vec::new();
        for conn in conns {
            let (id, holds) = (conn.id, !conn.held.is_empty());
            if self.adopt_conn(conn, !taken, ctx) && holds {
                held.push(id);
            }
        }
        for id in held {
            self.replay_held(id, ctx);
        }
    }

    /// Give the fresh instance its predecessor's state; whether it took it. A refusal
    /// leaves the instance fresh (the plugin's duty); a panic replaces it by a fresh one.
    fn import(&mut self, state: HandedState, conns: usize, ctx: &mut Context<Self>) -> bool {
        self.phase = Phase::Importing { refusal: None };
        let (version, bytes) = (state.version, state.data.len());
        let status = self.call_instance(ctx, |inst, now, calls| {
            inst.import_state(now, version, &state.data, calls)
        });
        let refusal = match std::mem::take(&mut self.phase) {
            Phase::Importing { refusal } => refusal,
            _ => None,
        };
        match status {
            abi::SY_OK => true,
            abi::SY_ERR_PANICKED => {
                self.shared.metrics.error("plugin_panic");
                warn!(self.shared.log, "state handover refused: import_state panicked; a fresh instance starts";
                    "version" => version, "bytes" => bytes, "connections" => conns);
                if !self.new_instance(ctx) {
                    error!(self.shared.log, "no instance after the failed import");
                }
                false
            }
            status => {
                warn!(self.shared.log, "state handover refused by the new instance; it starts fresh";
                    "version" => version, "bytes" => bytes, "connections" => conns,
                    "status" => abi::status_name(status),
                    "reason" => refusal.unwrap_or_default());
                false
            }
        }
    }
}
