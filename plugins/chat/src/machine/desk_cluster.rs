//! The support desk across hosts: a visitor's message reaches the agents of every
//! host, a claim decides which one agent holds them, and an answer goes back to the
//! visitor's host. [`Chat::handle_desk`] takes the other hosts' [`DeskNote`]s; the
//! `*_cluster` methods are what the local commands do when this host is in a cluster.

use std::net::SocketAddr;

use super::cluster::{KvResult, KvWrite, Pending, shown};
use super::session::Role;
use super::{AUTO, Chat};
use crate::codec::names::clip;
use crate::codec::{VisitorId, VisitorRef, reply};
use crate::wire::{DeskNote, VisitorKey};

/// How much of a visitor's last message `/waiting` shows (as for local visitors).
const PREVIEW: usize = 60;

impl Chat {
    /// The cluster key of `visitor` as an agent named it, or `None` outside a cluster
    /// (then only local ids are valid).
    pub(super) fn visitor_key(&self, visitor: VisitorRef<'_>) -> Option<VisitorKey> {
        let c = self.cluster.as_ref()?;
        Some(VisitorKey {
            host: visitor.host.unwrap_or(&c.me).to_owned(),
            id: visitor.id.0,
        })
    }

    /// Whether `key` is a visitor of another host.
    pub(super) fn is_remote(&self, key: &VisitorKey) -> bool {
        self.cluster.as_ref().is_some_and(|c| c.me != key.host)
    }

    fn desk_note(&mut self, note: &DeskNote) {
        if let Some(subject) = self.cluster.as_ref().map(|c| c.subjects.desk()) {
            self.publish(subject, DeskNote::TYPE, note);
        }
    }

    /// A local visitor wrote `text` (already handled here): tell the other hosts.
    pub(super) fn visitor_said_cluster(&mut self, peer: SocketAddr, text: &str) {
        let Some(s) = self.sessions.get(peer) else {
            return;
        };
        let Some(c) = self.cluster.as_ref() else {
            return;
        };
        let local_owner = s
            .owner
            .and_then(|a| self.sessions.get(a))
            .map(|a| c.agent_ref(&a.name()));
        let note = DeskNote::Said {
            visitor: c.key(s.id),
            text: text.to_owned(),
            owner: s.remote_owner.clone().or(local_owner),
        };
        self.desk_note(&note);
    }

    /// `/take`, in a cluster: claim the visitor; the answer decides.
    pub(super) fn take_cluster(&mut self, peer: SocketAddr, key: VisitorKey) {
        let Some(agent) = self.agent_name(peer) else {
            return;
        };
        let known = if self.is_remote(&key) {
            self.cluster
                .as_ref()
                .is_some_and(|c| c.remote.contains_key(&key))
        } else {
            self.sessions
                .addr_of(VisitorId(key.id))
                .and_then(|a| self.sessions.get(a))
                .is_some_and(|v| v.role == Role::Visitor)
        };
        let me = self.cluster_name().unwrap_or_default().to_owned();
        if !known {
            let text = format!("no visitor {} (gone, or never was)", shown(&key, &me));
            return self.reply(peer, reply::error(text));
        }
        if self
            .cluster
            .as_ref()
            .is_some_and(|c| c.claims.contains_key(&key))
        {
            let text = format!(
                "{} is held here already; /release it first",
                shown(&key, &me)
            );
            return self.reply(peer, reply::error(text));
        }
        let write = KvWrite::Create {
            key: key.claim_key(),
            value: format!("{agent}@{me}"),
        };
        self.kv(
            write,
            Pending::Take {
                agent: peer,
                visitor: key,
            },
        );
    }

    pub(super) fn take_answered(
        &mut self,
        now: u64,
        agent: SocketAddr,
        visitor: VisitorKey,
        result: KvResult,
    ) {
        let me = self.cluster_name().unwrap_or_default().to_owned();
        let who = shown(&visitor, &me);
        let Some(name) = self
            .sessions
            .get(agent)
            .filter(|s| s.role == Role::Agent)
            .map(|s| s.name())
        else {
            // The agent left meanwhile: give the claim back.
            if let KvResult::Done(_) = result {
                self.kv(
                    KvWrite::Delete {
                        key: visitor.claim_key(),
                    },
                    Pending::Release,
                );
            }
            return;
        };
        let revision = match result {
            KvResult::Done(revision) => revision,
            KvResult::Lost => {
                let holder = self.holder_of(&visitor).unwrap_or("another agent".into());
                return self.reply(
                    agent,
                    reply::error(format_args!("{who} is held by {holder}")),
                );
            }
            KvResult::Failed => {
                let text =
                    format!("could not take {who}: the cluster bus did not answer; try again");
                return self.reply(agent, reply::error(text));
            }
        };
        if let Some(c) = self.cluster.as_mut() {
            c.claims.insert(
                visitor.clone(),
                super::cluster::Claim {
                    agent,
                    revision,
                    renewed: now,
                    renewing: false,
                },
            );
        }
        if self.is_remote(&visitor) {
            if let Some(a) = self.sessions.get_mut(agent) {
                (a.holding, a.holding_remote) = (None, Some(visitor.clone()));
            }
            let agent_ref = format!("{name}@{me}");
            if let Some(r) = self
                .cluster
                .as_mut()
                .and_then(|c| c.remote.get_mut(&visitor))
            {
                r.owner = Some(agent_ref);
            }
            let to = self.agents.all();
            self.fanout(to, reply::info(format_args!("{name} took {who}")));
        } else {
            self.take(agent, VisitorId(visitor.id));
        }
        let note = DeskNote::Took {
            visitor,
            agent: format!("{name}@{me}"),
        };
        self.desk_note(&note);
    }

    /// Who holds `visitor`, as far as this host knows.
    fn holder_of(&self, visitor: &VisitorKey) -> Option<String> {
        let c = self.cluster.as_ref()?;
        if visitor.host == c.me {
            let v = self
                .sessions
                .get(self.sessions.addr_of(VisitorId(visitor.id))?)?;
            v.remote_owner
                .clone()
                .or_else(|| v.owner.and_then(|o| self.sessions.get(o)).map(|o| o.name()))
        } else {
            c.remote.get(visitor)?.owner.clone()
        }
    }

    /// The renewal of a claim found it taken or gone: the agent no longer holds it.
    pub(super) fn claim_lost(&mut self, agent: SocketAddr, visitor: &VisitorKey) {
        let me = self.cluster_name().unwrap_or_default().to_owned();
        if let Some(c) = self.cluster.as_mut() {
            c.claims.remove(visitor);
        }
        self.unhold(agent, visitor);
        let text = format!(
            "you no longer hold {} (its claim lapsed)",
            shown(visitor, &me)
        );
        self.reply(agent, reply::error(text));
    }

    /// `agent` no longer holds `visitor` (a local visitor's owner cleared too).
    fn unhold(&mut self, agent: SocketAddr, visitor: &VisitorKey) {
        if let Some(a) = self.sessions.get_mut(agent) {
            if a.holding_remote.as_ref() == Some(visitor) {
                a.holding_remote = None;
            }
            if self.cluster.as_ref().is_none_or(|c| c.me == visitor.host)
                && a.holding == Some(VisitorId(visitor.id))
            {
                a.holding = None;
            }
        }
        if !self.is_remote(visitor) {
            if let Some(v) = self
                .sessions
                .addr_of(VisitorId(visitor.id))
                .and_then(|a| self.sessions.get_mut(a))
                .filter(|v| v.owner == Some(agent))
            {
                v.owner = None;
            }
        }
    }

    /// `/reply` or plain text to a visitor of another host.
    pub(super) fn answer_remote(&mut self, peer: SocketAddr, visitor: VisitorKey, text: &str) {
        let Some(agent) = self.agent_name(peer) else {
            return;
        };
        let me = self.cluster_name().unwrap_or_default().to_owned();
        let who = shown(&visitor, &me);
        let agent_ref = format!("{agent}@{me}");
        let Some(r) = self
            .cluster
            .as_mut()
            .and_then(|c| c.remote.get_mut(&visitor))
        else {
            return self.reply(
                peer,
                reply::error(format_args!("no visitor {who} (gone, or never was)")),
            );
        };
        if let Some(owner) = r.owner.clone().filter(|o| *o != agent_ref) {
            return self.reply(peer, reply::error(format_args!("{who} is held by {owner}")));
        }
        r.waiting_since = None;
        let note = DeskNote::Answer {
            visitor,
            agent: agent_ref,
            text: text.to_owned(),
        };
        self.desk_note(&note);
        self.reply(peer, reply::info(format_args!("sent to {who}")));
        let others = self.agents.except(peer);
        self.fanout(others, reply::answer_line(&who, &agent, text));
        self.line(agent, who, text.to_owned());
    }

    /// A local agent answered a local visitor: the other hosts' agents see it.
    pub(super) fn answered_cluster(&mut self, agent: &str, id: VisitorId, text: &str) {
        let Some(c) = self.cluster.as_ref() else {
            return;
        };
        let note = DeskNote::Answer {
            visitor: c.key(id),
            agent: c.agent_ref(agent),
            text: text.to_owned(),
        };
        self.desk_note(&note);
    }

    /// `/release`, in a cluster: the claim goes back, every host hears it.
    pub(super) fn release_cluster(&mut self, peer: SocketAddr, key: VisitorKey) {
        let Some(agent) = self.agent_name(peer) else {
            return;
        };
        let me = self.cluster_name().unwrap_or_default().to_owned();
        let who = shown(&key, &me);
        let held = self
            .cluster
            .as_ref()
            .and_then(|c| c.claims.get(&key))
            .is_some_and(|cl| cl.agent == peer);
        if !held {
            return self.reply(peer, reply::error(format_args!("you do not hold {who}")));
        }
        self.give_back(peer, &key, &format!("released by {agent}"));
        if let Some(r) = self.cluster.as_mut().and_then(|c| c.remote.get_mut(&key)) {
            r.owner = None;
        }
        let to = self.agents.all();
        self.fanout(to, reply::info(format_args!("{who} released by {agent}")));
    }

    /// Drop the claim `agent` holds on `key`: deleted in the bucket, told to every host.
    pub(super) fn give_back(&mut self, agent: SocketAddr, key: &VisitorKey, why: &str) {
        if let Some(c) = self.cluster.as_mut() {
            c.claims.remove(key);
        }
        self.unhold(agent, key);
        self.kv(
            KvWrite::Delete {
                key: key.claim_key(),
            },
            Pending::Release,
        );
        let note = DeskNote::Released {
            visitor: key.clone(),
            why: why.to_owned(),
        };
        self.desk_note(&note);
    }

    /// A local session ended: its claims go back, a visitor is gone for every host.
    pub(super) fn session_ended_cluster(
        &mut self,
        peer: SocketAddr,
        role: Role,
        id: VisitorId,
        name: &str,
        why: &str,
    ) {
        let Some(c) = self.cluster.as_ref() else {
            return;
        };
        let held: Vec<VisitorKey> = c
            .claims
            .iter()
            .filter(|(_, cl)| cl.agent == peer)
            .map(|(k, _)| k.clone())
            .collect();
        let key = c.key(id);
        for k in held {
            self.give_back(peer, &k, &format!("agent {name} {why}"));
        }
        if role == Role::Visitor {
            if let Some(holder) = self
                .cluster
                .as_ref()
                .and_then(|c| c.claims.get(&key))
                .map(|cl| cl.agent)
            {
                self.give_back(holder, &key, why);
            }
            let note = DeskNote::Gone {
                visitor: key,
                why: why.to_owned(),
            };
            self.desk_note(&note);
        }
        self.presence_changed(0);
    }

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
