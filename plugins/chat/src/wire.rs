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
//! A receiver refuses a type (or version) it does not know instead of misreading it,
//! and a note that could not have come from a well-behaved chat ([`DeskNote::problem`],
//! [`RoomNote::problem`], [`Presence::problem`]): a name that could pass for a server
//! line, a text with control characters or longer than this chat sends, a presence
//! larger than its limits. Whoever can publish under the host's subject prefix speaks
//! for a host: give each cluster its own NATS account (docs/operations.md).

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

    /// Why this note cannot be taken, or `None`.
    pub fn problem(&self, max_text: usize) -> Option<String> {
        match self {
            DeskNote::Said {
                visitor,
                text,
                owner,
            } => visitor
                .problem()
                .or_else(|| text_problem(text, max_text))
                .or_else(|| owner.as_deref().and_then(name_problem)),
            DeskNote::Answer {
                visitor,
                agent,
                text,
            } => visitor
                .problem()
                .or_else(|| name_problem(agent))
                .or_else(|| text_problem(text, max_text)),
            DeskNote::Took { visitor, agent } => visitor.problem().or_else(|| name_problem(agent)),
            DeskNote::Released { visitor, why } | DeskNote::Gone { visitor, why } => {
                visitor.problem().or_else(|| text_problem(why, max_text))
            }
        }
    }
}

impl VisitorKey {
    fn problem(&self) -> Option<String> {
        host_problem(&self.host)
    }
}

/// A host's bus name as it appears in visitor ids: `[A-Za-z0-9_-]`, 1 to 64 bytes.
fn host_problem(host: &str) -> Option<String> {
    let ok = !host.is_empty()
        && host.len() <= 64
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    (!ok).then(|| format!("host name {:?}", crate::codec::names::clip(host, 40)))
}

/// A member's or agent's name as shown: a nick or visitor id, then `@host` or not.
fn name_problem(name: &str) -> Option<String> {
    let (nick, host) = match name.split_once('@') {
        Some((nick, host)) => (nick, Some(host)),
        None => (name, None),
    };
    let nick_ok = !nick.is_empty()
        && nick.len() <= crate::codec::names::MAX_NICK
        && nick
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !nick_ok {
        return Some(format!("name {:?}", crate::codec::names::clip(name, 40)));
    }
    host.and_then(host_problem)
}

/// A line's text: at most `max` bytes, no control characters but tabs.
fn text_problem(text: &str, max: usize) -> Option<String> {
    if text.len() > max {
        return Some(format!("a text of {} bytes (at most {max})", text.len()));
    }
    text.chars()
        .any(|c| c.is_control() && c != '\t')
        .then(|| "a control character in a text".to_owned())
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

    /// Why this note cannot be taken, or `None`.
    pub fn problem(&self, max_text: usize) -> Option<String> {
        match self {
            RoomNote::Line { from, text } => {
                name_problem(from).or_else(|| text_problem(text, max_text))
            }
            RoomNote::Joined { name } => name_problem(name),
            RoomNote::Left { name, why } => {
                name_problem(name).or_else(|| text_problem(why, max_text))
            }
        }
    }
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

    /// Why this presence cannot be taken (names, or more agents, rooms or members than
    /// `limits` = (sessions, rooms, members per room) allow), or `None`.
    pub fn problem(&self, (sessions, rooms, members): (usize, usize, usize)) -> Option<String> {
        if self.agents.len() > sessions || self.rooms.len() > rooms {
            return Some(format!(
                "{} agents and {} rooms: more than this chat allows",
                self.agents.len(),
                self.rooms.len()
            ));
        }
        if let Some((room, names)) = self.rooms.iter().find(|(_, n)| n.len() > members) {
            return Some(format!("{} members in #{room}", names.len()));
        }
        let room_names = self.rooms.keys().filter_map(|r| {
            crate::codec::names::check_room(r)
                .ok()
                .filter(|checked| checked == r)
                .map_or_else(|| Some(format!("room {r:?}")), |_| None)
        });
        let names = self.agents.iter().chain(self.rooms.values().flatten());
        room_names
            .chain(names.filter_map(|n| name_problem(n)))
            .next()
    }
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
    fn notes_that_no_chat_would_send_are_refused() {
        let v = VisitorKey {
            host: "a".into(),
            id: 1,
        };
        let ok = DeskNote::Answer {
            visitor: v.clone(),
            agent: "bob@b".into(),
            text: "fine".into(),
        };
        assert_eq!(ok.problem(1024), None);
        let forged = DeskNote::Answer {
            visitor: v.clone(),
            agent: "* server".into(),
            text: "x".into(),
        };
        assert!(forged.problem(1024).is_some());
        let long = DeskNote::Said {
            visitor: v.clone(),
            text: "x".repeat(2000),
            owner: None,
        };
        assert!(long.problem(1024).unwrap().contains("2000 bytes"));
        let control = RoomNote::Line {
            from: "ann@a".into(),
            text: "line\n* fake".into(),
        };
        assert!(control.problem(1024).is_some());
        let bad_host = DeskNote::Took {
            visitor: VisitorKey {
                host: "a.b".into(),
                id: 1,
            },
            agent: "bob@b".into(),
        };
        assert!(bad_host.problem(1024).is_some());
        let huge = Presence {
            agents: (0..11).map(|i| format!("a{i}")).collect(),
            ..Presence::default()
        };
        assert!(huge.problem((10, 10, 10)).is_some());
        let mut odd_room = Presence::default();
        odd_room.rooms.insert("Lobby".into(), vec!["ann".into()]);
        assert!(
            odd_room.problem((10, 10, 10)).is_some(),
            "rooms are lowercase"
        );
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
