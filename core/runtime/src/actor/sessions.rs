//! [`SessionTable`]: the sessions one instance described (`session_update`), as the
//! host keeps them.
//!
//! Why the host keeps a copy: when a drain deadline cuts sessions it logs one line per
//! session naming the peer, the file and the bytes done, and the sessions gauge counts
//! them; the plugin may be gone (or busy saying goodbye) by then. Numbers are copied on
//! every update, strings only when they changed: a plugin reporting progress every few
//! blocks costs two integer stores.
//!
//! A session that names its connection is also counted by the host: every byte the
//! connection moves from the first description on (reads, writes, `sendfile`,
//! receives into files), so a plugin that hands a file to the host need not report
//! progress. Its bytes done are the larger of the two counts.
//!
//! When it ends, the record becomes the session's access log line
//! (`crate::access_log`), timed from its first description.

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use switchyard_sdk::abi;
use switchyard_sdk::{Direction, Session};

/// Bytes a connection moved in both directions since it opened, shared between the
/// connection (which counts) and the sessions that run on it (which read).
pub type ByteCount = Rc<Cell<u64>>;

/// Most sessions one instance may describe at once: a plugin that never ends its
/// sessions gets `SY_ERR_LIMIT` rather than the host's memory.
pub const MAX_SESSIONS: usize = 1 << 18;
/// Longest `resource` or `state` kept, in bytes (a path is at most 4095).
pub const MAX_TEXT: usize = 4096;

/// A session's connection and the host's count of its bytes.
#[derive(Debug)]
struct OnConn {
    conn: u64,
    moved: ByteCount,
    /// `moved` when the session was first described on this connection.
    base: u64,
}

/// One session as last described.
#[derive(Debug)]
pub struct SessionRecord {
    pub direction: Direction,
    pub peer: Option<SocketAddr>,
    pub resource: String,
    pub state: String,
    /// What the plugin said.
    plugin_bytes: u64,
    pub bytes_total: Option<u64>,
    on_conn: Option<OnConn>,
    /// When it was first described (its access log line's duration).
    pub started: Instant,
}

impl SessionRecord {
    /// The connection the session runs on, if it named one.
    pub fn conn(&self) -> Option<u64> {
        self.on_conn.as_ref().map(|c| c.conn)
    }

    /// The larger of the plugin's count and the host's (for a session on a connection).
    pub fn bytes_done(&self) -> u64 {
        let host = self
            .on_conn
            .as_ref()
            .map_or(0, |c| c.moved.get().saturating_sub(c.base));
        self.plugin_bytes.max(host)
    }
}

/// Every session an instance describes and has not ended, by the plugin's key.
#[derive(Debug, Default)]
pub struct SessionTable {
    map: crate::ids::IdMap<SessionRecord>,
}

impl SessionTable {
    /// Describe session `key` or update it. `moved` is the byte count of the
    /// connection `info` names (the caller checked that it is the instance's), with
    /// the bytes queued on it and not yet sent, which count as before the session.
    /// `SY_ERR_LIMIT` for a text over [`MAX_TEXT`] or a new session past
    /// [`MAX_SESSIONS`]: nothing is changed then.
    pub fn update(
        &mut self,
        key: u64,
        info: &Session<'_>,
        moved: Option<(ByteCount, u64)>,
    ) -> Result<(), u32> {
        if info.resource.len() > MAX_TEXT || info.state.len() > MAX_TEXT {
            return Err(abi::SY_ERR_LIMIT);
        }
        if !self.map.contains_key(&key) && self.map.len() >= MAX_SESSIONS {
            return Err(abi::SY_ERR_LIMIT);
        }
        let record = self.map.entry(key).or_insert_with(|| SessionRecord {
            direction: info.direction,
            peer: info.peer,
            resource: String::new(),
            state: String::new(),
            plugin_bytes: 0,
            bytes_total: None,
            on_conn: None,
            started: Instant::now(),
        });
        record.direction = info.direction;
        record.peer = info.peer;
        record.plugin_bytes = info.bytes_done;
        record.bytes_total = info.bytes_total;
        if record.resource != info.resource {
            info.resource.clone_into(&mut record.resource);
        }
        if record.state != info.state {
            info.state.clone_into(&mut record.state);
        }
        // The host's count starts when the session first names its connection.
        let same_conn = record.on_conn.as_ref().map(|c| c.conn) == info.conn.map(|c| c.0);
        if !same_conn {
            record.on_conn = info.conn.zip(moved).map(|(conn, (moved, queued))| OnConn {
                conn: conn.0,
                base: moved.get() + queued,
                moved,
            });
        }
        Ok(())
    }

    /// Forget session `key`; what it was, if it was described.
    pub fn end(&mut self, key: u64) -> Option<SessionRecord> {
        self.map.remove(&key)
    }

    /// Sessions described and not ended.
    pub fn count(&self) -> usize {
        self.map.len()
    }

    /// Every session, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &SessionRecord)> {
        self.map.iter().map(|(k, r)| (*k, r))
    }

    /// Whether some session runs on connection `conn`.
    pub fn describes_conn(&self, conn: u64) -> bool {
        self.map.values().any(|r| r.conn() == Some(conn))
    }

    /// Forget everything (the instance is gone).
    pub fn clear(&mut self) {
        self.map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::ConnId;

    fn download<'a>(resource: &'a str, done: u64) -> Session<'a> {
        Session {
            direction: Direction::Send,
            peer: Some("127.0.0.1:9".parse().unwrap()),
            conn: None,
            resource,
            state: "sending",
            bytes_done: done,
            bytes_total: Some(1000),
        }
    }

    #[test]
    fn numbers_follow_every_update_and_strings_only_their_changes() {
        let mut t = SessionTable::default();
        t.update(7, &download("a.bin", 10), None).unwrap();
        let before = t.iter().next().unwrap().1.resource.as_ptr();
        t.update(7, &download("a.bin", 600), None).unwrap();
        let r = t.iter().next().unwrap().1;
        assert_eq!((r.bytes_done(), r.bytes_total), (600, Some(1000)));
        assert_eq!(
            r.resource.as_ptr(),
            before,
            "an unchanged string is not copied"
        );
        t.update(7, &download("b.bin", 0), None).unwrap();
        assert_eq!(t.iter().next().unwrap().1.resource, "b.bin");
        assert_eq!(t.count(), 1);
        assert_eq!(t.end(7).map(|r| r.resource), Some("b.bin".to_owned()));
        assert!(t.end(7).is_none() && t.count() == 0);
    }

    #[test]
    fn a_session_on_a_connection_counts_the_bytes_moved_since_it_was_described() {
        let mut t = SessionTable::default();
        let moved: ByteCount = Rc::new(Cell::new(500)); // a request line, a reply
        let on_conn = Session {
            conn: Some(ConnId(3)),
            bytes_done: 0,
            ..download("big.iso", 0)
        };
        t.update(3, &on_conn, Some((Rc::clone(&moved), 0))).unwrap();
        moved.set(500 + 65_536); // sendfile
        let r = t.iter().next().unwrap().1;
        assert_eq!((r.conn(), r.bytes_done()), (Some(3), 65_536));
        assert!(t.describes_conn(3) && !t.describes_conn(4));
        // An update keeps the base; the plugin's larger count wins.
        let ahead = Session {
            bytes_done: 100_000,
            ..on_conn
        };
        t.update(3, &ahead, Some((Rc::clone(&moved), 0))).unwrap();
        assert_eq!(t.iter().next().unwrap().1.bytes_done(), 100_000);
        moved.set(500 + 200_000);
        assert_eq!(t.iter().next().unwrap().1.bytes_done(), 200_000);
    }

    #[test]
    fn oversized_text_is_refused_and_changes_nothing() {
        let mut t = SessionTable::default();
        let long = "x".repeat(MAX_TEXT + 1);
        assert_eq!(
            t.update(1, &download(&long, 0), None),
            Err(abi::SY_ERR_LIMIT)
        );
        assert_eq!(t.count(), 0);
    }
}
