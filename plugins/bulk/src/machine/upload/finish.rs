//! A complete body: verified against the digest the client sent, committed under a
//! unique name (or over its own with the replace flag), its digest remembered, and
//! the client told. A step (`park`): each commit and stat may wait.

use switchyard_sdk::HostError;
use switchyard_sdk::messages::Outcome;

use super::Upload;
use crate::codec::{Reply, Status, hex};
use crate::machine::names::{self, MAX_CANDIDATES};
use crate::machine::{Session, Storage};

impl Session {
    /// The whole body is in and hashed: verify, commit under a unique name, reply.
    pub(crate) fn finish(&mut self, now: u64, up: Upload, digest: [u8; 32], st: &mut dyn Storage) {
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
            // Parked: the temp stays open for the commit.
            Err(HostError::Pending) => return,
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
    pub(super) fn commit_unique(
        &mut self,
        up: &Upload,
        st: &mut dyn Storage,
    ) -> Result<String, HostError> {
        if up.put.replace {
            let path = self.cfg.path_of(&up.put.name);
            return st
                .commit_file(up.file, &path, true)
                .map(|()| up.put.name.clone());
        }
        let first = if up.v1 {
            match st.list_dir(&self.cfg.incoming_dir) {
                Ok(entries) => names::v1_first(&entries),
                Err(HostError::Pending) => return Err(HostError::Pending),
                Err(_) => 1,
            }
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
            match st.stat(&path) {
                Ok(_) => continue,
                Err(HostError::Pending) => return Err(HostError::Pending),
                Err(_) => {}
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
}
