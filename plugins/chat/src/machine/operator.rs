//! What the host's operator console sees of the chat, and what it may do: each
//! session as a name, an address and a state word ([`Chat::session_lines`]), never
//! what anyone wrote; and releasing a session ([`Chat::operator_release`]), a visitor
//! stuck waiting for an answer most of all.

use std::net::SocketAddr;

use super::Chat;
use super::session::Role;
use crate::codec::{VisitorId, reply};

/// One session as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionLine {
    /// The session's id number (`v3` is 3): its key for the host.
    pub key: u64,
    pub peer: SocketAddr,
    /// The nick, else the id (`v3`).
    pub who: String,
    /// `visitor waiting`, `visitor served`, `visitor`, `agent`, `agent holding v3`,
    /// with ` in #room` when in one.
    pub state: String,
}

impl Chat {
    /// Every session, in address order.
    pub fn session_lines(&self) -> Vec<SessionLine> {
        self.sessions
            .iter()
            .map(|(addr, s)| {
                let mut state = match (s.role, s.waiting_since, s.owner, s.holding) {
                    (Role::Visitor, Some(_), _, _) => "visitor waiting".to_owned(),
                    (Role::Visitor, None, Some(_), _) => "visitor served".to_owned(),
                    (Role::Visitor, None, None, _) => "visitor".to_owned(),
                    (Role::Agent, _, _, Some(v)) => format!("agent holding {v}"),
                    (Role::Agent, _, _, None) => "agent".to_owned(),
                };
                if let Some(room) = &s.room {
                    state.push_str(&format!(" in #{room}"));
                }
                SessionLine {
                    key: s.id.0,
                    peer: *addr,
                    who: s.name(),
                    state,
                }
            })
            .collect()
    }

    /// The operator released session `key`: the peer is told in chat terms (and the
    /// agents, if a visitor waited or was served), and the session is forgotten.
    /// `false` when there is no such session.
    pub fn operator_release(&mut self, key: u64) -> bool {
        let Some(addr) = self.sessions.addr_of(VisitorId(key)) else {
            return false;
        };
        self.reply(
            addr,
            reply::info("the operator closed this session; write again to start a new one"),
        );
        self.end_session(addr, "released by the operator");
        true
    }
}
