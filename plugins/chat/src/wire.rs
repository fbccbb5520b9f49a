//! What chat hosts of one cluster tell each other over the bus: typed JSON messages,
//! each type with its schema version in its name, on three kinds of subjects under the
//! handler's `cluster.subject` (the host adds its own prefix):
//!
//! - `<subject>.desk`: the support desk ([`DeskNote`]): visitors' messages, answers,
//!   claims taken and released, visitors gone. Every clustered chat subscribes.
//! - `<subject>.room.<room>`: one room's lines, joins and leaves ([`RoomNote`]); a host
//!   subscribes only while it has local members in the room.
//! - `<subject>.presence`: each host's heartbeat ([`Presence`]): its agents and its
//!   rooms' members. A host not heard from for `presence_secs` is gone: its members
//!   leave the rooms and its agents' visitors go back to the queue.
//!
//! A receiver refuses a type (or version) it does not know instead of misreading it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A visitor of the cluster: its host's bus name and its id there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct VisitorKey {
    pub host: String,
    pub id: u64,
}

impl VisitorKey {
    /// The key-value key of this visitor's claim: `v.<host>.<id>`.
    pub fn claim_key(&self) -> String {
        format!("v.{}.{}", self.host, self.id)
    }
}

/// The support desk across hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeskNote {
    /// A visitor wrote `text`; `owner`: the agent holding them (`name@host`), if any,
    /// who alone gets it.
    Said {
        visitor: VisitorKey,
        text: String,
        owner: Option<String>,
    },
    /// Agent `agent` (`name@host`) answered; the visitor's host sends it to them.
    Answer {
        visitor: VisitorKey,
        agent: String,
        text: String,
    },
    /// Agent `agent` won the claim on the visitor.
    Took { visitor: VisitorKey, agent: String },
    /// The visitor is back with every agent (`why`: "released by bob", ...).
    Released { visitor: VisitorKey, why: String },
    /// The visitor's session ended.
    Gone { visitor: VisitorKey, why: String },
}

impl DeskNote {
    pub const TYPE: &'static str = "switchyard.ChatDesk/1";
}

/// One room across hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RoomNote {
    Line { from: String, text: String },
    Joined { name: String },
    Left { name: String, why: String },
}

impl RoomNote {
    pub const TYPE: &'static str = "switchyard.ChatRoom/1";
}

/// A host's heartbeat: who it has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// Names of its agents online.
    pub agents: Vec<String>,
    /// Its rooms and their members' names.
    pub rooms: BTreeMap<String, Vec<String>>,
}

impl Presence {
    pub const TYPE: &'static str = "switchyard.ChatPresence/1";
}

/// The bus subjects of one clustered chat, under its `cluster.subject`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    base: String,
}

impl Subjects {
    pub fn new(base: &str) -> Subjects {
        Subjects { base: base.into() }
    }

    pub fn desk(&self) -> String {
        format!("{}.desk", self.base)
    }

    pub fn presence(&self) -> String {
        format!("{}.presence", self.base)
    }

    /// A room's subject. Room names may hold `.`, which NATS reads as a separator: it
    /// becomes `=`, which room names never hold, so two rooms never share a subject.
    pub fn room(&self, room: &str) -> String {
        format!("{}.room.{}", self.base, room.replace('.', "="))
    }

    /// The room a subject of [`Subjects::room`] names.
    pub fn room_of(&self, subject: &str) -> Option<String> {
        subject
            .strip_prefix(self.base.as_str())?
            .strip_prefix(".room.")
            .map(|r| r.replace('=', "."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_subjects_round_trip_and_never_collide() {
        let s = Subjects::new("chat");
        assert_eq!(s.room("a.b"), "chat.room.a=b");
        assert_eq!(s.room_of("chat.room.a=b").as_deref(), Some("a.b"));
        assert_ne!(s.room("a.b"), s.room("a-b"));
        assert_eq!(s.room_of("chat.desk"), None);
    }

    #[test]
    fn notes_are_tagged_json() {
        let note = DeskNote::Took {
            visitor: VisitorKey {
                host: "a".into(),
                id: 3,
            },
            agent: "bob@b".into(),
        };
        let json = serde_json::to_string(&note).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"took","visitor":{"host":"a","id":3},"agent":"bob@b"}"#
        );
        assert_eq!(serde_json::from_str::<DeskNote>(&json).unwrap(), note);
        assert_eq!(
            VisitorKey {
                host: "a".into(),
                id: 3
            }
            .claim_key(),
            "v.a.3"
        );
    }
}
