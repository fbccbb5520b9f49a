//! The support desk across hosts, on this host's side: a local visitor's message told
//! to every host, an answer to a visitor of another host, a local answer told to the
//! others, a session's end. Claims are in `claims`; the other hosts' notes in
//! `desk_notes`.

use std::net::SocketAddr;

use super::Chat;
use super::cluster::shown;
use super::session::Role;
use crate::codec::{VisitorId, VisitorRef, reply};
use crate::wire::{DeskNote, VisitorKey};

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

    pub(super) fn desk_note(&mut self, note: &DeskNote) {
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
}
