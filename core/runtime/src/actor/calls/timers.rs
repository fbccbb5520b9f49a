//! Timers a plugin arms: each fires once as a `TIMER` event with its token, and is
//! forgotten with the instance.

use std::time::Duration;

use actix::{AsyncContext, Context};
use switchyard_sdk::abi;

use crate::actor::InstanceActor;
use crate::actor::event::HostEvent;

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
    if let Some(old) = actor.res.timers.remove(&token) {
        ctx.cancel_future(old);
    } else if actor.res.timers.len() >= MAX_TIMERS {
        return abi::SY_ERR_LIMIT;
    }
    let delay = Duration::from_millis(delay_ms.min(MAX_TIMER_MS));
    let handle = ctx.run_later(delay, move |act, ctx| {
        act.res.timers.remove(&token);
        act.deliver(HostEvent::Timer { token }, ctx);
    });
    actor.res.timers.insert(token, handle);
    abi::SY_OK
}

pub fn cancel_timer(
    actor: &mut InstanceActor,
    ctx: &mut Context<InstanceActor>,
    token: u64,
) -> u32 {
    if let Some(h) = actor.res.timers.remove(&token) {
        ctx.cancel_future(h);
    }
    abi::SY_OK
}
