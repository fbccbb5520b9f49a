//! [`Session`]: what the server knows about one source address, and [`Sessions`],
//! the table with its id and name indexes kept consistent in one place.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use super::group::Dest;
use super::rate::TokenBucket;
use crate::codec::VisitorId;

/// A session is a visitor until a successful `/agent` handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Visitor,
    Agent,
}

/// One source address.
#[derive(Debug)]
pub struct Session {
    /// Short id, unique for the server's life (never reused, so an old `/reply v3`
    /// cannot reach a newcomer).
    pub id: VisitorId,
    pub dest: Dest,
    pub nick: Option<String>,
    pub role: Role,
    /// The room this session talks to, if any (one at a time).
    pub room: Option<String>,
    pub last_seen: u64,
    pub bucket: TokenBucket,
    /// Told "rate limited" already in this burst: stay silent until it recovers.
    pub rate_warned: bool,
    pub auth_failures: u32,
    /// Visitor: since when a message of theirs has had no human answer (`/waiting`).
    pub waiting_since: Option<u64>,
    /// Visitor: since when they have sent text and received no reply datagram at all.
    /// The seed client blocks for one reply per message; the busy reply pays this debt.
    pub owed_since: Option<u64>,
    /// Visitor: the start of their last message, for `/waiting`.
    pub last_text: String,
    /// Visitor: the agent that took them over.
    pub owner: Option<SocketAddr>,
    /// Agent: the visitor its plain text goes to.
    pub holding: Option<VisitorId>,
    /// Visitor, in a cluster: the agent of another host holding them (`name@host`).
    pub remote_owner: Option<String>,
    /// Agent, in a cluster: the visitor of another host it holds.
    pub holding_remote: Option<crate::wire::VisitorKey>,
}

impl Session {
    /// The name shown to others: the nick, else the visitor id.
    pub fn name(&self) -> String {
        match &self.nick {
            Some(nick) => nick.clone(),
            None => self.id.to_string(),
        }
    }
}

/// Another session already uses the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameTaken;

/// All sessions, by address (ordered, so sweeps are deterministic), id and name.
#[derive(Debug, Default)]
pub struct Sessions {
    by_addr: BTreeMap<SocketAddr, Session>,
    by_id: HashMap<VisitorId, SocketAddr>,
    /// Lowercased nick -> owner, so names are unique regardless of case.
    by_name: HashMap<String, SocketAddr>,
    next_id: u64,
}

impl Sessions {
    pub fn len(&self) -> usize {
        self.by_addr.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_addr.is_empty()
    }

    pub fn get(&self, addr: SocketAddr) -> Option<&Session> {
        self.by_addr.get(&addr)
    }

    pub fn get_mut(&mut self, addr: SocketAddr) -> Option<&mut Session> {
        self.by_addr.get_mut(&addr)
    }

    pub fn addr_of(&self, id: VisitorId) -> Option<SocketAddr> {
        self.by_id.get(&id).copied()
    }

    /// The session named `name` (any case).
    pub fn addr_of_name(&self, name: &str) -> Option<SocketAddr> {
        self.by_name.get(&name.to_ascii_lowercase()).copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&SocketAddr, &Session)> {
        self.by_addr.iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&SocketAddr, &mut Session)> {
        self.by_addr.iter_mut()
    }

    /// A new visitor session for `dest`.
    pub fn insert(&mut self, dest: Dest, now: u64, bucket: TokenBucket) -> &mut Session {
        self.next_id += 1;
        let id = VisitorId(self.next_id);
        self.by_id.insert(id, dest.addr);
        self.by_addr.entry(dest.addr).or_insert(Session {
            id,
            dest,
            nick: None,
            role: Role::Visitor,
            room: None,
            last_seen: now,
            bucket,
            rate_warned: false,
            auth_failures: 0,
            waiting_since: None,
            owed_since: None,
            last_text: String::new(),
            owner: None,
            holding: None,
            remote_owner: None,
            holding_remote: None,
        })
    }

    /// The last id handed out (a state handover carries it: ids are never reused).
    pub fn last_id(&self) -> u64 {
        self.next_id
    }

    /// Hand out ids after `last` only.
    pub fn skip_ids_to(&mut self, last: u64) {
        self.next_id = self.next_id.max(last);
    }

    /// Put back a session a predecessor handed over: its address, id and nick (ignoring
    /// case) must be free.
    pub fn restore(&mut self, session: Session) -> Result<(), String> {
        let addr = session.dest.addr;
        if self.by_addr.contains_key(&addr) {
            return Err(format!("two sessions for {addr}"));
        }
        if self.by_id.contains_key(&session.id) {
            return Err(format!("two sessions with id {}", session.id));
        }
        if let Some(nick) = &session.nick {
            let key = nick.to_ascii_lowercase();
            if self.by_name.contains_key(&key) {
                return Err(format!("two sessions named {nick}"));
            }
            self.by_name.insert(key, addr);
        }
        self.by_id.insert(session.id, addr);
        self.skip_ids_to(session.id.0);
        self.by_addr.insert(addr, session);
        Ok(())
    }

    /// Forget a session and its id and name.
    pub fn remove(&mut self, addr: SocketAddr) -> Option<Session> {
        let session = self.by_addr.remove(&addr)?;
        self.by_id.remove(&session.id);
        if let Some(nick) = &session.nick {
            self.by_name.remove(&nick.to_ascii_lowercase());
        }
        Some(session)
    }

    /// Give `addr` the nick `nick` (checked by the codec); returns the previous name.
    pub fn set_nick(&mut self, addr: SocketAddr, nick: &str) -> Result<String, NameTaken> {
        let key = nick.to_ascii_lowercase();
        if self.by_name.get(&key).is_some_and(|owner| *owner != addr) {
            return Err(NameTaken);
        }
        let session = self.by_addr.get_mut(&addr).ok_or(NameTaken)?;
        let old = session.name();
        if let Some(prev) = session.nick.replace(nick.to_string()) {
            self.by_name.remove(&prev.to_ascii_lowercase());
        }
        self.by_name.insert(key, addr);
        Ok(old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::SocketId;

    fn dest(port: u16) -> Dest {
        Dest {
            socket: SocketId(1),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    #[test]
    fn ids_are_never_reused_and_indexes_follow_removal() {
        let mut t = Sessions::default();
        let a = t.insert(dest(1), 0, TokenBucket::full(1, 0)).id;
        t.remove(dest(1).addr);
        let b = t.insert(dest(1), 0, TokenBucket::full(1, 0)).id;
        assert_ne!(a, b);
        assert_eq!(t.addr_of(a), None);
        assert_eq!(t.addr_of(b), Some(dest(1).addr));
    }

    #[test]
    fn nicks_are_unique_ignoring_case_and_freed_on_removal() {
        let mut t = Sessions::default();
        t.insert(dest(1), 0, TokenBucket::full(1, 0));
        t.insert(dest(2), 0, TokenBucket::full(1, 0));
        assert_eq!(t.set_nick(dest(1).addr, "Alice").as_deref(), Ok("v1"));
        assert_eq!(t.set_nick(dest(2).addr, "alice"), Err(NameTaken));
        assert_eq!(
            t.set_nick(dest(1).addr, "alice").as_deref(),
            Ok("Alice"),
            "own name, new case"
        );
        assert_eq!(t.set_nick(dest(1).addr, "al").as_deref(), Ok("alice"));
        assert!(t.set_nick(dest(2).addr, "alice").is_ok(), "old name freed");
        t.remove(dest(2).addr);
        assert!(
            t.set_nick(dest(1).addr, "alice").is_ok(),
            "freed on removal"
        );
    }
}
