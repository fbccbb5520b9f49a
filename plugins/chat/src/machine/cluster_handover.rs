//! The cluster's part of a reload's handover: the claims this host's agents hold and
//! who holds this host's visitors elsewhere, so a reload neither drops a held visitor
//! back into the queue nor leaves a claim nobody renews.
//!
//! Other hosts' presence and visitors are not carried: their next presence and desk
//! notes bring them within a third of `presence_secs`.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::Chat;
use super::cluster::{BusOut, Claim};
use super::session::Role;
use crate::codec::VisitorId;
use crate::wire::VisitorKey;

/// What a clustered chat hands over besides its sessions and rooms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterState {
    pub claims: Vec<ClaimState>,
    /// This host's visitors held by agents of other hosts: visitor id, `name@host`.
    pub remote_owners: Vec<(u64, String)>,
}

/// One claim a local agent holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimState {
    pub visitor: VisitorKey,
    pub agent: SocketAddr,
    pub revision: u64,
}

impl Chat {
    /// The cluster's part of [`Chat::snapshot`]; `None` outside a cluster.
    pub(super) fn cluster_snapshot(&self) -> Option<ClusterState> {
        let c = self.cluster.as_ref()?;
        let claims = c
            .claims
            .iter()
            .map(|(visitor, claim)| ClaimState {
                visitor: visitor.clone(),
                agent: claim.agent,
                revision: claim.revision,
            })
            .collect();
        let remote_owners = self
            .sessions
            .iter()
            .filter_map(|(_, s)| Some((s.id.0, s.remote_owner.clone()?)))
            .collect();
        Some(ClusterState {
            claims,
            remote_owners,
        })
    }

    /// Take the predecessor's cluster part (after the sessions and rooms are
    /// restored): claims of agents still here are kept and renewed at once; a claim
    /// whose agent is gone, or a successor outside the cluster, lets it lapse.
    pub(super) fn cluster_restore(&mut self, state: Option<ClusterState>, now: u64) {
        let rooms: Vec<String> = self.rooms.keys().cloned().collect();
        let Some(c) = self.cluster.as_mut() else {
            return;
        };
        for room in &rooms {
            let subject = c.subjects.room(room);
            self.out
                .push_back(super::Output::Bus(BusOut::Subscribe { subject }));
        }
        let Some(state) = state else {
            return;
        };
        for claim in state.claims {
            let Some(agent) = self
                .sessions
                .get_mut(claim.agent)
                .filter(|a| a.role == Role::Agent)
            else {
                continue;
            };
            let Some(c) = self.cluster.as_mut() else {
                return;
            };
            if claim.visitor.host == c.me {
                agent.holding.get_or_insert(VisitorId(claim.visitor.id));
            } else {
                agent.holding_remote = Some(claim.visitor.clone());
                // Known from the claim: its agent can answer it before it speaks again.
                let owner = Some(format!("{}@{}", agent.name(), c.me));
                c.remote.entry(claim.visitor.clone()).or_default().owner = owner;
            }
            // Renewed at the next sweep: the predecessor may have been late.
            let renewed = now.saturating_sub(c.presence_ms / 3);
            c.claims.insert(
                claim.visitor,
                Claim {
                    agent: claim.agent,
                    revision: claim.revision,
                    renewed,
                    renewing: false,
                },
            );
        }
        for (id, owner) in state.remote_owners {
            if let Some(v) = self
                .sessions
                .addr_of(VisitorId(id))
                .and_then(|a| self.sessions.get_mut(a))
            {
                v.remote_owner = Some(owner);
            }
        }
    }
}
