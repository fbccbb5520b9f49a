//! One connection as a deterministic state machine (quinn-proto style).
//!
//! Inputs are the `handle_*` methods, each with the current time in milliseconds;
//! outputs are [`Session::poll_output`] (bytes to write, files to send or receive,
//! close, transfer records, log lines) and [`Session::poll_timeout`] (the one deadline
//! to call [`Session::handle_timeout`] at). Storage is a trait ([`Storage`]) the
//! machine calls: on a dir it answers at once; on an object store a call may answer
//! `Pending`, and the step that made it is parked and run again by
//! [`Session::handle_storage_ready`] (`park`). No clock, no randomness, no I/O of its
//! own: a test replays any scenario exactly.
//!
//! The first bytes choose the protocol (`codec::detect`): the seed's v1 lives in `v1`,
//! v2 requests are dispatched to the `cmd` modules, and transfers in flight are the
//! `Phase` variants below.
//!
//! # Layout
//! - this file: [`Session`], its phases, inputs and deadlines.
//! - `requests`: protocol detection and the v2 request loop.
//! - `transfer`: completion of downloads and uploads (v1 and v2).
//! - `hashing`: `HASH` read step by step (prefetched when reads wait), then answered.
//! - `v1`: the seed protocol, and how uploads get their `NNNN.txt` names.
//! - `deadline`: cutting what is in flight, and the goodbye at the drain deadline
//!   (`ERR 503`, or a close for v1).
//! - `park`: steps that wait for storage (`Step`), parked and run again.
//! - [`Storage`] (from the SDK): the storage calls the machine makes.
//! - `sums`: digests remembered beside files, for `GET` and `HASH`.

mod deadline;
mod hashing;
mod park;
mod requests;
pub(crate) mod sums;
mod transfer;
mod v1;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use switchyard_sdk::Level;
use switchyard_sdk::messages::{Outcome, TransferCompleted};

pub(crate) use hashing::Hashing;
pub(crate) use requests::host_error;
pub use switchyard_sdk::Storage;
pub(crate) use transfer::{Receiving, Sending};
use v1::V1Upload;

use crate::codec::{ErrorCode, Reply, V1Op};
use crate::config::Config;

/// One thing for the adapter to do, in order: the SDK's connection outputs, which
/// `ConnAdapter` carries out as they are.
pub use switchyard_sdk::conn::ConnOutput as Output;

/// Where the connection is.
#[derive(Debug)]
pub(crate) enum Phase {
    /// Nothing decided yet: waiting for enough bytes to tell v1 from v2.
    Detect { first_byte: Option<u64> },
    /// v1 `0:` or `1:`: collecting the message or name (in `inbuf`).
    V1Header { op: V1Op, first_byte: u64 },
    /// v1 `2:`: storing bytes until the client closes or goes idle.
    V1Upload(V1Upload),
    /// v2, between requests.
    Ready,
    /// A `sendfile` is in flight.
    Sending(Sending),
    /// A `recv_to_file` is in flight (v2 `PUT`).
    Receiving(Receiving),
    /// A `HASH` reading the file step by step.
    Hashing(Hashing),
    /// A step waits for a storage answer (an object store): requests wait.
    Parked(park::Parked),
    /// Closed or closing: input is ignored.
    Done,
}

/// One connection's whole state.
#[derive(Debug)]
pub struct Session {
    pub(crate) cfg: Config,
    pub(crate) peer: String,
    pub(crate) phase: Phase,
    /// Bytes received and not yet consumed (request lines, v1 header).
    pub(crate) inbuf: Vec<u8>,
    out: VecDeque<Output>,
    /// Time of the last byte received or the last request finished.
    pub(crate) last_activity: u64,
    /// When the partial line in `inbuf` started (header timeout).
    line_started: Option<u64>,
    reading: bool,
    pub(crate) draining: bool,
    pub(crate) peer_eof: bool,
    next_token: u64,
    /// A step let go when the connection was cut while it waited: its answer may open
    /// a file, which is then closed (`park`).
    abandoned: Option<park::Step>,
}

impl Session {
    /// A session for a connection from `peer`, opened at `now`. `cfg` must be valid.
    pub fn new(cfg: Config, peer: String, now: u64) -> Session {
        Session {
            cfg,
            peer,
            phase: Phase::Detect { first_byte: None },
            inbuf: Vec::new(),
            out: VecDeque::new(),
            last_activity: now,
            line_started: None,
            reading: true,
            draining: false,
            peer_eof: false,
            next_token: 0,
            abandoned: None,
        }
    }

    /// The next output, in the order produced.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Session::handle_timeout`] should run next (absolute ms), if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        let c = &self.cfg;
        // Saturating: a configured timeout of "forever" must not overflow.
        let idle = self.last_activity.saturating_add(c.idle_ms());
        match &self.phase {
            Phase::Detect {
                first_byte: Some(t),
            } => Some(t.saturating_add(c.header_ms())),
            Phase::Detect { first_byte: None } | Phase::V1Upload(_) => Some(idle),
            Phase::V1Header { first_byte, .. } => {
                let settled = self.last_activity.saturating_add(c.v1_settle_ms);
                Some(first_byte.saturating_add(c.header_ms()).min(settled))
            }
            Phase::Ready => match self.line_started {
                Some(t) => Some(t.saturating_add(c.header_ms())),
                None => Some(idle),
            },
            Phase::Sending(s) => Some(s.started.saturating_add(c.transfer_ms(s.len))),
            Phase::Receiving(r) => Some(r.started.saturating_add(c.transfer_ms(r.size))),
            Phase::Hashing(h) => Some(h.next_step),
            // A store that never answers: as long as an idle client is given.
            Phase::Parked(p) => Some(p.since.saturating_add(c.idle_ms())),
            Phase::Done => None,
        }
    }

    /// True while a command or transfer is in progress (the host waits for these
    /// while draining).
    pub fn busy(&self) -> bool {
        matches!(
            self.phase,
            Phase::V1Header { .. }
                | Phase::V1Upload(_)
                | Phase::Sending(_)
                | Phase::Receiving(_)
                | Phase::Hashing(_)
                | Phase::Parked(_)
        )
    }

    /// The connection is closed or closing.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    // ---- inputs -------------------------------------------------------------------

    /// Bytes from the client.
    pub fn handle_bytes(&mut self, now: u64, data: &[u8], st: &mut dyn Storage) {
        self.last_activity = now;
        match &mut self.phase {
            Phase::Done => {}
            // The seed client sends nothing after its request; anything more is ignored.
            Phase::Sending(s) if s.v1 => {}
            Phase::V1Upload(_) => self.v1_upload_bytes(now, data, st),
            _ => {
                if self.inbuf.is_empty() && !data.is_empty() {
                    self.line_started = Some(now);
                }
                self.inbuf.extend_from_slice(data);
                self.advance(now, st);
            }
        }
    }

    /// The client shut its write side.
    pub fn handle_eof(&mut self, now: u64, st: &mut dyn Storage) {
        self.peer_eof = true;
        match &self.phase {
            Phase::Detect { .. } => {
                if !self.inbuf.is_empty() {
                    self.log(format!(
                        "request cmd=- peer={} result=error reason=\"incomplete request at close\"",
                        self.peer
                    ));
                }
                self.close();
            }
            Phase::V1Header { op, .. } => {
                let op = *op;
                self.v1_header_done(now, op, st);
            }
            Phase::V1Upload(_) => self.v1_upload_done(now, "eof", st),
            Phase::Ready => {
                self.advance(now, st);
                if matches!(self.phase, Phase::Ready) {
                    if !self.inbuf.is_empty() {
                        self.fail_fatal(
                            "-",
                            ErrorCode::BadRequest,
                            "incomplete request line at end of stream",
                        );
                    } else {
                        self.close();
                    }
                }
            }
            // Finish what is in flight; `transfer` (or `park`) closes afterwards.
            Phase::Sending(_)
            | Phase::Receiving(_)
            | Phase::Hashing(_)
            | Phase::Parked(_)
            | Phase::Done => {}
        }
    }

    /// The connection is gone: nothing will be sent any more; release every file.
    pub fn handle_closed(&mut self, now: u64, reason: &str, st: &mut dyn Storage) {
        self.cut_off(now, (Outcome::Aborted, reason), st);
    }

    /// The deadline from [`Session::poll_timeout`] may have passed.
    pub fn handle_timeout(&mut self, now: u64, st: &mut dyn Storage) {
        match self.poll_timeout() {
            Some(t) if t <= now => {}
            _ => return,
        }
        match &self.phase {
            Phase::Detect { .. } => {
                self.log(format!(
                    "request cmd=- peer={} result=timeout reason=\"no request\"",
                    self.peer
                ));
                self.close();
            }
            Phase::V1Header { op, .. } => {
                let op = *op;
                self.v1_header_done(now, op, st);
            }
            Phase::V1Upload(_) => self.v1_upload_done(now, "idle", st),
            Phase::Ready if self.line_started.is_some() => {
                self.fail_fatal(
                    "-",
                    ErrorCode::Timeout,
                    "request line not completed in time",
                );
            }
            Phase::Ready => {
                self.log_ok(format!("request cmd=- peer={} result=idle", self.peer));
                self.close();
            }
            Phase::Sending(_) | Phase::Receiving(_) => {
                self.cut_off(now, (Outcome::Timeout, "transfer too slow"), st);
                self.out.push_back(Output::Close);
            }
            Phase::Hashing(_) => self.hash_step(now, st),
            Phase::Parked(p) => {
                let v2 = !p.step.is_v1();
                self.cut_off(now, (Outcome::Timeout, park::STORE_SLOW), st);
                if v2 {
                    self.reply(&Reply::err(ErrorCode::Timeout, park::STORE_SLOW));
                }
                self.out.push_back(Output::Close);
            }
            Phase::Done => {}
        }
    }

    /// The host is shutting down: finish what is in flight, start nothing new.
    pub fn handle_drain(&mut self, _now: u64) {
        self.draining = true;
        if matches!(self.phase, Phase::Detect { first_byte: None })
            || (matches!(self.phase, Phase::Ready) && self.inbuf.is_empty())
        {
            self.close();
        }
    }

    // ---- shared by commands -----------------------------------------------------

    pub(crate) fn reply(&mut self, reply: &Reply) {
        self.out.push_back(Output::Write(reply.to_bytes()));
    }

    pub(crate) fn write(&mut self, data: Vec<u8>) {
        self.out.push_back(Output::Write(data));
    }

    /// A line about a request that failed (an error reply, a transfer cut short): at
    /// `info`, for the operator.
    pub(crate) fn log(&mut self, line: String) {
        self.out.push_back(Output::Log(Level::Info, line));
    }

    /// A line about a request that went as asked: at `debug`. Routine requests must
    /// not cost a log write each; a transfer's record is the host's access log line
    /// (`docs/decisions/access-log.md`), and `--log-level debug` shows these.
    pub(crate) fn log_ok(&mut self, line: String) {
        self.out.push_back(Output::Log(Level::Debug, line));
    }

    /// An error reply and its log line; the connection stays usable.
    /// Whether `path` is hidden from clients: a component starting with `.` (digest
    /// side files and temps live there), unless the handler sets `serve_hidden`.
    pub(crate) fn hides(&self, path: &str) -> bool {
        !self.cfg.serve_hidden && switchyard_sdk::is_hidden_path(path)
    }

    pub(crate) fn fail(&mut self, verb: &str, name: &str, code: ErrorCode, message: &str) {
        self.fail_as(verb, name, code, message, "error");
    }

    /// An error reply, then close: the stream cannot be trusted any more.
    pub(crate) fn fail_fatal(&mut self, verb: &str, code: ErrorCode, message: &str) {
        self.fail(verb, "", code, message);
        self.close();
    }

    pub(crate) fn close(&mut self) {
        if !matches!(self.phase, Phase::Done) {
            self.phase = Phase::Done;
            self.out.push_back(Output::Close);
        }
    }

    pub(crate) fn token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    pub(crate) fn push(&mut self, output: Output) {
        self.out.push_back(output);
    }

    /// A transfer record for the `transfers` port: the outcome only, the reason goes
    /// into the log line (a metric label must stay bounded).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record(
        &mut self,
        now: u64,
        direction: &str,
        file: &str,
        bytes: u64,
        started: u64,
        sha256: Option<String>,
        outcome: Outcome,
    ) {
        self.out.push_back(Output::Transfer(TransferCompleted {
            protocol: "files".into(),
            peer: self.peer.clone(),
            file: file.into(),
            direction: direction.into(),
            bytes,
            duration_ms: now.saturating_sub(started),
            sha256,
            result: outcome.into(),
        }));
    }

    /// Back to waiting for requests after a command, then run what is buffered.
    pub(crate) fn ready(&mut self, now: u64, st: &mut dyn Storage) {
        self.phase = Phase::Ready;
        self.last_activity = now;
        self.advance(now, st);
        if matches!(self.phase, Phase::Ready) && self.peer_eof {
            self.handle_eof(now, st);
        }
        // Draining starts nothing new: once its last transfer is done, an idle
        // connection has nothing left to wait for (a retired instance can then stop).
        if self.draining && matches!(self.phase, Phase::Ready) && self.inbuf.is_empty() {
            self.close();
        }
    }
}
