//! What the plugin says its sessions are doing (`session_update`) and how they ended
//! (`session_end`): kept in the instance's [`SessionTable`](crate::actor::sessions),
//! counted in `switchyard_transfers_total{handler,result}`, and each ended session
//! recorded in the access log (`crate::access_log`).
//!
//! The result is one of the SDK's outcome words; anything else counts as `other`, so
//! the label stays bounded whatever a plugin (or one built against an older SDK) says.
//! A session ended without ever being described counts too: a request refused at once
//! need not be described first.

use std::rc::Rc;
use std::time::{Duration, SystemTime};

use slog::debug;
use switchyard_sdk::abi;
use switchyard_sdk::messages::Outcome;
use switchyard_sdk::{Direction, Session};

use crate::access_log::{self, Entry};
use crate::actor::InstanceActor;
use crate::actor::sessions::SessionRecord;
use crate::console::journal::now_unix_ms;
use crate::console::model::FinishedSession;

pub fn session_update(actor: &mut InstanceActor, session: u64, info: &Session<'_>) -> u32 {
    // A session counted on a connection must name one of this instance's.
    let moved = match info.conn {
        None => None,
        Some(conn) => match actor.res.conns.get(&conn.0) {
            // Bytes written before the description and still queued belong before
            // the session too (a reply header gathered until the call returns).
            Some(c) => Some((Rc::clone(&c.moved), c.pending as u64)),
            None => return abi::SY_ERR_INVALID,
        },
    };
    match actor.res.sessions.update(session, info, moved) {
        Ok(()) => abi::SY_OK,
        Err(status) => status,
    }
}

pub fn session_end(actor: &mut InstanceActor, session: u64, result: &str) -> u32 {
    let record = actor.res.sessions.end(session);
    let shared = &actor.shared;
    if shared.metrics.transfer(result) {
        debug!(shared.log, "session result is not one of the outcomes (plugin built against an older SDK?): counted as `other`, logged once per handler";
            "result" => result);
    }
    let entry = Entry {
        at: SystemTime::now(),
        handler: &shared.name,
        peer: record.as_ref().and_then(|r| r.peer),
        resource: record.as_ref().map_or("", |r| &r.resource),
        direction: record.as_ref().map_or(Direction::None, |r| r.direction),
        bytes: record.as_ref().map_or(0, SessionRecord::bytes_done),
        // The metrics' bounded word, not the plugin's text.
        outcome: result.parse::<Outcome>().map_or("other", Outcome::as_str),
        duration: record
            .as_ref()
            .map_or(Duration::ZERO, |r| r.started.elapsed()),
    };
    access_log::record(&shared.log, &entry);
    shared.wide.journal().finished(FinishedSession {
        handler: shared.name.clone(),
        peer: entry.peer.map(|p| p.to_string()).unwrap_or_default(),
        resource: entry.resource.to_owned(),
        direction: entry.direction.as_str(),
        bytes: entry.bytes,
        result: result.parse::<Outcome>().map_or("other", Outcome::as_str),
        elapsed_ms: entry.duration.as_millis() as u64,
        ended_unix_ms: now_unix_ms(),
    });
    abi::SY_OK
}
