//! Timers a plugin arms: each fires once as a `TIMER` event with its token, and is
//! forgotten with the instance.
//!
//! Re-arming a timer to a later time is the common case (an idle timeout pushed back
//! by every request), so it only moves the timer's due time: the sleep already running
//! wakes, sees the timer is not due yet, and sleeps for the rest. A request then costs
//! no cancelled future, no new future and no timer-wheel work (measured on files GETs:
//! `docs/decisions/small-get-system-calls.md`). Only a re-arm to an earlier time
//! replaces the sleep.

use std::time::{Duration, Instant};

use actix::{AsyncContext, Context, SpawnHandle};
use switchyard_sdk::abi;

use crate::actor::InstanceActor;
use crate::actor::event::HostEvent;
use crate::actor::resources::ArmedTimer;

/// Most timers one instance may have armed.
const MAX_TIMERS: usize = 65_536;
/// Longest timer: a year (longer is a plugin bug).
const MAX_TIMER_MS: u64 = 365 * 24 * 3600 * 1000;

pub fn set_timer(
    actor: &mut InstanceActor,
    ctx: &mut Context<InstanceActor>,
    token: u64,
    delay_ms: u64,
) -> u32 {
    let delay = Duration::from_millis(delay_ms.min(MAX_TIMER_MS));
    let due = Instant::now() + delay;
    let count = actor.res.timers.len();
    match actor.res.timers.get_mut(&token) {
        // The running sleep ends first: it re-sleeps then (see `sleep_until`).
        Some(armed) if armed.wakes <= due => {
            armed.due = due;
            return abi::SY_OK;
        }
        Some(armed) => {
            ctx.cancel_future(armed.handle);
        }
        None if count >= MAX_TIMERS => return abi::SY_ERR_LIMIT,
        None => {}
    }
    let handle = sleep_until(ctx, token, delay);
    actor.res.timers.insert(
        token,
        ArmedTimer {
            handle,
            wakes: due,
            due,
        },
    );
    abi::SY_OK
}

/// Sleep `delay`, then fire `token` if it is due, or sleep again for what is left.
fn sleep_until(ctx: &mut Context<InstanceActor>, token: u64, delay: Duration) -> SpawnHandle {
    ctx.run_later(delay, move |act, ctx| {
        let Some(armed) = act.res.timers.get_mut(&token) else {
            return;
        };
        let now = Instant::now();
        if armed.due > now {
            let rest = armed.due - now;
            armed.wakes = armed.due;
            armed.handle = sleep_until(ctx, token, rest);
            return;
        }
        act.res.timers.remove(&token);
        act.deliver(HostEvent::Timer { token }, ctx);
    })
}

pub fn cancel_timer(
    actor: &mut InstanceActor,
    ctx: &mut Context<InstanceActor>,
    token: u64,
) -> u32 {
    if let Some(t) = actor.res.timers.remove(&token) {
        ctx.cancel_future(t.handle);
    }
    abi::SY_OK
}
