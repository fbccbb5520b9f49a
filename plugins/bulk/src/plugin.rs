//! The `Protocol` impl: a thin adapter between host events and a [`Session`].
//!
//! One instance per connection (`InstanceMode::PerConnection`): a panic costs one
//! connection and the session needs no connection map. Events go to the machine with
//! `ctx.now_ms()` and `ctx` as its [`crate::machine::Storage`]; its outputs are carried
//! out in order; its one deadline becomes the one host timer.

use std::time::Duration;

use switchyard_sdk::prelude::*;

use crate::config::Config;
use crate::machine::{Output, Session};

/// The only timer: the session's deadline.
const DEADLINE_TIMER: u64 = 1;
/// The output port every transfer is reported on.
pub const TRANSFERS_PORT: &str = "transfers";

/// The bulk handler, one per connection.
#[derive(Debug)]
pub struct BulkPlugin {
    cfg: Config,
    conn: Option<ConnId>,
    session: Option<Session>,
    /// Deadline the host timer is armed for.
    armed: Option<u64>,
}

impl Protocol for BulkPlugin {
    type Config = Config;
    const NAME: &'static str = "bulk";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str =
        "Bulk transfer: seed v1 length-prefixed uploads and verified, resumable v2 on one TCP port";
    const LISTENERS: Listeners = Listeners::TCP;
    const MODE: InstanceMode = InstanceMode::PerConnection;
    const PORTS: &'static [Port] = &[Port::output(TRANSFERS_PORT, TransferCompleted::TYPE)];

    fn new(config: Config, _ctx: &mut Ctx<'_>) -> Result<Self, String> {
        config.validate()?;
        Ok(BulkPlugin {
            cfg: config,
            conn: None,
            session: None,
            armed: None,
        })
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: Event<'_>) {
        let now = ctx.now_ms();
        if let Event::ConnOpened { conn, peer, .. } = event {
            self.conn = Some(conn);
            self.session = Some(Session::new(self.cfg.clone(), peer.to_string(), now));
        }
        let Some(session) = self.session.as_mut() else {
            return;
        };
        session.set_wall_clock((ctx.now_unix_ms() / 1000) as i64);
        match event {
            Event::Bytes { data, .. } => session.handle_bytes(now, data, ctx),
            Event::PeerEof { .. } => session.handle_eof(now, ctx),
            Event::ConnClosed { error, .. } => {
                let reason = error.map_or_else(
                    || "connection closed".to_owned(),
                    |e| format!("connection {e}"),
                );
                self.conn = None;
                session.handle_closed(now, &reason, ctx);
            }
            Event::Timer {
                token: DEADLINE_TIMER,
            } => {
                self.armed = None;
                session.handle_timeout(now, ctx);
            }
            Event::FileReceived { token, result, .. } => {
                session.handle_file_received(now, token, result, ctx)
            }
            Event::FileSent { token, result, .. } => {
                session.handle_file_sent(now, token, result, ctx)
            }
            Event::Drain => session.handle_drain(now),
            _ => {}
        }
        self.flush(ctx, now);
    }

    fn active_sessions(&self) -> u64 {
        self.session.as_ref().is_some_and(Session::busy) as u64
    }
}

impl BulkPlugin {
    /// Carry out the session's outputs, then arm the timer for its deadline.
    fn flush(&mut self, ctx: &mut Ctx<'_>, now: u64) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        while let Some(output) = session.poll_output() {
            match output {
                Output::Info(line) => ctx.info(line),
                Output::Warn(line) => ctx.warn(line),
                Output::Transfer(t) => {
                    if let Err(e) = ctx.emit(TRANSFERS_PORT, &t) {
                        ctx.debug(format_args!("transfer record not emitted: {e}"));
                    }
                }
                // Connection outputs once the connection is gone: nothing to do.
                _ if self.conn.is_none() => {}
                Output::Write(data) => {
                    let conn = self.conn.expect("checked");
                    if let Err(e) = ctx.write(conn, &data) {
                        ctx.debug(format_args!("write failed: {e}; closing"));
                        let _ = ctx.close(conn);
                    }
                }
                Output::RecvToFile { file, len, token } => {
                    let conn = self.conn.expect("checked");
                    if let Err(e) = ctx.recv_to_file(conn, file, len, true, token) {
                        session.handle_file_received(now, token, Err(e), ctx);
                    }
                }
                Output::SendFile {
                    file,
                    offset,
                    len,
                    token,
                } => {
                    let conn = self.conn.expect("checked");
                    if let Err(e) = ctx.send_file(conn, file, offset, len, token) {
                        session.handle_file_sent(now, token, Err(e), ctx);
                    }
                }
                Output::Close => {
                    let _ = ctx.close(self.conn.expect("checked"));
                }
            }
        }
        let deadline = if self.conn.is_some() {
            session.poll_timeout()
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
