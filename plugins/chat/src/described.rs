//! The chat's sessions described to the host (`describe_session`, `end_session`), for
//! the operator console: who, from where, in which state — never what they wrote.
//!
//! Why reconciled rather than described at each change: the machine keeps a datagram's
//! cost independent of the number of sessions, and a full pass over them is not. The
//! pass runs when the number of sessions changed (one came or went) or at most every
//! [`PERIOD_MS`] otherwise (a visitor starts or stops waiting); the sweep timer, armed
//! while sessions exist, brings events often enough.

use std::collections::HashMap;
use std::net::SocketAddr;

use switchyard_sdk::{Ctx, Direction, Outcome, Session};

use crate::machine::Chat;

/// Longest a changed state waits before the host hears of it.
const PERIOD_MS: u64 = 250;

/// What the host was last told.
#[derive(Debug, Default)]
pub struct Described {
    told: HashMap<u64, (SocketAddr, String, String)>,
    at_ms: u64,
}

impl Described {
    /// Tell the host what changed since the last pass (or nothing, if not due).
    pub fn update(&mut self, ctx: &mut Ctx<'_>, chat: &Chat, now: u64) {
        let count_changed = chat.session_count() != self.told.len();
        if !count_changed && now.saturating_sub(self.at_ms) < PERIOD_MS {
            return;
        }
        self.at_ms = now;
        let mut seen = HashMap::with_capacity(self.told.len());
        for line in chat.session_lines() {
            let entry = (line.peer, line.who, line.state);
            if self.told.get(&line.key) != Some(&entry) {
                let session = Session {
                    direction: Direction::None,
                    peer: Some(entry.0),
                    conn: None,
                    resource: &entry.1,
                    state: &entry.2,
                    bytes_done: 0,
                    bytes_total: None,
                };
                if let Err(e) = ctx.describe_session(line.key, &session) {
                    ctx.debug(format_args!("cannot describe session {}: {e}", line.key));
                }
            }
            seen.insert(line.key, entry);
        }
        for key in self.told.keys().filter(|k| !seen.contains_key(k)) {
            let _ = ctx.end_session(*key, Outcome::Ok);
        }
        self.told = seen;
    }

    /// The operator cancelled session `key` and the machine released it: end it now
    /// as aborted (not `ok`, as a pass would when it notices it gone).
    pub fn cancelled(&mut self, ctx: &mut Ctx<'_>, key: u64) {
        if self.told.remove(&key).is_some() {
            let _ = ctx.end_session(key, Outcome::Aborted);
        }
    }
}
