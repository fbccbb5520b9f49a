//! The drain deadline: the connection is cut, and a v2 client is told why.
//!
//! What the client gets (`docs/files-protocol.md`, "Shutting down"): between
//! requests, or during a `PUT` or `HASH`, the reply `ERR 503 server shutting down`;
//! in the middle of a `GET` body (the host stopped the `sendfile` where it was), the
//! tail `\nERR 503 server shutting down\n` right after the bytes sent, which a client
//! finds at end of stream before the announced length. v1 has no error channel: the
//! connection just closes. Either way what was in flight is recorded as `aborted` and
//! a `PUT` stores nothing.

use switchyard_sdk::DrainCause;
use switchyard_sdk::messages::Outcome;

use super::{Output, Phase, Session, Storage};
use crate::codec::{ErrorCode, Reply};

/// What a cut client is told.
pub const SHUTTING_DOWN: &str = "server shutting down";
/// What a client whose transfer the operator cancelled is told.
pub const CANCELLED: &str = "transfer cancelled by the server's operator";

impl Session {
    /// The drain deadline passed: record what was in flight as cut, say goodbye, close.
    pub fn handle_drain_deadline(&mut self, now: u64, _cause: DrainCause, st: &mut dyn Storage) {
        self.cut(now, SHUTTING_DOWN, st);
    }

    /// The operator cancelled the transfer: the same as a deadline, with its own words.
    pub fn handle_cancel(&mut self, now: u64, st: &mut dyn Storage) {
        self.cut(now, CANCELLED, st);
    }

    /// Record what was in flight as cut (`why`), tell a client that can hear it, close.
    fn cut(&mut self, now: u64, why: &'static str, st: &mut dyn Storage) {
        let v2 = !matches!(
            self.phase,
            Phase::Detect { .. } | Phase::V1Header { .. } | Phase::V1Upload(_) | Phase::Done
        ) && !matches!(&self.phase, Phase::Sending(s) if s.v1);
        let mid_body = matches!(&self.phase, Phase::Sending(s) if !s.v1);
        // Between requests, only a request begun is answered.
        let answer = !matches!(self.phase, Phase::Ready) || !self.inbuf.is_empty();
        if matches!(self.phase, Phase::Done) {
            return;
        }
        // `cut_off` leaves the phase `Done`: the close below is the only one.
        self.cut_off(now, (Outcome::Aborted, why), st);
        if v2 && mid_body {
            // Where the body stopped: a line the client can tell from file bytes.
            let mut tail = b"\n".to_vec();
            tail.extend_from_slice(&Reply::err(ErrorCode::Unavailable, why).to_bytes());
            self.write(tail);
        } else if v2 && answer {
            self.reply(&Reply::err(ErrorCode::Unavailable, why));
        }
        self.push(Output::Close);
    }
}
