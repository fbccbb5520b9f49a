//! The chat's state across a reload, as bytes, per state version.
//!
//! - **Version 1**: [`Snapshot`] as JSON (`machine::snapshot`).
//! - **Version 2**: a rehearsal of the next version, written only by a build with the
//!   test feature `state-v2-test` (tests swap the chat's `.so` for it under a running
//!   host): the rooms become an object `{name: [members]}` instead of a list of
//!   `{name, members}`. That build migrates version 1 on import. The default build
//!   writes version 1 and refuses version 2 (newer than it knows).
//!
//! Which versions a build takes depends only on the version it writes, so both
//! builds' rules are tested here whichever is compiled.
//!
//! # Layout
//! - this file: encoding and decoding, per build.
//! - `tests.rs`: the plugin handing its state over through `MockHost`.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::machine::{ClusterState, RoomState, SessionState, Snapshot};

/// The state version this build writes.
pub const STATE_VERSION: u32 = if cfg!(feature = "state-v2-test") {
    2
} else {
    1
};

/// This build's state as bytes, with its version.
pub fn encode(snapshot: Snapshot) -> (u32, Vec<u8>) {
    encode_as(STATE_VERSION, snapshot)
}

/// A predecessor's state, read as this build reads it.
pub fn decode(version: u32, data: &[u8]) -> Result<Snapshot, String> {
    decode_as(STATE_VERSION, version, data)
}

fn encode_as(build: u32, snapshot: Snapshot) -> (u32, Vec<u8>) {
    let bytes = if build == 2 {
        serde_json::to_vec(&V2::from(snapshot))
    } else {
        serde_json::to_vec(&snapshot)
    };
    (build, bytes.expect("plain data serializes"))
}

fn decode_as(build: u32, version: u32, data: &[u8]) -> Result<Snapshot, String> {
    let unreadable = |e: serde_json::Error| format!("state version {version} unreadable: {e}");
    match version {
        1 => {
            let v1: Snapshot = serde_json::from_slice(data).map_err(unreadable)?;
            // The version 2 build migrates: through its own document, as it would be
            // written by it.
            Ok(if build == 2 { V2::from(v1).into() } else { v1 })
        }
        2 if build == 2 => {
            let v2: V2 = serde_json::from_slice(data).map_err(unreadable)?;
            Ok(v2.into())
        }
        v => Err(format!(
            "state version {v} is unknown to this build (it reads 1 to {build})"
        )),
    }
}

/// Version 2's document: version 1's with rooms as an object.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct V2 {
    last_id: u64,
    sessions: Vec<SessionState>,
    rooms: BTreeMap<String, Vec<SocketAddr>>,
    agents: Vec<SocketAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cluster: Option<ClusterState>,
}

impl From<Snapshot> for V2 {
    fn from(s: Snapshot) -> V2 {
        V2 {
            last_id: s.last_id,
            sessions: s.sessions,
            rooms: s.rooms.into_iter().map(|r| (r.name, r.members)).collect(),
            agents: s.agents,
            cluster: s.cluster,
        }
    }
}

impl From<V2> for Snapshot {
    fn from(v: V2) -> Snapshot {
        Snapshot {
            last_id: v.last_id,
            sessions: v.sessions,
            rooms: v
                .rooms
                .into_iter()
                .map(|(name, members)| RoomState { name, members })
                .collect(),
            agents: v.agents,
            cluster: v.cluster,
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod versions {
    use super::*;

    fn sample() -> Snapshot {
        let addr: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        Snapshot {
            last_id: 4,
            sessions: Vec::new(),
            rooms: vec![RoomState {
                name: "lobby".into(),
                members: vec![addr],
            }],
            agents: Vec::new(),
            cluster: None,
        }
    }

    #[test]
    fn version_1_reads_back_in_both_builds_and_version_2_only_in_its_own() {
        let (v, bytes) = encode_as(1, sample());
        assert_eq!(v, 1);
        assert_eq!(decode_as(1, 1, &bytes).unwrap(), sample());
        assert_eq!(decode_as(2, 1, &bytes).unwrap(), sample(), "migrated");
        let (v, bytes) = encode_as(2, sample());
        assert_eq!(v, 2);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.contains(r#""rooms":{"lobby":["127.0.0.1:5000"]}"#),
            "{text}"
        );
        assert_eq!(decode_as(2, 2, &bytes).unwrap(), sample());
        let err = decode_as(1, 2, &bytes).unwrap_err();
        assert!(err.contains("state version 2 is unknown"), "{err}");
    }

    #[test]
    fn a_damaged_or_unknown_document_is_refused() {
        let err = decode_as(1, 1, b"{\"last_id\": 1}").unwrap_err();
        assert!(err.contains("unreadable"), "{err}");
        let (_, bytes) = encode_as(1, sample());
        assert!(decode_as(1, 2, &bytes).is_err());
        assert!(decode_as(2, 2, &bytes).is_err(), "a v1 document is no v2");
        assert!(decode_as(1, 7, &bytes).unwrap_err().contains("unknown"));
    }
}
