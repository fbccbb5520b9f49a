//! What the plugin says its sessions are doing (`session_update`) and how they ended
//! (`session_end`): kept in the instance's [`SessionTable`](crate::actor::sessions),
//! counted in `switchyard_transfers_total{handler,result}`.
//!
//! The result is one of the SDK's outcome words; anything else counts as `other`, so
//! the label stays bounded whatever a plugin (or one built against an older SDK) says.
//! A session ended without ever being described counts too: a request refused at once
//! need not be described first.

use std::rc::Rc;

use slog::debug;
use switchyard_sdk::Session;
use switchyard_sdk::abi;

use crate::actor::InstanceActor;

pub fn session_update(actor: &mut InstanceActor, session: u64, info: &Session<'_>) -> u32 {
    // A session counted on a connection must name one of this instance's.
    let moved = match info.conn {
        None => None,
        Some(conn) => match actor.res.conns.get(&conn.0) {
            Some(c) => Some(Rc::clone(&c.moved)),
            None => return abi::SY_ERR_INVALID,
        },
    };
    match actor.res.sessions.update(session, info, moved) {
        Ok(()) => abi::SY_OK,
        Err(status) => status,
    }
}

pub fn session_end(actor: &mut InstanceActor, session: u64, result: &str) -> u32 {
    actor.res.sessions.end(session);
    let shared = &actor.shared;
    if shared.metrics.transfer(result) {
        debug!(shared.log, "session result is not one of the outcomes (plugin built against an older SDK?): counted as `other`, logged once per handler";
            "result" => result);
    }
    abi::SY_OK
}
