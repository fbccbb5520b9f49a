//! Steps that wait for storage: run, parked when a storage call answers
//! [`HostError::Pending`](switchyard_sdk::HostError::Pending) (an object store), and
//! run again from their start when the answer is in.
//!
//! The SDK's [`switchyard_sdk::StorageWaits`] replays the storage answers a step got;
//! what the machine keeps is which step to run again ([`Step`]). A step's code is the
//! same on a dir, where nothing waits and a step runs through at once. The rule it
//! keeps: before a storage call that may wait, a step changes nothing but its outputs
//! and its phase (both thrown away here when it parks) — a direct side effect, such as
//! closing a file after a failed commit, is done only once the failure is not
//! `Pending`.
//!
//! While a step is parked the connection is `Phase::Parked`: later requests wait in
//! `inbuf` (reading pauses at the same bound as during a transfer), and the step's
//! deadline is the idle timeout, so a store that never answers ends in `ERR 408`
//! (v2) or a close (v1), never a hang. A connection cut while a step is parked lets
//! the step go ([`Session::abandon`]); when its answer comes, the step is run to its
//! end without a client and whatever it opened is closed ([`Session::release`]).

use switchyard_sdk::messages::Outcome;
use switchyard_sdk::{HostError, WatchedStorage};

use super::hashing::HashDone;
use super::transfer::Receiving;
use super::v1::V1Upload;
use super::{Phase, Session, Storage};
use crate::cmd::Command;
use crate::codec::V1Op;

/// What a store that never answers is logged as.
pub(crate) const STORE_SLOW: &str = "storage did not answer in time";

/// A unit of work that may wait for storage, run again from its start until it ends.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// A v2 request line.
    Request(Command),
    /// v1 `2:` seen: making the upload's temp.
    V1Start,
    /// A v1 `1:NAME` (the name's raw bytes): opening the file.
    V1Download(Vec<u8>),
    /// A v1 upload ended (`why`) at `at`: naming and committing it.
    V1Commit {
        upload: V1Upload,
        why: &'static str,
        at: u64,
    },
    /// A `PUT`'s bytes are in with this digest: its commit.
    PutCommit { r: Receiving, digest: String },
    /// A `HASH` is done: remembering the digest, then the reply.
    HashDone(HashDone),
}

impl Step {
    /// The verb for log lines.
    fn verb(&self) -> &'static str {
        match self {
            Step::Request(c) => c.verb(),
            Step::V1Start | Step::V1Commit { .. } => "v1-upload",
            Step::V1Download(_) => "GET",
            Step::PutCommit { .. } => "PUT",
            Step::HashDone(_) => "HASH",
        }
    }

    /// Whether the client speaks v1 (no error channel: a failure just closes).
    pub(crate) fn is_v1(&self) -> bool {
        matches!(
            self,
            Step::V1Start | Step::V1Download(_) | Step::V1Commit { .. }
        )
    }
}

/// A step waiting for a storage answer, since `since`.
#[derive(Debug)]
pub(crate) struct Parked {
    pub step: Step,
    pub since: u64,
}

impl Session {
    /// Start `step`: a new one, so the storage forgets the last step's answers.
    pub(crate) fn start_step(&mut self, now: u64, step: Step, st: &mut dyn Storage) {
        st.fresh_step();
        self.run_step(now, step, st);
    }

    /// Run `step` (again); parked if a storage call of its own answered `Pending`.
    fn run_step(&mut self, now: u64, step: Step, st: &mut dyn Storage) {
        let mark = self.out.len();
        let again = step.clone();
        let mut watched = WatchedStorage::new(st);
        self.dispatch(now, step, &mut watched);
        // A step it led to (the next request) may have parked itself: not this one.
        if watched.waited() && !matches!(self.phase, Phase::Parked(_)) {
            self.out.truncate(mark);
            self.phase = Phase::Parked(Parked {
                step: again,
                since: now,
            });
        }
    }

    fn dispatch(&mut self, now: u64, step: Step, st: &mut dyn Storage) {
        match step {
            Step::Request(command) => self.apply(now, command, st),
            Step::V1Start => self.v1_start_upload(now, st),
            Step::V1Download(raw) => self.v1_download(now, raw, st),
            Step::V1Commit { upload, why, at } => self.v1_commit(now, upload, why, at, st),
            Step::PutCommit { r, digest } => self.put_commit(now, r, digest, st),
            Step::HashDone(h) => self.hash_done(now, h, st),
        }
    }

    /// The answer a parked step waited for is in: run it again, then go on as after
    /// any step (the requests buffered meanwhile, an end of stream seen meanwhile).
    pub fn handle_storage_ready(&mut self, now: u64, st: &mut dyn Storage) {
        if !matches!(self.phase, Phase::Parked(_)) {
            return self.release(now, st);
        }
        let Phase::Parked(parked) = std::mem::replace(&mut self.phase, Phase::Ready) else {
            unreachable!()
        };
        self.run_step(now, parked.step, st);
        match self.phase {
            Phase::V1Upload(_) if self.peer_eof => self.v1_upload_done(now, "eof", st),
            Phase::V1Upload(_) => self.set_reading(true),
            _ => self.go_on(now, st),
        }
    }

    /// After a step that ended between requests: the next ones, as after any
    /// command. Never from inside a step, whose storage may have waited: the step
    /// would then be parked and run again, and what came after it would be lost.
    pub(super) fn go_on(&mut self, now: u64, st: &mut dyn Storage) {
        if matches!(self.phase, Phase::Ready) {
            self.ready(now, st);
        }
    }

    /// The connection is cut while `parked` waits (`outcome`, `reason`): log it,
    /// close what the step holds, and keep the step to release what its answer opens.
    pub(crate) fn abandon(
        &mut self,
        now: u64,
        parked: Parked,
        (outcome, reason): (Outcome, &str),
        st: &mut dyn Storage,
    ) {
        self.log(format!(
            "request cmd={} peer={} result={outcome} reason={reason:?}",
            parked.step.verb(),
            self.peer
        ));
        match parked.step {
            Step::PutCommit { r, .. } => {
                let _ = st.close_file(r.file);
                self.record(now, "upload", &r.name, 0, r.started, None, outcome);
            }
            Step::V1Commit { upload, .. } => {
                let _ = st.close_file(upload.file);
                self.record(
                    now,
                    "upload",
                    "-",
                    upload.bytes,
                    upload.started,
                    None,
                    outcome,
                );
            }
            step => self.abandoned = Some(step),
        }
    }

    /// An abandoned step's answer is in: run it on without a client (its outputs
    /// dropped) and close whatever it opened, or keep it while it waits again.
    fn release(&mut self, now: u64, st: &mut dyn Storage) {
        let Some(step) = self.abandoned.take() else {
            return;
        };
        let mark = self.out.len();
        let was = std::mem::replace(&mut self.phase, Phase::Ready);
        self.run_step(now, step, st);
        self.out.truncate(mark);
        match std::mem::replace(&mut self.phase, was) {
            Phase::Parked(p) => self.abandoned = Some(p.step),
            Phase::Sending(s) => drop(st.close_file(s.file)),
            Phase::Receiving(r) => drop(st.close_file(r.file)),
            Phase::Hashing(h) => drop(st.close_file(h.file)),
            Phase::V1Upload(u) => drop(st.close_file(u.file)),
            _ => {}
        }
    }

    /// The v1 `N:` prefix was seen.
    pub(super) fn v1_start(&mut self, now: u64, op: V1Op, st: &mut dyn Storage) {
        if op != V1Op::Upload {
            return self.v1_header_bytes(now, op, st);
        }
        self.start_step(now, Step::V1Start, st);
    }
}

/// Whether a storage call waited: the step stops there, changing nothing more.
pub(crate) fn waited<T>(r: &Result<T, HostError>) -> bool {
    matches!(r, Err(HostError::Pending))
}
