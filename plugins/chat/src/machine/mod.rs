//! The chat as a deterministic state machine on a manual clock (quinn-proto style).
//!
//! Inputs: [`Chat::handle_datagram`], [`Chat::handle_timeout`], [`Chat::drain`],
//! [`Chat::replaced`], each with the current time in milliseconds where it matters;
//! across a reload, [`Chat::snapshot`] and [`Chat::restore`]. Outputs: [`Chat::poll_output`] (datagrams to
//! send and chat lines to publish) and [`Chat::poll_timeout`] (when to call
//! `handle_timeout` next). No I/O, no clock, no randomness: a test replays any
//! scenario exactly.
//!
//! Timers are one periodic sweep rather than a deadline per session: expiry and the
//! busy reply are checked every `tick_ms` (at most a second), which keeps the per
//! datagram cost independent of the number of sessions.
//!
//! # Layout
//! - this file: [`Chat`], its inputs and outputs.
//! - `session`: one source address's session, and the table of them.
//! - `desk`: the support desk (visitors, the agent handshake, answers, takeover).
//! - `rooms`: the room commands and the fan-out of room lines.
//! - `cluster`: the chat across hosts: other hosts' presence, claims held here, and
//!   the bus requests ([`BusOut`]) the adapter carries out.
//! - `cluster_handover`: the cluster's claims handed over across a reload.
//! - `desk_cluster`: the desk across hosts, this host's side (its visitors and answers).
//! - `claims`: `/take` and `/release` across hosts (a key-value claim).
//! - `desk_notes`: the other hosts' desk notes, and a host gone silent.
//! - `rooms_cluster`: rooms across hosts (room notes, members elsewhere).
//! - `group`: a set of recipients with a cached recipient list.
//! - `rate`: the per-source token bucket.
//! - `snapshot`: the whole state as a reload hands it over, and restoring it.
//! - `operator`: sessions as the host's console shows them (no text), and the
//!   operator's release of one.
//! - `tests.rs`: the machine's tests; `cluster_tests.rs`: two hosts on a simulated bus.

mod claims;
mod cluster;
mod cluster_handover;
mod desk;
mod desk_cluster;
mod desk_notes;
mod group;
mod operator;
mod rate;
mod rooms;
mod rooms_cluster;
mod session;
mod snapshot;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use switchyard_sdk::SocketId;

pub use cluster::{BusOut, KvResult, KvWrite};
pub use cluster_handover::{ClaimState, ClusterState};
pub use group::Dest;
use group::Group;
pub use operator::SessionLine;
use rate::TokenBucket;
pub use session::Role;
use session::Sessions;
pub use snapshot::{RoomState, SessionState, Snapshot};

use crate::codec::{self, Request, VisitorRef, reply};
use crate::config::Config;

/// One thing for the adapter to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// One datagram.
    Send { to: Dest, payload: String },
    /// The same datagram to many (a room, the agents). A failed send to one member
    /// must not stop the others.
    Fanout { to: Arc<[Dest]>, payload: String },
    /// A chat line for the `messages` port. `channel` is `#room` or a visitor id.
    Line {
        from: String,
        channel: String,
        text: String,
    },
    /// Something to do on the cluster bus (only once [`Chat::join_cluster`] ran).
    Bus(BusOut),
}

/// Who authored an automatic reply, in published chat lines.
pub const AUTO: &str = "auto";

/// The chat server's whole state.
#[derive(Debug)]
pub struct Chat {
    cfg: Config,
    idle_ms: u64,
    answer_ms: u64,
    tick_ms: u64,
    sessions: Sessions,
    rooms: BTreeMap<String, Group>,
    agents: Group,
    out: VecDeque<Output>,
    next_sweep: Option<u64>,
    /// Limits the "server full" replies to sources we hold no session for.
    strangers: TokenBucket,
    draining: bool,
    /// The other hosts, once this host's bus name is known (config `cluster`).
    cluster: Option<cluster::Cluster>,
}

impl Chat {
    /// A server with a checked configuration.
    pub fn new(cfg: Config) -> Result<Chat, String> {
        cfg.validate()?;
        let idle_ms = cfg.idle_timeout_secs.saturating_mul(1000);
        let answer_ms = cfg.answer_timeout_secs.saturating_mul(1000);
        let tick_ms = (idle_ms.min(answer_ms) / 10).clamp(50, 1000);
        Ok(Chat {
            cfg,
            idle_ms,
            answer_ms,
            tick_ms,
            sessions: Sessions::default(),
            rooms: BTreeMap::new(),
            agents: Group::default(),
            out: VecDeque::new(),
            next_sweep: None,
            strangers: TokenBucket::full(STRANGER_BURST, 0),
            draining: false,
            cluster: None,
        })
    }

    /// The next output, in the order it was produced.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Chat::handle_timeout`] should run next (absolute ms), if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        [self.next_sweep, self.cluster_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    pub fn agent_count(&self) -> usize {
        self.agents.len()
    }

    /// Members of `room` (lowercase, no `#`).
    pub fn room_size(&self, room: &str) -> usize {
        self.rooms.get(room).map_or(0, Group::len)
    }

    /// One datagram from `peer` on `socket`.
    pub fn handle_datagram(&mut self, now: u64, socket: SocketId, peer: SocketAddr, data: &[u8]) {
        let dest = Dest { socket, addr: peer };
        match self.sessions.get_mut(peer) {
            Some(s) => s.last_seen = now,
            None => {
                if self.draining || self.sessions.len() >= self.cfg.max_sessions {
                    let why = if self.draining {
                        "server shutting down"
                    } else {
                        "server full, try again later"
                    };
                    if self.strangers.take(now, STRANGER_RATE, STRANGER_BURST) {
                        self.send(dest, reply::error(why));
                    }
                    return;
                }
                self.sessions
                    .insert(dest, now, TokenBucket::full(self.cfg.burst, now));
                self.next_sweep.get_or_insert(now + self.tick_ms);
            }
        }
        if !self.admit(now, peer) {
            return;
        }
        match codec::decode(data, self.cfg.max_datagram) {
            Ok(request) => self.dispatch(now, peer, request),
            Err(e) => self.send(dest, reply::error(e)),
        }
    }

    /// Run the sweep if it is due: idle sessions expire, visitors owed a reply for
    /// `answer_timeout_secs` get the busy reply.
    pub fn handle_timeout(&mut self, now: u64) {
        if self.cluster_deadline().is_some_and(|due| now >= due) {
            self.cluster_tick(now);
        }
        if self.next_sweep.is_none_or(|due| now < due) {
            return;
        }
        let (mut expired, mut owed) = (Vec::new(), Vec::new());
        for (&addr, s) in self.sessions.iter_mut() {
            if now.saturating_sub(s.last_seen) >= self.idle_ms {
                expired.push(addr);
            } else if s
                .owed_since
                .is_some_and(|t| now.saturating_sub(t) >= self.answer_ms)
            {
                s.owed_since = None;
                owed.push((s.dest, s.id));
            }
        }
        for (dest, id) in owed {
            let text = self.cfg.busy_reply.clone();
            self.send(dest, text.clone());
            self.line(AUTO.into(), id.to_string(), text);
        }
        for addr in expired {
            self.end_session(addr, "timed out");
        }
        self.next_sweep = (!self.sessions.is_empty()).then_some(now + self.tick_ms);
    }

    /// The host is shutting down: tell agents and room members, accept nobody new.
    /// Visitors are not told: an unsolicited datagram would be taken by the seed
    /// client as the answer to its next message.
    pub fn drain(&mut self) {
        self.draining = true;
        let notice = reply::info("server shutting down");
        let mut to: Vec<Dest> = self.agents.all().to_vec();
        for group in self.rooms.values() {
            for addr in group.addrs() {
                if let Some(s) = self.sessions.get(addr).filter(|s| s.role == Role::Visitor) {
                    to.push(s.dest);
                }
            }
        }
        self.fanout(to.into(), notice);
    }

    /// A reload replaced this instance and its successor did not take the state: the
    /// listener socket now reaches the successor, which knows nobody. Tell each session
    /// what to do again, then forget them all. A visitor is told only when owed a
    /// reply (the seed client reads one reply per message: an unasked line would be
    /// taken as the answer to its next one).
    pub fn replaced(&mut self) {
        let notices: Vec<(Dest, String)> = self
            .sessions
            .iter()
            .filter_map(|(_, s)| {
                let again = match (s.role, s.room.is_some()) {
                    (Role::Agent, true) => "/agent and /join again",
                    (Role::Agent, false) => "/agent again",
                    (Role::Visitor, true) => "/join again",
                    (Role::Visitor, false) if s.owed_since.is_some() => "send your message again",
                    (Role::Visitor, false) => return None,
                };
                Some((
                    s.dest,
                    reply::info(format_args!("server restarted, please {again}")),
                ))
            })
            .collect();
        for (dest, notice) in notices {
            self.send(dest, notice);
        }
        self.sessions = Sessions::default();
        self.rooms.clear();
        self.agents = Group::default();
        self.next_sweep = None;
    }

    /// Rate limit: one token per datagram; the first refusal of a burst is answered,
    /// the rest are dropped silently (answering each would amplify a flood).
    fn admit(&mut self, now: u64, peer: SocketAddr) -> bool {
        let (rate, burst) = (self.cfg.rate_per_sec, self.cfg.burst);
        let Some(s) = self.sessions.get_mut(peer) else {
            return false;
        };
        if s.bucket.take(now, rate, burst) {
            s.rate_warned = false;
            return true;
        }
        if !std::mem::replace(&mut s.rate_warned, true) {
            let dest = s.dest;
            self.send(dest, reply::error("rate limited: slow down"));
        }
        false
    }

    fn dispatch(&mut self, now: u64, peer: SocketAddr, request: Request<'_>) {
        match request {
            Request::Bye => self.end_session(peer, "left"),
            Request::Ping => self.reply(peer, reply::PONG.into()),
            Request::Help => self.help(peer),
            Request::Text(text) => self.text(now, peer, text),
            Request::Nick(nick) => self.nick(peer, nick),
            Request::Join(room) => self.join(peer, room),
            Request::Leave => self.leave(peer),
            Request::Who => self.who(peer),
            Request::Rooms => self.list_rooms(peer),
            Request::Agent { secret, name } => self.handshake(peer, secret, name),
            Request::Reply { visitor, text } => match self.visitor_key(visitor) {
                Some(key) if self.is_remote(&key) => self.answer_remote(peer, key, text),
                _ => self.answer(peer, visitor.id, text),
            },
            Request::Take(visitor) => match self.visitor_key(visitor) {
                Some(key) => self.take_cluster(peer, key),
                None => self.take(peer, visitor.id),
            },
            Request::Release(visitor) => self.release_any(peer, visitor),
            Request::Waiting => self.waiting(now, peer),
        }
    }

    /// Plain text goes to the room if the sender is in one; otherwise to the desk.
    fn text(&mut self, now: u64, peer: SocketAddr, text: &str) {
        let Some(s) = self.sessions.get(peer) else {
            return;
        };
        if let Some(room) = s.room.clone() {
            return self.say_in_room(peer, &room, text);
        }
        match (s.role, s.holding, s.holding_remote.clone()) {
            (Role::Visitor, ..) => self.visitor_says(now, peer, text),
            (Role::Agent, _, Some(key)) => self.answer_remote(peer, key, text),
            (Role::Agent, Some(visitor), None) => self.answer(peer, visitor, text),
            (Role::Agent, None, None) => self.reply(
                peer,
                reply::error("you hold no visitor: /reply v3 TEXT, or /take v3 and then type"),
            ),
        }
    }

    fn help(&mut self, peer: SocketAddr) {
        let agent = self
            .sessions
            .get(peer)
            .is_some_and(|s| s.role == Role::Agent);
        let text = if agent {
            "agent commands: /waiting, /reply ID TEXT, /take ID (then just type), /release [ID]; \
             also /nick NAME, /join ROOM, /leave, /who, /rooms, /ping, bye"
        } else {
            "type to reach our support agents; rooms: /nick NAME, /join ROOM, /leave, /who, /rooms; \
             /ping; bye ends the session"
        };
        self.reply(peer, reply::info(text));
    }

    /// Forget a session; tell its room, and the agents if it was one of them or
    /// a visitor they were serving.
    fn end_session(&mut self, peer: SocketAddr, why: &str) {
        let Some(s) = self.sessions.remove(peer) else {
            return;
        };
        let name = s.name();
        if let Some(room) = &s.room {
            self.left_room(peer, &name, room, why);
        }
        match s.role {
            Role::Agent => {
                self.agents.remove(peer);
                for (_, v) in self.sessions.iter_mut() {
                    if v.owner == Some(peer) {
                        v.owner = None;
                    }
                }
                let to = self.agents.all();
                self.fanout(to, reply::info(format_args!("agent {name} {why}")));
            }
            Role::Visitor => {
                for (_, a) in self.sessions.iter_mut() {
                    if a.holding == Some(s.id) {
                        a.holding = None;
                    }
                }
                if s.waiting_since.is_some() || s.owner.is_some() {
                    let to = self.agents.all();
                    self.fanout(to, reply::info(format_args!("{} {why}", s.id)));
                }
            }
        }
        self.session_ended_cluster(peer, s.role, s.id, &name, why);
    }

    /// `/release [ID]`: in a cluster, the claim goes back; else as on one host.
    fn release_any(&mut self, peer: SocketAddr, visitor: Option<VisitorRef<'_>>) {
        if self.cluster.is_none() {
            return self.release(peer, visitor.map(|v| v.id));
        }
        let held = self.sessions.get(peer).and_then(|s| {
            let me = self.cluster.as_ref()?;
            s.holding_remote
                .clone()
                .or_else(|| s.holding.map(|id| me.key(id)))
        });
        match visitor.and_then(|v| self.visitor_key(v)).or(held) {
            Some(key) => self.release_cluster(peer, key),
            None => self.reply(peer, reply::error("you hold no visitor")),
        }
    }

    fn reply(&mut self, peer: SocketAddr, payload: String) {
        if let Some(dest) = self.sessions.get(peer).map(|s| s.dest) {
            self.send(dest, payload);
        }
    }

    fn send(&mut self, to: Dest, payload: String) {
        self.out.push_back(Output::Send { to, payload });
    }

    fn fanout(&mut self, to: Arc<[Dest]>, payload: String) {
        if !to.is_empty() {
            self.out.push_back(Output::Fanout { to, payload });
        }
    }

    fn line(&mut self, from: String, channel: String, text: String) {
        self.out.push_back(Output::Line {
            from,
            channel,
            text,
        });
    }
}

/// "Server full" replies: at most this many per second, all sources together.
const STRANGER_RATE: u32 = 10;
const STRANGER_BURST: u32 = 10;

#[cfg(test)]
mod cluster_tests;
#[cfg(test)]
mod tests;
