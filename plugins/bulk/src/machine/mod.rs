//! One connection as a deterministic state machine (quinn-proto style).
//!
//! Inputs are the `handle_*` methods, each with the current time in milliseconds;
//! outputs are [`Session::poll_output`] (bytes to write, a file to receive or send,
//! close, transfer records, log lines) and [`Session::poll_timeout`] (the one deadline
//! at which to call [`Session::handle_timeout`]). Storage is a trait ([`Storage`])
//! the machine calls: on a dir it answers at once; on an object store a call may
//! answer `Pending`, and the step that made it is parked and run again by
//! [`Session::handle_storage_ready`] (`park`). No clock, no randomness, no I/O of its
//! own: a test replays any scenario exactly.
//!
//! A connection carries one transfer: the header (v1 or v2, told apart by the first
//! byte), then the body, received by the host straight into a hidden temp file, then
//! the commit under a unique name and (v2) the reply. Bytes past the body are a
//! protocol error: logged, and the connection is closed; they never change what is
//! stored.
//!
//! # Layout
//! - this file: [`Session`], `Phase`, inputs, deadlines.
//! - `header`: v1/v2 detection and header dispatch, refusals.
//! - `upload`: v1 and v2 uploads, resume, commit, failures.
//! - `download`: v2 `GET`.
//! - `park`: steps that wait for storage (`Step`), parked and run again.
//! - `refusal`: refused or cut requests as transfer records.
//! - `deadline`: the goodbye at the drain deadline (an `UNAVAILABLE` reply for v2).
//! - `names`: unique names, kept partials, digest side files.
//! - [`Storage`] (from the SDK): the storage calls the machine makes.

mod deadline;
mod download;
mod header;
mod names;
mod park;
mod refusal;
mod upload;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use switchyard_sdk::messages::Outcome;
use switchyard_sdk::{HostError, Level};

pub use switchyard_sdk::Storage;

use crate::codec::{self, Detected, Reply, Status};
use crate::config::Config;
use download::Download;
use park::Step;
use upload::Upload;

/// One thing for the adapter to do, in order: the SDK's connection outputs, which
/// `ConnAdapter` carries out as they are.
pub use switchyard_sdk::conn::ConnOutput as Output;

/// Where the connection is.
#[derive(Debug)]
pub(crate) enum Phase {
    /// Collecting the header in `inbuf`.
    Header,
    /// `recv_to_file` in flight.
    Receiving(Upload),
    /// v2 digest-last: the body is in, waiting for the 32-byte digest in `inbuf`.
    Trailer(Upload, [u8; 32]),
    /// `sendfile` in flight.
    Sending(Download),
    /// A step waits for a storage answer (an object store).
    Parked(park::Parked),
    /// The transfer is over (or refused); the connection is closing.
    Done,
}

/// One connection's whole state.
#[derive(Debug)]
pub struct Session {
    pub(crate) cfg: Config,
    pub(crate) peer: String,
    pub(crate) phase: Phase,
    /// Bytes received and not yet consumed (header, trailer).
    pub(crate) inbuf: Vec<u8>,
    out: VecDeque<Output>,
    deadline: Option<u64>,
    pub(crate) draining: bool,
    /// Bytes seen past the end of the transfer (protocol error, reported once).
    pub(crate) extra: u64,
    /// See [`Session::set_wall_clock`].
    pub(crate) wall_secs: Option<i64>,
    next_token: u64,
    /// The client half-closed (seen while a step was parked).
    peer_eof: bool,
    /// Reading is paused while an admission waits (`park::PARKED_BUFFER`).
    reading_paused: bool,
    /// A step let go when the connection was cut while it waited: its answer may open
    /// a file, which is then closed (`park`).
    abandoned: Option<Step>,
}

impl Session {
    /// A session for a connection from `peer`, opened at `now`. `cfg` must be valid.
    pub fn new(cfg: Config, peer: String, now: u64) -> Session {
        let deadline = Some(now.saturating_add(cfg.header_ms()));
        Session {
            cfg,
            peer,
            phase: Phase::Header,
            inbuf: Vec::new(),
            out: VecDeque::new(),
            deadline,
            draining: false,
            extra: 0,
            next_token: 0,
            wall_secs: None,
            peer_eof: false,
            reading_paused: false,
            abandoned: None,
        }
    }

    /// The wall clock (Unix seconds) as of the event about to be handled, for the
    /// age of kept partials (file times are wall-clock times; `now` is monotonic).
    /// Without it, partials expire only by count.
    pub fn set_wall_clock(&mut self, unix_secs: i64) {
        self.wall_secs = Some(unix_secs);
    }

    /// The next output, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Session::handle_timeout`] is due, if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.phase {
            Phase::Done => None,
            _ => self.deadline,
        }
    }

    /// A transfer is in flight (the host waits for it while draining).
    pub fn busy(&self) -> bool {
        match self.phase {
            Phase::Header => !self.inbuf.is_empty(),
            Phase::Done => false,
            _ => true,
        }
    }

    /// The transfer is over (or refused) and the connection closing: input is ignored.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// Bytes arrived.
    pub fn handle_bytes(&mut self, now: u64, data: &[u8], st: &mut dyn Storage) {
        match self.phase {
            Phase::Header => {
                self.inbuf.extend_from_slice(data);
                self.try_header(now, st);
            }
            Phase::Trailer(..) => {
                self.inbuf.extend_from_slice(data);
                self.try_trailer(now, st);
            }
            // Resumable clients wait for CONTINUE: bytes now are early body bytes.
            Phase::Receiving(..) | Phase::Sending(..) => self.protocol_error(data.len() as u64),
            Phase::Parked(_) => self.parked_bytes(data),
            Phase::Done => self.protocol_error(data.len() as u64),
        }
    }

    /// The client half-closed.
    pub fn handle_eof(&mut self, now: u64, st: &mut dyn Storage) {
        self.peer_eof = true;
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Header => {
                if !self.inbuf.is_empty() {
                    self.warn(format!(
                        "refused peer={} reason=\"closed inside the header ({} bytes)\"",
                        self.peer,
                        self.inbuf.len()
                    ));
                }
                self.out.push_back(Output::Close);
            }
            Phase::Trailer(up, _) => {
                let failure = (Status::BadRequest, Outcome::Aborted);
                self.fail_upload(now, up, failure, "closed before the digest", st)
            }
            // A downloading client may half-close at once; the rest wait for the host.
            other => self.phase = other,
        }
    }

    /// The connection is gone.
    pub fn handle_closed(&mut self, now: u64, reason: &str, st: &mut dyn Storage) {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Header | Phase::Done => {}
            Phase::Receiving(up) => self.lose_upload(now, up, (Outcome::Aborted, reason), st),
            Phase::Trailer(up, _) => {
                let failure = (Status::BadRequest, Outcome::Aborted);
                self.fail_upload(now, up, failure, reason, st)
            }
            Phase::Sending(d) => {
                self.finish_download(now, d, Err((Outcome::Aborted, reason.to_owned())), st)
            }
            // Keeping a lost upload's partial goes on: that is what it is for.
            Phase::Parked(
                p @ park::Parked {
                    step: Step::Lose { .. },
                },
            ) => self.phase = Phase::Parked(p),
            Phase::Parked(p) => {
                let cut = (Status::Unavailable, Outcome::Aborted, reason);
                self.cut_parked(now, p, cut, false, st)
            }
        }
    }

    /// The deadline from [`Session::poll_timeout`] passed.
    pub fn handle_timeout(&mut self, now: u64, st: &mut dyn Storage) {
        if self.deadline.is_none_or(|d| now < d) {
            return;
        }
        self.deadline = None;
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Header => {
                self.warn(format!(
                    "refused peer={} reason=\"header timeout\" bytes={}",
                    self.peer,
                    self.inbuf.len()
                ));
                if codec::detect(&self.inbuf) == Some(Detected::V2) {
                    self.reply(Reply::error(Status::Timeout, "header timeout"));
                }
                self.out.push_back(Output::Close);
            }
            Phase::Receiving(up) => {
                if !up.v1 {
                    self.reply(Reply::error(Status::Timeout, "transfer too slow"));
                }
                self.lose_upload(now, up, (Outcome::Timeout, "timeout"), st);
            }
            Phase::Trailer(up, _) => {
                let failure = (Status::Timeout, Outcome::Timeout);
                self.fail_upload(now, up, failure, "no digest", st)
            }
            Phase::Sending(d) => {
                self.finish_download(now, d, Err((Outcome::Timeout, "timeout".into())), st);
            }
            Phase::Parked(p) => {
                let cut = (Status::Timeout, Outcome::Timeout, park::STORE_SLOW);
                self.cut_parked(now, p, cut, true, st)
            }
            Phase::Done => {}
        }
    }

    /// A `recv_to_file` finished.
    pub fn handle_file_received(
        &mut self,
        now: u64,
        token: u64,
        result: Result<(u64, Option<[u8; 32]>), HostError>,
        st: &mut dyn Storage,
    ) {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Receiving(up) if up.token == token => self.received(now, up, result, st),
            other => self.phase = other,
        }
    }

    /// A `send_file` finished.
    pub fn handle_file_sent(
        &mut self,
        now: u64,
        token: u64,
        result: Result<u64, HostError>,
        st: &mut dyn Storage,
    ) {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Sending(d) if d.token == token => {
                let result = match result {
                    Ok(n) if n == d.len => Ok(()),
                    // The file shrank under the send: a server-side failure.
                    Ok(n) => Err((Outcome::Error, format!("short send ({n} of {})", d.len))),
                    Err(e @ HostError::Closed) => Err((Outcome::Aborted, e.to_string())),
                    Err(e) => Err((Outcome::Error, e.to_string())),
                };
                self.finish_download(now, d, result, st)
            }
            other => self.phase = other,
        }
    }

    /// The host is shutting down: finish what is in flight, start nothing new.
    pub fn handle_drain(&mut self, _now: u64) {
        self.draining = true;
        if matches!(self.phase, Phase::Header) && self.inbuf.is_empty() {
            self.phase = Phase::Done;
            self.out.push_back(Output::Close);
        }
    }

    // ---- helpers --------------------------------------------------------------------

    pub(crate) fn reply(&mut self, r: Reply) {
        self.out.push_back(Output::Write(r.encode()));
    }

    pub(crate) fn push(&mut self, o: Output) {
        self.out.push_back(o);
    }

    pub(crate) fn info(&mut self, line: String) {
        self.out.push_back(Output::Log(Level::Info, line));
    }

    /// A transfer that went as asked: at `debug`, as its record is the host's access
    /// log line (`docs/decisions/access-log.md`); `--log-level debug` shows it.
    pub(crate) fn debug(&mut self, line: String) {
        self.out.push_back(Output::Log(Level::Debug, line));
    }

    pub(crate) fn warn(&mut self, line: String) {
        self.out.push_back(Output::Log(Level::Warn, line));
    }

    pub(crate) fn set_deadline(&mut self, at: Option<u64>) {
        self.deadline = at;
    }

    pub(crate) fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    /// Bytes the protocol does not allow (past the body, or before `CONTINUE`): log
    /// once. A transfer in flight still ends normally (the bytes never change what is
    /// stored) and closes the connection then; after it, close at once.
    pub(crate) fn protocol_error(&mut self, n: u64) {
        let first = self.extra == 0;
        self.extra += n;
        if first {
            self.warn(format!(
                "protocol error peer={} reason=\"{n} bytes the protocol does not allow\"",
                self.peer
            ));
            if matches!(self.phase, Phase::Done) {
                self.out.push_back(Output::Close);
            }
        }
    }

    /// Extra bytes found right after a header or trailer.
    pub(crate) fn leftover_is_error(&mut self) {
        let n = self.inbuf.len() as u64;
        self.inbuf.clear();
        if n > 0 {
            self.protocol_error(n);
        }
    }
}

/// `MiB/s` for a log line.
pub(crate) fn rate(bytes: u64, ms: u64) -> String {
    // MB/s (10^6), the unit every plugin's summary line uses.
    let mb = bytes as f64 / 1e6;
    format!("{:.2}", mb / (ms.max(1) as f64 / 1000.0))
}
