//! Ids for what a plugin names (sockets, connections, files, prefetches), unique across
//! the whole process.
//!
//! Why process-wide and not per handler: a reload may hand one handler's state and
//! connections over to its successor, which runs on another thread with its own
//! `Shared`. The state names sockets and connections by id (a chat session is a listener
//! socket id and a peer address), so an id must mean the same thing in the successor:
//! moved connections keep theirs, and listener sockets get theirs once, when the server
//! binds them (`server/sockets.rs`), whichever actor is handed the socket. A per-handler
//! counter would make the successor hand out ids its predecessor's state already uses.
//! See `docs/decisions/state-handover.md`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// The next id to hand out; 0 is never one (the ABI's "none").
static NEXT: AtomicU64 = AtomicU64::new(1);

/// A fresh id, never handed out before in this process.
pub fn next_id() -> u64 {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A map keyed by these ids, hashed by one multiplication instead of SipHash: ids are
/// ours, not chosen by peers, so no flooding attack applies, and the maps are looked
/// up several times per request (SipHash measured at ~2% of a small GET's CPU).
pub type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// Fibonacci hashing of a `u64` id: spreads sequential ids over the whole word, so
/// hashbrown's control bytes (the top bits) and bucket index (the low bits) both vary.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed here; anything else still hashes correctly.
        for &b in bytes {
            self.write_u64(u64::from(b) ^ self.0.rotate_left(8));
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = (self.0 ^ id).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_from_many_threads_are_all_different_and_never_zero() {
        let threads: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..1000).map(|_| next_id()).collect::<Vec<u64>>()))
            .collect();
        let mut seen = HashSet::new();
        for t in threads {
            for id in t.join().unwrap() {
                assert_ne!(id, 0);
                assert!(seen.insert(id), "id {id} handed out twice");
            }
        }
        assert_eq!(seen.len(), 4000);
    }
}
