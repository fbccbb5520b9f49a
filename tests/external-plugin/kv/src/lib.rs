//! # kv — a third party's key/value store over TCP that survives reloads
//!
//! One instance per handler holds every key; any number of connections talk to it in
//! lines: `SET KEY VALUE` -> `OK`, `GET KEY` -> `VALUE V` or `NOT_FOUND`, `KEYS` ->
//! `KEYS K1 K2 ...` (sorted), `INFO` -> `INFO state_version=N`; anything else ->
//! `ERROR ...`. A line longer than [`MAX_LINE`] is answered `ERROR line too long`
//! and the connection is closed.
//!
//! It hands its keys and open connections over across a reload
//! (`Protocol::HANDS_OVER_STATE`): a client connected before the reload goes on on the
//! same connection, even mid-line. Which state versions a build writes and takes is
//! `state.rs`'s; its features pick the variant (see `Cargo.toml`).
//!
//! # Layout
//! - `state.rs`: the state as bytes, per version, and migration.
//! - this file: the protocol.

mod state;

use std::collections::BTreeMap;

use switchyard_sdk::prelude::*;

pub use state::VERSION as STATE_VERSION;
use state::{Entry, Snapshot};

/// Longest request line, in bytes.
pub const MAX_LINE: usize = 4096;

/// The store.
#[derive(Debug, Default)]
pub struct Kv {
    keys: BTreeMap<String, Entry>,
    /// Open connections, each with the bytes of a line not yet ended.
    conns: BTreeMap<u64, Vec<u8>>,
}

impl Protocol for Kv {
    type Config = ();
    const NAME: &'static str = "kv";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "key/value store over TCP that keeps its keys across reloads";
    const LISTENERS: Listeners = Listeners::TCP;
    const HANDS_OVER_STATE: bool = true;
    /// Its state is per connection (a line's bytes) plus keys changed in one step: a
    /// panic on one connection's line costs that connection only.
    const PANIC_COSTS_CONNECTION: bool = true;

    fn new(_config: (), _ctx: &mut Ctx<'_>) -> Result<Self, String> {
        Ok(Kv::default())
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: Event<'_>) {
        match event {
            Event::ConnOpened { conn, .. } => {
                self.conns.insert(conn.0, Vec::new());
            }
            Event::Bytes { conn, data } => self.bytes(ctx, conn, data),
            Event::PeerEof { conn } => {
                let _ = ctx.close(conn);
            }
            Event::ConnClosed { conn, .. } => {
                self.conns.remove(&conn.0);
            }
            _ => {}
        }
    }

    fn active_sessions(&self) -> u64 {
        self.conns.len() as u64
    }

    fn export_state(&mut self, _ctx: &mut Ctx<'_>) -> Option<(u32, Vec<u8>)> {
        let snapshot = Snapshot {
            keys: self.keys.clone(),
            partial: self.conns.clone(),
        };
        Some((STATE_VERSION, state::encode(&snapshot)))
    }

    fn import_state(&mut self, ctx: &mut Ctx<'_>, version: u32, data: &[u8]) -> Result<(), String> {
        let snapshot = state::decode(version, data)?;
        ctx.info(format_args!(
            "took {} keys and {} connections (state version {version})",
            snapshot.keys.len(),
            snapshot.partial.len()
        ));
        self.keys = snapshot.keys;
        self.conns = snapshot.partial;
        Ok(())
    }
}

impl Kv {
    fn bytes(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, data: &[u8]) {
        let buf = self.conns.entry(conn.0).or_default();
        buf.extend_from_slice(data);
        let mut lines = Vec::new();
        while let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            lines.push(line);
        }
        let too_long = buf.len() > MAX_LINE;
        for line in lines {
            let reply = self.answer(&line);
            let _ = ctx.write(conn, reply.as_bytes());
        }
        if too_long {
            let _ = ctx.write(conn, b"ERROR line too long\n");
            let _ = ctx.close(conn);
            self.conns.remove(&conn.0);
        }
    }

    fn answer(&mut self, line: &[u8]) -> String {
        if line.len() > MAX_LINE {
            return "ERROR line too long\n".into();
        }
        let Ok(line) = std::str::from_utf8(line) else {
            return "ERROR not UTF-8\n".into();
        };
        let line = line.trim_end_matches(['\n', '\r']);
        let mut words = line.splitn(3, ' ');
        match (words.next(), words.next(), words.next()) {
            (Some("SET"), Some(key), Some(value)) if !key.is_empty() => {
                let e = self.keys.entry(key.to_owned()).or_insert(Entry {
                    value: String::new(),
                    revision: 0,
                });
                e.value = value.to_owned();
                e.revision += 1;
                "OK\n".into()
            }
            (Some("GET"), Some(key), None) => match self.keys.get(key) {
                Some(e) => format!("VALUE {}\n", e.value),
                None => "NOT_FOUND\n".into(),
            },
            (Some("KEYS"), None, None) => {
                let keys: Vec<&str> = self.keys.keys().map(String::as_str).collect();
                format!("KEYS {}\n", keys.join(" "))
            }
            (Some("INFO"), None, None) => format!("INFO state_version={STATE_VERSION}\n"),
            // For tests of what a panic costs.
            (Some("PANIC"), None, None) => panic!("kv: PANIC asked for"),
            _ => "ERROR expected SET KEY VALUE, GET KEY, KEYS or INFO\n".into(),
        }
    }
}

switchyard_sdk::declare_plugin!(Kv);

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_sdk::testing::{Action, MockHost};

    fn writes(host: &mut MockHost) -> Vec<String> {
        host.take_io()
            .into_iter()
            .filter_map(|a| match a {
                Action::Write { data, .. } => Some(String::from_utf8(data).unwrap()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn keys_and_a_half_line_survive_a_handover() {
        let mut host = MockHost::new();
        let mut old: Kv = host.create("()").unwrap();
        let c = ConnId(9);
        host.deliver(
            &mut old,
            0,
            Event::Bytes {
                conn: c,
                data: b"SET a 1\nGET",
            },
        );
        assert_eq!(writes(&mut host), ["OK\n"]);
        let (version, bytes) = host.export_state(&mut old, 5).expect("state");
        assert_eq!(version, STATE_VERSION);
        let mut new: Kv = host.create("()").unwrap();
        host.import_state(&mut new, 0, version, &bytes).unwrap();
        host.deliver(
            &mut new,
            1,
            Event::Bytes {
                conn: c,
                data: b" a\n",
            },
        );
        assert_eq!(writes(&mut host), ["VALUE 1\n"]);
    }

    #[test]
    fn a_refused_state_leaves_the_store_empty() {
        let mut host = MockHost::new();
        let mut kv: Kv = host.create("()").unwrap();
        let err = host
            .import_state(&mut kv, 0, STATE_VERSION + 1, b"")
            .unwrap_err();
        assert!(err.contains("newer"), "{err}");
        assert!(kv.keys.is_empty() && kv.conns.is_empty());
    }
}
