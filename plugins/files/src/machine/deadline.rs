//! Cutting what is in flight ([`Session::cut_off`]: a connection gone, a transfer
//! too slow), and the drain deadline: the connection is cut, and a v2 client is told
//! why.
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
    /// End whatever is in flight, recorded as `outcome` (`aborted`, `timeout`).
    pub(crate) fn cut_off(
        &mut self,
        now: u64,
        (outcome, reason): (Outcome, &str),
        st: &mut dyn Storage,
    ) {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::V1Upload(u) => {
                // Only a clean end of stream stores a v1 upload: a reset means the client
                // did not finish, and nothing partial may become visible.
                let _ = st.close_file(u.file);
                self.record(now, "upload", "-", u.bytes, u.started, None, outcome);
                self.log(format!(
                    "request cmd=v1-upload peer={} bytes={} result={outcome} reason={reason:?}",
                    self.peer, u.bytes
                ));
            }
            Phase::Sending(s) => {
                let _ = st.close_file(s.file);
                self.log(format!(
                    "request cmd=GET peer={} file={:?} result={outcome} reason={reason:?}",
                    self.peer, s.name
                ));
                self.record(now, "download", &s.name, 0, s.started, None, outcome);
            }
            Phase::Receiving(r) => {
                let _ = st.close_file(r.file);
                self.log(format!(
                    "request cmd=PUT peer={} file={:?} result={outcome} reason={reason:?}",
                    self.peer, r.name
                ));
                self.record(now, "upload", &r.name, 0, r.started, None, outcome);
            }
            Phase::Hashing(h) => {
                let _ = st.close_file(h.file);
            }
            Phase::Parked(p) => self.abandon(now, p, (outcome, reason), st),
            _ => {}
        }
        self.inbuf = Vec::new();
    }

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
        ) && !matches!(&self.phase, Phase::Sending(s) if s.v1)
            && !matches!(&self.phase, Phase::Parked(p) if p.step.is_v1());
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
