//! Admission: before anything is created, the length, name, replace flag, free space
//! and resume state are checked; then the upload's temp is made (or the kept partial
//! continued). A step (`park`): on an object store each storage call here may wait,
//! and the step is run again with the wall clock it started with, so that expiring
//! old partials asks the same things in the same order.

use sha2::{Digest, Sha256};
use switchyard_sdk::{FileId, HostError};

use super::{Upload, Want};
use crate::codec::{self, Put, Reply, Status};
use crate::machine::names;
use crate::machine::{Session, Storage};

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

    pub(super) fn partial_path(&self, put: &Put) -> Option<String> {
        let id = put.upload_id.as_ref().filter(|_| self.cfg.resume)?;
        Some(self.cfg.path_of(&names::partial_name(id)))
    }

    /// A header was parsed: admit the upload or refuse it, before creating anything.
    /// `wall`: the wall clock (Unix seconds) when the step started.
    pub(crate) fn admit(&mut self, now: u64, want: Want, wall: Option<i64>, st: &mut dyn Storage) {
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
        if let (Some(_), Some(now_unix)) = (&partial, wall) {
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
}
