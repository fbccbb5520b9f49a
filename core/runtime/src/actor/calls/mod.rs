//! [`Calls`]: the plugin's actions, executed by the actor that owns its resources
//! (one file per resource: `conns`, `files`, `store`, `sockets`, `timers`, `messages`,
//! `sessions`, and `bus`: the cluster bus calls).
//!
//! These run *inside* a call into the plugin, so they never call the plugin back:
//! anything that produces an event (a completed receive, a fired timer, a flush) is
//! scheduled on the actor's context and delivered after the current call returns.

mod bus;
mod conns;
mod files;
mod messages;
mod sessions;
mod sockets;
mod store;
mod store_partial;
mod timers;

use std::net::SocketAddr;
use std::rc::Rc;

use actix::Context;
use slog::{debug, error, info, trace, warn};
use switchyard_sdk::Session;
use switchyard_sdk::abi::{self, SyStat};
use switchyard_sdk::host::HostCalls;

use super::InstanceActor;
use super::event::HostEvent;
use crate::instance::Instance;

/// The actor, lent to a plugin for one call.
pub struct Calls<'a> {
    pub actor: &'a mut InstanceActor,
    pub ctx: &'a mut Context<InstanceActor>,
}

/// When the plugin returns, the datagrams it sent during the call that were gathered
/// into batches go out (`udp_out`): whichever way the call ends.
impl Drop for Calls<'_> {
    fn drop(&mut self) {
        if !self.actor.res.unflushed.is_empty() {
            crate::actor::udp_send::flush_batches(self.actor, self.ctx);
        }
    }
}

/// Each call goes to the owner of the resource it acts on (`sockets`, `conns`,
/// `files`, `timers`, `messages`, `sessions`); logging is answered here.
impl HostCalls for Calls<'_> {
    fn log(&mut self, level: u32, msg: &str) {
        self.actor.phase.note_log(level, msg);
        let log = &self.actor.shared.log;
        let slog_level = match level {
            abi::SY_LOG_ERROR => slog::Level::Error,
            abi::SY_LOG_WARN => slog::Level::Warning,
            abi::SY_LOG_INFO => slog::Level::Info,
            abi::SY_LOG_DEBUG => slog::Level::Debug,
            _ => slog::Level::Trace,
        };
        // A plugin's per-request debug line costs no parsing when debug is off.
        if !slog::Drain::is_enabled(log, slog_level) {
            return;
        }
        let line = crate::logfmt::parse(msg);
        let fields = crate::logfmt::Fields(&line.fields);
        let msg = line.msg;
        match level {
            abi::SY_LOG_ERROR => error!(log, "{}", msg; fields),
            abi::SY_LOG_WARN => warn!(log, "{}", msg; fields),
            abi::SY_LOG_INFO => info!(log, "{}", msg; fields),
            abi::SY_LOG_DEBUG => debug!(log, "{}", msg; fields),
            _ => trace!(log, "{}", msg; fields),
        }
    }

    fn malformed(&mut self, call: &'static str) {
        self.actor.shared.metrics.error("malformed_call");
        warn!(self.actor.shared.log, "plugin call refused: malformed arguments"; "call" => call);
    }

    fn config_error(&mut self, msg: &str, line: u32, col: u32) {
        error!(self.actor.shared.log, "plugin configuration error"; "message" => msg, "line" => line, "col" => col);
    }

    fn send_datagram(&mut self, socket: u64, to: SocketAddr, data: &[u8]) -> u32 {
        sockets::send_datagram(self.actor, self.ctx, socket, to, data)
    }

    fn send_datagram_file(
        &mut self,
        socket: u64,
        to: SocketAddr,
        header: &[u8],
        file: u64,
        offset: u64,
        len: u32,
    ) -> Result<u32, u32> {
        let range = (file, offset, len);
        sockets::send_datagram_file(self.actor, self.ctx, socket, to, header, range)
    }

    fn open_udp(&mut self, like_socket: u64) -> Result<(u64, SocketAddr), u32> {
        sockets::open_udp(self.actor, self.ctx, like_socket, None)
    }

    fn open_udp_in(
        &mut self,
        like_socket: u64,
        ports: std::ops::RangeInclusive<u16>,
    ) -> Result<(u64, SocketAddr), u32> {
        sockets::open_udp(self.actor, self.ctx, like_socket, Some(ports))
    }

    fn close_socket(&mut self, socket: u64) -> u32 {
        sockets::close_socket(self.actor, self.ctx, socket)
    }

    fn write(&mut self, conn: u64, data: &[u8]) -> u32 {
        conns::write(self.actor, self.ctx, conn, data)
    }

    fn notify_drained(&mut self, conn: u64, token: u64) -> u32 {
        conns::notify_drained(self.actor, self.ctx, conn, token)
    }

    fn shutdown_write(&mut self, conn: u64) -> u32 {
        conns::shutdown_write(self.actor, self.ctx, conn)
    }

    fn close(&mut self, conn: u64) -> u32 {
        conns::close(self.actor, self.ctx, conn)
    }

    fn set_reading(&mut self, conn: u64, on: bool) -> u32 {
        conns::set_reading(self.actor, self.ctx, conn, on)
    }

    fn send_file(&mut self, conn: u64, file: u64, offset: u64, len: u64, token: u64) -> u32 {
        conns::send_file(self.actor, self.ctx, conn, file, offset, len, token)
    }

    fn recv_to_file(&mut self, conn: u64, file: u64, len: u64, sha256: bool, token: u64) -> u32 {
        conns::recv_to_file(self.actor, self.ctx, conn, file, len, sha256, token)
    }

    fn open_read(&mut self, path: &str) -> Result<(u64, u64), u32> {
        files::open_read(self.actor, path)
    }

    fn read_file(&mut self, file: u64, offset: u64, buf: &mut [u8]) -> Result<usize, u32> {
        files::read_file(self.actor, self.ctx, file, offset, buf)
    }

    fn create_temp(&mut self, path: &str) -> Result<u64, u32> {
        files::create_temp(self.actor, path)
    }

    fn open_partial(&mut self, path: &str) -> Result<(u64, u64), u32> {
        files::open_partial(self.actor, path)
    }

    fn write_file(&mut self, file: u64, data: &[u8]) -> u32 {
        files::write_file(self.actor, self.ctx, file, data)
    }

    fn commit_file(&mut self, file: u64, path: &str, overwrite: bool) -> u32 {
        files::commit_file(self.actor, self.ctx, file, path, overwrite)
    }

    fn close_file(&mut self, file: u64) -> u32 {
        if let Some(status) = store_partial::close(self.actor, self.ctx, file) {
            return status;
        }
        files::close_file(self.actor, self.ctx, file)
    }

    fn stat(&mut self, path: &str) -> Result<SyStat, u32> {
        files::stat(self.actor, path)
    }

    fn list_dir(&mut self, path: &str) -> Result<Vec<(String, SyStat)>, u32> {
        files::list_dir(self.actor, path)
    }

    fn remove_file(&mut self, path: &str) -> u32 {
        files::remove_file(self.actor, path)
    }

    fn free_space(&mut self) -> Result<u64, u32> {
        files::free_space(self.actor)
    }

    fn storage_begin(
        &mut self,
        op: switchyard_sdk::StoreOp<'_>,
        token: u64,
    ) -> Result<Option<abi::SyStorageDone>, u32> {
        store::begin(self, op, token)
    }

    fn bus_publish(&mut self, subject: &str, type_name: &str, data: &[u8]) -> u32 {
        bus::publish(self, subject, type_name, data)
    }

    fn bus_subscribe(&mut self, subject: &str, own: bool, token: u64) -> u32 {
        bus::subscribe(self, subject, own, token)
    }

    fn bus_unsubscribe(&mut self, token: u64) -> u32 {
        bus::unsubscribe(self, token)
    }

    fn bus_kv_begin(&mut self, op: switchyard_sdk::KvOp<'_>, token: u64) -> u32 {
        bus::kv_begin(self, op, token)
    }

    fn bus_identity(&mut self) -> Result<String, u32> {
        bus::identity(self)
    }

    fn bus_stream_read(&mut self, stream: &str, start: u64, token: u64) -> u32 {
        bus::stream_read(self, stream, start, token)
    }

    fn storage_listing(&mut self, token: u64) -> Result<Vec<(String, SyStat)>, u32> {
        match &self.actor.res.listing {
            Some((t, entries)) if *t == token => Ok(entries.clone()),
            _ => Err(abi::SY_ERR_INVALID),
        }
    }

    fn prefetch_file(&mut self, file: u64, offset: u64, len: u64, token: u64) -> u32 {
        files::prefetch_file(self.actor, self.ctx, file, offset, len, token)
    }

    fn set_timer(&mut self, token: u64, delay_ms: u64) -> u32 {
        timers::set_timer(self.actor, self.ctx, token, delay_ms)
    }

    fn cancel_timer(&mut self, token: u64) -> u32 {
        timers::cancel_timer(self.actor, self.ctx, token)
    }

    fn emit(&mut self, port: u32, data: &[u8]) -> u32 {
        messages::emit(self.actor, port, data)
    }

    fn hand_over_state(&mut self, version: u32, data: &[u8]) -> u32 {
        self.actor.phase.offer(version, data)
    }

    fn file_digest(&mut self, file: u64) -> Result<[u8; 32], u32> {
        files::file_digest(self.actor, file)
    }

    fn session_update(&mut self, session: u64, info: &Session<'_>) -> u32 {
        sessions::session_update(self.actor, session, info)
    }

    fn session_end(&mut self, session: u64, result: &str) -> u32 {
        sessions::session_end(self.actor, session, result)
    }

    fn counter_take(&mut self, name: &str, limit: u64) -> Result<u64, u32> {
        let a = &mut *self.actor;
        a.res
            .counters
            .take(a.shared.wide.counters(), name, limit)
            .ok_or(abi::SY_ERR_LIMIT)
    }

    fn counter_give(&mut self, name: &str) -> u32 {
        if self.actor.res.counters.give(name) {
            abi::SY_OK
        } else {
            abi::SY_ERR_INVALID
        }
    }
}

/// Lending the actor to its plugin: the only two ways into the instance.
impl InstanceActor {
    /// Create the instance and deliver `START`. `false` if the plugin refused.
    pub(super) fn create_instance(&mut self, ctx: &mut Context<Self>) -> bool {
        if !self.new_instance(ctx) {
            return false;
        }
        self.deliver(HostEvent::Start, ctx);
        true
    }

    /// Create the instance, without an event yet (a handover imports state first).
    /// `false` if the plugin refused.
    pub(super) fn new_instance(&mut self, ctx: &mut Context<Self>) -> bool {
        let shared = Rc::clone(&self.shared);
        let created = {
            let mut calls = Calls { actor: self, ctx };
            Instance::create(&shared.plugin, &shared.config_text, &mut calls)
        };
        match created {
            Ok(inst) => {
                self.instance = Some(inst);
                true
            }
            Err(status) => {
                error!(self.shared.log, "plugin refused to create an instance";
                    "status" => abi::status_name(status));
                false
            }
        }
    }

    /// Run `f` with the instance lent to it and the actor lent to the plugin, as an
    /// event delivery does (the state handover's export and import calls); a panic
    /// there poisons the instance, which the caller finds gone. Returns the status.
    pub(super) fn call_instance(
        &mut self,
        ctx: &mut Context<Self>,
        f: impl FnOnce(&mut Instance, u64, &mut Calls<'_>) -> u32,
    ) -> u32 {
        let Some(mut inst) = self.instance.take() else {
            return abi::SY_ERR_INVALID;
        };
        let now = self.shared.now_ms();
        let status = {
            let mut calls = Calls { actor: self, ctx };
            f(&mut inst, now, &mut calls)
        };
        if status != abi::SY_ERR_PANICKED && self.instance.is_none() {
            self.instance = Some(inst);
        }
        status
    }

    /// Deliver one event to the instance (if any) and handle a panic.
    pub(super) fn deliver(&mut self, event: HostEvent<'_>, ctx: &mut Context<Self>) {
        let Some(mut inst) = self.instance.take() else {
            return;
        };
        let event = event.lower(self.shared.now_ms());
        let status = {
            let mut calls = Calls { actor: self, ctx };
            inst.deliver(&event, &mut calls)
        };
        if status == abi::SY_ERR_PANICKED {
            drop(inst);
            self.on_panic(ctx);
            return;
        }
        if self.instance.is_none() {
            self.instance = Some(inst);
        }
        if status == abi::SY_ERR_PANICKED_CONN {
            self.on_connection_panic(event.conn, ctx);
        }
    }
}
