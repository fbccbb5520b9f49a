//! The seed's protocol (v1), kept compatible and made safe.
//!
//! - `1:NAME`: the name ends at a line end, at the client's half-close, or after
//!   `v1_settle_ms` of silence (the seed client sends none of the former); the file is
//!   sent with `sendfile`, then the connection closes.
//! - `2:DATA`: everything after the first colon, byte for byte, up to the client's
//!   close or `idle_timeout_secs` of silence, goes to a hidden temp file; it becomes
//!   visible under a fresh `NNNN.txt` only when complete, and the name is written back
//!   (`NNNN.txt\n`) before the server closes.
//! - `0:MSG`: logged (escaped), then the server closes.
//!
//! v1 has no error channel: a refused request closes the connection and is logged.
//!
//! Upload names: `NNNN` runs over 1000..=9999, like the seed's, starting at a point
//! derived from the time and peer and probing upwards (wrapping). Names already in the
//! root are skipped, and the commit itself refuses an existing name atomically, so two
//! concurrent uploads can never get (or overwrite) the same name.

use switchyard_sdk::conn::SessionInfo;
use switchyard_sdk::messages::Outcome;
use switchyard_sdk::{Direction, FileId, HostError};

use super::park::{Step, waited};
use super::{Output, Phase, Sending, Session, Storage, sums};
use crate::codec::{V1Op, check_name};

/// First and last `NNNN` of upload names.
const FIRST_NAME: u32 = 1000;
const LAST_NAME: u32 = 9999;
/// Where v1 uploads go before they are named: a hidden temp beside this path.
const TEMP_HINT: &str = "upload.txt";

/// A v1 upload in progress.
#[derive(Debug, Clone)]
pub(crate) struct V1Upload {
    pub file: FileId,
    pub bytes: u64,
    pub started: u64,
}

impl Session {
    /// A v1 upload starts: its temp is made (a step: it may wait for storage).
    pub(super) fn v1_start_upload(&mut self, now: u64, st: &mut dyn Storage) {
        if self.draining {
            self.log(format!(
                "request cmd=v1-upload peer={} result=error reason=\"server shutting down\"",
                self.peer
            ));
            return self.close();
        }
        let enough = st.free_space().map(|f| f > self.cfg.reserve_free_bytes);
        if !matches!(enough, Ok(true)) {
            self.log(format!(
                "request cmd=v1-upload peer={} result=error reason=\"no space left\"",
                self.peer
            ));
            return self.close();
        }
        match st.create_temp(TEMP_HINT) {
            Ok(file) => {
                self.phase = Phase::V1Upload(V1Upload {
                    file,
                    bytes: 0,
                    started: now,
                });
                // Its name comes at the end (`NNNN.txt`); the host counts its bytes.
                self.push(Output::Describe(SessionInfo {
                    direction: Direction::Receive,
                    resource: "-".into(),
                    bytes_done: 0,
                    bytes_total: None,
                }));
                let rest = std::mem::take(&mut self.inbuf);
                self.v1_upload_bytes(now, &rest, st);
            }
            Err(e) => {
                self.log(format!(
                    "request cmd=v1-upload peer={} result=error reason={:?}",
                    self.peer,
                    e.to_string()
                ));
                self.close();
            }
        }
    }

    /// More of a v1 name or message: done at a line end, refused past the limit.
    pub(super) fn v1_header_bytes(&mut self, now: u64, op: V1Op, st: &mut dyn Storage) {
        if let Some(end) = self.inbuf.iter().position(|&b| b == b'\n') {
            self.inbuf.truncate(end);
            return self.v1_header_done(now, op, st);
        }
        if self.inbuf.len() >= self.cfg.max_line_bytes {
            self.log(format!(
                "request cmd={} proto=v1 peer={} result=error reason=\"line over {} bytes\"",
                v1_verb(op),
                self.peer,
                self.cfg.max_line_bytes
            ));
            self.close();
        }
    }

    /// The v1 name or message is complete.
    pub(super) fn v1_header_done(&mut self, now: u64, op: V1Op, st: &mut dyn Storage) {
        let mut raw = std::mem::take(&mut self.inbuf);
        if raw.last() == Some(&b'\n') {
            raw.pop();
        }
        if raw.last() == Some(&b'\r') {
            raw.pop();
        }
        match op {
            V1Op::Quit => {
                let text = String::from_utf8_lossy(&raw);
                // The message is the point of a v1 "quit": the operator reads it.
                self.log(format!(
                    "request cmd=v1-quit proto=v1 peer={} message={text:?} result=ok",
                    self.peer
                ));
                self.close();
            }
            V1Op::Download => self.start_step(now, Step::V1Download(raw), st),
            V1Op::Upload => {}
        }
    }

    /// Serve a v1 download of `raw` (a step: opening the file may wait).
    pub(super) fn v1_download(&mut self, now: u64, raw: Vec<u8>, st: &mut dyn Storage) {
        let name = String::from_utf8_lossy(&raw).into_owned();
        let refuse = |s: &mut Session, outcome: Outcome, reason: &str| {
            s.log(format!(
                "transfer cmd=GET direction=download proto=v1 peer={} file={name:?} result={outcome} reason={reason:?}",
                s.peer
            ));
            s.record(now, "download", &name, 0, now, None, outcome);
            s.close();
        };
        if std::str::from_utf8(&raw).is_err() {
            return refuse(self, Outcome::Refused, "name is not UTF-8");
        }
        if let Err(e) = check_name(&name, false) {
            return refuse(self, Outcome::Refused, &e.to_string());
        }
        if self.hides(&name) {
            return refuse(self, Outcome::Refused, "hidden names are reserved");
        }
        let (file, size) = match st.open_read(&name) {
            Ok(f) => f,
            Err(e @ HostError::NotFound) => return refuse(self, Outcome::NotFound, &e.to_string()),
            Err(e) => return refuse(self, Outcome::Refused, &e.to_string()),
        };
        let sha256 = sums::load(st, &name, file);
        let sending = Sending {
            file,
            name,
            len: size,
            started: now,
            token: 0,
            sha256,
            v1: true,
        };
        if size == 0 {
            self.finish_send(now, sending, Ok(0), st);
        } else {
            self.start_send(now, sending, 0);
        }
    }

    /// Bytes of a v1 upload.
    pub(super) fn v1_upload_bytes(&mut self, now: u64, data: &[u8], st: &mut dyn Storage) {
        let max = self.cfg.max_upload_bytes;
        let Phase::V1Upload(u) = &mut self.phase else {
            return;
        };
        if data.is_empty() {
            return;
        }
        let failure = if u.bytes + data.len() as u64 > max {
            (Outcome::Refused, format!("upload over {max} bytes"))
        } else {
            match st.write_file(u.file, data) {
                Ok(()) => {
                    u.bytes += data.len() as u64;
                    return;
                }
                Err(e) => (Outcome::Error, e.to_string()),
            }
        };
        self.v1_upload_abort(now, failure, st);
    }

    /// Give up an upload: its temp is deleted, nothing becomes visible.
    fn v1_upload_abort(
        &mut self,
        now: u64,
        (outcome, reason): (Outcome, String),
        st: &mut dyn Storage,
    ) {
        let Phase::V1Upload(u) = std::mem::replace(&mut self.phase, Phase::Done) else {
            return;
        };
        let _ = st.close_file(u.file);
        self.log(format!(
            "request cmd=PUT proto=v1 peer={} bytes={} result={outcome} reason={reason:?}",
            self.peer, u.bytes
        ));
        self.record(now, "upload", "-", u.bytes, u.started, None, outcome);
        self.push(super::Output::Close);
    }

    /// The upload is complete (client closed or went idle): name and commit it.
    pub(super) fn v1_upload_done(&mut self, now: u64, why: &'static str, st: &mut dyn Storage) {
        let Phase::V1Upload(upload) = std::mem::replace(&mut self.phase, Phase::Done) else {
            return;
        };
        let step = Step::V1Commit {
            upload,
            why,
            at: now,
        };
        self.start_step(now, step, st);
    }

    /// Name and commit a finished v1 upload (a step: the listing and each commit may
    /// wait). The probe starts from `at`, the upload's end, so that a run again after
    /// a wait tries the same names in the same order as the answers it is replayed.
    pub(super) fn v1_commit(
        &mut self,
        now: u64,
        u: V1Upload,
        why: &str,
        at: u64,
        st: &mut dyn Storage,
    ) {
        self.phase = Phase::Done;
        let listed = st.list_dir("");
        if waited(&listed) {
            return;
        }
        let mut taken: std::collections::HashSet<u32> = listed
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|(n, _)| upload_number(n))
                    .collect()
            })
            .unwrap_or_default();
        let start =
            FIRST_NAME + (mix(at, &self.peer) % u64::from(LAST_NAME - FIRST_NAME + 1)) as u32;
        let mut stored = None;
        let mut failure = "no free NNNN.txt name left".to_owned();
        for i in 0..=(LAST_NAME - FIRST_NAME) {
            let n = FIRST_NAME + (start - FIRST_NAME + i) % (LAST_NAME - FIRST_NAME + 1);
            if taken.contains(&n) {
                continue;
            }
            let name = format!("{n}.txt");
            match st.commit_file(u.file, &name, false) {
                Ok(()) => {
                    stored = Some(name);
                    break;
                }
                // Taken meanwhile (another upload, or a file made outside): next one.
                Err(HostError::Exists) => {
                    taken.insert(n);
                }
                // Parked: the temp stays open for the commit.
                Err(HostError::Pending) => return,
                Err(e) => {
                    failure = e.to_string();
                    break;
                }
            }
        }
        let ms = now.saturating_sub(u.started);
        match stored {
            Some(name) => {
                self.log_ok(format!(
                    "transfer cmd=PUT direction=upload proto=v1 peer={} file={name:?} bytes={} duration_ms={ms} end={why} result=ok",
                    self.peer, u.bytes
                ));
                self.record(now, "upload", &name, u.bytes, u.started, None, Outcome::Ok);
                self.write(format!("{name}\n").into_bytes());
            }
            None => {
                let _ = st.close_file(u.file);
                self.log(format!(
                    "request cmd=PUT proto=v1 peer={} bytes={} duration_ms={ms} result=error reason={failure:?}",
                    self.peer, u.bytes
                ));
                self.record(now, "upload", "-", u.bytes, u.started, None, Outcome::Error);
            }
        }
        self.push(super::Output::Close);
    }
}

fn v1_verb(op: V1Op) -> &'static str {
    match op {
        V1Op::Quit => "v1-quit",
        V1Op::Download => "GET",
        V1Op::Upload => "PUT",
    }
}

/// `NNNN` of an upload name `NNNN.txt`, if it is one.
fn upload_number(name: &str) -> Option<u32> {
    let digits = name.strip_suffix(".txt")?;
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits
        .parse()
        .ok()
        .filter(|n| (FIRST_NAME..=LAST_NAME).contains(n))
}

/// A well-spread number from the time and peer (FNV-1a): the start of the name probe.
fn mix(now: u64, peer: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in now.to_le_bytes().iter().chain(peer.as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_numbers_are_recognised() {
        assert_eq!(upload_number("1234.txt"), Some(1234));
        assert_eq!(upload_number("0999.txt"), None);
        assert_eq!(upload_number("123.txt"), None);
        assert_eq!(upload_number("1234.bin"), None);
        assert_eq!(upload_number("12a4.txt"), None);
    }

    #[test]
    fn probe_start_depends_on_time_and_peer() {
        assert_ne!(mix(1, "a"), mix(2, "a"));
        assert_ne!(mix(1, "a"), mix(1, "b"));
    }
}
