//! A TCP connection machine (files or bulk `Session`) and the host around it, for the
//! machine targets and the split tests.
//!
//! The host model is faithful where it matters to the machines: client bytes are
//! delivered only while reading is on (and end of stream only after them), `sendfile`
//! sends the file's bytes, `recv_to_file` takes exactly the next bytes of the stream
//! and reports the sha256 of the whole temp (or `Closed` if the client half-closes
//! first, as `core/runtime`'s connection actor does), and after `Close` the host
//! aborts what is in flight and delivers nothing more.
//!
//! Checked on every step: at most one transfer is handed to the host at a time, each
//! with a fresh token; `Close` comes once, after it only records and log lines, and
//! the machine says it is done; a done machine answers nothing to any input; writes
//! pass the protocol's own check ([`Machine::check_write`]); and when the connection
//! is gone no file handle is left open.

use std::collections::VecDeque;

use switchyard_sdk::conn::{ConnMachine, ConnOutput};
use switchyard_sdk::{FileId, HostError, Storage};

use crate::host::Host;

/// A connection machine as the host drives it ([`ConnMachine`], the trait the plugins'
/// adapter runs), plus the protocol's own check of what it may write.
pub(crate) trait Machine: ConnMachine {
    /// Panic if `data` is not something the protocol may write.
    fn check_write(data: &[u8]);
}

/// What the client saw of one connection, for comparing two runs.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Seen {
    /// Everything sent to the client, file bodies included, in order.
    pub stream: Vec<u8>,
    /// Transfer records, in order.
    pub transfers: Vec<String>,
    pub closed: bool,
    pub sent_files: usize,
    /// The files stored at the end.
    pub files: Vec<(String, Vec<u8>)>,
}

/// A `recv_to_file` in flight.
#[derive(Debug)]
struct Recv {
    file: FileId,
    left: u64,
    got: u64,
    token: u64,
}

/// A connection and its host.
pub(crate) struct Conn<M> {
    pub machine: M,
    host: Host,
    /// Bytes sent by the client and not yet taken by the host.
    incoming: VecDeque<u8>,
    reading: bool,
    /// The client half-closed; `eof_told` once the machine heard it.
    eof: bool,
    eof_told: bool,
    /// Complete a `sendfile` as soon as it is asked (else at [`Conn::complete_send`]).
    auto_send: bool,
    send: Option<(FileId, u64, u64, u64)>,
    recv: Option<Recv>,
    last_token: u64,
    seen: Seen,
}

impl<M: Machine> Conn<M> {
    pub fn new(machine: M, files: &[(&str, &[u8])], auto_send: bool) -> Conn<M> {
        Conn {
            machine,
            host: Host::new(files),
            incoming: VecDeque::new(),
            reading: true,
            eof: false,
            eof_told: false,
            auto_send,
            send: None,
            recv: None,
            last_token: 0,
            seen: Seen::default(),
        }
    }

    /// Run a whole connection: `pieces` arrive one by one, then end of stream, then
    /// deadlines until it closes (or 64 of them).
    pub fn run(machine: M, files: &[(&str, &[u8])], pieces: &[&[u8]]) -> Seen {
        let mut c = Conn::new(machine, files, true);
        for piece in pieces {
            c.send_bytes(0, piece);
        }
        c.end_of_stream(0);
        let mut now = 0;
        for _ in 0..64 {
            let Some(t) = c.machine.poll_timeout() else {
                break;
            };
            now = now.max(t);
            c.timeout(now);
        }
        c.finish(now)
    }

    /// The client sends `data`.
    pub fn send_bytes(&mut self, now: u64, data: &[u8]) {
        self.incoming.extend(data.iter());
        self.pump(now);
    }

    /// The client half-closes.
    pub fn end_of_stream(&mut self, now: u64) {
        self.eof = true;
        self.pump(now);
    }

    pub fn timeout(&mut self, now: u64) {
        self.step(now, |m, st| m.handle_timeout(now, st));
    }

    pub fn drain(&mut self, now: u64) {
        self.step(now, |m, _| m.handle_drain(now));
    }

    /// The drain deadline: the host stops the `sendfile` in flight (no `FILE_SENT`
    /// follows), then the machine says its goodbye; the connection is cut after it.
    pub fn drain_deadline(&mut self, now: u64) {
        self.send = None;
        let cause = switchyard_sdk::DrainCause::Shutdown;
        self.step(now, |m, st| m.handle_drain_deadline(now, cause, st));
    }

    /// Deliver one input to the machine, then let everything settle.
    fn step(&mut self, now: u64, f: impl FnOnce(&mut M, &mut dyn Storage)) {
        let was_done = self.machine.is_done();
        self.host.with(now, |st| f(&mut self.machine, st));
        if was_done {
            let o = self.machine.poll_output();
            assert!(o.is_none(), "output after done: {o:?}");
        }
        self.pump(now);
    }

    fn pump(&mut self, now: u64) {
        loop {
            self.outputs();
            if self.seen.closed {
                // The host aborts what is in flight and reads no more.
                self.send = None;
                self.recv = None;
                return;
            }
            if self.auto_send && self.send.is_some() {
                self.complete_send(now, None);
                continue;
            }
            if let Some(r) = &mut self.recv {
                let n = r.left.min(self.incoming.len() as u64);
                let body: Vec<u8> = self.incoming.drain(..n as usize).collect();
                let (file, token) = (r.file, r.token);
                r.left -= n;
                r.got += n;
                let (left, got) = (r.left, r.got);
                let ended = self.eof && self.incoming.is_empty();
                let wrote = self.host.with(now, |st| st.write_file(file, &body));
                if wrote.is_ok() && left > 0 && !ended {
                    return;
                }
                self.recv = None;
                // As the runtime does: the whole length, or `Closed` at end of stream.
                let result = match wrote {
                    Ok(()) if left == 0 => Ok((got, Some(self.host.digest(file)))),
                    Ok(()) => Err(HostError::Closed),
                    Err(e) => Err(e),
                };
                let m = &mut self.machine;
                self.host
                    .with(now, |st| m.handle_file_received(now, token, result, st));
                continue;
            }
            if self.send.is_some() || !self.reading {
                return;
            }
            if !self.incoming.is_empty() {
                let data: Vec<u8> = self.incoming.drain(..).collect();
                let m = &mut self.machine;
                self.host.with(now, |st| m.handle_bytes(now, &data, st));
                continue;
            }
            if self.eof && !self.eof_told {
                self.eof_told = true;
                let m = &mut self.machine;
                self.host.with(now, |st| m.handle_eof(now, st));
                continue;
            }
            return;
        }
    }

    /// The host finishes the `sendfile` in flight: the whole range, or `failure`.
    pub fn complete_send(&mut self, now: u64, failure: Option<HostError>) {
        let Some((file, offset, len, token)) = self.send.take() else {
            return;
        };
        let result = match failure {
            Some(e) => Err(e),
            None => {
                let body = self.host.read(file, offset, len);
                self.seen.stream.extend_from_slice(&body);
                self.seen.sent_files += 1;
                Ok(body.len() as u64)
            }
        };
        self.step(now, |m, st| m.handle_file_sent(now, token, result, st));
    }

    /// The host fails the `recv_to_file` in flight.
    pub fn fail_recv(&mut self, now: u64, e: HostError) {
        if let Some(r) = self.recv.take() {
            self.step(now, |m, st| {
                m.handle_file_received(now, r.token, Err(e), st)
            });
        }
    }

    /// Take the machine's outputs, checking each.
    fn outputs(&mut self) {
        while let Some(o) = self.machine.poll_output() {
            let after_close = self.seen.closed;
            if !matches!(o, ConnOutput::Transfer(_) | ConnOutput::Log(..)) {
                assert!(!after_close, "{o:?} after Close");
            }
            match o {
                ConnOutput::Write(data) => {
                    M::check_write(&data);
                    self.seen.stream.extend_from_slice(&data);
                }
                ConnOutput::SendFile {
                    file,
                    offset,
                    len,
                    token,
                } => {
                    self.new_transfer(token);
                    self.send = Some((file, offset, len, token));
                }
                ConnOutput::RecvToFile { file, len, token } => {
                    self.new_transfer(token);
                    self.recv = Some(Recv {
                        file,
                        left: len,
                        got: 0,
                        token,
                    });
                }
                ConnOutput::SetReading(on) => {
                    assert_ne!(on, self.reading, "set_reading to what it already is");
                    self.reading = on;
                }
                ConnOutput::Close => self.seen.closed = true,
                // The harness's reads never wait: nothing to prefetch.
                ConnOutput::Prefetch { .. } => panic!("{o:?} with reads that never wait"),
                // The host's view of the transfer under way: nothing the client sees.
                ConnOutput::Describe(_) => {}
                // Compared between runs as text.
                ConnOutput::Transfer(t) => self.seen.transfers.push(format!("{t:?}")),
                // Not compared between runs: a line may say how the bytes arrived (e.g.
                // extra bytes seen before the close in one run, never delivered in another).
                ConnOutput::Log(..) => {}
            }
        }
        if self.seen.closed {
            assert!(self.machine.is_done(), "Close while the machine goes on");
        }
    }

    fn new_transfer(&mut self, token: u64) {
        assert!(
            self.send.is_none() && self.recv.is_none(),
            "a second transfer while one is in flight"
        );
        assert!(token > self.last_token, "token {token} reused");
        self.last_token = token;
    }

    /// The connection is gone: everything must be released.
    pub fn finish(mut self, now: u64) -> Seen {
        let m = &mut self.machine;
        self.host
            .with(now, |st| m.handle_closed(now, "connection closed", st));
        self.send = None;
        self.recv = None;
        self.outputs();
        assert_eq!(self.host.open_files(), 0, "file handles leaked");
        self.seen.files = self.host.files();
        self.seen
    }
}
