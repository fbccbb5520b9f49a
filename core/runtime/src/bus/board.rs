//! [`BusBoard`]: what the operator console shows of the bus, kept up to date by the
//! bus thread and read by the console without waiting on it: which servers, as what
//! name and prefix, where the connection stands and since when, and the hosts of the
//! cluster as the last heartbeat listed them ([`super::presence`]).
//!
//! Why a board rather than asking the bus: the console answers from the admin
//! listener's thread and must never wait on NATS (it may be away for minutes); the
//! bus thread writes here at each event and heartbeat, and a read is a short lock.

use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

/// How the connection stands, as the console says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Connected to a server.
    Connected,
    /// Not connected yet (the first connection is being made).
    Connecting,
    /// Lost; the client is reconnecting.
    Disconnected,
}

impl LinkState {
    /// The console's word for it.
    pub fn word(self) -> &'static str {
        match self {
            LinkState::Connected => "connected",
            LinkState::Connecting => "connecting",
            LinkState::Disconnected => "disconnected",
        }
    }
}

/// What one host puts in the hosts bucket under its name, refreshed by its heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRecord {
    pub name: String,
    pub version: String,
    pub started_unix_ms: u64,
    /// The admin listener's address, when the host has one (where its console is).
    pub admin: Option<String>,
}

/// A host of the cluster as the last listing found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenHost {
    pub record: HostRecord,
    /// When its record was last written (the NATS server's clock).
    pub written_unix_ms: u64,
}

/// The connection the board describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkView {
    pub servers: Vec<String>,
    pub name: String,
    pub subject_prefix: String,
    pub state: LinkState,
    pub since_unix_ms: u64,
    /// The cluster's hosts, this one included once its first heartbeat was listed.
    pub hosts: Vec<SeenHost>,
    /// When the hosts were last listed (`None`: not yet).
    pub hosts_listed_unix_ms: Option<u64>,
    /// Why the last heartbeat failed (NATS away, JetStream off), `None` when it
    /// worked.
    pub presence_error: Option<String>,
}

#[derive(Debug, Default)]
struct Board {
    link: Option<LinkView>,
    admin: Option<String>,
}

/// The board, shared (by `Arc`) between the bus thread and the console.
#[derive(Debug)]
pub struct BusBoard {
    started_unix_ms: u64,
    inner: Mutex<Board>,
}

impl BusBoard {
    /// A board for a host started at `started_unix_ms` (what its record says).
    pub fn new(started_unix_ms: u64) -> BusBoard {
        BusBoard {
            started_unix_ms,
            inner: Mutex::default(),
        }
    }

    fn locked(&self) -> MutexGuard<'_, Board> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connection now, `None` without a bus.
    pub fn link(&self) -> Option<LinkView> {
        self.locked().link.clone()
    }

    /// A new connection (or none: `None`), in `state` from `now_unix_ms` on; the hosts
    /// seen on the previous one are forgotten.
    pub fn set_link(
        &self,
        link: Option<(Vec<String>, String, String)>,
        state: LinkState,
        now: u64,
    ) {
        self.locked().link = link.map(|(servers, name, subject_prefix)| LinkView {
            servers,
            name,
            subject_prefix,
            state,
            since_unix_ms: now,
            hosts: Vec::new(),
            hosts_listed_unix_ms: None,
            presence_error: None,
        });
    }

    /// The connection moved to `state` at `now` (kept as it is when already there).
    pub fn set_state(&self, state: LinkState, now: u64) {
        if let Some(link) = self.locked().link.as_mut()
            && link.state != state
        {
            link.state = state;
            link.since_unix_ms = now;
        }
    }

    /// What a heartbeat found: the hosts listed at `now`, or why it failed (the last
    /// listing is kept then, its ages growing).
    pub fn set_hosts(&self, listed: Result<Vec<SeenHost>, String>, now: u64) {
        let mut board = self.locked();
        let Some(link) = board.link.as_mut() else {
            return;
        };
        match listed {
            Ok(mut hosts) => {
                hosts.sort_by(|a, b| a.record.name.cmp(&b.record.name));
                link.hosts = hosts;
                link.hosts_listed_unix_ms = Some(now);
                link.presence_error = None;
            }
            Err(why) => link.presence_error = Some(why),
        }
    }

    /// The admin listener's address, for this host's record (`None`: no admin).
    pub fn set_admin(&self, admin: Option<String>) {
        self.locked().admin = admin;
    }

    /// This host's record under `name`, as its heartbeat writes it.
    pub fn record(&self, name: &str) -> HostRecord {
        HostRecord {
            name: name.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_unix_ms: self.started_unix_ms,
            admin: self.locked().admin.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(name: &str, at: u64) -> SeenHost {
        SeenHost {
            record: HostRecord {
                name: name.into(),
                version: "1".into(),
                started_unix_ms: 1,
                admin: None,
            },
            written_unix_ms: at,
        }
    }

    #[test]
    fn state_changes_keep_their_time_and_a_new_link_forgets_the_hosts() {
        let board = BusBoard::new(7);
        assert_eq!(board.link(), None);
        let link = (vec!["nats://n:4222".into()], "a".into(), "sy".into());
        board.set_link(Some(link.clone()), LinkState::Connecting, 100);
        board.set_state(LinkState::Connected, 200);
        board.set_state(LinkState::Connected, 300);
        let now = board.link().unwrap();
        assert_eq!((now.state, now.since_unix_ms), (LinkState::Connected, 200));
        board.set_hosts(Ok(vec![seen("b", 1), seen("a", 2)]), 250);
        let names: Vec<_> = board
            .link()
            .unwrap()
            .hosts
            .into_iter()
            .map(|h| h.record.name)
            .collect();
        assert_eq!(names, ["a", "b"], "sorted by name");
        // A failed heartbeat keeps the listing and says why.
        board.set_hosts(Err("no JetStream".into()), 260);
        let now = board.link().unwrap();
        assert_eq!(now.hosts.len(), 2);
        assert_eq!(now.hosts_listed_unix_ms, Some(250));
        assert_eq!(now.presence_error.as_deref(), Some("no JetStream"));
        board.set_link(Some(link), LinkState::Connecting, 400);
        assert!(board.link().unwrap().hosts.is_empty());
        board.set_link(None, LinkState::Connecting, 500);
        assert_eq!(board.link(), None);
    }

    #[test]
    fn the_record_carries_the_admin_address_and_the_start() {
        let board = BusBoard::new(42);
        board.set_admin(Some("127.0.0.1:9000".into()));
        let record = board.record("host-a");
        assert_eq!(record.started_unix_ms, 42);
        assert_eq!(record.admin.as_deref(), Some("127.0.0.1:9000"));
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["name"], "host-a");
        assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
        let back: HostRecord = serde_json::from_value(json).unwrap();
        assert_eq!(back, record);
    }
}
