//! The request loop: what `inbuf` holds becomes a protocol (first bytes), then v2
//! request lines dispatched to the `cmd` modules, one at a time, each a step that may
//! wait for storage (`park`); pipelined requests wait (and reading pauses at a bound)
//! while a transfer is in flight or a step waits.

use switchyard_sdk::Direction;
use switchyard_sdk::conn::SessionInfo;
use switchyard_sdk::messages::Outcome;

use super::park::Step;
use super::{Output, Phase, Session, Storage};
use crate::cmd::Command;
use crate::codec::{self, CodecError, Detected, ErrorCode, Frame, Reply};

impl Session {
    /// Consume what `inbuf` holds, as far as the current phase allows.
    pub(super) fn advance(&mut self, now: u64, st: &mut dyn Storage) {
        loop {
            match &self.phase {
                Phase::Detect { .. } => match codec::detect(&self.inbuf) {
                    Ok(Detected::V1 { op, consumed }) if self.cfg.v1 => {
                        self.inbuf.drain(..consumed);
                        self.phase = Phase::V1Header {
                            op,
                            first_byte: self.line_started.unwrap_or(now),
                        };
                        self.v1_start(now, op, st);
                    }
                    Ok(Detected::V1 { .. }) => {
                        self.log(format!(
                            "request cmd=- peer={} result=error reason=\"v1 is disabled\"",
                            self.peer
                        ));
                        self.close();
                    }
                    Ok(Detected::V2 { consumed }) => {
                        self.inbuf.drain(..consumed);
                        self.line_started = (!self.inbuf.is_empty()).then_some(now);
                        self.phase = Phase::Ready;
                    }
                    Err(CodecError::Incomplete) => {
                        self.phase = Phase::Detect {
                            first_byte: self.line_started,
                        };
                        return;
                    }
                    Err(e) => {
                        self.log(format!(
                            "request cmd=- peer={} result=error reason={:?}",
                            self.peer,
                            e.to_string()
                        ));
                        self.close();
                    }
                },
                Phase::V1Header { op, .. } => {
                    let op = *op;
                    self.v1_header_bytes(now, op, st);
                    return;
                }
                Phase::Ready => {
                    if self.draining && !self.inbuf.is_empty() {
                        self.fail_fatal("-", ErrorCode::Unavailable, "server shutting down");
                        return;
                    }
                    match Frame::next(&self.inbuf, self.cfg.max_line_bytes) {
                        Ok((frame, used)) => {
                            self.inbuf.drain(..used);
                            self.line_started = (!self.inbuf.is_empty()).then_some(now);
                            self.run(now, &frame, st);
                        }
                        Err(CodecError::Incomplete) => {
                            self.set_reading(true);
                            return;
                        }
                        Err(CodecError::TooLong(n)) => {
                            self.fail_fatal(
                                "-",
                                ErrorCode::LineTooLong,
                                &format!("request line over {n} bytes"),
                            );
                        }
                        Err(CodecError::Invalid(m) | CodecError::Refused(m)) => {
                            // A whole line, but not text (NUL, bad UTF-8...): drop just it.
                            if let Ok(used) = Frame::check(&self.inbuf, self.cfg.max_line_bytes) {
                                self.inbuf.drain(..used);
                            }
                            self.line_started = (!self.inbuf.is_empty()).then_some(now);
                            self.fail("-", "", ErrorCode::BadRequest, &m);
                        }
                    }
                }
                // A transfer is in flight, or a step waits for storage: requests
                // wait, within a bound.
                Phase::Sending(_) | Phase::Receiving(_) | Phase::Hashing(_) | Phase::Parked(_) => {
                    if self.inbuf.len() >= self.cfg.max_line_bytes {
                        self.set_reading(false);
                    }
                    return;
                }
                Phase::V1Upload(_) | Phase::Done => return,
            }
        }
    }

    pub(super) fn set_reading(&mut self, on: bool) {
        if self.reading != on {
            self.reading = on;
            self.out.push_back(Output::SetReading(on));
        }
    }

    /// Run one request line.
    fn run(&mut self, now: u64, frame: &Frame, st: &mut dyn Storage) {
        let command = match Command::from_frame(frame) {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => {
                let verb = frame.head().to_owned();
                let code = match e {
                    CodecError::Refused(_) => ErrorCode::Forbidden,
                    _ => ErrorCode::BadRequest,
                };
                // The raw first argument, for the log (Debug-escaped there).
                let arg = frame.tokens.get(1).map_or("", String::as_str);
                self.fail(&sanitize_verb(&verb), arg, code, &e.to_string());
                return;
            }
        };
        if let Some(path) = command.path().filter(|p| self.hides(p)) {
            let path = path.to_owned();
            return self.fail(
                command.verb(),
                &path,
                ErrorCode::Forbidden,
                "hidden names are reserved",
            );
        }
        self.start_step(now, Step::Request(command), st);
    }

    /// Run a request (again, after a storage answer it waited for).
    pub(super) fn apply(&mut self, now: u64, command: Command, st: &mut dyn Storage) {
        match command {
            Command::Get(c) => c.apply(self, now, st),
            Command::Put(c) => c.apply(self, now, st),
            Command::List(c) => c.apply(self, st),
            Command::Stat(c) => c.apply(self, st),
            Command::Delete(c) => c.apply(self, st),
            Command::Hash(c) => c.apply(self, now, st),
            Command::Quit(c) => c.apply(self),
        }
    }

    /// [`Session::fail`] with the log line's `result` given: a transfer's [`Outcome`].
    pub(crate) fn fail_as(
        &mut self,
        verb: &str,
        name: &str,
        code: ErrorCode,
        message: &str,
        result: &str,
    ) {
        self.log(format!(
            "request cmd={verb} proto=v2 peer={} file={name:?} result={result} code={} reason={message:?}",
            self.peer,
            code.code()
        ));
        self.reply(&Reply::err(code, message));
    }

    /// Refuse a `GET` or `PUT` before any data moved: the error reply, its log line,
    /// and a transfer record (naming no file), so that refusals show in the metrics and
    /// the audit trail. The host is told the name asked for (the session's
    /// description), so its access log line says what was refused.
    pub(crate) fn refuse(&mut self, now: u64, verb: &str, name: &str, code: ErrorCode, msg: &str) {
        let outcome = match code {
            ErrorCode::NotFound | ErrorCode::BadOffset => Outcome::NotFound,
            ErrorCode::Internal => Outcome::Error,
            _ => Outcome::Refused,
        };
        self.fail_as(verb, name, code, msg, outcome.as_str());
        let (direction, word) = if verb == "GET" {
            (Direction::Send, "download")
        } else {
            (Direction::Receive, "upload")
        };
        self.push(Output::Describe(SessionInfo {
            direction,
            resource: name.to_owned(),
            bytes_done: 0,
            bytes_total: None,
        }));
        self.record(now, word, "", 0, now, None, outcome);
    }
}

/// A verb fit for a log line (a client may send anything).
fn sanitize_verb(verb: &str) -> String {
    verb.chars()
        .filter(char::is_ascii_alphanumeric)
        .take(16)
        .collect()
}

/// A `HostError` as a client-facing code and message.
pub(crate) fn host_error(e: switchyard_sdk::HostError) -> (ErrorCode, &'static str) {
    use switchyard_sdk::HostError as H;
    match e {
        H::NotFound => (ErrorCode::NotFound, "no such file"),
        H::Access => (ErrorCode::Forbidden, "access denied"),
        H::Exists => (ErrorCode::Exists, "already exists"),
        H::NoSpace => (ErrorCode::NoSpace, "no space left"),
        H::IsDir => (ErrorCode::NotAFile, "is a directory"),
        H::Limit => (ErrorCode::Unavailable, "server limit reached"),
        H::Invalid => (ErrorCode::Forbidden, "invalid name"),
        H::Unsupported => (ErrorCode::Internal, "no storage configured"),
        H::Busy => (ErrorCode::Unavailable, "in use, try later"),
        _ => (ErrorCode::Internal, "I/O error"),
    }
}
