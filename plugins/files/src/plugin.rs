//! The `Protocol` impl: the files [`Session`] run by the SDK's [`ConnAdapter`].
//!
//! One instance per connection (`InstanceMode::PerConnection`): a panic costs one
//! connection, and the session needs no connection map. How events reach the machine
//! and its outputs reach the host is the SDK's, shared with the bulk plugin and the
//! fuzz harness; this file only says which machine, and how its outputs read.

use switchyard_sdk::conn::{ConnAdapter, ConnMachine, ConnOutput, RecvResult, SendResult};
use switchyard_sdk::prelude::*;
use switchyard_sdk::{DrainCause, Sharding};

use crate::config::Config;
use crate::machine::{Session, Storage};

/// The output port every transfer is reported on.
pub const TRANSFERS_PORT: &str = "transfers";

/// The files handler, one per connection.
#[derive(Debug)]
pub struct FilesPlugin {
    cfg: Config,
    conn: ConnAdapter<Session>,
}

impl Protocol for FilesPlugin {
    type Config = Config;
    const NAME: &'static str = "files";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Command file server: seed v1 and framed v2 on one TCP port";
    const LISTENERS: Listeners = Listeners::TCP;
    const MODE: InstanceMode = InstanceMode::PerConnection;
    /// Each connection has its own instance: any worker may serve any connection.
    const SHARDING: Sharding = Sharding::Any;
    const PORTS: &'static [Port] = &[Port::output(TRANSFERS_PORT, TransferCompleted::TYPE)];
    /// Every request's storage calls are a step that parks while it waits
    /// (`machine::park`); `HASH` prefetches what it reads; downloads go by `sendfile`.
    const STORAGE_WAITS: bool = true;

    fn new(config: Config, _ctx: &mut Ctx<'_>) -> Result<Self, String> {
        config.validate()?;
        Ok(FilesPlugin {
            cfg: config,
            conn: ConnAdapter::new(TRANSFERS_PORT),
        })
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: Event<'_>) {
        let cfg = &self.cfg;
        self.conn
            .on_event(ctx, event, |peer, now| Session::new(cfg.clone(), peer, now));
    }

    fn active_sessions(&self) -> u64 {
        self.conn.active_sessions()
    }
}

impl ConnMachine for Session {
    fn handle_bytes(&mut self, now: u64, data: &[u8], st: &mut dyn Storage) {
        Session::handle_bytes(self, now, data, st)
    }
    fn handle_eof(&mut self, now: u64, st: &mut dyn Storage) {
        Session::handle_eof(self, now, st)
    }
    fn handle_closed(&mut self, now: u64, reason: &str, st: &mut dyn Storage) {
        Session::handle_closed(self, now, reason, st)
    }
    fn handle_timeout(&mut self, now: u64, st: &mut dyn Storage) {
        Session::handle_timeout(self, now, st)
    }
    fn handle_file_sent(&mut self, now: u64, token: u64, r: SendResult, st: &mut dyn Storage) {
        Session::handle_file_sent(self, now, token, r, st)
    }
    fn handle_file_received(&mut self, now: u64, token: u64, r: RecvResult, st: &mut dyn Storage) {
        Session::handle_file_received(self, now, token, r, st)
    }
    fn handle_drain(&mut self, now: u64) {
        Session::handle_drain(self, now)
    }
    fn handle_storage_ready(&mut self, now: u64, st: &mut dyn Storage) {
        Session::handle_storage_ready(self, now, st)
    }
    fn handle_file_prefetched(
        &mut self,
        now: u64,
        token: u64,
        r: Result<(), HostError>,
        st: &mut dyn Storage,
    ) {
        Session::handle_file_prefetched(self, now, token, r, st)
    }
    fn handle_drain_deadline(&mut self, now: u64, cause: DrainCause, st: &mut dyn Storage) {
        Session::handle_drain_deadline(self, now, cause, st)
    }
    fn handle_cancel(&mut self, now: u64, st: &mut dyn Storage) {
        Session::handle_cancel(self, now, st)
    }
    fn poll_output(&mut self) -> Option<ConnOutput> {
        Session::poll_output(self)
    }
    fn poll_timeout(&self) -> Option<u64> {
        Session::poll_timeout(self)
    }
    fn busy(&self) -> bool {
        Session::busy(self)
    }
    fn is_done(&self) -> bool {
        Session::is_done(self)
    }
}

#[cfg(test)]
mod tests;
