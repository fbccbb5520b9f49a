//! Uploads, v1 and v2: admission, the body, resume, commit, and every way they fail.
//!
//! Admission (length limit, name, free space, resume state) happens before anything
//! is created. The body goes to a hidden temp file: bytes that came with the header
//! through `write_file`, the rest straight from the socket through the host's
//! `recv_to_file`, which also hashes the *whole* file. Only a complete, verified
//! upload is committed (fsync, atomic no-replace rename) under a unique name, or,
//! when the client set the replace flag and the handler allows it, atomically over
//! the name it gave.
//!
//! Resume: when a resumable upload's connection is lost (or times out), its temp is
//! committed as the hidden `.partial.<id>`; a later `PUT` with the same id is told the
//! kept length (`CONTINUE n`) and the partial itself is continued (`open_partial`):
//! only the rest crosses the network and is appended, nothing kept is copied. The
//! digest still covers the whole file because the host hashes the file from its start.
//! A continued partial lost again is committed onto its own name (a no-op rename,
//! with the fsync), so it can be continued once more.
//!
//! Admission, the commit and keeping a lost upload's partial are steps (`park`): on
//! an object store their storage calls may wait, and they are then run again.
//!
//! # Layout
//! - this file: [`Upload`], [`Want`], and the body: receiving it, its trailer.
//! - `admit`: admission and the temp (fresh, or the kept partial continued).
//! - `finish`: verifying and committing a complete body under a unique name.
//! - `end`: failures, a lost upload's partial, the summary line and record.

mod admit;
mod end;
mod finish;

use sha2::{Digest, Sha256};
use switchyard_sdk::conn::SessionInfo;
use switchyard_sdk::messages::Outcome;
use switchyard_sdk::{Direction, FileId, HostError};

use super::park::Step;
use super::{Output, Phase, Session, Storage};
use crate::codec::{self, Put, Status};

/// An upload being received.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    pub v1: bool,
    pub put: Put,
    /// The hidden temp file.
    pub file: FileId,
    pub started: u64,
    /// Bytes taken from a kept partial (0 for a fresh upload).
    pub resumed_from: u64,
    pub token: u64,
    /// sha256 of the bytes the plugin wrote itself (header chunk, kept part). Used only
    /// when they are the whole file: then no `recv_to_file` is needed at all, so a
    /// client that sends everything and closes at once cannot race a zero-length
    /// receive against its EOF.
    pub own: Sha256,
}

/// What a header asked for, before admission.
#[derive(Debug, Clone)]
pub(crate) struct Want {
    pub v1: bool,
    pub put: Put,
}

impl Want {
    pub fn v1(len: u64) -> Want {
        Want {
            v1: true,
            put: Put {
                name: String::new(),
                len,
                digest: None,
                digest_last: false,
                upload_id: None,
                replace: false,
            },
        }
    }

    pub fn v2(put: Put) -> Want {
        Want { v1: false, put }
    }
}

impl Session {
    /// Ask the host for the rest of the body; with nothing left of a fresh upload,
    /// finish at once with the plugin's own digest (a continued partial holds bytes the
    /// plugin never saw, so the host hashes it even then).
    fn begin_receive(&mut self, now: u64, up: Upload, have: u64, st: &mut dyn Storage) {
        let len = up.put.len - up.resumed_from - have;
        if len == 0 && up.resumed_from == 0 {
            let digest: [u8; 32] = up.own.clone().finalize().into();
            return self.received(now, up, Ok((0, Some(digest))), st);
        }
        // A v1 upload's name comes at its commit.
        let name = if up.v1 { "-" } else { up.put.name.as_str() };
        self.push(Output::Describe(SessionInfo {
            direction: Direction::Receive,
            resource: name.to_owned(),
            bytes_done: up.put.len - len,
            bytes_total: Some(up.put.len),
        }));
        self.push(Output::RecvToFile {
            file: up.file,
            len,
            token: up.token,
        });
        let budget = self.cfg.transfer_ms(len) + self.cfg.kept_hash_ms(up.resumed_from);
        self.set_deadline(Some(now.saturating_add(budget)));
        self.phase = Phase::Receiving(up);
    }

    /// The host finished (or failed) receiving the body.
    pub(crate) fn received(
        &mut self,
        now: u64,
        up: Upload,
        result: Result<(u64, Option<[u8; 32]>), HostError>,
        st: &mut dyn Storage,
    ) {
        match result {
            Ok((_, Some(digest))) if up.put.digest_last => {
                self.phase = Phase::Trailer(up, digest);
                self.set_deadline(Some(now.saturating_add(self.cfg.idle_ms())));
                self.try_trailer(now, st);
            }
            Ok((_, Some(digest))) => self.finish_upload(now, up, digest, st),
            Ok((_, None)) => {
                let failure = (Status::Internal, Outcome::Error);
                self.fail_upload(now, up, failure, "host gave no digest", st)
            }
            Err(HostError::Closed) => {
                self.lose_upload(now, up, (Outcome::Aborted, "connection closed"), st)
            }
            Err(e) => self.fail_write(now, up, e, st),
        }
    }

    /// Digest-last: take the 32-byte digest once it is all there.
    pub(crate) fn try_trailer(&mut self, now: u64, st: &mut dyn Storage) {
        if self.inbuf.len() < codec::DIGEST_LEN || !matches!(self.phase, Phase::Trailer(..)) {
            return;
        }
        let sent: [u8; 32] = self.inbuf[..codec::DIGEST_LEN]
            .try_into()
            .expect("32 bytes");
        self.inbuf.drain(..codec::DIGEST_LEN);
        // Bytes after the digest are reported while the upload is still in flight, so
        // that it ends normally (reply, then close) instead of being closed before its
        // reply is written.
        self.leftover_is_error();
        let Phase::Trailer(mut up, digest) = std::mem::replace(&mut self.phase, Phase::Done) else {
            unreachable!("checked above");
        };
        up.put.digest = Some(sent);
        self.finish_upload(now, up, digest, st);
    }

    pub(super) fn fail_write(&mut self, now: u64, up: Upload, e: HostError, st: &mut dyn Storage) {
        let status = match e {
            HostError::NoSpace => Status::NoSpace,
            _ => Status::Internal,
        };
        self.fail_upload(now, up, (status, Outcome::Error), &e.to_string(), st)
    }

    /// The body is in and hashed: verify and commit it (a step: it may wait).
    fn finish_upload(&mut self, now: u64, up: Upload, digest: [u8; 32], st: &mut dyn Storage) {
        self.start_step(now, Step::Finish { up, digest }, st);
    }

    /// The connection was lost (or stalled) mid-body: keep a resumable upload's part,
    /// delete anything else (a step: committing the partial may wait).
    pub(crate) fn lose_upload(
        &mut self,
        now: u64,
        up: Upload,
        (lost, why): (Outcome, &str),
        st: &mut dyn Storage,
    ) {
        let step = Step::Lose {
            up,
            lost,
            why: why.to_owned(),
            wall: self.wall_secs,
        };
        self.start_step(now, step, st);
    }
}
