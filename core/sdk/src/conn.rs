//! Connection machines: one sans-I/O state machine per TCP connection, and the one
//! adapter that runs it as a [`Protocol`]'s body.
//!
//! The files and bulk plugins each had the same adapter (open a session on
//! `ConnOpened`, forward events with `now` and `ctx` as [`Storage`], carry out
//! outputs in order, keep one host timer on the machine's deadline), and the fuzz
//! harness a third copy of the trait. Written once, a fix to how outputs reach the
//! host (say, what happens to a write after the connection is gone) cannot reach only
//! one of them, and the fuzzer drives exactly the interface the host does.
//!
//! The adapter is also where a connection's transfers meet the host's view of
//! sessions: a transfer the machine starts ([`ConnOutput::Describe`]) is described to
//! the host keyed by the connection, with the connection set so the host counts its
//! bytes; its record ([`ConnOutput::Transfer`]) ends that session with its outcome
//! (the metrics' `result`); and at the drain deadline the machine says its goodbye
//! ([`ConnMachine::handle_drain_deadline`]) before the adapter closes the connection.
//!
//! A plugin keeps its own `Protocol` impl (its name, config and ports are its own) and
//! forwards `on_event` and `active_sessions` to a [`ConnAdapter`]:
//!
//! ```ignore
//! fn on_event(&mut self, ctx: &mut Ctx<'_>, event: Event<'_>) {
//!     let cfg = &self.cfg;
//!     self.conn.on_event(ctx, event, |peer, now| Session::new(cfg.clone(), peer, now));
//! }
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use crate::messages::TransferCompleted;
use crate::{
    ConnId, Ctx, Direction, DrainCause, Event, FileId, HostError, Level, Session, Storage,
    StorageWaits,
};

/// The result of a `sendfile`: bytes sent, or why not.
pub type SendResult = Result<u64, HostError>;
/// The result of a `recv_to_file`: bytes received and the whole file's digest.
pub type RecvResult = Result<(u64, Option<[u8; 32]>), HostError>;

/// One thing a connection machine asks of the host, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnOutput {
    /// Queue bytes on the connection.
    Write(Vec<u8>),
    /// Send `len` bytes of `file` from `offset` (`sendfile`); answered by
    /// [`ConnMachine::handle_file_sent`] with `token`.
    SendFile {
        file: FileId,
        offset: u64,
        len: u64,
        token: u64,
    },
    /// Receive exactly `len` bytes into temp `file`, hashing the whole file; answered
    /// by [`ConnMachine::handle_file_received`] with `token`.
    RecvToFile { file: FileId, len: u64, token: u64 },
    /// Bring `len` bytes of `file` (from `open_read`) at `offset` into the host's
    /// memory (`prefetch_file`): on a storage that waits, a read of a range not there
    /// answers [`HostError::Pending`]. Answered by
    /// [`ConnMachine::handle_file_prefetched`] with `token`.
    Prefetch {
        file: FileId,
        offset: u64,
        len: u64,
        token: u64,
    },
    /// Pause (`false`) or resume reading.
    SetReading(bool),
    /// Close after everything queued is sent.
    Close,
    /// The transfer now under way, for the host's view of the session (the lines it
    /// logs about a session it cuts, the sessions gauge): described keyed by the
    /// connection, with the connection set, so the host counts the bytes it moves
    /// (`sendfile` and receives included). Ended by the next [`ConnOutput::Transfer`].
    /// Ignored once the connection is gone.
    Describe(SessionInfo),
    /// A finished (or failed) transfer, for the adapter's transfers port; it also ends
    /// the connection's session with its outcome (`switchyard_transfers_total`), also
    /// one never described (a refusal). Still reported after the connection is gone.
    Transfer(TransferCompleted),
    /// A log line. Still logged after the connection is gone.
    Log(Level, String),
}

/// A transfer under way on a connection, as its machine describes it
/// ([`ConnOutput::Describe`]); the adapter adds the peer and the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub direction: Direction,
    /// What it works on (a file name).
    pub resource: String,
    /// Bytes already done when described (a resumed upload's kept part); the host
    /// counts the rest.
    pub bytes_done: u64,
    pub bytes_total: Option<u64>,
}

/// A per-connection protocol state machine. Every input carries `now` (the host's
/// monotonic milliseconds) and, where the machine may touch files, its [`Storage`];
/// the machine answers only by queueing [`ConnOutput`]s, so it runs the same under
/// the host, in unit tests and in the fuzzer.
pub trait ConnMachine {
    /// Bytes arrived from the client.
    fn handle_bytes(&mut self, now: u64, data: &[u8], st: &mut dyn Storage);
    /// The client half-closed.
    fn handle_eof(&mut self, now: u64, st: &mut dyn Storage);
    /// The connection is gone (`reason` is for the log): release everything.
    fn handle_closed(&mut self, now: u64, reason: &str, st: &mut dyn Storage);
    /// The deadline from [`ConnMachine::poll_timeout`] passed.
    fn handle_timeout(&mut self, now: u64, st: &mut dyn Storage);
    /// A [`ConnOutput::SendFile`] finished.
    fn handle_file_sent(&mut self, now: u64, token: u64, result: SendResult, st: &mut dyn Storage);
    /// A [`ConnOutput::RecvToFile`] finished.
    fn handle_file_received(
        &mut self,
        now: u64,
        token: u64,
        result: RecvResult,
        st: &mut dyn Storage,
    );
    /// A [`ConnOutput::Prefetch`] finished: its range may be read now (or it failed).
    /// Nothing by default: a machine that never prefetches never gets it.
    fn handle_file_prefetched(
        &mut self,
        now: u64,
        token: u64,
        result: Result<(), HostError>,
        st: &mut dyn Storage,
    ) {
        let _ = (now, token, result, st);
    }
    /// The host is shutting down: finish what is in flight, start nothing new.
    fn handle_drain(&mut self, now: u64);
    /// The drain deadline passed (`cause`): the connection is cut when this returns.
    /// Queue the protocol's goodbye (an error reply), record what was cut and close;
    /// the adapter closes the connection afterwards if the machine did not. File sends
    /// were stopped where they were: no [`ConnMachine::handle_file_sent`] follows for
    /// them. By default nothing: the connection just closes (a protocol with no error
    /// channel).
    fn handle_drain_deadline(&mut self, now: u64, cause: DrainCause, st: &mut dyn Storage) {
        let _ = (now, cause, st);
    }
    /// A storage call of a step answered [`HostError::Pending`] and the machine
    /// parked that step; its answer is now in: run the step again from its start
    /// (see [`crate::StorageWaits`]: the calls it makes get their answers). Nothing by
    /// default: a machine that never parks (a dir-only plugin) never gets it.
    fn handle_storage_ready(&mut self, now: u64, st: &mut dyn Storage) {
        let _ = (now, st);
    }
    /// The operator cancelled this connection's session (`SY_EV_SESSION_CANCEL`): as
    /// at a drain deadline, queue the protocol's error reply, record the transfer as
    /// cut and close; the adapter closes the connection afterwards if the machine did
    /// not, and the host has stopped the connection's file sends. By default nothing:
    /// the connection just closes.
    fn handle_cancel(&mut self, now: u64, st: &mut dyn Storage) {
        let _ = (now, st);
    }
    /// The wall clock (unix seconds), given before every input; for machines that
    /// compare file times. Ignored by default.
    fn set_wall_clock(&mut self, unix_secs: i64) {
        let _ = unix_secs;
    }
    /// The next output, in order.
    fn poll_output(&mut self) -> Option<ConnOutput>;
    /// When the machine wants [`ConnMachine::handle_timeout`], if at all.
    fn poll_timeout(&self) -> Option<u64>;
    /// Whether a transfer is under way (the handler's active session count).
    fn busy(&self) -> bool;
    /// Whether the machine has closed and will answer nothing more.
    fn is_done(&self) -> bool;
}

/// The first token of the machine's storage operations ([`StorageWaits`]).
pub const STORAGE_TOKENS: u64 = 1 << 32;

/// The only timer the adapter sets: the machine's deadline.
pub const DEADLINE_TIMER: u64 = 1;

/// Runs one [`ConnMachine`] for a `PerConnection` [`crate::Protocol`]: the machine
/// starts at `ConnOpened`, its outputs become host calls, its deadline the one host
/// timer ([`DEADLINE_TIMER`]), and its transfers are emitted on `transfers_port`.
#[derive(Debug)]
pub struct ConnAdapter<M> {
    transfers_port: &'static str,
    conn: Option<ConnId>,
    peer: Option<SocketAddr>,
    /// The session key (the connection's id), kept after the connection is gone so a
    /// late transfer record still ends it.
    session: Option<u64>,
    /// The session is described now (a [`ConnOutput::Describe`] not yet ended).
    described: bool,
    machine: Option<M>,
    /// Deadline the host timer is armed for.
    armed: Option<u64>,
    /// The machine's storage: a step that waits is run again when its answer is in.
    waits: StorageWaits,
}

impl<M: ConnMachine> ConnAdapter<M> {
    /// An adapter waiting for its connection; transfer records go to `transfers_port`.
    pub fn new(transfers_port: &'static str) -> Self {
        ConnAdapter {
            transfers_port,
            conn: None,
            peer: None,
            session: None,
            described: false,
            machine: None,
            armed: None,
            waits: StorageWaits::new(STORAGE_TOKENS),
        }
    }

    /// The machine, once the connection opened.
    pub fn machine(&self) -> Option<&M> {
        self.machine.as_ref()
    }

    /// 1 while the machine is busy, for [`crate::Protocol::active_sessions`].
    pub fn active_sessions(&self) -> u64 {
        self.machine.as_ref().is_some_and(M::busy) as u64
    }

    /// Feed one host event; `open(peer, now)` makes the machine at `ConnOpened`.
    pub fn on_event(
        &mut self,
        ctx: &mut Ctx<'_>,
        event: Event<'_>,
        open: impl FnOnce(String, u64) -> M,
    ) {
        let now = ctx.now_ms();
        if let Event::ConnOpened { conn, peer, .. } = event {
            self.conn = Some(conn);
            self.peer = Some(peer);
            self.session = Some(conn.0);
            self.machine = Some(open(peer.to_string(), now));
        }
        let cancelled =
            matches!(event, Event::SessionCancel { session } if Some(session) == self.session);
        let cut = cancelled || matches!(event, Event::DrainDeadline { .. });
        let Some(machine) = self.machine.as_mut() else {
            return;
        };
        machine.set_wall_clock((ctx.now_unix_ms() / 1000) as i64);
        if let Event::StorageDone { token, result } = event
            && self.waits.complete(ctx, token, result)
        {
            machine.handle_storage_ready(now, &mut self.waits.storage(ctx));
        }
        {
            let st = &mut self.waits.storage(ctx);
            match event {
                Event::Bytes { data, .. } => machine.handle_bytes(now, data, st),
                Event::PeerEof { .. } => machine.handle_eof(now, st),
                Event::ConnClosed { error, .. } => {
                    let reason = error.map_or_else(
                        || "connection closed".to_owned(),
                        |e| format!("connection {e}"),
                    );
                    self.conn = None;
                    machine.handle_closed(now, &reason, st);
                }
                Event::Timer {
                    token: DEADLINE_TIMER,
                } => {
                    self.armed = None;
                    machine.handle_timeout(now, st);
                }
                Event::FileSent { token, result, .. } => {
                    machine.handle_file_sent(now, token, result, st)
                }
                Event::FileReceived { token, result, .. } => {
                    machine.handle_file_received(now, token, result, st)
                }
                Event::FilePrefetched { token, result } => {
                    machine.handle_file_prefetched(now, token, result, st)
                }
                Event::Drain => machine.handle_drain(now),
                Event::DrainDeadline { cause } => machine.handle_drain_deadline(now, cause, st),
                Event::SessionCancel { .. } if cancelled => machine.handle_cancel(now, st),
                _ => {}
            }
        }
        self.flush(ctx, now);
        // Cut: after the goodbye, the connection goes whatever the machine did.
        if let (true, Some(conn)) = (cut, self.conn)
            && !self.machine.as_ref().is_some_and(M::is_done)
        {
            let _ = ctx.close(conn);
        }
    }

    /// Carry out the machine's outputs, then arm the timer for its deadline.
    fn flush(&mut self, ctx: &mut Ctx<'_>, now: u64) {
        let Some(machine) = self.machine.as_mut() else {
            return;
        };
        while let Some(output) = machine.poll_output() {
            match (output, self.conn) {
                (ConnOutput::Log(level, line), _) => ctx.log(level, line),
                (ConnOutput::Transfer(t), conn) => {
                    if let Err(e) = ctx.emit(self.transfers_port, &t) {
                        ctx.debug(format_args!("transfer record not emitted: {e}"));
                    }
                    if let Some(key) = self.session {
                        // Described from its record last: a refusal then names its
                        // peer and file in the host's line for it (the access log), and
                        // a transfer its exact bytes (the host's count on the
                        // connection starts at the first description, after bytes that
                        // came with the request).
                        let described = std::mem::take(&mut self.described);
                        if !described || (t.bytes > 0 && !t.file.is_empty()) {
                            describe_record(ctx, key, self.peer, conn, &t);
                        }
                        if let Err(e) = ctx.end_session(key, t.outcome()) {
                            ctx.debug(format_args!("session end not taken: {e}"));
                        }
                    }
                }
                // Connection outputs once the connection is gone: nothing to do.
                (_, None) => {}
                (ConnOutput::Describe(info), Some(conn)) => {
                    let session = Session {
                        direction: info.direction,
                        peer: self.peer,
                        conn: Some(conn),
                        resource: &info.resource,
                        state: match info.direction {
                            Direction::Send => "sending",
                            Direction::Receive => "receiving",
                            Direction::None => "",
                        },
                        bytes_done: info.bytes_done,
                        bytes_total: info.bytes_total,
                    };
                    match ctx.describe_session(conn.0, &session) {
                        Ok(()) => self.described = true,
                        Err(e) => ctx.debug(format_args!("session not described: {e}")),
                    }
                }
                (ConnOutput::Write(data), Some(conn)) => {
                    if let Err(e) = ctx.write(conn, &data) {
                        // The client does not read its replies (buffer full) or is gone.
                        ctx.debug(format_args!("write failed: {e}; closing"));
                        let _ = ctx.close(conn);
                    }
                }
                (
                    ConnOutput::SendFile {
                        file,
                        offset,
                        len,
                        token,
                    },
                    Some(conn),
                ) => {
                    if let Err(e) = ctx.send_file(conn, file, offset, len, token) {
                        machine.handle_file_sent(now, token, Err(e), &mut self.waits.storage(ctx));
                    }
                }
                (ConnOutput::RecvToFile { file, len, token }, Some(conn)) => {
                    if let Err(e) = ctx.recv_to_file(conn, file, len, true, token) {
                        machine.handle_file_received(
                            now,
                            token,
                            Err(e),
                            &mut self.waits.storage(ctx),
                        );
                    }
                }
                (
                    ConnOutput::Prefetch {
                        file,
                        offset,
                        len,
                        token,
                    },
                    Some(_),
                ) => {
                    if let Err(e) = ctx.prefetch_file(file, offset, len, token) {
                        let st = &mut self.waits.storage(ctx);
                        machine.handle_file_prefetched(now, token, Err(e), st);
                    }
                }
                (ConnOutput::SetReading(on), Some(conn)) => {
                    let _ = ctx.set_reading(conn, on);
                }
                (ConnOutput::Close, Some(conn)) => {
                    let _ = ctx.close(conn);
                }
            }
        }
        let deadline = if self.conn.is_some() {
            machine.poll_timeout()
        } else {
            None
        };
        match deadline {
            Some(d) if self.armed != Some(d) => {
                let _ = ctx.set_timer(DEADLINE_TIMER, Duration::from_millis(d.saturating_sub(now)));
                self.armed = Some(d);
            }
            None if self.armed.is_some() => {
                let _ = ctx.cancel_timer(DEADLINE_TIMER);
                self.armed = None;
            }
            _ => {}
        }
    }
}

/// Describe session `key` from a transfer record that ends it without a description
/// (a request refused before any transfer began).
fn describe_record(
    ctx: &mut Ctx<'_>,
    key: u64,
    peer: Option<SocketAddr>,
    conn: Option<ConnId>,
    t: &TransferCompleted,
) {
    let session = Session {
        direction: match t.direction.as_str() {
            "download" => Direction::Send,
            "upload" => Direction::Receive,
            _ => Direction::None,
        },
        peer,
        conn,
        resource: &t.file,
        state: "",
        bytes_done: t.bytes,
        bytes_total: None,
    };
    if let Err(e) = ctx.describe_session(key, &session) {
        ctx.debug(format_args!("session not described: {e}"));
    }
}

#[cfg(test)]
mod tests;
