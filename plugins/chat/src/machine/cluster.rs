//! The chat across hosts: what this host knows of the others, the claims its agents
//! hold, and the bus requests the machine makes ([`BusOut`]), still without I/O: the
//! adapter carries them out and feeds the answers back ([`Chat::kv_done`]).
//!
//! Why a claim is a key-value create: of any number of agents on any hosts taking one
//! visitor at once, exactly one create of `v.<host>.<id>` succeeds (JetStream's
//! compare-and-set). The holder's host renews it every third of `presence_secs`; the
//! bucket expires entries after `presence_secs`, so a dead host's claims lapse.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::{Chat, Output};
use crate::config::ClusterConfig;
use crate::wire::{Presence, Subjects, VisitorKey};

/// One thing for the adapter to do on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusOut {
    /// Publish a typed message (JSON) on a subject.
    Publish {
        subject: String,
        type_name: &'static str,
        data: Vec<u8>,
    },
    Subscribe {
        subject: String,
    },
    Unsubscribe {
        subject: String,
    },
    /// A key-value write on the claims bucket, answered by [`Chat::kv_done`] `token`.
    Kv {
        token: u64,
        bucket: String,
        max_age_secs: u32,
        write: KvWrite,
    },
}

/// A write on the claims bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvWrite {
    /// Only if nobody holds the key (a claim).
    Create { key: String, value: String },
    /// Only if the key is still at `revision` (a renewal).
    Update {
        key: String,
        value: String,
        revision: u64,
    },
    /// A released claim.
    Delete { key: String },
}

/// How a key-value write ended, as the adapter tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvResult {
    /// Written, at this revision.
    Done(u64),
    /// Someone else holds the key (or it moved on).
    Lost,
    /// The bus could not say (not connected, NATS failed).
    Failed,
}

/// Another host, as its presence says.
#[derive(Debug)]
pub(super) struct Peer {
    pub last_seen: u64,
    pub presence: Presence,
}

/// A visitor of another host, as the desk notes tell (`/waiting` lists them).
#[derive(Debug, Default)]
pub(super) struct RemoteVisitor {
    pub waiting_since: Option<u64>,
    pub last_text: String,
    /// The agent holding them, `name@host`.
    pub owner: Option<String>,
}

/// A claim a local agent holds.
#[derive(Debug)]
pub(super) struct Claim {
    pub agent: SocketAddr,
    pub revision: u64,
    pub renewed: u64,
    pub renewing: bool,
}

/// A key-value write in flight.
#[derive(Debug)]
pub(super) enum Pending {
    Take {
        agent: SocketAddr,
        visitor: VisitorKey,
    },
    Renew {
        visitor: VisitorKey,
    },
    Release,
}

/// This host's part of the cluster.
#[derive(Debug)]
pub(super) struct Cluster {
    pub cfg: ClusterConfig,
    pub subjects: Subjects,
    /// This host's bus name.
    pub me: String,
    pub presence_ms: u64,
    pub peers: BTreeMap<String, Peer>,
    pub remote: BTreeMap<VisitorKey, RemoteVisitor>,
    pub claims: BTreeMap<VisitorKey, Claim>,
    pub pending: BTreeMap<u64, Pending>,
    next_token: u64,
    pub next_presence: u64,
    /// Bus messages refused (unknown type or version, undecodable).
    pub refused: u64,
}

impl Cluster {
    /// A visitor of this host.
    pub fn key(&self, id: crate::codec::VisitorId) -> VisitorKey {
        VisitorKey {
            host: self.me.clone(),
            id: id.0,
        }
    }

    /// `name@host` of a local agent.
    pub fn agent_ref(&self, name: &str) -> String {
        format!("{name}@{}", self.me)
    }

    /// Agents online on the other hosts.
    pub fn remote_agents(&self) -> usize {
        self.peers.values().map(|p| p.presence.agents.len()).sum()
    }

    /// Whether `agent` (`name@host`) is an agent of this host; its name if so.
    pub fn local_name<'a>(&self, agent: &'a str) -> Option<&'a str> {
        agent
            .rsplit_once('@')
            .filter(|(_, host)| *host == self.me)
            .map(|(name, _)| name)
    }
}

/// How a visitor is written for agents: `v3` here, `v3@host-b` elsewhere.
pub fn shown(key: &VisitorKey, me: &str) -> String {
    if key.host == me {
        format!("v{}", key.id)
    } else {
        format!("v{}@{}", key.id, key.host)
    }
}

impl Chat {
    /// This host's bus name is `me`: from now on rooms and the desk span the cluster
    /// (when the config asks for it). Subscribes to the desk and presence subjects.
    pub fn join_cluster(&mut self, now: u64, me: &str) {
        let Some(cfg) = self.cfg.cluster.clone() else {
            return;
        };
        let subjects = Subjects::new(&cfg.subject);
        let presence_ms = cfg.presence_secs * 1000;
        for subject in [subjects.desk(), subjects.presence()] {
            self.bus(BusOut::Subscribe { subject });
        }
        let rooms: Vec<String> = self.rooms.keys().cloned().collect();
        for room in rooms {
            self.bus(BusOut::Subscribe {
                subject: subjects.room(&room),
            });
        }
        self.cluster = Some(Cluster {
            cfg,
            subjects,
            me: me.to_owned(),
            presence_ms,
            peers: BTreeMap::new(),
            remote: BTreeMap::new(),
            claims: BTreeMap::new(),
            pending: BTreeMap::new(),
            next_token: 0,
            next_presence: now,
            refused: 0,
            // The first presence goes out at once: the others learn of us now.
        });
    }

    /// The host name this chat has on the bus, once it joined the cluster.
    pub fn cluster_name(&self) -> Option<&str> {
        self.cluster.as_ref().map(|c| c.me.as_str())
    }

    /// What another host's notes may hold at most: text bytes, and agents, rooms and
    /// members per room of a presence (this chat's own limits: a peer configured alike
    /// never sends more).
    pub fn note_limits(&self) -> (usize, (usize, usize, usize)) {
        let c = &self.cfg;
        (
            c.max_datagram,
            (c.max_sessions, c.max_rooms, c.max_room_members),
        )
    }

    /// Bus messages refused so far (unknown types or versions, undecodable).
    pub fn refused_notes(&self) -> u64 {
        self.cluster.as_ref().map_or(0, |c| c.refused)
    }

    /// A bus message this chat could not take: counted.
    pub fn refuse_note(&mut self) -> u64 {
        self.cluster.as_mut().map_or(0, |c| {
            c.refused += 1;
            c.refused
        })
    }

    pub(super) fn bus(&mut self, out: BusOut) {
        self.out.push_back(Output::Bus(out));
    }

    /// Publish `msg` as JSON under its type on `subject`.
    pub(super) fn publish<M: serde::Serialize>(
        &mut self,
        subject: String,
        type_name: &'static str,
        msg: &M,
    ) {
        // Plain data of strings and numbers: serializing cannot fail.
        let data = serde_json::to_vec(msg).unwrap_or_default();
        self.bus(BusOut::Publish {
            subject,
            type_name,
            data,
        });
    }

    /// Start a key-value write, remembered as `pending`.
    pub(super) fn kv(&mut self, write: KvWrite, pending: Pending) {
        let Some(c) = self.cluster.as_mut() else {
            return;
        };
        c.next_token += 1;
        let token = c.next_token;
        c.pending.insert(token, pending);
        let (bucket, max_age_secs) = (
            c.cfg.claims_bucket.clone(),
            u32::try_from(c.cfg.presence_secs).unwrap_or(u32::MAX),
        );
        self.bus(BusOut::Kv {
            token,
            bucket,
            max_age_secs,
            write,
        });
    }

    /// The presence is due now (something changed that other hosts show).
    pub(super) fn presence_changed(&mut self, now: u64) {
        if let Some(c) = self.cluster.as_mut() {
            c.next_presence = c.next_presence.min(now);
        }
    }

    /// The cluster's part of the sweep: send the presence when due, forget hosts not
    /// heard from for `presence_secs`, renew claims.
    pub(super) fn cluster_tick(&mut self, now: u64) {
        let Some(c) = self.cluster.as_ref() else {
            return;
        };
        let presence_ms = c.presence_ms;
        if now >= c.next_presence {
            let presence = self.presence();
            let subject = c.subjects.presence();
            self.publish(subject, Presence::TYPE, &presence);
            if let Some(c) = self.cluster.as_mut() {
                c.next_presence = now + presence_ms / 3;
            }
        }
        let gone: Vec<String> = self.cluster.as_ref().map_or_else(Vec::new, |c| {
            c.peers
                .iter()
                .filter(|(_, p)| now.saturating_sub(p.last_seen) > presence_ms)
                .map(|(h, _)| h.clone())
                .collect()
        });
        for host in gone {
            self.host_gone(&host);
        }
        self.renew_claims(now);
    }

    /// When the cluster needs [`Chat::handle_timeout`] next.
    pub(super) fn cluster_deadline(&self) -> Option<u64> {
        let c = self.cluster.as_ref()?;
        let renew = c.presence_ms / 3;
        let claims = c.claims.values().map(|cl| cl.renewed + renew).min();
        let peers = c
            .peers
            .values()
            .map(|p| p.last_seen + c.presence_ms + 1)
            .min();
        [Some(c.next_presence), claims, peers]
            .into_iter()
            .flatten()
            .min()
    }

    /// This host's presence: its agents and rooms with their members.
    fn presence(&self) -> Presence {
        let mut presence = Presence::default();
        for (_, s) in self.sessions.iter() {
            if s.role == super::Role::Agent {
                presence.agents.push(s.name());
            }
        }
        for (room, group) in &self.rooms {
            let names = group
                .addrs()
                .filter_map(|a| self.sessions.get(a))
                .map(|s| s.name())
                .collect();
            presence.rooms.insert(room.clone(), names);
        }
        presence
    }

    /// A host's presence arrived.
    pub fn handle_presence(&mut self, now: u64, host: &str, presence: Presence) {
        let Some(c) = self.cluster.as_mut() else {
            return;
        };
        let before = c.peers.insert(
            host.to_owned(),
            Peer {
                last_seen: now,
                presence: presence.clone(),
            },
        );
        if before.is_none() {
            // A newcomer learns of us at once rather than a third of the period later.
            c.next_presence = now;
        }
        // Joins and leaves a room note did not bring (made before we subscribed).
        let before = before.map(|p| p.presence).unwrap_or_default();
        self.rooms_presence_changed(host, &before, &presence);
    }

    fn renew_claims(&mut self, now: u64) {
        let Some(c) = self.cluster.as_mut() else {
            return;
        };
        let renew = c.presence_ms / 3;
        let due: Vec<VisitorKey> = c
            .claims
            .iter()
            .filter(|(_, cl)| !cl.renewing && now.saturating_sub(cl.renewed) >= renew)
            .map(|(k, _)| k.clone())
            .collect();
        for visitor in due {
            let Some(c) = self.cluster.as_mut() else {
                return;
            };
            let Some(claim) = c.claims.get_mut(&visitor) else {
                continue;
            };
            claim.renewing = true;
            let (agent, revision) = (claim.agent, claim.revision);
            let name = self
                .sessions
                .get(agent)
                .map(|s| s.name())
                .unwrap_or_default();
            let Some(c) = self.cluster.as_ref() else {
                return;
            };
            let write = KvWrite::Update {
                key: visitor.claim_key(),
                value: c.agent_ref(&name),
                revision,
            };
            self.kv(write, Pending::Renew { visitor });
        }
    }

    /// The answer to key-value write `token`.
    pub fn kv_done(&mut self, now: u64, token: u64, result: KvResult) {
        let Some(pending) = self.cluster.as_mut().and_then(|c| c.pending.remove(&token)) else {
            return;
        };
        match pending {
            Pending::Take { agent, visitor } => self.take_answered(now, agent, visitor, result),
            Pending::Renew { visitor } => self.renew_answered(now, visitor, result),
            Pending::Release => {}
        }
    }

    fn renew_answered(&mut self, now: u64, visitor: VisitorKey, result: KvResult) {
        let Some(c) = self.cluster.as_mut() else {
            return;
        };
        let Some(claim) = c.claims.get_mut(&visitor) else {
            return;
        };
        claim.renewing = false;
        match result {
            KvResult::Done(revision) => {
                claim.revision = revision;
                claim.renewed = now;
            }
            // Try again at the next sweep: the claim may still be ours.
            KvResult::Failed => {}
            KvResult::Lost => {
                let agent = claim.agent;
                self.claim_lost(agent, &visitor);
            }
        }
    }
}
