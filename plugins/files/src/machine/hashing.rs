//! `HASH` of a file without a remembered digest: read step by step (one step per
//! timer tick, so other connections of the handler run between them), then the
//! digest remembered beside the file (a step that may wait, see `park`) and answered.
//!
//! On a store that waits, a read of a range not in the host's memory answers
//! `Pending`: the range (several steps' worth) is prefetched
//! ([`Output::Prefetch`]), and the step runs again when it is in
//! ([`Session::handle_file_prefetched`]), never before. A prefetch that never ends is
//! given up after the idle timeout: `ERR 408`, and the connection goes on.

use sha2::{Digest, Sha256};
use switchyard_sdk::{FileId, HostError};

use super::park::{STORE_SLOW, Step};
use super::{Output, Phase, Session, Storage, sums};
use crate::cmd::hex;
use crate::codec::{ErrorCode, Reply};

/// Steps of a `HASH` prefetched at once when its reads wait.
const STEPS_AHEAD: u64 = 8;

/// A `HASH` of a file without a remembered digest.
#[derive(Debug)]
pub(crate) struct Hashing {
    pub file: FileId,
    pub name: String,
    pub size: u64,
    pub offset: u64,
    pub hasher: Sha256,
    pub started: u64,
    /// When the next step runs; while a prefetch is in flight, when it is given up.
    pub next_step: u64,
    /// The prefetch in flight (a store that waits), by token.
    pub prefetch: Option<u64>,
}

/// A `HASH` read to its end: its digest, to remember and answer.
#[derive(Debug, Clone)]
pub(crate) struct HashDone {
    pub name: String,
    pub size: u64,
    pub digest: String,
    pub started: u64,
}

impl Session {
    /// Start a `HASH`: the first step runs now, the others at timer ticks.
    pub(crate) fn start_hash(&mut self, h: Hashing, now: u64, st: &mut dyn Storage) {
        self.phase = Phase::Hashing(h);
        self.hash_step(now, st);
    }

    /// Hash the next step of a `HASH`; reply when the file is done.
    pub(crate) fn hash_step(&mut self, now: u64, st: &mut dyn Storage) {
        let step = self.cfg.hash_step_bytes as u64;
        let idle = self.cfg.idle_ms();
        let Phase::Hashing(h) = &mut self.phase else {
            return;
        };
        if h.prefetch.is_some() {
            if now >= h.next_step {
                self.hash_failed(now, (ErrorCode::Timeout, STORE_SLOW), st);
            }
            return;
        }
        let want = (h.size - h.offset).min(step) as usize;
        let mut buf = vec![0u8; want];
        let read = if want == 0 {
            Ok(0)
        } else {
            st.read_file(h.file, h.offset, &mut buf)
        };
        match read {
            Ok(n) if n == want => {
                h.hasher.update(&buf[..n]);
                h.offset += n as u64;
                h.next_step = now;
                if h.offset < h.size {
                    return;
                }
            }
            Err(HostError::Pending) => {
                let (file, offset) = (h.file, h.offset);
                let len = (h.size - offset).min(step.saturating_mul(STEPS_AHEAD));
                h.next_step = now.saturating_add(idle);
                let token = self.token();
                if let Phase::Hashing(h) = &mut self.phase {
                    h.prefetch = Some(token);
                }
                self.push(Output::Prefetch {
                    file,
                    offset,
                    len,
                    token,
                });
                return;
            }
            Ok(_) | Err(_) => {
                let unreadable = (
                    ErrorCode::Internal,
                    "file changed or unreadable while hashing",
                );
                return self.hash_failed(now, unreadable, st);
            }
        }
        let Phase::Hashing(h) = std::mem::replace(&mut self.phase, Phase::Ready) else {
            unreachable!()
        };
        let _ = st.close_file(h.file);
        let done = HashDone {
            digest: hex(&h.hasher.finalize()),
            name: h.name,
            size: h.size,
            started: h.started,
        };
        self.start_step(now, Step::HashDone(done), st);
        self.go_on(now, st);
    }

    /// A `HASH` that cannot go on: its file closed, the error reply; the connection
    /// goes on.
    fn hash_failed(&mut self, now: u64, (code, why): (ErrorCode, &str), st: &mut dyn Storage) {
        let Phase::Hashing(h) = std::mem::replace(&mut self.phase, Phase::Ready) else {
            return;
        };
        let _ = st.close_file(h.file);
        self.fail("HASH", &h.name, code, why);
        self.ready(now, st);
    }

    /// A prefetch of a `HASH` ended: the step that waited runs now.
    pub fn handle_file_prefetched(
        &mut self,
        now: u64,
        token: u64,
        result: Result<(), HostError>,
        st: &mut dyn Storage,
    ) {
        let Phase::Hashing(h) = &mut self.phase else {
            return;
        };
        if h.prefetch != Some(token) {
            return;
        }
        h.prefetch = None;
        match result {
            Ok(()) => self.hash_step(now, st),
            Err(_) => {
                let unreadable = (
                    ErrorCode::Internal,
                    "file changed or unreadable while hashing",
                );
                self.hash_failed(now, unreadable, st)
            }
        }
    }

    /// A `HASH` read to its end: remember the digest (best effort), then answer.
    pub(super) fn hash_done(&mut self, now: u64, h: HashDone, st: &mut dyn Storage) {
        let digest = h.digest;
        sums::store(st, &h.name, &digest);
        self.reply(&Reply::Ok(vec![digest.clone()]));
        self.log_ok(format!(
            "request cmd=HASH proto=v2 peer={} file={:?} bytes={} duration_ms={} sha256={digest} result=ok",
            self.peer,
            h.name,
            h.size,
            now.saturating_sub(h.started)
        ));
    }
}
