//! The drain deadline: the connection is cut, and a v2 client is told why.
//!
//! An upload in flight (body or digest) gets the reply `UNAVAILABLE` "server shutting
//! down" (`docs/bulk-protocol.md`, "Shutting down") and ends as a lost connection
//! does: a resumable upload keeps what arrived for resume (`partial`), any other
//! stores nothing (`aborted`). A download cut mid-body cannot carry a reply inside its
//! raw bytes: it just closes, and the client sees fewer bytes than announced. v1 has
//! no error channel: the connection just closes. A step waiting for storage is cut
//! too, a v2 client told `UNAVAILABLE`.

use switchyard_sdk::DrainCause;
use switchyard_sdk::messages::Outcome;

use super::{Phase, Session, Storage};
use crate::codec::{self, Detected, Reply, Status};

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
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Done => {}
            Phase::Header => {
                if !self.inbuf.is_empty() {
                    self.warn(format!(
                        "refused peer={} reason=\"{why}\" bytes={}",
                        self.peer,
                        self.inbuf.len()
                    ));
                    if codec::detect(&self.inbuf) == Some(Detected::V2) {
                        self.reply(Reply::error(Status::Unavailable, why));
                    }
                }
                self.end();
            }
            Phase::Receiving(up) => {
                if !up.v1 {
                    self.reply(Reply::error(Status::Unavailable, why));
                }
                self.lose_upload(now, up, (Outcome::Aborted, why), st);
            }
            Phase::Trailer(up, _) => {
                let failure = (Status::Unavailable, Outcome::Aborted);
                self.fail_upload(now, up, failure, why, st);
            }
            Phase::Sending(d) => {
                let cut = Err((Outcome::Aborted, why.to_owned()));
                self.finish_download(now, d, cut, st);
            }
            Phase::Parked(p) => {
                let cut = (Status::Unavailable, Outcome::Aborted, why);
                self.cut_parked(now, p, cut, true, st);
            }
        }
    }
}
