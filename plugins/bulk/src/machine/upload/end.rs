//! How an upload ends other than stored: failed (its temp deleted, a continued
//! partial kept with a correct prefix), or lost with the connection (a resumable
//! upload's part kept as its partial: a step, `park`, as that commit may wait); and
//! the one summary line and record every upload gets.

use switchyard_sdk::HostError;
use switchyard_sdk::messages::{Outcome, TransferCompleted};

use super::Upload;
use crate::codec::{Reply, Status, hex};
use crate::machine::names;
use crate::machine::{Output, Phase, Session, Storage, rate};

impl Session {
    /// Abort an upload: the temp is deleted (a continued partial is kept, with what was
    /// appended: a correct prefix), nothing becomes visible. `failure`: the status the
    /// client is told, and the outcome recorded.
    pub(crate) fn fail_upload(
        &mut self,
        now: u64,
        up: Upload,
        failure: (Status, Outcome),
        why: &str,
        st: &mut dyn Storage,
    ) {
        let _ = st.close_file(up.file);
        self.abort_upload(now, &up, failure, why);
    }

    /// The error reply, the summary line and the end of an upload whose file is closed.
    pub(super) fn abort_upload(
        &mut self,
        now: u64,
        up: &Upload,
        failure: (Status, Outcome),
        why: &str,
    ) {
        let (status, outcome) = failure;
        if !up.v1 {
            self.reply(Reply::error(status, why));
        }
        let reason = format!("{}: {why}", status.as_str());
        self.report(now, up, "", 0, None, outcome, &reason);
        self.end();
    }

    /// The connection was lost (or stalled) mid-body. A resumable upload keeps what
    /// arrived as its partial (outcome `partial`); anything else is deleted (`lost`).
    /// `wall`: the wall clock when the step started.
    pub(crate) fn lose(
        &mut self,
        now: u64,
        up: Upload,
        (lost, why): (Outcome, &str),
        wall: Option<i64>,
        st: &mut dyn Storage,
    ) {
        let mut kept = None;
        if let Some(path) = self.partial_path(&up.put) {
            match st.commit_file(up.file, &path, true) {
                // Parked: the temp stays open for the commit.
                Err(HostError::Pending) => return,
                Ok(()) => {
                    kept = st.stat(&path).ok().map(|s| s.size);
                    let name = path.rsplit('/').next().unwrap_or(&path).to_owned();
                    if let Some(now_unix) = wall {
                        names::expire_partials(&self.cfg, st, &name, now_unix);
                    }
                    names::prune_partials(&self.cfg, st, &name);
                }
                Err(e) => {
                    self.warn(format!(
                        "partial not kept peer={} reason=\"{e}\"",
                        self.peer
                    ));
                    let _ = st.close_file(up.file);
                }
            }
        } else {
            let _ = st.close_file(up.file);
        }
        let (outcome, reason) = match kept {
            Some(n) => (
                Outcome::Partial,
                format!("{why}; {n} bytes kept for resume"),
            ),
            None => (lost, why.to_owned()),
        };
        self.report(now, &up, "", kept.unwrap_or(0), None, outcome, &reason);
        self.end();
    }

    /// One summary line and one `TransferCompleted` per upload: the outcome in both,
    /// the free-text `reason` only in the line (a metric label must stay bounded).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn report(
        &mut self,
        now: u64,
        up: &Upload,
        path: &str,
        bytes: u64,
        digest: Option<[u8; 32]>,
        outcome: Outcome,
        reason: &str,
    ) {
        let ms = now.saturating_sub(up.started);
        let proto = if up.v1 { "v1" } else { "v2" };
        let sha = digest.map(|d| hex(&d));
        let mut line = format!(
            "transfer proto={proto} direction=upload peer={} file={:?} name={:?} len={} bytes={bytes} \
             resumed_from={} duration_ms={ms} rate={}MB/s sha256={} result=\"{outcome}\"",
            self.peer,
            path,
            up.put.name,
            up.put.len,
            up.resumed_from,
            rate(bytes.saturating_sub(up.resumed_from), ms),
            sha.as_deref().unwrap_or("-"),
        );
        if !outcome.is_ok() {
            line.push_str(&format!(" reason={reason:?}"));
        }
        if self.extra > 0 {
            line.push_str(&format!(" extra_bytes={}", self.extra));
        }
        if outcome.is_ok() && self.extra == 0 {
            self.debug(line);
        } else if outcome.is_ok() {
            // Bytes past the announced length: worth the operator's eye.
            self.info(line);
        } else {
            self.warn(line);
        }
        self.push(Output::Transfer(TransferCompleted {
            protocol: "bulk".into(),
            peer: self.peer.clone(),
            file: path.to_owned(),
            direction: "upload".into(),
            bytes,
            duration_ms: ms,
            sha256: sha,
            result: outcome.into(),
        }));
    }

    /// The transfer is over: close after the reply.
    pub(crate) fn end(&mut self) {
        self.phase = Phase::Done;
        self.set_deadline(None);
        self.push(Output::Close);
    }
}
