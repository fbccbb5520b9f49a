//! Steps that wait for storage: run, parked when a storage call answers
//! [`HostError::Pending`](switchyard_sdk::HostError::Pending) (an object store), and
//! run again from their start when the answer is in.
//!
//! The SDK's [`switchyard_sdk::StorageWaits`] replays the storage answers a step got;
//! what the machine keeps is which step to run again ([`Step`]). A step's code is the
//! same on a dir, where nothing waits and a step runs through at once. The rule it
//! keeps: before a storage call that may wait, a step changes nothing but its outputs
//! and its phase (both thrown away here when it parks); a direct side effect (closing
//! the temp after a failed commit) comes only once the failure is not `Pending`.
//!
//! While an upload's admission is parked, body bytes that arrive are kept for it, and
//! reading pauses past [`PARKED_BUFFER`]; other bytes are the protocol errors they
//! would be on a dir. A parked step's deadline is the idle timeout: a store that
//! never answers ends in `TIMEOUT` (v2) or a close (v1), never a hang. A connection
//! cut while a step is parked lets it go; when its answer comes, the step is run to
//! its end without a client and whatever it opened is closed ([`Session::release`]).
//! Only keeping a lost upload's partial goes on after the cut: that is its purpose.

use switchyard_sdk::WatchedStorage;
use switchyard_sdk::messages::Outcome;

use super::upload::{Upload, Want};
use super::{Output, Phase, Session, Storage};
use crate::codec::{Get, Reply, Status};

/// What a store that never answers is logged as, and a v2 client told.
pub(crate) const STORE_SLOW: &str = "storage did not answer in time";

/// Body bytes kept while an admission waits before reading pauses.
pub(crate) const PARKED_BUFFER: usize = 256 * 1024;

/// A unit of work that may wait for storage, run again from its start until it ends.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// An upload's header: admission, with the wall clock (Unix seconds) it started at.
    Admit { want: Want, wall: Option<i64> },
    /// A v2 `GET`: opening the file.
    Download(Get),
    /// A complete body with the host's digest: verifying and committing it.
    Finish { up: Upload, digest: [u8; 32] },
    /// The connection was lost mid-body (`lost`, `why`): keeping the partial.
    Lose {
        up: Upload,
        lost: Outcome,
        why: String,
        wall: Option<i64>,
    },
}

/// A step waiting for a storage answer.
#[derive(Debug)]
pub(crate) struct Parked {
    pub step: Step,
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
        // A step it led to (the commit of a body that came whole) may have parked
        // itself: not this one.
        if watched.waited() && !matches!(self.phase, Phase::Parked(_)) {
            self.out.truncate(mark);
            self.phase = Phase::Parked(Parked { step: again });
            self.set_deadline(Some(now.saturating_add(self.cfg.idle_ms())));
        }
    }

    fn dispatch(&mut self, now: u64, step: Step, st: &mut dyn Storage) {
        match step {
            Step::Admit { want, wall } => self.admit(now, want, wall, st),
            Step::Download(get) => self.start_download(now, get, st),
            Step::Finish { up, digest } => self.finish(now, up, digest, st),
            Step::Lose {
                up,
                lost,
                why,
                wall,
            } => self.lose(now, up, (lost, &why), wall, st),
        }
    }

    /// The answer a parked step waited for is in: run it again (reading resumed
    /// first, so the body's rest can come), then take an end of stream seen meanwhile.
    pub fn handle_storage_ready(&mut self, now: u64, st: &mut dyn Storage) {
        if !matches!(self.phase, Phase::Parked(_)) {
            return self.release(now, st);
        }
        let Phase::Parked(parked) = std::mem::replace(&mut self.phase, Phase::Header) else {
            unreachable!()
        };
        if std::mem::take(&mut self.reading_paused) {
            self.push(Output::SetReading(true));
        }
        self.run_step(now, parked.step, st);
        if self.peer_eof && matches!(self.phase, Phase::Trailer(..)) {
            self.handle_eof(now, st);
        }
    }

    /// Bytes while a step is parked: an admission's body bytes are kept for it
    /// (reading pauses past a bound); any other are a protocol error, as on a dir.
    pub(crate) fn parked_bytes(&mut self, data: &[u8]) {
        let Phase::Parked(parked) = &self.phase else {
            return;
        };
        if !matches!(parked.step, Step::Admit { .. }) {
            return self.protocol_error(data.len() as u64);
        }
        self.inbuf.extend_from_slice(data);
        if self.inbuf.len() >= PARKED_BUFFER && !self.reading_paused {
            self.reading_paused = true;
            self.push(Output::SetReading(false));
        }
    }

    /// A parked step is cut (`failure`: the status a v2 client is told, unless the
    /// connection is gone, and the outcome recorded): what it holds is closed, and
    /// what its late answer opens will be.
    pub(crate) fn cut_parked(
        &mut self,
        now: u64,
        parked: Parked,
        (status, outcome, why): (Status, Outcome, &str),
        tell: bool,
        st: &mut dyn Storage,
    ) {
        match parked.step {
            step @ (Step::Admit { .. } | Step::Download(_)) => {
                let (v1, direction) = match &step {
                    Step::Admit { want, .. } => (want.v1, "upload"),
                    _ => (false, "download"),
                };
                self.warn(format!(
                    "refused peer={} {direction} reason={why:?}",
                    self.peer
                ));
                if tell && !v1 {
                    self.reply(Reply::error(status, why));
                }
                self.record_cut(direction, outcome);
                self.abandoned = Some(step);
                self.end();
            }
            Step::Finish { up, .. } | Step::Lose { up, .. } => {
                let _ = st.close_file(up.file);
                if tell && !up.v1 {
                    self.reply(Reply::error(status, why));
                }
                let reason = format!("{}: {why}", status.as_str());
                self.report(now, &up, "", 0, None, outcome, &reason);
                self.end();
            }
        }
    }

    /// An abandoned step's answer is in: run it on without a client (its outputs
    /// dropped) and close whatever it opened, or keep it while it waits again.
    fn release(&mut self, now: u64, st: &mut dyn Storage) {
        let Some(step) = self.abandoned.take() else {
            return;
        };
        let mark = self.out.len();
        let was = std::mem::replace(&mut self.phase, Phase::Header);
        self.run_step(now, step, st);
        self.out.truncate(mark);
        match std::mem::replace(&mut self.phase, was) {
            Phase::Parked(p) => self.abandoned = Some(p.step),
            Phase::Receiving(up) | Phase::Trailer(up, _) => drop(st.close_file(up.file)),
            Phase::Sending(d) => drop(st.close_file(d.file)),
            Phase::Header | Phase::Done => {}
        }
    }
}
