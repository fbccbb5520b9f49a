//! Other hosts' desk notes ([`DeskNote`]): their visitors' messages to our agents,
//! answers to our visitors, claims taken and released, visitors gone; and a host not
//! heard from for `presence_secs`, whose visitors and members are dropped.

use super::cluster::shown;
use super::session::Role;
use super::{AUTO, Chat};
use crate::codec::names::clip;
use crate::codec::{VisitorId, reply};
use crate::wire::{DeskNote, VisitorKey};

/// How much of a visitor's last message `/waiting` shows (as for local visitors).
const PREVIEW: usize = 60;

impl Chat {
    /// Another host's desk note.
    pub fn handle_desk(&mut self, now: u64, note: DeskNote) {
        let Some(me) = self.cluster_name().map(str::to_owned) else {
            return;
        };
        match note {
            DeskNote::Said {
                visitor,
                text,
                owner,
            } => {
                let who = shown(&visitor, &me);
                if let Some(c) = self.cluster.as_mut() {
                    let r = c.remote.entry(visitor).or_default();
                    r.waiting_since.get_or_insert(now);
                    r.last_text = clip(&text, PREVIEW);
                    r.owner.clone_from(&owner);
                }
                let line = reply::visitor_line(&who, &text);
                let local = owner.as_deref().and_then(|o| {
                    let c = self.cluster.as_ref()?;
                    self.sessions.addr_of_name(c.local_name(o)?)
                });
                match (owner, local) {
                    (_, Some(agent)) => self.reply(agent, line),
                    (None, None) => {
                        let to = self.agents.all();
                        self.fanout(to, line);
                    }
                    (Some(_), None) => {}
                }
            }
            DeskNote::Answer {
                visitor,
                agent,
                text,
            } => {
                let who = shown(&visitor, &me);
                if visitor.host == me {
                    self.remote_answer(&visitor, &text);
                } else if let Some(r) = self
                    .cluster
                    .as_mut()
                    .and_then(|c| c.remote.get_mut(&visitor))
                {
                    r.waiting_since = None;
                }
                let to = self.agents.all();
                self.fanout(to, reply::answer_line(&who, &agent, &text));
            }
            DeskNote::Took { visitor, agent } => {
                let who = shown(&visitor, &me);
                if visitor.host == me {
                    if let Some(v) = self
                        .sessions
                        .addr_of(VisitorId(visitor.id))
                        .and_then(|a| self.sessions.get_mut(a))
                    {
                        (v.owner, v.remote_owner) = (None, Some(agent.clone()));
                    }
                } else if let Some(r) = self
                    .cluster
                    .as_mut()
                    .and_then(|c| c.remote.get_mut(&visitor))
                {
                    r.owner = Some(agent.clone());
                }
                let to = self.agents.all();
                self.fanout(to, reply::info(format_args!("{agent} took {who}")));
            }
            DeskNote::Released { visitor, why } => {
                let who = shown(&visitor, &me);
                self.clear_owner(&visitor);
                let to = self.agents.all();
                self.fanout(to, reply::info(format_args!("{who} {why}")));
            }
            DeskNote::Gone { visitor, why } => {
                let who = shown(&visitor, &me);
                let holder = self.cluster.as_mut().and_then(|c| {
                    c.remote.remove(&visitor);
                    c.claims.get(&visitor).map(|cl| cl.agent)
                });
                if let Some(agent) = holder {
                    self.give_back(agent, &visitor, &why);
                }
                let to = self.agents.all();
                self.fanout(to, reply::info(format_args!("{who} {why}")));
            }
        }
    }

    /// An agent of another host answered one of our visitors.
    fn remote_answer(&mut self, visitor: &VisitorKey, text: &str) {
        let Some(v) = self
            .sessions
            .addr_of(VisitorId(visitor.id))
            .and_then(|a| self.sessions.get_mut(a))
            .filter(|v| v.role == Role::Visitor)
        else {
            return;
        };
        (v.waiting_since, v.owed_since) = (None, None);
        let dest = v.dest;
        self.send(dest, text.to_owned());
    }

    /// Nobody holds `visitor` any more (released elsewhere, or its holder's host gone).
    fn clear_owner(&mut self, visitor: &VisitorKey) {
        let me = self.cluster_name().unwrap_or_default().to_owned();
        if visitor.host == me {
            if let Some(v) = self
                .sessions
                .addr_of(VisitorId(visitor.id))
                .and_then(|a| self.sessions.get_mut(a))
            {
                v.remote_owner = None;
            }
        } else if let Some(r) = self
            .cluster
            .as_mut()
            .and_then(|c| c.remote.get_mut(visitor))
        {
            r.owner = None;
        }
    }

    /// `host` was not heard from for `presence_secs`: its visitors are gone, its agents'
    /// visitors back in the queue, its room members gone.
    pub(super) fn host_gone(&mut self, host: &str) {
        let Some(c) = self.cluster.as_mut() else {
            return;
        };
        let Some(peer) = c.peers.remove(host) else {
            return;
        };
        c.remote.retain(|k, _| k.host != host);
        let suffix = format!("@{host}");
        for r in c.remote.values_mut() {
            if r.owner.as_ref().is_some_and(|o| o.ends_with(&suffix)) {
                r.owner = None;
            }
        }
        let mut back = Vec::new();
        for (_, v) in self.sessions.iter_mut() {
            if v.remote_owner
                .as_ref()
                .is_some_and(|o| o.ends_with(&suffix))
            {
                v.remote_owner = None;
                back.push(v.id);
            }
        }
        let to = self.agents.all();
        for id in back {
            self.fanout(
                to.clone(),
                reply::info(format_args!(
                    "{id} is back in the queue: host {host} is gone"
                )),
            );
            self.line(
                AUTO.into(),
                id.to_string(),
                format!("released: host {host} is gone"),
            );
        }
        self.rooms_host_gone(host, &peer.presence);
    }
}
