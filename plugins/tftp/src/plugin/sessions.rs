//! The host's view of the transfers: each is a session keyed by its socket (with
//! `single_port`, by its id: `ports::session_key`), described
//! when it begins and every few blocks, ended with its outcome; and at the drain
//! deadline every transfer left is told with an ERROR packet.
//!
//! Why the plugin says it and the host does not infer it: only the plugin knows that a
//! socket carries a transfer of a given file, and how far it got. With that the host
//! logs one line per transfer it must cut (peer, file, bytes done) and counts each
//! ending in `switchyard_transfers_total`.

use std::net::SocketAddr;

use switchyard_sdk::{Ctx, Direction, Session};

use super::{Live, Machine, Tftp};
use crate::packet::{ErrorCode, RequestKind};
use crate::transfer::{Action, Ending};

/// The session key of a request refused at once: it never had a socket (ids start at
/// 1); described and ended in the same call.
pub(super) const REFUSED: u64 = 0;
/// Bytes between two descriptions of a transfer's progress: one host call per 32
/// blocks of 512 bytes, nothing per packet.
const DESCRIBE_EVERY: u64 = 16 * 1024;
/// What a cut peer is told (ERROR 0).
pub(super) const SHUTTING_DOWN: &str = "server shutting down";
/// What the peer of a transfer the operator cancelled is told (ERROR 0).
pub(super) const CANCELLED: &str = "transfer cancelled by the server's operator";

impl Live {
    /// Bytes done: acknowledged by the peer (download) or written (upload).
    fn bytes_done(&self) -> u64 {
        match &self.machine {
            Machine::Send(s) => s.acked_offset(),
            Machine::Recv(r) => r.bytes(),
        }
    }
}

impl Tftp {
    /// Describe transfer `live` to the host: when it begins, and then once it moved
    /// [`DESCRIBE_EVERY`] bytes since the last time.
    pub(super) fn describe(ctx: &mut Ctx<'_>, live: &mut Live) {
        let done = live.bytes_done();
        if live
            .described
            .is_some_and(|last| done < last.saturating_add(DESCRIBE_EVERY))
        {
            return;
        }
        Tftp::describe_as(ctx, live, done);
    }

    /// Describe `live` with `done` bytes done.
    fn describe_as(ctx: &mut Ctx<'_>, live: &mut Live, done: u64) {
        let (direction, verb) = match live.kind {
            RequestKind::Read => (Direction::Send, "sending"),
            RequestKind::Write => (Direction::Receive, "receiving"),
        };
        // The operator console shows it: what the peer negotiated (RFC defaults else).
        let granted = |name: &str, default: &'static str| {
            live.options
                .split(',')
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                .unwrap_or(default)
                .to_owned()
        };
        let state = format!(
            "{verb} blksize={} window={}",
            granted("blksize", "512"),
            granted("windowsize", "1")
        );
        let session = Session {
            direction,
            peer: Some(live.peer),
            conn: None,
            resource: &live.path,
            state: &state,
            bytes_done: done,
            bytes_total: live.total,
        };
        if let Err(e) = ctx.describe_session(live.session, &session) {
            ctx.debug(format_args!("session not described: {e}"));
        }
        live.described = Some(done);
    }

    /// The last description of transfer `live`, with the bytes it ended with.
    pub(super) fn describe_end(ctx: &mut Ctx<'_>, live: &mut Live, bytes: u64) {
        if live.described == Some(bytes) {
            return;
        }
        live.described = None;
        Tftp::describe_as(ctx, live, bytes);
    }

    /// A request refused at once, described just before it ends: its access log line
    /// then names the peer and the file asked for, like a transfer's.
    pub(super) fn describe_refusal(
        ctx: &mut Ctx<'_>,
        peer: SocketAddr,
        kind: RequestKind,
        file: &str,
    ) {
        let session = Session {
            direction: match kind {
                RequestKind::Read => Direction::Send,
                RequestKind::Write => Direction::Receive,
            },
            peer: Some(peer),
            conn: None,
            resource: file,
            state: "refused",
            bytes_done: 0,
            bytes_total: None,
        };
        if let Err(e) = ctx.describe_session(REFUSED, &session) {
            ctx.debug(format_args!("session not described: {e}"));
        }
    }

    /// A transfer's result is known: its session ends with it.
    pub(super) fn end_session(ctx: &mut Ctx<'_>, key: u64, kind: Ending) {
        if let Err(e) = ctx.end_session(key, kind) {
            ctx.debug(format_args!("session end not taken: {e}"));
        }
    }

    /// The drain deadline: ERROR 0 to every transfer's peer (the result recorded as
    /// `aborted`, uploads dropped), dallying ones closed, and requests still waiting
    /// for their storage or their file (netascii) refused the same way.
    pub(super) fn cut_all(&mut self, ctx: &mut Ctx<'_>) {
        let ids: Vec<u64> = self.transfers.keys().copied().collect();
        for id in ids {
            let Some(mut live) = self.transfers.remove(&id) else {
                continue;
            };
            let mut out = Vec::new();
            if live.running {
                live.machine.cut(SHUTTING_DOWN, &mut out);
            }
            if out.is_empty() {
                out.push(Action::Close);
            }
            self.step(ctx, id, live, out);
        }
        self.let_go_all(ctx, SHUTTING_DOWN);
        for (_, p) in std::mem::take(&mut self.prefetching) {
            let _ = ctx.close_file(p.file);
            self.transfer_ended(ctx, p.peer, p.req.kind, &p.req.path);
            let what = (Some(p.req.kind), p.req.path.as_str());
            Tftp::refuse(
                ctx,
                p.listener,
                p.peer,
                what,
                ErrorCode::NotDefined,
                SHUTTING_DOWN,
            );
        }
    }

    /// The operator cancelled session `key` (`SY_EV_SESSION_CANCEL`): its peer gets
    /// ERROR 0 saying so, and the transfer ends as `aborted` (an upload's temp file is
    /// dropped), as at a drain deadline. An unknown key (ended already) is ignored.
    pub(super) fn cancel(&mut self, ctx: &mut Ctx<'_>, key: u64) {
        let Some(id) = self
            .transfers
            .iter()
            .find(|(_, live)| live.session == key)
            .map(|(id, _)| *id)
        else {
            return;
        };
        let Some(mut live) = self.transfers.remove(&id) else {
            return;
        };
        ctx.info(format_args!(
            "transfer of {} with {} cancelled by the operator",
            live.path, live.peer
        ));
        let mut out = Vec::new();
        if live.running {
            live.machine.cut(CANCELLED, &mut out);
        }
        if out.is_empty() {
            out.push(Action::Close);
        }
        self.step(ctx, id, live, out);
    }
}
