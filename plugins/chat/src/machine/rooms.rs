//! Rooms: `/nick`, `/join`, `/leave`, `/who`, `/rooms`, and the fan-out of room lines.
//!
//! A session is in at most one room; while it is, its plain text goes to the room.
//! Every room line goes to every member, the sender included: over UDP that echo is
//! the sender's confirmation that the line was accepted.

use std::fmt::Write as _;
use std::net::SocketAddr;

use super::Chat;
use crate::codec::reply;

/// Bytes of names `/who` and `/rooms` list before "and N more".
const LIST_BUDGET: usize = 900;

impl Chat {
    /// `/nick NAME` (already checked by the codec).
    pub(super) fn nick(&mut self, peer: SocketAddr, nick: &str) {
        let old = match self.sessions.set_nick(peer, nick) {
            Ok(old) => old,
            Err(_) => return self.reply(peer, reply::error(format_args!("nick {nick} is taken"))),
        };
        let notice = reply::info(format_args!("{old} is now known as {nick}"));
        match self.sessions.get(peer).and_then(|s| s.room.clone()) {
            Some(room) => {
                if let Some(to) = self.rooms.get_mut(&room).map(|g| g.all()) {
                    self.fanout(to, notice);
                }
            }
            None => self.reply(peer, notice),
        }
    }

    /// `/join ROOM`: leaves the current room first. Everyone in the room, the
    /// newcomer included, sees the join.
    pub(super) fn join(&mut self, peer: SocketAddr, room: String) {
        let Some(s) = self.sessions.get(peer) else {
            return;
        };
        if s.room.as_deref() == Some(room.as_str()) {
            return self.reply(peer, reply::info(format_args!("already in #{room}")));
        }
        let (dest, name, current) = (s.dest, s.name(), s.room.clone());
        match self.rooms.get(&room) {
            None if self.rooms.len() >= self.cfg.max_rooms => {
                return self.reply(
                    peer,
                    reply::error("too many rooms; join an existing one (/rooms)"),
                );
            }
            Some(g) if g.len() >= self.cfg.max_room_members => {
                return self.reply(peer, reply::error(format_args!("#{room} is full")));
            }
            _ => {}
        }
        if let Some(current) = current {
            self.left_room(peer, &name, &current, "left");
        }
        let first = !self.rooms.contains_key(&room);
        let group = self.rooms.entry(room.clone()).or_default();
        group.insert(dest);
        let (to, here) = (group.all(), group.len());
        let members = here + self.remote_members(&room).len();
        if let Some(s) = self.sessions.get_mut(peer) {
            s.room = Some(room.clone());
        }
        self.fanout(
            to,
            reply::info(format_args!("{name} joined #{room} ({members} members)")),
        );
        self.room_joined_cluster(&room, &name, first);
    }

    /// `/leave`.
    pub(super) fn leave(&mut self, peer: SocketAddr) {
        let Some(s) = self.sessions.get_mut(peer) else {
            return;
        };
        let Some(room) = s.room.take() else {
            return self.reply(peer, reply::error("not in a room"));
        };
        let name = s.name();
        self.left_room(peer, &name, &room, "left");
        self.reply(peer, reply::info(format_args!("you left #{room}")));
    }

    /// `/who`: the members of the current room.
    pub(super) fn who(&mut self, peer: SocketAddr) {
        let Some(room) = self.sessions.get(peer).and_then(|s| s.room.clone()) else {
            return self.reply(peer, reply::error("not in a room; /join ROOM first"));
        };
        let Some(group) = self.rooms.get(&room) else {
            return;
        };
        let remote = self.remote_members(&room);
        let total = group.len() + remote.len();
        let names = group
            .addrs()
            .filter_map(|a| self.sessions.get(a))
            .map(|s| s.name())
            .chain(remote);
        let text = listing(format!("#{room} ({total}): "), total, names);
        self.reply(peer, reply::info(text));
    }

    /// `/rooms`: every room and its size.
    pub(super) fn list_rooms(&mut self, peer: SocketAddr) {
        if self.rooms.is_empty() {
            return self.reply(peer, reply::info("no rooms yet; /join NAME creates one"));
        }
        let rooms = self
            .rooms
            .iter()
            .map(|(name, g)| format!("#{name} ({})", g.len()));
        let text = listing(
            format!("{} rooms: ", self.rooms.len()),
            self.rooms.len(),
            rooms,
        );
        self.reply(peer, reply::info(text));
    }

    /// Plain text in a room: to every member, and published on channel `#room`.
    pub(super) fn say_in_room(&mut self, peer: SocketAddr, room: &str, text: &str) {
        let Some(name) = self.sessions.get(peer).map(|s| s.name()) else {
            return;
        };
        let Some(to) = self.rooms.get_mut(room).map(|g| g.all()) else {
            return;
        };
        self.fanout(to, reply::room_line(room, &name, text));
        self.room_line_cluster(room, &name, text);
        self.line(name, format!("#{room}"), text.to_string());
    }

    /// Take `peer` out of `room` and tell the remaining members; an empty room
    /// is deleted. The caller clears the session's `room`.
    pub(super) fn left_room(&mut self, peer: SocketAddr, name: &str, room: &str, why: &str) {
        let Some(group) = self.rooms.get_mut(room) else {
            return;
        };
        group.remove(peer);
        if group.is_empty() {
            self.rooms.remove(room);
            return self.room_left_cluster(room, name, why, true);
        }
        let to = group.all();
        self.fanout(to, reply::info(format_args!("{name} {why} #{room}")));
        self.room_left_cluster(room, name, why, false);
    }
}

/// `head` then the items comma-separated, stopping before `LIST_BUDGET` bytes.
fn listing(mut head: String, total: usize, items: impl Iterator<Item = String>) -> String {
    for (i, item) in items.enumerate() {
        if head.len() + item.len() > LIST_BUDGET {
            let _ = write!(head, "... and {} more", total - i);
            break;
        }
        if i > 0 {
            head.push_str(", ");
        }
        head.push_str(&item);
    }
    head
}
