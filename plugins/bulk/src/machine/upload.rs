//! Uploads, v1 and v2: admission, the body, resume, commit, and every way they fail.
//!
//! Admission (length limit, name, free space, resume state) happens before anything
//! is created. The body goes to a hidden temp file: bytes that came with the header
//! through `write_file`, the rest straight from the socket through the host's
//! `recv_to_file`, which also hashes the *whole* file. Only a complete, verified
//! upload is committed (fsync, atomic no-replace rename) under a unique name, or,
//! when the client set the replace flag and the handler allows it, atomically over
//! the name it gave.
//!
//! Resume: when a resumable upload's connection is lost (or times out), its temp is
//! committed as the hidden `.partial.<id>`; a later `PUT` with the same id is told the
//! kept length (`CONTINUE n`) and the partial itself is continued (`open_partial`):
//! only the rest crosses the network and is appended, nothing kept is copied. The
//! digest still covers the whole file because the host hashes the file from its start.
//! A continued partial lost again is committed onto its own name (a no-op rename,
//! with the fsync), so it can be continued once more.

use sha2::{Digest, Sha256};
use switchyard_sdk::conn::SessionInfo;
use switchyard_sdk::messages::{Outcome, TransferCompleted};
use switchyard_sdk::{Direction, FileId, HostError};

use super::names::{self, MAX_CANDIDATES};
use super::{Output, Phase, Session, Storage, rate};
use crate::codec::{self, Put, Reply, Status, hex};

/// An upload being received.
#[derive(Debug)]
pub(crate) struct Upload {
    pub v1: bool,
    pub put: Put,
    /// The hidden temp file.
    pub file: FileId,
    pub started: u64,
    /// Bytes taken from a kept partial (0 for a fresh upload).
    pub resumed_from: u64,
    pub token: u64,
    /// sha256 of the bytes the plugin wrote itself (header chunk, kept part). Used only
    /// when they are the whole file: then no `recv_to_file` is needed at all, so a
    /// client that sends everything and closes at once cannot race a zero-length
    /// receive against its EOF.
    pub own: Sha256,
}

/// What a header asked for, before admission.
#[derive(Debug)]
pub(crate) struct Want {
    pub v1: bool,
    pub put: Put,
}

impl Want {
    pub fn v1(len: u64) -> Want {
        Want {
            v1: true,
            put: Put {
                name: String::new(),
                len,
                digest: None,
                digest_last: false,
                upload_id: None,
                replace: false,
            },
        }
    }

    pub fn v2(put: Put) -> Want {
        Want { v1: false, put }
    }
}

impl Session {
    /// Refuse an upload request before anything is created; recorded as a transfer.
    fn refuse(&mut self, v1: bool, status: Status, why: &str) {
        if v1 {
            self.refuse_v1(why)
        } else {
            self.refuse_v2(status, why)
        }
        self.record_refusal("upload", status);
    }

    fn partial_path(&self, put: &Put) -> Option<String> {
        let id = put.upload_id.as_ref().filter(|_| self.cfg.resume)?;
        Some(self.cfg.path_of(&names::partial_name(id)))
    }

    /// A header was parsed: admit the upload or refuse it, before creating anything.
    pub(crate) fn start_upload(&mut self, now: u64, want: Want, st: &mut dyn Storage) {
        let Want { v1, put } = want;
        if self.draining {
            return self.refuse(v1, Status::Unavailable, "server shutting down");
        }
        if !v1 {
            if let Err(e) = codec::check_name(&put.name) {
                return self.refuse(v1, Status::BadName, &e.to_string());
            }
        }
        if put.len > self.cfg.max_file_bytes {
            let why = format!(
                "length {} over the limit {}",
                put.len, self.cfg.max_file_bytes
            );
            return self.refuse(v1, Status::TooLarge, &why);
        }
        if put.replace {
            if let Err((status, why)) = self.may_replace(&put.name, st) {
                return self.refuse(v1, status, &why);
            }
        }
        let partial = self.partial_path(&put);
        if let (Some(_), Some(now_unix)) = (&partial, self.wall_secs) {
            // A resumable upload is where a stale partial would be found: expire
            // abandoned ones first (this one too, if it is that old: it starts over).
            names::expire_partials(&self.cfg, st, "", now_unix);
        }
        let kept = match partial.as_deref().map(|p| st.stat(p)) {
            None | Some(Err(HostError::NotFound)) => 0,
            Some(Ok(s)) if s.is_file => s.size,
            Some(Ok(_)) => return self.refuse(v1, Status::Internal, "partial is not a file"),
            Some(Err(e)) => return self.refuse(v1, Status::Internal, &format!("partial: {e}")),
        };
        if kept > put.len {
            let why = format!("kept {kept} bytes, more than the length {}", put.len);
            return self.refuse(v1, Status::ResumeMismatch, &why);
        }
        let need = (put.len - kept).saturating_add(self.cfg.reserve_free_bytes);
        match st.free_space() {
            Ok(free) if free >= need => {}
            Ok(free) => {
                let why = format!("needs {need} bytes with the reserve, {free} free");
                return self.refuse(v1, Status::NoSpace, &why);
            }
            Err(e) => return self.refuse(v1, Status::Internal, &format!("free space: {e}")),
        }
        let continued = match partial.as_deref().filter(|_| kept > 0) {
            Some(path) => match self.continue_partial(path, kept, st) {
                Ok(file) => file,
                Err((status, why)) => return self.refuse(v1, status, &why),
            },
            None => None,
        };
        // Gone since the stat (pruned or expired by another connection): start over.
        let kept = if continued.is_some() { kept } else { 0 };
        let file = match continued {
            Some(file) => file,
            None => match self.create_temp(v1, &put, st) {
                Ok(file) => file,
                Err(why) => return self.refuse(v1, Status::Internal, &why),
            },
        };
        let up = Upload {
            v1,
            put,
            file,
            started: now,
            resumed_from: kept,
            token: self.token(),
            own: Sha256::new(),
        };
        if up.put.upload_id.is_some() {
            // A resumable client waits for CONTINUE: anything before it is an error.
            self.leftover_is_error();
            if kept > 0 {
                self.info(format!(
                    "resume peer={} name={:?} from={kept}",
                    self.peer, up.put.name
                ));
            }
            self.reply(Reply {
                status: Status::Continue,
                value: kept,
                digest: None,
                text: String::new(),
            });
            return self.begin_receive(now, up, 0, st);
        }
        let mut up = up;
        let take = (self.inbuf.len() as u64).min(up.put.len) as usize;
        if take > 0 {
            if let Err(e) = st.write_file(up.file, &self.inbuf[..take]) {
                return self.fail_write(now, up, e, st);
            }
            up.own.update(&self.inbuf[..take]);
            self.inbuf.drain(..take);
        }
        if !up.put.digest_last {
            self.leftover_is_error();
        }
        self.begin_receive(now, up, take as u64, st);
    }

    /// A `PUT` with the replace flag: allowed by the handler, and not aimed at a
    /// directory (the commit would fail only after the whole body came).
    fn may_replace(&self, name: &str, st: &mut dyn Storage) -> Result<(), (Status, String)> {
        if !self.cfg.allow_overwrite {
            return Err((
                Status::NotAllowed,
                "replacing files is disabled on this server (allow_overwrite)".into(),
            ));
        }
        match st.stat(&self.cfg.path_of(name)) {
            Ok(s) if s.is_dir => Err((Status::BadName, "is a directory".into())),
            _ => Ok(()),
        }
    }

    fn fail_write(&mut self, now: u64, up: Upload, e: HostError, st: &mut dyn Storage) {
        let status = match e {
            HostError::NoSpace => Status::NoSpace,
            _ => Status::Internal,
        };
        self.fail_upload(now, up, (status, Outcome::Error), &e.to_string(), st)
    }

    /// A fresh hidden temp for the upload's body.
    fn create_temp(&self, v1: bool, put: &Put, st: &mut dyn Storage) -> Result<FileId, String> {
        let hint = self.cfg.path_of(if v1 { "v1.bin" } else { &put.name });
        st.create_temp(&hint).map_err(|e| match e {
            HostError::NotFound => format!(
                "directory {:?} missing under the root",
                self.cfg.incoming_dir
            ),
            e => format!("temp file: {e}"),
        })
    }

    /// The kept partial itself becomes the upload's temp: the rest is appended to it,
    /// so nothing already received is copied or read again here (the host hashes the
    /// whole file). `None` when it is gone since the stat: the upload starts over.
    fn continue_partial(
        &self,
        path: &str,
        kept: u64,
        st: &mut dyn Storage,
    ) -> Result<Option<FileId>, (Status, String)> {
        match st.open_partial(path) {
            Ok((file, size)) if size == kept => Ok(Some(file)),
            Err(HostError::NotFound) => Ok(None),
            Ok((file, _)) => {
                let _ = st.close_file(file);
                Err((Status::Internal, "partial changed".into()))
            }
            Err(HostError::Busy) => Err((
                Status::Unavailable,
                "this upload is being continued on another connection; retry when it ends".into(),
            )),
            Err(e) => Err((Status::Internal, format!("partial: {e}"))),
        }
    }

    /// Ask the host for the rest of the body; with nothing left of a fresh upload,
    /// finish at once with the plugin's own digest (a continued partial holds bytes the
    /// plugin never saw, so the host hashes it even then).
    fn begin_receive(&mut self, now: u64, up: Upload, have: u64, st: &mut dyn Storage) {
        let len = up.put.len - up.resumed_from - have;
        if len == 0 && up.resumed_from == 0 {
            let digest: [u8; 32] = up.own.clone().finalize().into();
            return self.received(now, up, Ok((0, Some(digest))), st);
        }
        // A v1 upload's name comes at its commit.
        let name = if up.v1 { "-" } else { up.put.name.as_str() };
        self.push(Output::Describe(SessionInfo {
            direction: Direction::Receive,
            resource: name.to_owned(),
            bytes_done: up.put.len - len,
            bytes_total: Some(up.put.len),
        }));
        self.push(Output::RecvToFile {
            file: up.file,
            len,
            token: up.token,
        });
        let budget = self.cfg.transfer_ms(len) + self.cfg.kept_hash_ms(up.resumed_from);
        self.set_deadline(Some(now.saturating_add(budget)));
        self.phase = Phase::Receiving(up);
    }

    /// The host finished (or failed) receiving the body.
    pub(crate) fn received(
        &mut self,
        now: u64,
        up: Upload,
        result: Result<(u64, Option<[u8; 32]>), HostError>,
        st: &mut dyn Storage,
    ) {
        match result {
            Ok((_, Some(digest))) if up.put.digest_last => {
                self.phase = Phase::Trailer(up, digest);
                self.set_deadline(Some(now.saturating_add(self.cfg.idle_ms())));
                self.try_trailer(now, st);
            }
            Ok((_, Some(digest))) => self.finish_upload(now, up, digest, st),
            Ok((_, None)) => {
                let failure = (Status::Internal, Outcome::Error);
                self.fail_upload(now, up, failure, "host gave no digest", st)
            }
            Err(HostError::Closed) => {
                self.lose_upload(now, up, (Outcome::Aborted, "connection closed"), st)
            }
            Err(e) => self.fail_write(now, up, e, st),
        }
    }

    /// Digest-last: take the 32-byte digest once it is all there.
    pub(crate) fn try_trailer(&mut self, now: u64, st: &mut dyn Storage) {
        if self.inbuf.len() < codec::DIGEST_LEN || !matches!(self.phase, Phase::Trailer(..)) {
            return;
        }
        let sent: [u8; 32] = self.inbuf[..codec::DIGEST_LEN]
            .try_into()
            .expect("32 bytes");
        self.inbuf.drain(..codec::DIGEST_LEN);
        // Bytes after the digest are reported while the upload is still in flight, so
        // that it ends normally (reply, then close) instead of being closed before its
        // reply is written.
        self.leftover_is_error();
        let Phase::Trailer(mut up, digest) = std::mem::replace(&mut self.phase, Phase::Done) else {
            unreachable!("checked above");
        };
        up.put.digest = Some(sent);
        self.finish_upload(now, up, digest, st);
    }

    /// The whole body is in and hashed: verify, commit under a unique name, reply.
    fn finish_upload(&mut self, now: u64, up: Upload, digest: [u8; 32], st: &mut dyn Storage) {
        if let Some(expected) = up.put.digest.filter(|e| *e != digest) {
            // Resuming would reproduce the same bytes: drop the kept part too, after
            // closing the file (a continued partial is locked by this very handle).
            let _ = st.close_file(up.file);
            if let Some(p) = self.partial_path(&up.put) {
                let _ = st.remove_file(&p);
            }
            let why = format!("expected {}, received {}", hex(&expected), hex(&digest));
            return self.abort_upload(now, &up, (Status::DigestMismatch, Outcome::Invalid), &why);
        }
        let name = match self.commit_unique(&up, st) {
            Ok(name) => name,
            Err(e) => return self.fail_write(now, up, e, st),
        };
        if let Some(p) = self.partial_path(&up.put) {
            let _ = st.remove_file(&p);
        }
        names::store_sum(&self.cfg, st, &name, &digest);
        if !up.v1 {
            self.reply(Reply {
                status: Status::Ok,
                value: up.put.len,
                digest: Some(digest),
                text: name.clone(),
            });
        }
        let path = self.cfg.path_of(&name);
        self.report(now, &up, &path, up.put.len, Some(digest), Outcome::Ok, "");
        self.end();
    }

    /// Commit the temp under the first free candidate name, or (replace flag) over
    /// the name itself: the host's rename is atomic, so a reader sees the old file or
    /// the new one, never a mix.
    fn commit_unique(&mut self, up: &Upload, st: &mut dyn Storage) -> Result<String, HostError> {
        if up.put.replace {
            let path = self.cfg.path_of(&up.put.name);
            return st
                .commit_file(up.file, &path, true)
                .map(|()| up.put.name.clone());
        }
        let first = if up.v1 {
            st.list_dir(&self.cfg.incoming_dir)
                .map(|e| names::v1_first(&e))
                .unwrap_or(1)
        } else {
            0
        };
        for i in 0..MAX_CANDIDATES {
            let name = if up.v1 {
                names::v1_name(first + i)
            } else {
                names::v2_candidate(&up.put.name, i)
            };
            let path = self.cfg.path_of(&name);
            if st.stat(&path).is_ok() {
                continue;
            }
            match st.commit_file(up.file, &path, false) {
                Ok(()) => return Ok(name),
                // Taken between the stat and the commit by a concurrent upload.
                Err(HostError::Exists) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(HostError::Exists)
    }

    /// Abort an upload: the temp is deleted (a continued partial is kept, with what was
    /// appended: a correct prefix), nothing becomes visible. `failure`: the status the
    /// client is told, and the outcome recorded.
    pub(crate) fn fail_upload(
        &mut self,
        now: u64,
        up: Upload,
        failure: (Status, Outcome),
        why: &str,
        st: &mut dyn Storage,
    ) {
        let _ = st.close_file(up.file);
        self.abort_upload(now, &up, failure, why);
    }

    /// The error reply, the summary line and the end of an upload whose file is closed.
    fn abort_upload(&mut self, now: u64, up: &Upload, failure: (Status, Outcome), why: &str) {
        let (status, outcome) = failure;
        if !up.v1 {
            self.reply(Reply::error(status, why));
        }
        let reason = format!("{}: {why}", status.as_str());
        self.report(now, up, "", 0, None, outcome, &reason);
        self.end();
    }

    /// The connection was lost (or stalled) mid-body. A resumable upload keeps what
    /// arrived as its partial (outcome `partial`); anything else is deleted (`lost`).
    pub(crate) fn lose_upload(
        &mut self,
        now: u64,
        up: Upload,
        (lost, why): (Outcome, &str),
        st: &mut dyn Storage,
    ) {
        let mut kept = None;
        if let Some(path) = self.partial_path(&up.put) {
            match st.commit_file(up.file, &path, true) {
                Ok(()) => {
                    kept = st.stat(&path).ok().map(|s| s.size);
                    let name = path.rsplit('/').next().unwrap_or(&path).to_owned();
                    if let Some(now_unix) = self.wall_secs {
                        names::expire_partials(&self.cfg, st, &name, now_unix);
                    }
                    names::prune_partials(&self.cfg, st, &name);
                }
                Err(e) => {
                    self.warn(format!(
                        "partial not kept peer={} reason=\"{e}\"",
                        self.peer
                    ));
                    let _ = st.close_file(up.file);
                }
            }
        } else {
            let _ = st.close_file(up.file);
        }
        let (outcome, reason) = match kept {
            Some(n) => (
                Outcome::Partial,
                format!("{why}; {n} bytes kept for resume"),
            ),
            None => (lost, why.to_owned()),
        };
        self.report(now, &up, "", kept.unwrap_or(0), None, outcome, &reason);
        self.end();
    }

    /// One summary line and one `TransferCompleted` per upload: the outcome in both,
    /// the free-text `reason` only in the line (a metric label must stay bounded).
    #[allow(clippy::too_many_arguments)]
    fn report(
        &mut self,
        now: u64,
        up: &Upload,
        path: &str,
        bytes: u64,
        digest: Option<[u8; 32]>,
        outcome: Outcome,
        reason: &str,
    ) {
        let ms = now.saturating_sub(up.started);
        let proto = if up.v1 { "v1" } else { "v2" };
        let sha = digest.map(|d| hex(&d));
        let mut line = format!(
            "transfer proto={proto} direction=upload peer={} file={:?} name={:?} len={} bytes={bytes} \
             resumed_from={} duration_ms={ms} rate={}MB/s sha256={} result=\"{outcome}\"",
            self.peer,
            path,
            up.put.name,
            up.put.len,
            up.resumed_from,
            rate(bytes.saturating_sub(up.resumed_from), ms),
            sha.as_deref().unwrap_or("-"),
        );
        if !outcome.is_ok() {
            line.push_str(&format!(" reason={reason:?}"));
        }
        if self.extra > 0 {
            line.push_str(&format!(" extra_bytes={}", self.extra));
        }
        if outcome.is_ok() && self.extra == 0 {
            self.debug(line);
        } else if outcome.is_ok() {
            // Bytes past the announced length: worth the operator's eye.
            self.info(line);
        } else {
            self.warn(line);
        }
        self.push(Output::Transfer(TransferCompleted {
            protocol: "bulk".into(),
            peer: self.peer.clone(),
            file: path.to_owned(),
            direction: "upload".into(),
            bytes,
            duration_ms: ms,
            sha256: sha,
            result: outcome.into(),
        }));
    }

    /// The transfer is over: close after the reply.
    pub(crate) fn end(&mut self) {
        self.phase = Phase::Done;
        self.set_deadline(None);
        self.push(Output::Close);
    }
}
