//! Transfers in flight and how they end: `sendfile` downloads (v1 and v2), and `PUT`
//! uploads received straight into a temp file (then committed: a step that may wait,
//! see `park`).

use switchyard_sdk::conn::SessionInfo;
use switchyard_sdk::messages::Outcome;
use switchyard_sdk::{Direction, FileId, HostError};

use super::park::Step;
use super::{Output, Phase, Session, Storage, host_error, sums};
use crate::cmd::hex;
use crate::codec::{ErrorCode, Reply, encode_name};

/// A download: `len` bytes of `file` handed to the host.
#[derive(Debug)]
pub(crate) struct Sending {
    pub file: FileId,
    pub name: String,
    pub len: u64,
    pub started: u64,
    pub token: u64,
    pub sha256: Option<String>,
    /// A seed download: the connection closes after it.
    pub v1: bool,
}

/// A `PUT`: the host receives `remaining` more bytes into `file`.
#[derive(Debug, Clone)]
pub(crate) struct Receiving {
    pub file: FileId,
    pub name: String,
    pub size: u64,
    pub remaining: u64,
    pub expected: Option<String>,
    pub overwrite: bool,
    pub started: u64,
    pub token: u64,
}

impl Session {
    /// Start sending `len` bytes of an open file (the reply header is already queued).
    pub(crate) fn start_send(&mut self, now: u64, mut sending: Sending, offset: u64) {
        sending.started = now;
        sending.token = self.token();
        self.push(Output::Describe(SessionInfo {
            direction: Direction::Send,
            resource: sending.name.clone(),
            bytes_done: 0,
            bytes_total: Some(sending.len),
        }));
        self.push(Output::SendFile {
            file: sending.file,
            offset,
            len: sending.len,
            token: sending.token,
        });
        self.phase = Phase::Sending(sending);
    }

    /// The host finished (or failed) a `sendfile`.
    pub fn handle_file_sent(
        &mut self,
        now: u64,
        token: u64,
        result: Result<u64, HostError>,
        st: &mut dyn Storage,
    ) {
        let Phase::Sending(s) = &self.phase else {
            return;
        };
        if s.token != token {
            return;
        }
        let Phase::Sending(s) = std::mem::replace(&mut self.phase, Phase::Ready) else {
            unreachable!()
        };
        self.finish_send(now, s, result, st);
    }

    /// A download ended: release the file, log, record, and go on (v2) or close (v1).
    pub(crate) fn finish_send(
        &mut self,
        now: u64,
        s: Sending,
        result: Result<u64, HostError>,
        st: &mut dyn Storage,
    ) {
        let _ = st.close_file(s.file);
        let proto = if s.v1 { "v1" } else { "v2" };
        match result {
            Ok(n) if n == s.len => {
                self.log_ok(format!(
                    "transfer cmd=GET direction=download proto={proto} peer={} file={:?} bytes={n} duration_ms={} result=ok",
                    self.peer,
                    s.name,
                    now.saturating_sub(s.started)
                ));
                self.record(
                    now,
                    "download",
                    &s.name,
                    n,
                    s.started,
                    s.sha256.clone(),
                    Outcome::Ok,
                );
                if s.v1 {
                    self.close();
                } else {
                    self.ready(now, st);
                }
            }
            other => {
                let (bytes, outcome, reason) = match other {
                    Ok(n) => (n, Outcome::Error, "file changed during send".to_owned()),
                    Err(e @ HostError::Closed) => (0, Outcome::Aborted, e.to_string()),
                    Err(e) => (0, Outcome::Error, e.to_string()),
                };
                self.log(format!(
                    "transfer cmd=GET direction=download proto={proto} peer={} file={:?} bytes={bytes} result={outcome} reason={reason:?}",
                    self.peer, s.name
                ));
                self.record(now, "download", &s.name, bytes, s.started, None, outcome);
                // The client expects `len` bytes it will not get: the stream is broken.
                self.close();
            }
        }
    }

    /// Start receiving a `PUT`'s bytes; `already` of them were buffered with the request.
    pub(crate) fn start_recv(&mut self, mut r: Receiving, st: &mut dyn Storage) {
        let take = (r.remaining.min(self.inbuf.len() as u64)) as usize;
        if take > 0 {
            let head: Vec<u8> = self.inbuf.drain(..take).collect();
            if let Err(e) = st.write_file(r.file, &head) {
                let _ = st.close_file(r.file);
                let (code, msg) = host_error(e);
                self.fail_fatal("PUT", code, msg);
                return;
            }
            r.remaining -= take as u64;
        }
        r.token = self.token();
        self.push(Output::Describe(SessionInfo {
            direction: Direction::Receive,
            resource: r.name.clone(),
            bytes_done: r.size - r.remaining,
            bytes_total: Some(r.size),
        }));
        // Always through the host, even for 0 bytes: it hashes the whole file.
        self.push(Output::RecvToFile {
            file: r.file,
            len: r.remaining,
            token: r.token,
        });
        self.phase = Phase::Receiving(r);
    }

    /// The host finished (or failed) a `recv_to_file`.
    pub fn handle_file_received(
        &mut self,
        now: u64,
        token: u64,
        result: Result<(u64, Option<[u8; 32]>), HostError>,
        st: &mut dyn Storage,
    ) {
        let Phase::Receiving(r) = &self.phase else {
            return;
        };
        if r.token != token {
            return;
        }
        let Phase::Receiving(r) = std::mem::replace(&mut self.phase, Phase::Ready) else {
            unreachable!()
        };
        let digest = match result {
            Ok((n, Some(d))) if n == r.remaining => hex(&d),
            Ok((n, _)) => {
                let failure = (ErrorCode::Internal, Outcome::Error);
                return self.put_failed(now, r, n, failure, "short receive", true, st);
            }
            Err(HostError::Closed) => {
                let failure = (ErrorCode::Internal, Outcome::Aborted);
                return self.put_failed(now, r, 0, failure, "client closed mid-upload", true, st);
            }
            Err(e) => {
                let (code, msg) = host_error(e);
                return self.put_failed(now, r, 0, (code, Outcome::Error), msg, true, st);
            }
        };
        if r.expected.as_ref().is_some_and(|e| *e != digest) {
            let size = r.size;
            return self.put_failed(
                now,
                r,
                size,
                (ErrorCode::DigestMismatch, Outcome::Invalid),
                "sha256 mismatch",
                false,
                st,
            );
        }
        self.start_step(now, Step::PutCommit { r, digest }, st);
        self.go_on(now, st);
    }

    /// A received `PUT` is committed, its digest remembered, and the client told.
    pub(super) fn put_commit(
        &mut self,
        now: u64,
        r: Receiving,
        digest: String,
        st: &mut dyn Storage,
    ) {
        match st.commit_file(r.file, &r.name, r.overwrite) {
            Ok(()) => {}
            Err(HostError::Pending) => return,
            Err(e) => {
                let (code, msg) = host_error(e);
                let size = r.size;
                return self.put_dropped(now, r, size, (code, Outcome::Error), msg, false, st);
            }
        }
        sums::store(st, &r.name, &digest);
        self.reply(&Reply::Ok(vec![
            encode_name(&r.name),
            r.size.to_string(),
            digest.clone(),
        ]));
        self.log_ok(format!(
            "transfer cmd=PUT direction=upload proto=v2 peer={} file={:?} bytes={} duration_ms={} sha256={digest} result=ok",
            self.peer,
            r.name,
            r.size,
            now.saturating_sub(r.started)
        ));
        self.record(
            now,
            "upload",
            &r.name,
            r.size,
            r.started,
            Some(digest),
            Outcome::Ok,
        );
    }

    /// A `PUT` that stores nothing: its temp is deleted; `fatal` when the stream is
    /// out of step (bytes of the upload may still be coming). `failure`: the code the
    /// client is told, and the outcome recorded.
    #[allow(clippy::too_many_arguments)]
    fn put_failed(
        &mut self,
        now: u64,
        r: Receiving,
        bytes: u64,
        (code, outcome): (ErrorCode, Outcome),
        msg: &str,
        fatal: bool,
        st: &mut dyn Storage,
    ) {
        self.put_dropped(now, r, bytes, (code, outcome), msg, fatal, st);
        self.go_on(now, st);
    }

    /// [`Session::put_failed`] without going on to the next request: in a step.
    #[allow(clippy::too_many_arguments)]
    fn put_dropped(
        &mut self,
        now: u64,
        r: Receiving,
        bytes: u64,
        (code, outcome): (ErrorCode, Outcome),
        msg: &str,
        fatal: bool,
        st: &mut dyn Storage,
    ) {
        let _ = st.close_file(r.file);
        self.record(now, "upload", &r.name, bytes, r.started, None, outcome);
        self.fail_as("PUT", &r.name, code, msg, outcome.as_str());
        if fatal || self.peer_eof {
            self.close();
        }
    }
}
