//! The support desk: visitors' messages, the agent handshake, answers, takeover and
//! the waiting list.

use std::fmt::Write as _;
use std::net::SocketAddr;

use super::session::Role;
use super::{AUTO, Chat};
use crate::codec::names::clip;
use crate::codec::{VisitorId, reply};

/// How much of a visitor's last message `/waiting` shows.
const PREVIEW: usize = 60;
/// Entries `/waiting` lists in one datagram.
const WAITING_SHOWN: usize = 20;

impl Chat {
    /// A visitor's text: to the agent holding them, else to every agent, else the
    /// auto-reply. Either way it is published as a chat line on channel `v<id>`.
    pub(super) fn visitor_says(&mut self, now: u64, peer: SocketAddr, text: &str) {
        let Some(s) = self.sessions.get_mut(peer) else {
            return;
        };
        s.waiting_since.get_or_insert(now);
        s.last_text = clip(text, PREVIEW);
        let (id, dest, name) = (s.id, s.dest, s.name());
        let held_elsewhere = s.remote_owner.is_some();
        let owner = s.owner.and_then(|a| self.sessions.get(a)).map(|a| a.dest);
        let remote_agents = self.cluster.as_ref().map_or(0, |c| c.remote_agents());
        self.line(name, id.to_string(), text.to_string());
        self.visitor_said_cluster(peer, text);
        let line = reply::visitor_line(id, text);
        if owner.is_some() || held_elsewhere || !self.agents.is_empty() || remote_agents > 0 {
            match owner {
                Some(agent) => self.send(agent, line),
                None if !held_elsewhere => {
                    let to = self.agents.all();
                    self.fanout(to, line);
                }
                None => {}
            }
            if let Some(s) = self.sessions.get_mut(peer) {
                s.owed_since.get_or_insert(now);
            }
        } else {
            let auto = self.cfg.auto_reply.clone();
            self.send(dest, auto.clone());
            self.line(AUTO.into(), id.to_string(), auto);
        }
    }

    /// `/agent SECRET [NAME]`. Idempotent, so a client may retry it.
    pub(super) fn handshake(&mut self, peer: SocketAddr, secret: &str, name: Option<&str>) {
        let Some(expected) = self.cfg.agent_secret.as_deref() else {
            return self.reply(peer, reply::error("agents are disabled on this server"));
        };
        let good = constant_time_eq(secret.as_bytes(), expected.as_bytes());
        let max_failures = self.cfg.max_auth_failures;
        let Some(s) = self.sessions.get_mut(peer) else {
            return;
        };
        if s.auth_failures >= max_failures {
            return self.reply(peer, reply::error("too many failed attempts"));
        }
        if !good {
            s.auth_failures += 1;
            return self.reply(peer, reply::error("wrong secret"));
        }
        let name = match (name, &s.nick) {
            (Some(name), _) => name.to_string(),
            (None, Some(nick)) => nick.clone(),
            (None, None) => format!("agent{}", s.id.0),
        };
        if self.sessions.set_nick(peer, &name).is_err() {
            return self.reply(
                peer,
                reply::error(format_args!(
                    "nick {name} is taken; /agent SECRET OTHERNAME"
                )),
            );
        }
        let Some(s) = self.sessions.get_mut(peer) else {
            return;
        };
        s.role = Role::Agent;
        (s.waiting_since, s.owed_since, s.owner) = (None, None, None);
        let dest = s.dest;
        self.presence_changed(0);
        if self.agents.insert(dest) {
            let others = self.agents.except(peer);
            self.fanout(others, reply::info(format_args!("agent {name} is online")));
        }
        let waiting = self
            .sessions
            .iter()
            .filter(|(_, v)| v.waiting_since.is_some())
            .count();
        self.reply(
            peer,
            reply::info(format_args!(
                "welcome {name}: you are an agent; {waiting} waiting (/waiting, /reply ID TEXT, /take ID, /help)"
            )),
        );
    }

    /// `/reply ID TEXT`, or plain text from an agent holding a visitor.
    pub(super) fn answer(&mut self, peer: SocketAddr, visitor: VisitorId, text: &str) {
        let Some(agent) = self.agent_name(peer) else {
            return;
        };
        let Some((vaddr, owner)) = self.visitor(peer, visitor) else {
            return;
        };
        if let Some(owner) = owner.filter(|o| *o != peer) {
            let holder = self
                .sessions
                .get(owner)
                .map_or_else(String::new, |s| s.name());
            return self.reply(
                peer,
                reply::error(format_args!(
                    "{visitor} is held by {holder}; /take {visitor} to take over"
                )),
            );
        }
        let Some(v) = self.sessions.get_mut(vaddr) else {
            return;
        };
        (v.waiting_since, v.owed_since) = (None, None);
        let dest = v.dest;
        self.send(dest, text.to_string());
        self.reply(peer, reply::info(format_args!("sent to {visitor}")));
        if owner.is_none() {
            let others = self.agents.except(peer);
            self.fanout(others, reply::answer_line(visitor, &agent, text));
        }
        self.answered_cluster(&agent, visitor, text);
        self.line(agent, visitor.to_string(), text.to_string());
    }

    /// `/take ID`: this agent alone sees and answers the visitor, even if another
    /// agent held them (a takeover); its plain text now goes to them.
    pub(super) fn take(&mut self, peer: SocketAddr, visitor: VisitorId) {
        let Some(agent) = self.agent_name(peer) else {
            return;
        };
        let Some((vaddr, previous)) = self.visitor(peer, visitor) else {
            return;
        };
        if let Some(v) = self.sessions.get_mut(vaddr) {
            v.owner = Some(peer);
        }
        if let Some(prev) = previous
            .filter(|p| *p != peer)
            .and_then(|p| self.sessions.get_mut(p))
        {
            if prev.holding == Some(visitor) {
                prev.holding = None;
            }
        }
        if let Some(a) = self.sessions.get_mut(peer) {
            a.holding = Some(visitor);
        }
        let to = self.agents.all();
        self.fanout(to, reply::info(format_args!("{agent} took {visitor}")));
    }

    /// `/release [ID]`: back to every agent.
    pub(super) fn release(&mut self, peer: SocketAddr, visitor: Option<VisitorId>) {
        let Some(agent) = self.agent_name(peer) else {
            return;
        };
        let held = self.sessions.get(peer).and_then(|s| s.holding);
        let Some(visitor) = visitor.or(held) else {
            return self.reply(peer, reply::error("you hold no visitor"));
        };
        let Some((vaddr, owner)) = self.visitor(peer, visitor) else {
            return;
        };
        if owner != Some(peer) {
            return self.reply(
                peer,
                reply::error(format_args!("you do not hold {visitor}")),
            );
        }
        if let Some(v) = self.sessions.get_mut(vaddr) {
            v.owner = None;
        }
        if let Some(a) = self
            .sessions
            .get_mut(peer)
            .filter(|a| a.holding == Some(visitor))
        {
            a.holding = None;
        }
        let to = self.agents.all();
        self.fanout(
            to,
            reply::info(format_args!("{visitor} released by {agent}")),
        );
    }

    /// `/waiting`: visitors without a human answer, longest-waiting first.
    pub(super) fn waiting(&mut self, now: u64, peer: SocketAddr) {
        if self.agent_name(peer).is_none() {
            return;
        }
        // (since, id, host, holder, preview): this host's visitors, then the cluster's.
        let mut list: Vec<(u64, u64, &str, Option<String>, &str)> = self
            .sessions
            .iter()
            .filter_map(|(_, v)| {
                let since = v.waiting_since?;
                let holder = v
                    .owner
                    .and_then(|o| self.sessions.get(o))
                    .map(|o| o.name())
                    .or_else(|| v.remote_owner.clone());
                Some((since, v.id.0, "", holder, v.last_text.as_str()))
            })
            .collect();
        if let Some(c) = &self.cluster {
            list.extend(c.remote.iter().filter_map(|(k, r)| {
                let since = r.waiting_since?;
                Some((
                    since,
                    k.id,
                    k.host.as_str(),
                    r.owner.clone(),
                    r.last_text.as_str(),
                ))
            }));
        }
        list.sort_by(|a, b| (a.0, a.2, a.1).cmp(&(b.0, b.2, b.1)));
        let mut text = reply::info(format_args!("{} waiting", list.len()));
        for (since, id, host, holder, preview) in list.iter().take(WAITING_SHOWN) {
            let at = if host.is_empty() {
                String::new()
            } else {
                format!("@{host}")
            };
            let _ = write!(text, "\n  v{id}{at} {}s", now.saturating_sub(*since) / 1000);
            if let Some(holder) = holder {
                let _ = write!(text, " held by {holder}");
            }
            let _ = write!(text, ": {preview}");
        }
        if list.len() > WAITING_SHOWN {
            let _ = write!(text, "\n  ... and {} more", list.len() - WAITING_SHOWN);
        }
        self.reply(peer, text);
    }

    /// The agent's name, or an error reply and `None` if `peer` is no agent.
    pub(super) fn agent_name(&mut self, peer: SocketAddr) -> Option<String> {
        let s = self.sessions.get(peer)?;
        if s.role == Role::Agent {
            return Some(s.name());
        }
        self.reply(
            peer,
            reply::error("agents only (/agent SECRET NAME); visitors just type"),
        );
        None
    }

    /// The visitor's address and owner, or an error reply to `peer`.
    fn visitor(
        &mut self,
        peer: SocketAddr,
        id: VisitorId,
    ) -> Option<(SocketAddr, Option<SocketAddr>)> {
        let found = self
            .sessions
            .addr_of(id)
            .and_then(|a| self.sessions.get(a).map(|v| (a, v)))
            .filter(|(_, v)| v.role == Role::Visitor)
            .map(|(a, v)| (a, v.owner));
        if found.is_none() {
            self.reply(
                peer,
                reply::error(format_args!("no visitor {id} (gone, or never was)")),
            );
        }
        found
    }
}

/// Compare secrets without an early exit, so timing does not reveal a prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn constant_time_eq_is_eq() {
        assert!(super::constant_time_eq(b"abc", b"abc"));
        assert!(!super::constant_time_eq(b"abc", b"abd"));
        assert!(!super::constant_time_eq(b"abc", b"ab"));
    }
}
