//! Driving a transfer: running its machine's actions through `Ctx` (sends, writes,
//! the commit, the timer), and its end (the summary line, the typed event, the
//! session's end). A block or a commit that waits for an object store: `waits`.
//!
//! Why apart from `mod.rs`: this is the per-packet path; `mod.rs` routes events to it.

use std::net::SocketAddr;
use std::time::Duration;

use std::task::Poll;

use switchyard_sdk::StoreOp;
use switchyard_sdk::prelude::*;

use super::waits::{Block, owned};
use super::{
    COMMIT_TOKENS, Convert, Live, Machine, TRANSFERS_PORT, Tftp, direction, kv, storage_error,
};
use crate::packet::{self, ErrorCode};
use crate::transfer::{Action, Ending, Outcome};

/// Why a transfer's actions stopped before their end.
pub(super) enum Halt {
    /// The transfer fails: an ERROR to the peer.
    Fail((ErrorCode, &'static str)),
    /// A block's bytes are not in memory (an object store): sent after a prefetch.
    Cold,
    /// The commit waits for the store: the actions after it wait too.
    Committing,
}

impl From<(ErrorCode, &'static str)> for Halt {
    fn from(f: (ErrorCode, &'static str)) -> Halt {
        Halt::Fail(f)
    }
}

const SERVER_FAULT: (ErrorCode, &str) = (ErrorCode::NotDefined, "server error");
const READ_ERROR: (ErrorCode, &str) = (ErrorCode::NotDefined, "read error");

impl Tftp {
    /// Run `actions` for transfer `live`, then put it back (or drop it) and arm its timer.
    pub(super) fn step(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: u64,
        mut live: Live,
        actions: Vec<Action<'_>>,
    ) {
        let mut failure = None;
        let mut actions = actions.into_iter();
        while let Some(action) = actions.next() {
            let block = Block::of(&action);
            match self.exec(ctx, id, &mut live, action) {
                Ok(()) => {}
                Err(Halt::Cold) => Tftp::keep_cold(&mut live, block.expect("only a block")),
                Err(Halt::Committing) => {
                    let after = actions.by_ref().filter_map(owned).collect();
                    self.commit_waits(ctx, id, &mut live, after);
                    self.transfers.insert(id, live);
                    return;
                }
                Err(Halt::Fail(f)) => {
                    failure = Some(f);
                    break;
                }
            }
        }
        if let Some((code, why)) = failure {
            let mut more = Vec::new();
            live.machine.fail(code, why, &mut more);
            for action in more {
                let _ = self.exec(ctx, id, &mut live, action);
            }
        }
        if !live.closed {
            self.warm(ctx, id, &mut live);
        }
        if !live.running && !live.closed {
            // Dallying: worth a socket only while few transfers do it at once.
            let dallying = self.transfers.values().filter(|l| !l.running).count();
            if dallying >= self.cfg.max_transfers as usize {
                let _ = self.exec(ctx, id, &mut live, Action::Close);
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
        id: u64,
        live: &mut Live,
        action: Action<'_>,
    ) -> Result<(), Halt> {
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
                let file = live.file.ok_or(SERVER_FAULT)?;
                let sent = match &mut live.convert {
                    Some(Convert::Encode(enc)) => {
                        if let Machine::Send(s) = &live.machine {
                            enc.release(s.acked_offset());
                        }
                        let mut read = |off: u64, buf: &mut [u8]| ctx.read_file(file, off, buf);
                        let payload = match enc.get(offset, len as usize, &mut read) {
                            Ok(payload) => payload,
                            Err(HostError::Pending) => return Err(Halt::Cold),
                            Err(_) => return Err(Halt::Fail(READ_ERROR)),
                        };
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
                            let why = "file changed during transfer";
                            return Err(Halt::Fail((ErrorCode::NotDefined, why)));
                        }
                        other => other.map(|_| ()),
                    },
                };
                match sent {
                    // A full socket buffer or a vanished peer: the retransmission clock copes.
                    Ok(()) | Err(HostError::Limit | HostError::Closed) => {}
                    // Not in memory (an object store): sent after a prefetch.
                    Err(HostError::Pending) => return Err(Halt::Cold),
                    Err(_) => return Err(Halt::Fail(READ_ERROR)),
                }
            }
            Action::Write(data) => {
                let file = live.file.ok_or(SERVER_FAULT)?;
                let result = match &mut live.convert {
                    Some(Convert::Decode(dec)) => {
                        self.scratch.clear();
                        dec.decode(data, &mut self.scratch);
                        ctx.write_file(file, &self.scratch)
                    }
                    _ => ctx.write_file(file, data),
                };
                result.map_err(|e| Halt::Fail(storage_error(e)))?;
            }
            Action::Commit => {
                let file = live.file.ok_or(SERVER_FAULT)?;
                if let Some(Convert::Decode(dec)) = &mut live.convert {
                    self.scratch.clear();
                    dec.finish(&mut self.scratch);
                    if !self.scratch.is_empty() {
                        ctx.write_file(file, &self.scratch)
                            .map_err(|e| Halt::Fail(storage_error(e)))?;
                    }
                }
                let op = StoreOp::Commit {
                    file,
                    path: &live.path,
                    overwrite: self.cfg.allow_overwrite,
                };
                match ctx.storage_begin(op, COMMIT_TOKENS | id) {
                    Poll::Ready(Ok(_)) => live.file = None,
                    Poll::Ready(Err(e)) => return Err(Halt::Fail(storage_error(e))),
                    Poll::Pending => return Err(Halt::Committing),
                }
            }
            Action::Finished(outcome) => self.finished(ctx, live, &outcome),
            Action::Close => {
                // Cut while its commit waited: its result (kept with the actions after
                // the commit) is that it was cut, and it is said (limits, session).
                let kept = live.after_commit.take().into_iter().flatten();
                if let Some(Action::Finished(mut o)) =
                    kept.into_iter().find(|a| matches!(a, Action::Finished(_)))
                {
                    o.kind = Ending::Aborted;
                    o.reason = "cut while its commit waited".into();
                    self.finished(ctx, live, &o);
                }
                live.commit_by = None;
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

    pub(super) fn on_transfer_packet(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: u64,
        from: SocketAddr,
        data: &[u8],
    ) {
        let Some(mut live) = self.transfers.remove(&id) else {
            return;
        };
        if live.after_commit.is_some() {
            // The last block again: its ACK goes when the commit is done.
            self.transfers.insert(id, live);
            return;
        }
        let now = ctx.now_ms();
        let mut out = Vec::new();
        match &mut live.machine {
            Machine::Send(s) => s.on_packet(now, from, data, &mut out),
            Machine::Recv(r) => r.on_packet(now, from, data, &mut out),
        }
        self.step(ctx, id, live, out);
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Ctx<'_>, id: u64) {
        let Some(mut live) = self.transfers.remove(&id) else {
            return;
        };
        live.armed = None;
        let now = ctx.now_ms();
        if let Some(by) = live.commit_by {
            if now >= by {
                return self.commit_timed_out(ctx, id, live);
            }
            let delay = Duration::from_millis(by - now);
            live.armed = ctx.set_timer(id, delay).ok().map(|()| by);
            self.transfers.insert(id, live);
            return;
        }
        let mut out = Vec::new();
        match &mut live.machine {
            Machine::Send(s) => s.on_timeout(now, &mut out),
            Machine::Recv(r) => r.on_timeout(now, &mut out),
        }
        self.step(ctx, id, live, out);
    }
}
