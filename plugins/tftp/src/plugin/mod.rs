//! [`Tftp`]: the [`Protocol`] adapter. It owns no protocol logic: it asks
//! [`Admission`] about each request, does the file and socket I/O a request needs, and
//! runs the [`transfer`](crate::transfer) machines' actions through `Ctx`.
//!
//! One host timer per transfer (token = transfer id), armed lazily: it is re-armed only
//! when the machine's deadline moves earlier, or when it fires early. A fast transfer
//! thus costs about one timer call per timeout period, not one per packet.
//!
//! # Layout
//! - this file: requests, transfers and their actions.
//! - `locate`: where an admitted request's file is (client root, case folding).
//! - `ports`: where a transfer's packets go: its own socket (ephemeral, or from
//!   `port_range`), or the listen socket (`single_port: true`), where transfers are
//!   told apart by the client's address and port.
//! - `sessions`: each transfer as a host session (described, ended), and the ERROR
//!   every transfer left gets at the drain deadline.

use std::collections::HashMap;
use std::fmt::Display;
use std::net::SocketAddr;
use std::time::Duration;

use switchyard_sdk::Sharding;
use switchyard_sdk::prelude::*;

use crate::admission::{Admission, Request, Verdict};
use crate::config::Config;
use crate::netascii;
use crate::options::{self, Limits, Negotiated};
use crate::packet::{self, ErrorCode, RequestKind};
use crate::transfer::{Action, Ending, Outcome, Params, Receiver, Sender};

mod locate;
mod ports;
mod sessions;

/// The output port carrying one [`TransferCompleted`] per transfer.
pub const TRANSFERS_PORT: &str = "transfers";
/// The handler-wide count of transfers in flight, against `max_transfers`.
const TRANSFERS_COUNTER: &str = "transfers";

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
        _ if msg == SERVER_ERROR => Ending::Error,
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

    fn start(
        &mut self,
        ctx: &mut Ctx<'_>,
        listener: SocketId,
        peer: SocketAddr,
        req: &Request,
    ) -> Result<(), (ErrorCode, &'static str)> {
        let path = self.locate(ctx, req)?;
        if req.kind == RequestKind::Read && req.netascii {
            return self.prefetch_netascii(ctx, listener, peer, req, path);
        }
        self.begin(ctx, listener, peer, req, &path, None)
    }

    /// Open a netascii download's file and have the host bring it into the page cache;
    /// the transfer begins when it is there ([`Tftp::on_prefetched`]).
    fn prefetch_netascii(
        &mut self,
        ctx: &mut Ctx<'_>,
        listener: SocketId,
        peer: SocketAddr,
        req: &Request,
        path: String,
    ) -> Result<(), (ErrorCode, &'static str)> {
        let (file, size) = ctx.open_read(&path).map_err(storage_error)?;
        if size > self.cfg.max_netascii_bytes {
            let _ = ctx.close_file(file);
            return Err((
                ErrorCode::NotDefined,
                "file too large for netascii, use octet",
            ));
        }
        self.next_prefetch += 1;
        let token = self.next_prefetch;
        if let Err(e) = ctx.prefetch_file(file, 0, size, token) {
            let _ = ctx.close_file(file);
            return Err(storage_error(e));
        }
        self.admission.started(peer, req);
        let parked = Parked {
            listener,
            peer,
            req: req.clone(),
            path,
            file,
            size,
        };
        self.prefetching.insert(token, parked);
        Ok(())
    }

    /// A netascii download's file is cached (or could not be read): begin it, or
    /// refuse it.
    fn on_prefetched(&mut self, ctx: &mut Ctx<'_>, token: u64, result: Result<(), HostError>) {
        let Some(p) = self.prefetching.remove(&token) else {
            return;
        };
        let begun = match result {
            Ok(()) => {
                let opened = Some((p.file, p.size));
                self.begin(ctx, p.listener, p.peer, &p.req, &p.path, opened)
            }
            Err(e) => {
                let _ = ctx.close_file(p.file);
                Err(storage_error(e))
            }
        };
        if let Err((code, msg)) = begun {
            self.transfer_ended(ctx, p.peer, p.req.kind, &p.req.path);
            let what = (Some(p.req.kind), p.req.requested.as_str());
            Tftp::refuse(ctx, p.listener, p.peer, what, code, msg);
        }
    }

    /// Begin a transfer of `path` (its file under the root): negotiate, open its
    /// socket, send the first packet. `opened`: a download's file, already open and
    /// counted against the limits (netascii).
    fn begin(
        &mut self,
        ctx: &mut Ctx<'_>,
        listener: SocketId,
        peer: SocketAddr,
        req: &Request,
        path: &str,
        opened: Option<(FileId, u64)>,
    ) -> Result<(), (ErrorCode, &'static str)> {
        let now = ctx.now_ms();
        let opts: Vec<packet::Opt<'_>> = req
            .options
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let (file, neg, total, convert) = match req.kind {
            RequestKind::Read => {
                let (file, size) = match opened {
                    Some(f) => f,
                    None => ctx.open_read(path).map_err(storage_error)?,
                };
                let (total, convert) = if req.netascii {
                    match Tftp::netascii_len(ctx, file, size) {
                        Ok(total) => (total, Some(Convert::Encode(netascii::Encoder::new(size)))),
                        Err(e) => {
                            let _ = ctx.close_file(file);
                            return Err(storage_error(e));
                        }
                    }
                } else {
                    (size, None)
                };
                let neg = options::negotiate(
                    req.kind,
                    &opts,
                    self.limits(),
                    (!req.netascii).then_some(size),
                );
                (file, neg, total, convert)
            }
            RequestKind::Write => {
                match ctx.stat(path) {
                    Ok(st) if st.is_dir => {
                        return Err((ErrorCode::AccessViolation, "is a directory"));
                    }
                    Ok(_) if !self.cfg.allow_overwrite => {
                        return Err((ErrorCode::FileExists, "file already exists"));
                    }
                    Ok(_) | Err(HostError::NotFound) => {}
                    Err(e) => return Err(storage_error(e)),
                }
                let neg = options::negotiate(req.kind, &opts, self.limits(), None);
                let free = ctx.free_space().unwrap_or(u64::MAX);
                let room = free.saturating_sub(self.cfg.reserve_free_bytes);
                if let Some(size) = neg.tsize {
                    if size > self.cfg.max_upload_bytes {
                        return Err((ErrorCode::DiskFull, "file too large"));
                    }
                    if size > room {
                        return Err((ErrorCode::DiskFull, "disk full"));
                    }
                }
                if room == 0 {
                    return Err((ErrorCode::DiskFull, "disk full"));
                }
                let file = ctx.create_temp(path).map_err(storage_error)?;
                let convert = req
                    .netascii
                    .then(|| Convert::Decode(netascii::Decoder::new()));
                (file, neg, room, convert)
            }
        };
        let (socket, own_socket) = match self.transfer_socket(ctx, listener) {
            Ok(opened) => opened,
            Err(refusal) => {
                let _ = ctx.close_file(file);
                return Err(refusal);
            }
        };
        let mut params = self.params(&neg);
        let oack = (!neg.granted.is_empty()).then(|| packet::oack(&neg.granted));
        let mut out = Vec::new();
        let size_told = neg.granted.iter().any(|(n, _)| n == "tsize");
        let machine = match req.kind {
            RequestKind::Read => {
                let mut sender = Sender::server(now, params, peer, total, oack, &mut out);
                if size_told {
                    sender.offer_size();
                }
                Machine::Send(sender)
            }
            RequestKind::Write => {
                params.max_bytes = params.max_bytes.min(total);
                Machine::Recv(Receiver::server(now, params, peer, oack, &mut out))
            }
        };
        self.next_id += 1;
        let id = self.next_id;
        if opened.is_none() {
            self.admission.started(peer, req);
        }
        let session = if own_socket {
            self.by_socket.insert(socket, id);
            socket.0
        } else {
            self.by_peer.insert((socket, peer), id);
            ports::session_key(id)
        };
        let live = Live {
            machine,
            socket,
            own_socket,
            session,
            request: req.datagram.clone(),
            peer,
            file: Some(file),
            kind: req.kind,
            path: path.to_owned(),
            name: req.path.clone(),
            requested: (req.requested != path).then(|| req.requested.clone()),
            convert,
            options: neg.summary(),
            started_ms: now,
            armed: None,
            running: true,
            closed: false,
            total: match req.kind {
                RequestKind::Read => Some(total),
                RequestKind::Write => neg.tsize,
            },
            described: None,
        };
        self.step(ctx, id, live, out);
        Ok(())
    }

    /// The netascii length of a file: one counting pass, so the last block is known.
    fn netascii_len(ctx: &mut Ctx<'_>, file: FileId, size: u64) -> Result<u64, HostError> {
        let mut buf = vec![0u8; 64 * 1024];
        let (mut off, mut total) = (0u64, 0u64);
        while off < size {
            let n = ctx.read_file(file, off, &mut buf)?;
            if n == 0 {
                break;
            }
            total += netascii::encoded_len(&buf[..n]);
            off += n as u64;
        }
        Ok(total)
    }

    /// Run `actions` for transfer `live`, then put it back (or drop it) and arm its timer.
    fn step(&mut self, ctx: &mut Ctx<'_>, id: u64, mut live: Live, actions: Vec<Action<'_>>) {
        let mut failure = None;
        for action in actions {
            if let Err(f) = self.exec(ctx, &mut live, action) {
                failure = Some(f);
                break;
            }
        }
        if let Some((code, why)) = failure {
            let mut more = Vec::new();
            live.machine.fail(code, why, &mut more);
            for action in more {
                let _ = self.exec(ctx, &mut live, action);
            }
        }
        if !live.running && !live.closed {
            // Dallying: worth a socket only while few transfers do it at once.
            let dallying = self.transfers.values().filter(|l| !l.running).count();
            if dallying >= self.cfg.max_transfers as usize {
                let _ = self.exec(ctx, &mut live, Action::Close);
            }
        }
        if live.closed {
            let _ = ctx.cancel_timer(id);
            return;
        }
        if live.running {
            Tftp::describe(ctx, &mut live);
        }
        match live.machine.deadline() {
            Some(d) if live.armed.is_none_or(|a| d < a) => {
                let delay = Duration::from_millis(d.saturating_sub(ctx.now_ms()));
                // If the host refuses (timer limit), stay unarmed: the next event retries.
                live.armed = ctx.set_timer(id, delay).ok().map(|()| d);
            }
            None if live.armed.is_some() => {
                let _ = ctx.cancel_timer(id);
                live.armed = None;
            }
            _ => {}
        }
        self.transfers.insert(id, live);
    }

    fn exec(
        &mut self,
        ctx: &mut Ctx<'_>,
        live: &mut Live,
        action: Action<'_>,
    ) -> Result<(), (ErrorCode, &'static str)> {
        match action {
            Action::Send { to, packet } => {
                if let Err(e) = ctx.send_datagram(live.socket, to, &packet) {
                    ctx.debug(format_args!("send to {to} failed: {e}"));
                }
            }
            Action::SendBlock {
                to,
                block,
                offset,
                len,
            } => {
                let file = live.file.ok_or((ErrorCode::NotDefined, "server error"))?;
                let sent = match &mut live.convert {
                    Some(Convert::Encode(enc)) => {
                        if let Machine::Send(s) = &live.machine {
                            enc.release(s.acked_offset());
                        }
                        let mut read = |off: u64, buf: &mut [u8]| ctx.read_file(file, off, buf);
                        let payload = enc
                            .get(offset, len as usize, &mut read)
                            .map_err(|_| (ErrorCode::NotDefined, "read error"))?;
                        self.scratch.clear();
                        self.scratch.extend_from_slice(&packet::data_header(block));
                        self.scratch.extend_from_slice(payload);
                        ctx.send_datagram(live.socket, to, &self.scratch)
                            .map(|_| ())
                    }
                    // The host sends a range only whole: fewer bytes than planned means
                    // the file shrank since it was opened, and a short DATA would tell the
                    // client "this is the end" of a truncated file. Nothing went out; fail.
                    _ => match ctx.send_datagram_file(
                        live.socket,
                        to,
                        &packet::data_header(block),
                        file,
                        offset,
                        len,
                    ) {
                        Ok(n) if n != len => {
                            return Err((ErrorCode::NotDefined, "file changed during transfer"));
                        }
                        other => other.map(|_| ()),
                    },
                };
                match sent {
                    // A full socket buffer or a vanished peer: the retransmission clock copes.
                    Ok(()) | Err(HostError::Limit | HostError::Closed) => {}
                    Err(_) => return Err((ErrorCode::NotDefined, "read error")),
                }
            }
            Action::Write(data) => {
                let file = live.file.ok_or((ErrorCode::NotDefined, "server error"))?;
                let result = match &mut live.convert {
                    Some(Convert::Decode(dec)) => {
                        self.scratch.clear();
                        dec.decode(data, &mut self.scratch);
                        ctx.write_file(file, &self.scratch)
                    }
                    _ => ctx.write_file(file, data),
                };
                result.map_err(storage_error)?;
            }
            Action::Commit => {
                let file = live.file.ok_or((ErrorCode::NotDefined, "server error"))?;
                if let Some(Convert::Decode(dec)) = &mut live.convert {
                    self.scratch.clear();
                    dec.finish(&mut self.scratch);
                    if !self.scratch.is_empty() {
                        ctx.write_file(file, &self.scratch).map_err(storage_error)?;
                    }
                }
                ctx.commit_file(file, &live.path, self.cfg.allow_overwrite)
                    .map_err(storage_error)?;
                live.file = None;
            }
            Action::Finished(outcome) => self.finished(ctx, live, &outcome),
            Action::Close => {
                if live.own_socket {
                    let _ = ctx.close_socket(live.socket);
                    self.by_socket.remove(&live.socket);
                } else {
                    self.by_peer.remove(&(live.socket, live.peer));
                }
                if let Some(file) = live.file.take() {
                    // An uncommitted temp file is deleted by the host here.
                    let _ = ctx.close_file(file);
                }
                live.closed = true;
            }
        }
        Ok(())
    }

    /// Log the summary line, emit the typed event, release the limits.
    fn finished(&mut self, ctx: &mut Ctx<'_>, live: &mut Live, o: &Outcome) {
        if !live.running {
            return;
        }
        live.running = false;
        self.transfer_ended(ctx, live.peer, live.kind, &live.name);
        let duration_ms = ctx.now_ms().saturating_sub(live.started_ms);
        let direction = direction(live.kind);
        let rate = o.bytes as f64 / (duration_ms.max(1) as f64 / 1000.0) / 1e6;
        let mut line = String::from("transfer");
        kv(&mut line, "peer", live.peer);
        kv(&mut line, "file", &live.path);
        if let Some(requested) = &live.requested {
            kv(&mut line, "requested", requested);
        }
        kv(&mut line, "direction", direction);
        kv(
            &mut line,
            "mode",
            if live.convert.is_some() {
                "netascii"
            } else {
                "octet"
            },
        );
        kv(&mut line, "bytes", o.bytes);
        kv(&mut line, "options", &live.options);
        kv(&mut line, "duration_ms", duration_ms);
        kv(&mut line, "rate", format_args!("{rate:.2}MB/s"));
        kv(&mut line, "retransmits", o.retransmits);
        kv(&mut line, "result", o.kind);
        if !o.ok() {
            kv(&mut line, "reason", &o.reason);
        }
        // A transfer that went as asked costs no log write at the usual level: its
        // record is the host's access log line (docs/decisions/access-log.md). A size
        // probe did what its client meant: not a failure, no warning; kept at info,
        // as the names work decided (docs/robustness.md, the UEFI size probe row).
        if o.ok() {
            ctx.debug(line);
        } else if o.kind == Ending::Probe {
            ctx.info(line);
        } else {
            ctx.warn(line);
        }
        let event = TransferCompleted {
            protocol: "tftp".into(),
            peer: live.peer.to_string(),
            file: live.path.clone(),
            direction: direction.into(),
            bytes: o.bytes,
            duration_ms,
            sha256: None,
            result: o.kind.into(),
        };
        if let Err(e) = ctx.emit(TRANSFERS_PORT, &event) {
            ctx.debug(format_args!("emit failed: {e}"));
        }
        // Its last description may be up to `DESCRIBE_EVERY` behind: the bytes done
        // at the end are what the host's line for it (the access log) says.
        Tftp::describe_end(ctx, live, o.bytes);
        Tftp::end_session(ctx, live.session, o.kind);
    }

    fn on_transfer_packet(&mut self, ctx: &mut Ctx<'_>, id: u64, from: SocketAddr, data: &[u8]) {
        let Some(mut live) = self.transfers.remove(&id) else {
            return;
        };
        let now = ctx.now_ms();
        let mut out = Vec::new();
        match &mut live.machine {
            Machine::Send(s) => s.on_packet(now, from, data, &mut out),
            Machine::Recv(r) => r.on_packet(now, from, data, &mut out),
        }
        self.step(ctx, id, live, out);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, id: u64) {
        let Some(mut live) = self.transfers.remove(&id) else {
            return;
        };
        live.armed = None;
        let now = ctx.now_ms();
        let mut out = Vec::new();
        match &mut live.machine {
            Machine::Send(s) => s.on_timeout(now, &mut out),
            Machine::Recv(r) => r.on_timeout(now, &mut out),
        }
        self.step(ctx, id, live, out);
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
            Event::Timer { token } => self.on_timer(ctx, token),
            Event::FilePrefetched { token, result } => self.on_prefetched(ctx, token, result),
            Event::Replaced => self.replaced(ctx),
            Event::Drain => self.admission.draining = true,
            Event::DrainDeadline { .. } => self.cut_all(ctx),
            _ => {}
        }
    }

    fn active_sessions(&self) -> u64 {
        let running = self.transfers.values().filter(|l| l.running).count();
        (running + self.prefetching.len()) as u64
    }
}

switchyard_sdk::declare_plugin!(Tftp);

#[cfg(test)]
mod tests;
