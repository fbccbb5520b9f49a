//! [`Tftp`]: the [`Protocol`] adapter. It owns no protocol logic: it asks
//! [`Admission`] about each request, does the file and socket I/O a request needs, and
//! runs the [`transfer`](crate::transfer) machines' actions through `Ctx`.
//!
//! One host timer per transfer (token = transfer id), armed lazily: it is re-armed only
//! when the machine's deadline moves earlier, or when it fires early. A fast transfer
//! thus costs about one timer call per timeout period, not one per packet.
//!
//! # Layout
//! - this file: the plugin's state, requests and their refusal, events routed.
//! - `open`: a request's storage (its file found and opened, or its temp made): a
//!   step that may wait for an object store, parked per peer meanwhile.
//! - `begin`: a request becomes a transfer (parameters, socket, first packets).
//! - `drive`: a transfer's actions run through `Ctx`, and its end (line, event).
//! - `locate`: where an admitted request's file is (client root, case folding).
//! - `ports`: where a transfer's packets go: its own socket (ephemeral, or from
//!   `port_range`), or the listen socket (`single_port: true`), where transfers are
//!   told apart by the client's address and port.
//! - `sessions`: each transfer as a host session (described, ended), and the ERROR
//!   every transfer left gets at the drain deadline.
//! - `waits`: a transfer on a store that waits: cold blocks prefetched then sent,
//!   read-ahead, and an upload's commit that waits.

use std::collections::HashMap;
use std::fmt::Display;
use std::net::SocketAddr;

use switchyard_sdk::Sharding;
use switchyard_sdk::prelude::*;

use crate::admission::{Admission, Request, Verdict};
use crate::config::Config;
use crate::netascii;
use crate::options::{Limits, Negotiated};
use crate::packet::{self, ErrorCode, RequestKind};
use crate::transfer::{Action, Ending, Params, Receiver, Sender};

mod begin;
mod drive;
mod locate;
mod open;
mod ports;
mod sessions;
mod waits;

/// The output port carrying one [`TransferCompleted`] per transfer.
pub const TRANSFERS_PORT: &str = "transfers";
/// The handler-wide count of transfers in flight, against `max_transfers`.
const TRANSFERS_COUNTER: &str = "transfers";
/// Storage tokens of commits: this bit and the transfer's id (`waits`).
const COMMIT_TOKENS: u64 = 1 << 63;

#[derive(Debug)]
enum Machine {
    Send(Sender),
    Recv(Receiver),
}

impl Machine {
    fn deadline(&self) -> Option<u64> {
        match self {
            Machine::Send(s) => s.deadline(),
            Machine::Recv(r) => r.deadline(),
        }
    }

    fn fail(&mut self, code: ErrorCode, why: &str, out: &mut Vec<Action<'_>>) {
        match self {
            Machine::Send(s) => s.fail(code, why, out),
            Machine::Recv(r) => r.fail(code, why, out),
        }
    }

    /// End a running transfer as aborted, telling the peer `why` (ERROR 0).
    fn cut(&mut self, why: &str, out: &mut Vec<Action<'_>>) {
        match self {
            Machine::Send(s) => s.cut(why, out),
            Machine::Recv(r) => r.cut(why, out),
        }
    }
}

#[derive(Debug)]
enum Convert {
    Encode(netascii::Encoder),
    Decode(netascii::Decoder),
}

/// One transfer in flight (or dallying).
#[derive(Debug)]
struct Live {
    machine: Machine,
    /// Where its packets go and come from: its own socket, or with `single_port` the
    /// listener its request came in on.
    socket: SocketId,
    /// `socket` is the transfer's own (closed with it), not the listener.
    own_socket: bool,
    /// Its key as a host session (`sessions`).
    session: u64,
    /// With `single_port`, its request as received (a repeat is dropped).
    request: Vec<u8>,
    peer: SocketAddr,
    /// The file being read, or the temp being written (until committed).
    file: Option<FileId>,
    kind: RequestKind,
    /// The file under the handler's root (client root joined, spelling found).
    path: String,
    /// The mapped name the admission counts the transfer under.
    name: String,
    /// The name as the client sent it, when the mapping changed it (for the log line).
    requested: Option<String>,
    convert: Option<Convert>,
    options: String,
    started_ms: u64,
    /// When the host timer is armed for.
    armed: Option<u64>,
    /// The result is not known yet (it counts as a session and against the limits).
    running: bool,
    closed: bool,
    /// Bytes the transfer will move, when known (the file's, or the upload's `tsize`).
    total: Option<u64>,
    /// Bytes done when last described to the host (`None`: not yet).
    described: Option<u64>,
    /// A download's file size (the prefetches' bound).
    file_size: u64,
    /// Blocks not sent because their bytes were not in memory (`waits`).
    unsent: Vec<waits::Block>,
    /// A block was once not in memory: the store waits, read ahead.
    cold: bool,
    /// The prefetch in flight, and where it ends.
    warming: Option<(u64, u64)>,
    /// Bytes prefetched so far from the start.
    warm_until: u64,
    /// The commit waits: the actions after it, and until when it may.
    after_commit: Option<Vec<Action<'static>>>,
    commit_by: Option<u64>,
}

/// The TFTP server plugin: one instance per handler serves every transfer.
#[derive(Debug)]
pub struct Tftp {
    cfg: Config,
    admission: Admission,
    transfers: HashMap<u64, Live>,
    by_socket: HashMap<SocketId, u64>,
    /// With `single_port`: the transfer of each (listener, client address and port).
    by_peer: HashMap<(SocketId, SocketAddr), u64>,
    next_id: u64,
    scratch: Vec<u8>,
    /// netascii downloads whose file is being prefetched, by prefetch token.
    prefetching: HashMap<u64, Parked>,
    next_prefetch: u64,
    /// Transfers whose blocks are being prefetched, by prefetch token (`waits`).
    warming: HashMap<u64, u64>,
    /// Requests whose storage step waits, by id (`open`).
    opening: HashMap<u64, open::Opening>,
    next_opening: u64,
}

/// A netascii RRQ waiting for its file to be in the page cache: netascii reads every
/// byte through the synchronous `read_file`, which must not wait for the disk on the
/// handler thread. It counts against the limits meanwhile.
#[derive(Debug)]
struct Parked {
    listener: SocketId,
    peer: SocketAddr,
    req: Request,
    path: String,
    file: FileId,
    size: u64,
}

/// `key=value` with the value quoted when it holds a space, quote or `=`.
fn kv(out: &mut String, key: &str, value: impl Display) {
    let v = value.to_string();
    if v.is_empty() || v.contains([' ', '"', '=']) {
        out.push_str(&format!(" {key}={v:?}"));
    } else {
        out.push_str(&format!(" {key}={v}"));
    }
}

/// A request's direction, as `TransferCompleted` and the log lines name it.
fn direction(kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Read => "download",
        RequestKind::Write => "upload",
    }
}

/// The TFTP error for a failed storage call.
fn storage_error(e: HostError) -> (ErrorCode, &'static str) {
    match e {
        HostError::NotFound => (ErrorCode::FileNotFound, "file not found"),
        HostError::Access => (ErrorCode::AccessViolation, "access violation"),
        HostError::IsDir => (ErrorCode::AccessViolation, "is a directory"),
        HostError::Exists => (ErrorCode::FileExists, "file already exists"),
        HostError::NoSpace => (ErrorCode::DiskFull, "disk full"),
        HostError::Limit => (ErrorCode::NotDefined, "server busy, try later"),
        _ => (ErrorCode::NotDefined, SERVER_ERROR),
    }
}

/// The message of a refusal caused by a storage failure (outcome `error`, not
/// `refused`: the server is at fault, not the request).
const SERVER_ERROR: &str = "server error";

/// How a refused request is counted.
fn refusal_outcome(code: ErrorCode, msg: &str) -> Ending {
    match code {
        ErrorCode::FileNotFound => Ending::NotFound,
        _ if msg == SERVER_ERROR || msg == open::STORE_SLOW => Ending::Error,
        _ => Ending::Refused,
    }
}

impl Tftp {
    fn limits(&self) -> Limits {
        Limits {
            max_blksize: self.cfg.max_blksize,
            max_windowsize: self.cfg.max_windowsize,
            client_buffer: u64::from(self.cfg.client_buffer_kib) * 1024,
        }
    }

    fn params(&self, n: &Negotiated) -> Params {
        let timeout_ms = n.timeout_ms.unwrap_or(self.cfg.timeout_ms);
        Params {
            blksize: n.blksize,
            windowsize: n.windowsize,
            timeout_ms,
            max_timeout_ms: self.cfg.max_timeout_ms.max(timeout_ms),
            max_retries: self.cfg.max_retries,
            dally_ms: self.cfg.dally_ms,
            max_bytes: self.cfg.max_upload_bytes,
        }
    }

    /// Refuse a request: an ERROR to the peer and a log line; for a request (not a
    /// stray packet, `kind` None) also a transfer record, so that refusals show in the
    /// metrics and the audit trail. The record names no file: the name was not taken.
    fn refuse(
        ctx: &mut Ctx<'_>,
        socket: SocketId,
        peer: SocketAddr,
        (kind, req): (Option<RequestKind>, &str),
        code: ErrorCode,
        msg: &str,
    ) {
        let _ = ctx.send_datagram(socket, peer, &packet::error(code, msg));
        let outcome = refusal_outcome(code, msg);
        let mut line = String::from("request refused");
        kv(&mut line, "peer", peer);
        kv(&mut line, "request", req);
        kv(&mut line, "code", code.code());
        kv(&mut line, "result", outcome);
        kv(&mut line, "reason", msg);
        // A file not found is routine (a PXE client probes for its configuration
        // files): at debug, like a transfer that went well; the access log has it.
        if outcome == Ending::NotFound {
            ctx.debug(line);
        } else {
            ctx.info(line);
        }
        let Some(kind) = kind else { return };
        Tftp::describe_refusal(ctx, peer, kind, req);
        Tftp::end_session(ctx, sessions::REFUSED, outcome);
        let event = TransferCompleted {
            protocol: "tftp".into(),
            peer: peer.to_string(),
            file: String::new(),
            direction: direction(kind).into(),
            bytes: 0,
            duration_ms: 0,
            sha256: None,
            result: outcome.into(),
        };
        if let Err(e) = ctx.emit(TRANSFERS_PORT, &event) {
            ctx.debug(format_args!("emit failed: {e}"));
        }
    }

    /// A datagram on the listener.
    fn on_request(&mut self, ctx: &mut Ctx<'_>, listener: SocketId, peer: SocketAddr, data: &[u8]) {
        let now = ctx.now_ms();
        match self.admission.check(now, peer, data) {
            Verdict::Drop(why) => ctx.debug(format_args!("dropped datagram from {peer}: {why}")),
            Verdict::Refuse { code, message } => {
                let req = match packet::Packet::parse(data) {
                    Ok(packet::Packet::Request { kind, filename, .. }) => (Some(kind), filename),
                    _ => (None, ""),
                };
                Tftp::refuse(ctx, listener, peer, req, code, &message)
            }
            Verdict::Accept(req) => {
                let what = (Some(req.kind), req.requested.as_str());
                if !self.take_transfer_slot(ctx) {
                    let (code, msg) = (ErrorCode::NotDefined, "server busy, try later");
                    return Tftp::refuse(ctx, listener, peer, what, code, msg);
                }
                if let Err((code, msg)) = self.start(ctx, listener, peer, &req) {
                    if !self.admission.is_running(peer, &req) {
                        let _ = ctx.give_count(TRANSFERS_COUNTER);
                    }
                    Tftp::refuse(ctx, listener, peer, what, code, msg);
                }
            }
        }
    }

    /// `max_transfers` across every worker of the handler (this instance sees only the
    /// clients sharded to it; `max_transfers_per_client` and the request rate are
    /// exact here, since all of one client's requests come to one instance). A host
    /// without shared counters leaves the instance's own count to apply.
    fn take_transfer_slot(&mut self, ctx: &mut Ctx<'_>) -> bool {
        let limit = u64::from(self.cfg.max_transfers);
        !matches!(
            ctx.take_count(TRANSFERS_COUNTER, limit),
            Err(HostError::Limit)
        )
    }

    /// A transfer no longer counts: here, and in the handler-wide count.
    fn transfer_ended(
        &mut self,
        ctx: &mut Ctx<'_>,
        peer: SocketAddr,
        kind: RequestKind,
        path: &str,
    ) {
        if self.admission.ended(peer, kind, path) {
            let _ = ctx.give_count(TRANSFERS_COUNTER);
        }
    }
}

impl Protocol for Tftp {
    type Config = Config;
    const NAME: &'static str = "tftp";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "TFTP server (RFC 1350, 2347, 2348, 2349, 7440)";
    const LISTENERS: Listeners = Listeners::UDP;
    /// All of one client's requests to one worker: its transfers, rate and limits live
    /// in that worker's instance; `max_transfers` is a handler-wide counter.
    const SHARDING: Sharding = Sharding::PeerIp;
    const PORTS: &'static [Port] = &[Port::output(TRANSFERS_PORT, TransferCompleted::TYPE)];
    /// A request's storage is a step that parks while it waits (`open`), blocks not in
    /// memory are prefetched then sent, an upload's commit may wait (`waits`).
    const STORAGE_WAITS: bool = true;

    fn new(config: Config, _ctx: &mut Ctx<'_>) -> Result<Self, String> {
        config.check()?;
        Ok(Tftp {
            admission: Admission::new(&config),
            cfg: config,
            transfers: HashMap::new(),
            by_socket: HashMap::new(),
            by_peer: HashMap::new(),
            next_id: 0,
            scratch: Vec::new(),
            prefetching: HashMap::new(),
            next_prefetch: 0,
            warming: HashMap::new(),
            opening: HashMap::new(),
            next_opening: 0,
        })
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: Event<'_>) {
        match event {
            Event::Datagram {
                socket, peer, data, ..
            } => match self.by_socket.get(&socket) {
                Some(&id) => self.on_transfer_packet(ctx, id, peer, data),
                None if self.cfg.single_port => self.on_listener(ctx, socket, peer, data),
                None => self.on_request(ctx, socket, peer, data),
            },
            Event::Timer { token } if token >= open::OPEN_TIMERS => {
                self.on_open_timeout(ctx, token - open::OPEN_TIMERS)
            }
            Event::Timer { token } => self.on_timer(ctx, token),
            Event::FilePrefetched { token, result } => self.on_prefetched(ctx, token, result),
            Event::StorageDone { token, result } => self.on_storage_done(ctx, token, result),
            Event::Replaced => self.replaced(ctx),
            Event::Drain => self.admission.draining = true,
            Event::DrainDeadline { .. } => self.cut_all(ctx),
            Event::SessionCancel { session } => self.cancel(ctx, session),
            _ => {}
        }
    }

    fn active_sessions(&self) -> u64 {
        let running = self.transfers.values().filter(|l| l.running).count();
        (running + self.prefetching.len() + self.openings_waiting()) as u64
    }
}

switchyard_sdk::declare_plugin!(Tftp);

#[cfg(test)]
mod tests;
