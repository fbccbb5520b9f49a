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
//! A plugin keeps its own `Protocol` impl (its name, config and ports are its own) and
//! forwards `on_event` and `active_sessions` to a [`ConnAdapter`]:
//!
//! ```ignore
//! fn on_event(&mut self, ctx: &mut Ctx<'_>, event: Event<'_>) {
//!     let cfg = &self.cfg;
//!     self.conn.on_event(ctx, event, |peer, now| Session::new(cfg.clone(), peer, now));
//! }
//! ```

use std::time::Duration;

use crate::messages::TransferCompleted;
use crate::{ConnId, Ctx, Event, FileId, HostError, Level, Storage};

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
    /// Pause (`false`) or resume reading.
    SetReading(bool),
    /// Close after everything queued is sent.
    Close,
    /// A finished (or failed) transfer, for the adapter's transfers port. Still
    /// reported after the connection is gone.
    Transfer(TransferCompleted),
    /// A log line. Still logged after the connection is gone.
    Log(Level, String),
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
    /// The host is shutting down: finish what is in flight, start nothing new.
    fn handle_drain(&mut self, now: u64);
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

/// The only timer the adapter sets: the machine's deadline.
pub const DEADLINE_TIMER: u64 = 1;

/// Runs one [`ConnMachine`] for a `PerConnection` [`crate::Protocol`]: the machine
/// starts at `ConnOpened`, its outputs become host calls, its deadline the one host
/// timer ([`DEADLINE_TIMER`]), and its transfers are emitted on `transfers_port`.
#[derive(Debug)]
pub struct ConnAdapter<M> {
    transfers_port: &'static str,
    conn: Option<ConnId>,
    machine: Option<M>,
    /// Deadline the host timer is armed for.
    armed: Option<u64>,
}

impl<M: ConnMachine> ConnAdapter<M> {
    /// An adapter waiting for its connection; transfer records go to `transfers_port`.
    pub fn new(transfers_port: &'static str) -> Self {
        ConnAdapter {
            transfers_port,
            conn: None,
            machine: None,
            armed: None,
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
            self.machine = Some(open(peer.to_string(), now));
        }
        let Some(machine) = self.machine.as_mut() else {
            return;
        };
        machine.set_wall_clock((ctx.now_unix_ms() / 1000) as i64);
        match event {
            Event::Bytes { data, .. } => machine.handle_bytes(now, data, ctx),
            Event::PeerEof { .. } => machine.handle_eof(now, ctx),
            Event::ConnClosed { error, .. } => {
                let reason = error.map_or_else(
                    || "connection closed".to_owned(),
                    |e| format!("connection {e}"),
                );
                self.conn = None;
                machine.handle_closed(now, &reason, ctx);
            }
            Event::Timer {
                token: DEADLINE_TIMER,
            } => {
                self.armed = None;
                machine.handle_timeout(now, ctx);
            }
            Event::FileSent { token, result, .. } => {
                machine.handle_file_sent(now, token, result, ctx)
            }
            Event::FileReceived { token, result, .. } => {
                machine.handle_file_received(now, token, result, ctx)
            }
            Event::Drain => machine.handle_drain(now),
            _ => {}
        }
        self.flush(ctx, now);
    }

    /// Carry out the machine's outputs, then arm the timer for its deadline.
    fn flush(&mut self, ctx: &mut Ctx<'_>, now: u64) {
        let Some(machine) = self.machine.as_mut() else {
            return;
        };
        while let Some(output) = machine.poll_output() {
            match (output, self.conn) {
                (ConnOutput::Log(level, line), _) => ctx.log(level, line),
                (ConnOutput::Transfer(t), _) => {
                    if let Err(e) = ctx.emit(self.transfers_port, &t) {
                        ctx.debug(format_args!("transfer record not emitted: {e}"));
                    }
                }
                // Connection outputs once the connection is gone: nothing to do.
                (_, None) => {}
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
                        machine.handle_file_sent(now, token, Err(e), ctx);
                    }
                }
                (ConnOutput::RecvToFile { file, len, token }, Some(conn)) => {
                    if let Err(e) = ctx.recv_to_file(conn, file, len, true, token) {
                        machine.handle_file_received(now, token, Err(e), ctx);
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

#[cfg(test)]
mod tests;
