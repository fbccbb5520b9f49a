//! Rooms across hosts: a room's lines, joins and leaves go on its own subject
//! ([`RoomNote`]), which a host subscribes to only while it has local members in the
//! room; who is in it elsewhere comes from the joins and leaves, and from each host's
//! presence (which also covers a host that joined before this one subscribed).

use super::Chat;
use crate::codec::reply;
use crate::wire::{Presence, RoomNote};

impl Chat {
    fn room_note(&mut self, room: &str, note: &RoomNote) {
        if let Some(subject) = self.cluster.as_ref().map(|c| c.subjects.room(room)) {
            self.publish(subject, RoomNote::TYPE, note);
        }
    }

    /// `name` joined `room` here; `first`: the room had no local member before.
    pub(super) fn room_joined_cluster(&mut self, room: &str, name: &str, first: bool) {
        let Some(subject) = self.cluster.as_ref().map(|c| c.subjects.room(room)) else {
            return;
        };
        if first {
            self.bus(super::cluster::BusOut::Subscribe { subject });
        }
        let note = RoomNote::Joined { name: name.into() };
        self.room_note(room, &note);
        self.presence_changed(0);
    }

    /// `name` left `room` here; `last`: no local member is left.
    pub(super) fn room_left_cluster(&mut self, room: &str, name: &str, why: &str, last: bool) {
        let Some(subject) = self.cluster.as_ref().map(|c| c.subjects.room(room)) else {
            return;
        };
        let note = RoomNote::Left {
            name: name.into(),
            why: why.into(),
        };
        self.room_note(room, &note);
        if last {
            self.bus(super::cluster::BusOut::Unsubscribe { subject });
        }
        self.presence_changed(0);
    }

    /// A local member said `text` in `room`.
    pub(super) fn room_line_cluster(&mut self, room: &str, name: &str, text: &str) {
        let Some(from) = self.cluster.as_ref().map(|c| c.agent_ref(name)) else {
            return;
        };
        let note = RoomNote::Line {
            from,
            text: text.into(),
        };
        self.room_note(room, &note);
    }

    /// Members of `room` on other hosts, `name@host`.
    pub(super) fn remote_members(&self, room: &str) -> Vec<String> {
        let Some(c) = self.cluster.as_ref() else {
            return Vec::new();
        };
        c.peers
            .iter()
            .flat_map(|(host, p)| {
                p.presence
                    .rooms
                    .get(room)
                    .into_iter()
                    .flatten()
                    .map(move |name| format!("{name}@{host}"))
            })
            .collect()
    }

    /// Another host's note on `room` (the subject's room).
    pub fn handle_room(&mut self, now: u64, host: &str, room: &str, note: RoomNote) {
        let Some(to) = self.rooms.get_mut(room).map(|g| g.all()) else {
            return;
        };
        let members = self.cluster.as_mut().map(|c| {
            &mut c
                .peers
                .entry(host.to_owned())
                .or_insert_with(|| super::cluster::Peer {
                    last_seen: now,
                    presence: Presence::default(),
                })
                .presence
                .rooms
        });
        let Some(members) = members else {
            return;
        };
        let text = match note {
            RoomNote::Line { from, text } => reply::room_line(room, &from, &text),
            RoomNote::Joined { name } => {
                let list = members.entry(room.to_owned()).or_default();
                if list.contains(&name) {
                    return; // announced already (by a presence)
                }
                list.push(name.clone());
                reply::info(format_args!("{name}@{host} joined #{room}"))
            }
            RoomNote::Left { name, why } => {
                let list = members.entry(room.to_owned()).or_default();
                if !list.contains(&name) {
                    return;
                }
                list.retain(|n| *n != name);
                reply::info(format_args!("{name}@{host} {why} #{room}"))
            }
        };
        self.fanout(to, text);
    }

    /// `host`'s presence went from `before` to `now`: announce in our rooms the members
    /// that came or went without a room note reaching us.
    pub(super) fn rooms_presence_changed(&mut self, host: &str, before: &Presence, now: &Presence) {
        let empty = Vec::new();
        for (room, names) in &now.rooms {
            let Some(to) = self.rooms.get_mut(room).map(|g| g.all()) else {
                continue;
            };
            let old = before.rooms.get(room).unwrap_or(&empty);
            for name in names.iter().filter(|n| !old.contains(n)) {
                let text = reply::info(format_args!("{name}@{host} joined #{room}"));
                self.fanout(to.clone(), text);
            }
        }
        for (room, old) in &before.rooms {
            let Some(to) = self.rooms.get_mut(room).map(|g| g.all()) else {
                continue;
            };
            let names = now.rooms.get(room).unwrap_or(&empty);
            for name in old.iter().filter(|n| !names.contains(n)) {
                let text = reply::info(format_args!("{name}@{host} left #{room}"));
                self.fanout(to.clone(), text);
            }
        }
    }

    /// `host` is gone: tell each of our rooms it had members in.
    pub(super) fn rooms_host_gone(&mut self, host: &str, presence: &Presence) {
        for (room, names) in &presence.rooms {
            let Some(to) = self.rooms.get_mut(room).map(|g| g.all()) else {
                continue;
            };
            if names.is_empty() {
                continue;
            }
            let text = reply::info(format_args!(
                "{} members of host {host} left #{room}: the host is gone",
                names.len()
            ));
            self.fanout(to, text);
        }
    }
}
