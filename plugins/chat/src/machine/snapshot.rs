//! [`Snapshot`]: the chat's state as a reload hands it over (state version 1's
//! document), taken from a running [`Chat`] and restored into a fresh one.
//!
//! Times are carried as milliseconds *ago*: each instance has its own clock, which
//! starts anew in the successor, so an absolute time would mean nothing there. The
//! restoring side must run its clock at least [`Snapshot::oldest_ms`] ahead (the
//! plugin adds that offset), so no time falls before its zero.
//!
//! A restore checks the document whole (every reference between sessions, rooms and
//! agents) before it changes anything: a damaged state is refused and the chat stays
//! as `Chat::new` made it. The new configuration applies to what is restored: limits
//! that shrank keep who is already in (they refuse newcomers only); with agents
//! disabled now, agents become visitors and are told so.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use switchyard_sdk::SocketId;

use super::Chat;
use super::group::{Dest, Group};
use super::rate::TokenBucket;
use super::session::{Role, Session, Sessions};
use crate::codec::{VisitorId, reply};

/// Every session, room and agent of a chat. A change of shape is a new state version
/// (`crate::handover`): this one is version 1's, and stays as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// The last visitor id handed out (ids are never reused).
    pub last_id: u64,
    pub sessions: Vec<SessionState>,
    /// Each room with its members in join order.
    pub rooms: Vec<RoomState>,
    /// Online agents, in the order they came.
    pub agents: Vec<SocketAddr>,
    /// The chat across hosts (`cluster_handover`). Absent outside a cluster, so such a
    /// document is exactly what version 1 always was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<super::cluster_handover::ClusterState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomState {
    pub name: String,
    pub members: Vec<SocketAddr>,
}

/// One session (see `session::Session` for what each field means).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionState {
    pub id: u64,
    /// The listener socket it talks to: its id stays the same across a reload.
    pub socket: u64,
    pub addr: SocketAddr,
    pub nick: Option<String>,
    pub agent: bool,
    pub room: Option<String>,
    /// Since its last datagram.
    pub idle_ms: u64,
    /// Its rate bucket: tokens in thousandths, and time since the last refill.
    pub tokens_milli: u64,
    pub refilled_ms: u64,
    pub rate_warned: bool,
    pub auth_failures: u32,
    pub waiting_ms: Option<u64>,
    pub owed_ms: Option<u64>,
    pub last_text: String,
    pub owner: Option<SocketAddr>,
    pub holding: Option<u64>,
}

impl Snapshot {
    /// The longest time ago the snapshot mentions.
    pub fn oldest_ms(&self) -> u64 {
        self.sessions
            .iter()
            .flat_map(|s| {
                [
                    s.idle_ms,
                    s.refilled_ms,
                    s.waiting_ms.unwrap_or(0),
                    s.owed_ms.unwrap_or(0),
                ]
            })
            .max()
            .unwrap_or(0)
    }
}

impl Chat {
    /// The whole state at `now`.
    pub fn snapshot(&self, now: u64) -> Snapshot {
        let ago = |t: u64| now.saturating_sub(t);
        let sessions = self
            .sessions
            .iter()
            .map(|(&addr, s)| {
                let (tokens_milli, refilled_ms) = s.bucket.parts(now);
                SessionState {
                    id: s.id.0,
                    socket: s.dest.socket.0,
                    addr,
                    nick: s.nick.clone(),
                    agent: s.role == Role::Agent,
                    room: s.room.clone(),
                    idle_ms: ago(s.last_seen),
                    tokens_milli,
                    refilled_ms,
                    rate_warned: s.rate_warned,
                    auth_failures: s.auth_failures,
                    waiting_ms: s.waiting_since.map(ago),
                    owed_ms: s.owed_since.map(ago),
                    last_text: s.last_text.clone(),
                    owner: s.owner,
                    holding: s.holding.map(|v| v.0),
                }
            })
            .collect();
        let rooms = self
            .rooms
            .iter()
            .map(|(name, g)| RoomState {
                name: name.clone(),
                members: g.addrs().collect(),
            })
            .collect();
        Snapshot {
            last_id: self.sessions.last_id(),
            sessions,
            rooms,
            agents: self.agents.addrs().collect(),
            cluster: self.cluster_snapshot(),
        }
    }

    /// Take a predecessor's state at `now` (at least `snapshot.oldest_ms()`), under
    /// this chat's configuration. On `Err` nothing changed.
    pub fn restore(&mut self, snapshot: Snapshot, now: u64) -> Result<(), String> {
        let cluster = snapshot.cluster.clone();
        let agents_on = self.cfg.agent_secret.is_some();
        let was_agent: HashSet<SocketAddr> = snapshot
            .sessions
            .iter()
            .filter(|s| s.agent)
            .map(|s| s.addr)
            .collect();
        let mut sessions = Sessions::default();
        sessions.skip_ids_to(snapshot.last_id);
        let mut demoted = Vec::new();
        for s in snapshot.sessions {
            if s.owner.is_some_and(|o| !was_agent.contains(&o)) {
                return Err(format!("{} is held by a session that is no agent", s.addr));
            }
            let agent = s.agent && agents_on;
            if s.agent && !agents_on {
                demoted.push(Dest {
                    socket: SocketId(s.socket),
                    addr: s.addr,
                });
            }
            let at = |ago: u64| now.saturating_sub(ago);
            sessions.restore(Session {
                id: VisitorId(s.id),
                dest: Dest {
                    socket: SocketId(s.socket),
                    addr: s.addr,
                },
                nick: s.nick,
                role: if agent { Role::Agent } else { Role::Visitor },
                room: s.room,
                last_seen: at(s.idle_ms),
                bucket: TokenBucket::from_parts(s.tokens_milli, s.refilled_ms, now),
                rate_warned: s.rate_warned,
                auth_failures: s.auth_failures,
                waiting_since: s.waiting_ms.map(at),
                owed_since: s.owed_ms.map(at),
                last_text: s.last_text,
                owner: s.owner.filter(|_| agents_on),
                holding: s.holding.filter(|_| agent).map(VisitorId),
                // The cluster's part is restored after the sessions
                // (`cluster_handover`).
                remote_owner: None,
                holding_remote: None,
            })?;
        }
        for (_, s) in sessions.iter() {
            if let Some(v) = s.holding {
                let held = sessions.addr_of(v).and_then(|a| sessions.get(a));
                if !held.is_some_and(|v| v.role == Role::Visitor) {
                    return Err(format!("{} holds {v}, which is no visitor", s.dest.addr));
                }
            }
        }
        let rooms = restore_rooms(snapshot.rooms, &sessions)?;
        let mut agents = Group::default();
        if agents_on {
            for a in snapshot.agents {
                match sessions.get(a) {
                    Some(s) if s.role == Role::Agent && agents.insert(s.dest) => {}
                    _ => return Err(format!("agent {a} is no agent session, or listed twice")),
                }
            }
            if agents.len() != was_agent.len() {
                return Err("an agent session is missing from the agents".into());
            }
        }
        self.sessions = sessions;
        self.rooms = rooms;
        self.agents = agents;
        self.next_sweep = (!self.sessions.is_empty()).then_some(now + self.tick_ms);
        let notice = reply::info("agents are disabled on this server now; you are a visitor");
        self.fanout(demoted.into(), notice);
        self.cluster_restore(cluster, now);
        Ok(())
    }
}

/// The rooms, each member a session of `sessions` that says it is in that room, and
/// each session in a room a member of it.
fn restore_rooms(
    rooms: Vec<RoomState>,
    sessions: &Sessions,
) -> Result<BTreeMap<String, Group>, String> {
    let mut out: BTreeMap<String, Group> = BTreeMap::new();
    for r in rooms {
        if r.members.is_empty() || out.contains_key(&r.name) {
            return Err(format!("room #{} is empty or listed twice", r.name));
        }
        let mut group = Group::default();
        for m in r.members {
            match sessions.get(m) {
                Some(s) if s.room.as_deref() == Some(r.name.as_str()) && group.insert(s.dest) => {}
                _ => return Err(format!("#{}: {m} is no member, or listed twice", r.name)),
            }
        }
        out.insert(r.name, group);
    }
    for (&addr, s) in sessions.iter() {
        if let Some(room) = &s.room
            && !out.get(room).is_some_and(|g| g.contains(addr))
        {
            return Err(format!(
                "{addr} says it is in #{room}, which does not list it"
            ));
        }
    }
    Ok(out)
}
