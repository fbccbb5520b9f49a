//! What a store that waits (an object store) changes for a transfer under way: blocks
//! whose bytes are not in the host's memory yet, and an upload's commit.
//!
//! A block: `send_datagram_file` (or netascii's `read_file`) answers `Pending` when
//! its range is not in memory. Nothing went out; the block is kept
//! ([`Live::unsent`]), the range (and what follows, [`READ_AHEAD`]) is prefetched, and
//! the block is sent when `FilePrefetched` comes — never retried before (no spin). Once
//! a transfer met a cold range, each step prefetches ahead of the blocks the peer
//! will ask for next, so a lock-step download does not wait a round trip per block.
//! A failed prefetch drops the kept blocks: the retransmission clock sends them again.
//!
//! The commit: the last block's ACK is the promise that the file is stored, so the
//! actions after the commit (that ACK, the result, the close) wait with it
//! ([`Live::after_commit`]); the peer's packets meanwhile are dropped (it sends its
//! last block again, and gets the ACK when the commit is done). A store that never
//! answers fails the upload like a commit that failed, after as long as a request
//! waits for its storage. On a dir nothing here happens: sends and commits answer at
//! once.

use std::time::Duration;

use switchyard_sdk::prelude::*;

use super::open::STORE_SLOW;
use super::{Live, Machine, Tftp, storage_error};
use crate::packet::ErrorCode;
use crate::transfer::Action;

/// Bytes prefetched past a cold block: enough for a few windows of large blocks.
pub(super) const READ_AHEAD: u64 = 1 << 20;

/// A DATA block not sent because its bytes were not in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Block {
    to: std::net::SocketAddr,
    block: u16,
    offset: u64,
    len: u32,
}

impl Block {
    /// The block an action sends, if it sends one.
    pub(super) fn of(action: &Action<'_>) -> Option<Block> {
        match *action {
            Action::SendBlock {
                to,
                block,
                offset,
                len,
            } => Some(Block {
                to,
                block,
                offset,
                len,
            }),
            _ => None,
        }
    }

    fn action(self) -> Action<'static> {
        Action::SendBlock {
            to: self.to,
            block: self.block,
            offset: self.offset,
            len: self.len,
        }
    }
}

/// An action kept past the step that made it (after a commit that waits): none of
/// those borrow the packet they came from.
pub(super) fn owned(action: Action<'_>) -> Option<Action<'static>> {
    match action {
        Action::Send { to, packet } => Some(Action::Send { to, packet }),
        Action::SendBlock {
            to,
            block,
            offset,
            len,
        } => Some(Action::SendBlock {
            to,
            block,
            offset,
            len,
        }),
        Action::Commit => Some(Action::Commit),
        Action::Finished(o) => Some(Action::Finished(o)),
        Action::Close => Some(Action::Close),
        Action::Write(_) => None,
    }
}

impl Tftp {
    /// Keep `block` for the prefetch (once: a retransmission may ask it again).
    pub(super) fn keep_cold(live: &mut Live, block: Block) {
        live.cold = true;
        if !live.unsent.contains(&block) {
            live.unsent.push(block);
        }
    }

    /// Prefetch the range of the kept blocks, or read ahead of the next ones.
    pub(super) fn warm(&mut self, ctx: &mut Ctx<'_>, id: u64, live: &mut Live) {
        let Some(file) = live.file.filter(|_| live.warming.is_none()) else {
            return;
        };
        let netascii = live.convert.is_some();
        let range = if let Some(first) = live.unsent.iter().map(|b| b.offset).min() {
            // Netascii block offsets count encoded bytes: the file is small (bounded
            // by `max_netascii_bytes`), so all of it.
            if netascii {
                Some((0, live.file_size))
            } else {
                Some((first, READ_AHEAD))
            }
        } else if live.cold && !netascii {
            match &live.machine {
                Machine::Send(s) => s
                    .next_block()
                    .filter(|&(off, len)| off + u64::from(len) > live.warm_until)
                    .map(|(off, _)| (off.max(live.warm_until), READ_AHEAD)),
                Machine::Recv(_) => None,
            }
        } else {
            None
        };
        let Some((offset, len)) = range else {
            return;
        };
        let len = len.min(live.file_size.saturating_sub(offset));
        if len == 0 {
            return;
        }
        self.next_prefetch += 1;
        let token = self.next_prefetch;
        match ctx.prefetch_file(file, offset, len, token) {
            Ok(()) => {
                live.warming = Some((token, offset + len));
                self.warming.insert(token, id);
            }
            // The retransmission clock asks for the blocks again.
            Err(e) => {
                ctx.debug(format_args!("prefetch for {} failed: {e}", live.peer));
                live.unsent.clear();
            }
        }
    }

    /// A transfer's range is in memory (or could not be read): send what waited.
    pub(super) fn on_warmed(
        &mut self,
        ctx: &mut Ctx<'_>,
        token: u64,
        result: Result<(), HostError>,
    ) {
        let Some(id) = self.warming.remove(&token) else {
            return;
        };
        let Some(mut live) = self.transfers.remove(&id) else {
            return;
        };
        let end = live.warming.take().map_or(0, |(_, end)| end);
        let blocks = std::mem::take(&mut live.unsent);
        let actions = match result {
            Ok(()) => {
                live.warm_until = live.warm_until.max(end);
                blocks.into_iter().map(Block::action).collect()
            }
            // No reading ahead until a block is cold again (paced by the peer and the
            // retransmission clock): a failing prefetch must not loop on itself.
            Err(e) => {
                ctx.debug(format_args!("prefetch for {} failed: {e}", live.peer));
                live.cold = false;
                Vec::new()
            }
        };
        self.step(ctx, id, live, actions);
    }

    /// The commit waits: so do the actions after it, within the store's patience.
    pub(super) fn commit_waits(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: u64,
        live: &mut Live,
        after: Vec<Action<'static>>,
    ) {
        let patience = self.store_patience_ms();
        live.after_commit = Some(after);
        let by = ctx.now_ms().saturating_add(patience);
        live.armed = ctx
            .set_timer(id, Duration::from_millis(patience))
            .ok()
            .map(|()| by);
        live.commit_by = Some(by);
    }

    /// An upload's commit ended: the actions that waited go on, or the upload fails
    /// as when a commit fails at once.
    pub(super) fn on_committed(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: u64,
        result: Result<(), HostError>,
    ) {
        let Some(mut live) = self.transfers.remove(&id) else {
            return;
        };
        let Some(after) = live.after_commit.take() else {
            self.transfers.insert(id, live);
            return;
        };
        live.commit_by = None;
        match result {
            Ok(()) => {
                live.file = None;
                self.step(ctx, id, live, after);
            }
            Err(e) => self.commit_failed(ctx, id, live, storage_error(e)),
        }
    }

    /// The store did not answer the commit in time: the upload fails.
    pub(super) fn commit_timed_out(&mut self, ctx: &mut Ctx<'_>, id: u64, mut live: Live) {
        live.after_commit = None;
        live.commit_by = None;
        self.commit_failed(ctx, id, live, (ErrorCode::NotDefined, STORE_SLOW));
    }

    fn commit_failed(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: u64,
        mut live: Live,
        (code, why): (ErrorCode, &'static str),
    ) {
        let mut more = Vec::new();
        live.machine.fail(code, why, &mut more);
        self.step(ctx, id, live, more);
    }
}
