//! Claims across hosts: `/take` as a key-value create that exactly one agent of the
//! cluster wins, its answer, a claim lost at renewal, and `/release` (the claim deleted,
//! every host told).

use std::net::SocketAddr;

use super::Chat;
use super::cluster::{KvResult, KvWrite, Pending, shown};
use super::session::Role;
use crate::codec::{VisitorId, reply};
use crate::wire::{DeskNote, VisitorKey};

impl Chat {
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
    pub(super) fn holder_of(&self, visitor: &VisitorKey) -> Option<String> {
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
    pub(super) fn unhold(&mut self, agent: SocketAddr, visitor: &VisitorKey) {
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
}
