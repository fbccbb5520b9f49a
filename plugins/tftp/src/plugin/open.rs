//! A request's storage: where its file is, then the file opened (a read) or its temp
//! made (a write) — a step that may wait for an object store.
//!
//! Why a step of its own: on an s3 storage each of these calls answers `Pending` and
//! completes by `StorageDone`. The request is then parked per peer ([`Opening`], with
//! its own [`StorageWaits`], so that many peers' requests wait at once), counted
//! against the limits as a transfer, and run again from its start when the answer is
//! in: the calls it made before get their recorded answers. A retransmitted request
//! meanwhile is the repeat the admission drops (or, with `single_port`, is dropped
//! here), never a second open. A store that never answers ends the request with
//! ERROR 0 after as long as a transfer waits for a silent peer; a request cut while
//! it waits (the drain deadline, a reload, a new request from the same port) is let
//! go, and whatever its late answer opens is closed. On a dir nothing waits and the
//! transfer begins in the call that brought the request, as before.

use std::net::SocketAddr;
use std::task::Poll;
use std::time::Duration;

use switchyard_sdk::prelude::*;
use switchyard_sdk::{Storage, StorageWaits, StoreDone, WatchedStorage};

use super::{Tftp, storage_error};
use crate::admission::Request;
use crate::options;
use crate::packet::{ErrorCode, RequestKind};

/// Storage tokens of request `id`: `id << OPEN_SHIFT` and up (a commit's have
/// [`super::COMMIT_TOKENS`] set).
const OPEN_SHIFT: u32 = 32;
/// Timer tokens of the requests waiting for storage (transfers use their ids).
pub(super) const OPEN_TIMERS: u64 = 1 << 62;
/// What a request whose storage never answered is told.
pub(super) const STORE_SLOW: &str = "storage did not answer in time";

/// A request whose storage step waits.
#[derive(Debug)]
pub(super) struct Opening {
    listener: SocketId,
    peer: SocketAddr,
    req: Request,
    waits: StorageWaits,
    /// Refused or superseded meanwhile: only what a late answer opens is left to close.
    let_go: bool,
}

/// What a request's storage step found.
#[derive(Debug)]
pub(super) enum Found {
    /// A download's file, open, and its size.
    Read {
        path: String,
        file: FileId,
        size: u64,
    },
    /// An upload's temp, and the room it may fill.
    Write {
        path: String,
        file: FileId,
        room: u64,
    },
}

impl Found {
    pub(super) fn file(&self) -> FileId {
        match self {
            Found::Read { file, .. } | Found::Write { file, .. } => *file,
        }
    }
}

impl Tftp {
    /// An admitted request: its storage step, then its transfer; or parked while the
    /// step waits (then it counts as started).
    pub(super) fn start(
        &mut self,
        ctx: &mut Ctx<'_>,
        listener: SocketId,
        peer: SocketAddr,
        req: &Request,
    ) -> Result<(), (ErrorCode, &'static str)> {
        self.next_opening += 1;
        let id = self.next_opening;
        let mut opening = Opening {
            listener,
            peer,
            req: req.clone(),
            waits: StorageWaits::new(id << OPEN_SHIFT),
            let_go: false,
        };
        match self.open_step(ctx, &mut opening) {
            Poll::Ready(found) => self.proceed(ctx, listener, peer, req, found?, false),
            Poll::Pending => {
                self.admission.started(peer, req);
                let delay = Duration::from_millis(self.store_patience_ms());
                let _ = ctx.set_timer(OPEN_TIMERS + id, delay);
                self.opening.insert(id, opening);
                Ok(())
            }
        }
    }

    /// How long a request or a commit waits for its storage: as long as a transfer
    /// waits for a silent peer.
    pub(super) fn store_patience_ms(&self) -> u64 {
        let tries = u64::from(self.cfg.max_retries) + 1;
        self.cfg.max_timeout_ms.saturating_mul(tries)
    }

    /// Run (again) a request's storage step: `Pending` while a call of it waits.
    fn open_step(
        &self,
        ctx: &mut Ctx<'_>,
        opening: &mut Opening,
    ) -> Poll<Result<Found, (ErrorCode, &'static str)>> {
        let mut st = opening.waits.storage(ctx);
        let mut watched = WatchedStorage::new(&mut st);
        let found = self.resolve(&mut watched, &opening.req);
        if watched.waited() {
            return Poll::Pending;
        }
        Poll::Ready(found)
    }

    /// The request's storage: its path, then its file opened or its temp made.
    fn resolve(
        &self,
        st: &mut dyn Storage,
        req: &Request,
    ) -> Result<Found, (ErrorCode, &'static str)> {
        let path = self.locate(st, req)?;
        if req.kind == RequestKind::Read {
            let (file, size) = st.open_read(&path).map_err(storage_error)?;
            if req.netascii && size > self.cfg.max_netascii_bytes {
                let _ = st.close_file(file);
                let why = "file too large for netascii, use octet";
                return Err((ErrorCode::NotDefined, why));
            }
            return Ok(Found::Read { path, file, size });
        }
        match st.stat(&path) {
            Ok(s) if s.is_dir => return Err((ErrorCode::AccessViolation, "is a directory")),
            Ok(_) if !self.cfg.allow_overwrite => {
                return Err((ErrorCode::FileExists, "file already exists"));
            }
            Ok(_) | Err(HostError::NotFound) => {}
            Err(e) => return Err(storage_error(e)),
        }
        let opts: Vec<crate::packet::Opt<'_>> = req
            .options
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let neg = options::negotiate(req.kind, &opts, self.limits(), None);
        let free = st.free_space().unwrap_or(u64::MAX);
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
        let file = st.create_temp(&path).map_err(storage_error)?;
        Ok(Found::Write { path, file, room })
    }

    /// A storage operation of a waiting request (or a commit) ended.
    pub(super) fn on_storage_done(
        &mut self,
        ctx: &mut Ctx<'_>,
        token: u64,
        result: Result<StoreDone, HostError>,
    ) {
        if token & super::COMMIT_TOKENS != 0 {
            return self.on_committed(ctx, token & !super::COMMIT_TOKENS, result.map(|_| ()));
        }
        let id = token >> OPEN_SHIFT;
        let Some(mut opening) = self.opening.remove(&id) else {
            return;
        };
        if !opening.waits.complete(ctx, token, result) {
            self.opening.insert(id, opening);
            return;
        }
        let found = match self.open_step(ctx, &mut opening) {
            Poll::Pending => {
                self.opening.insert(id, opening);
                return;
            }
            Poll::Ready(found) => found,
        };
        if opening.let_go {
            if let Ok(found) = found {
                let _ = ctx.close_file(found.file());
            }
            return;
        }
        let _ = ctx.cancel_timer(OPEN_TIMERS + id);
        let Opening {
            listener,
            peer,
            req,
            ..
        } = opening;
        let begun = found.and_then(|f| self.proceed(ctx, listener, peer, &req, f, true));
        if let Err((code, msg)) = begun {
            self.transfer_ended(ctx, peer, req.kind, &req.path);
            let what = (Some(req.kind), req.requested.as_str());
            Tftp::refuse(ctx, listener, peer, what, code, msg);
        }
    }

    /// A waiting request's patience ran out: refused, and let go.
    pub(super) fn on_open_timeout(&mut self, ctx: &mut Ctx<'_>, id: u64) {
        if self.opening.get(&id).is_some_and(|o| !o.let_go) {
            self.let_go(ctx, id, Some(STORE_SLOW));
        }
    }

    /// Let waiting request `id` go, refused with `why` (or silently: superseded).
    pub(super) fn let_go(&mut self, ctx: &mut Ctx<'_>, id: u64, why: Option<&str>) {
        let Some(o) = self.opening.get_mut(&id).filter(|o| !o.let_go) else {
            return;
        };
        o.let_go = true;
        let (listener, peer, req) = (o.listener, o.peer, o.req.clone());
        let _ = ctx.cancel_timer(OPEN_TIMERS + id);
        self.transfer_ended(ctx, peer, req.kind, &req.path);
        match why {
            Some(why) => {
                let what = (Some(req.kind), req.requested.as_str());
                Tftp::refuse(ctx, listener, peer, what, ErrorCode::NotDefined, why);
            }
            None => ctx.debug(format_args!(
                "request from {peer} for {} superseded while its storage waited",
                req.requested
            )),
        }
    }

    /// Every request waiting for storage, refused with `why`: the drain deadline, or
    /// a reload that moves the listener to a successor (`single_port`).
    pub(super) fn let_go_all(&mut self, ctx: &mut Ctx<'_>, why: &str) {
        let ids: Vec<u64> = self.opening.keys().copied().collect();
        for id in ids {
            self.let_go(ctx, id, Some(why));
        }
    }

    /// The request of `peer` on `listener` waiting for storage (`single_port`), and
    /// whether `data` repeats it.
    pub(super) fn opening_of(
        &self,
        listener: SocketId,
        peer: SocketAddr,
        data: &[u8],
    ) -> Option<(u64, bool)> {
        self.opening
            .iter()
            .find(|(_, o)| !o.let_go && o.listener == listener && o.peer == peer)
            .map(|(&id, o)| (id, o.req.datagram == data))
    }

    /// Requests waiting for storage, as sessions.
    pub(super) fn openings_waiting(&self) -> usize {
        self.opening.values().filter(|o| !o.let_go).count()
    }
}
