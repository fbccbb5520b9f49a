//! v2 `GET`: the reply (length that follows, remembered digest), then the file range
//! with `sendfile`.

use switchyard_sdk::conn::SessionInfo;
use switchyard_sdk::messages::{Outcome, TransferCompleted};
use switchyard_sdk::{Direction, FileId, HostError};

use super::names;
use super::{Output, Phase, Session, Storage, rate};
use crate::codec::{self, Get, Reply, Status, hex};

/// A download in flight.
#[derive(Debug)]
pub(crate) struct Download {
    pub file: FileId,
    pub path: String,
    pub offset: u64,
    pub len: u64,
    pub digest: Option<[u8; 32]>,
    pub started: u64,
    pub token: u64,
}

impl Session {
    /// Refuse a `GET` before anything is sent; recorded as a transfer.
    fn refuse_get(&mut self, status: Status, why: &str) {
        self.refuse_v2(status, why);
        self.record_refusal("download", status);
    }

    pub(crate) fn start_download(&mut self, now: u64, get: Get, st: &mut dyn Storage) {
        if self.draining {
            return self.refuse_get(Status::Unavailable, "server shutting down");
        }
        if !self.cfg.downloads {
            return self.refuse_get(Status::Unavailable, "downloads are disabled");
        }
        if let Err(e) = codec::check_name(&get.name) {
            return self.refuse_get(Status::BadName, &e.to_string());
        }
        let path = self.cfg.path_of(&get.name);
        if get.offset == codec::PROBE_OFFSET {
            return self.answer_probe(&get.name, &path, st);
        }
        let (file, size) = match st.open_read(&path) {
            Ok(f) => f,
            Err(HostError::NotFound | HostError::IsDir | HostError::Access) => {
                return self.refuse_get(Status::NotFound, codec::NO_SUCH_FILE);
            }
            Err(e) => return self.refuse_get(Status::Internal, &e.to_string()),
        };
        if get.offset > size {
            let _ = st.close_file(file);
            let why = codec::past_the_end(get.offset, size);
            return self.refuse_get(Status::NotFound, &why);
        }
        let digest = names::load_sum(&self.cfg, st, &get.name, file);
        self.leftover_is_error();
        let len = size - get.offset;
        self.reply(Reply {
            status: Status::Ok,
            value: len,
            digest,
            text: get.name.clone(),
        });
        let token = self.token();
        self.push(Output::Describe(SessionInfo {
            direction: Direction::Send,
            resource: get.name.clone(),
            bytes_done: 0,
            bytes_total: Some(len),
        }));
        self.push(Output::SendFile {
            file,
            offset: get.offset,
            len,
            token,
        });
        self.set_deadline(Some(now.saturating_add(self.cfg.transfer_ms(len))));
        self.phase = Phase::Sending(Download {
            file,
            path,
            offset: get.offset,
            len,
            digest,
            started: now,
            token,
        });
    }

    /// "Is this name taken?" (`codec::PROBE_OFFSET`): the `NOT_FOUND` a `GET` past the
    /// end gets, but logged at debug and not recorded as a transfer, since every
    /// `switchyard-bulk send` asks it first; a warning per upload would bury the real
    /// ones.
    fn answer_probe(&mut self, name: &str, path: &str, st: &mut dyn Storage) {
        let text = match st.stat(path) {
            Ok(s) if s.is_file => codec::past_the_end(codec::PROBE_OFFSET, s.size),
            Ok(_) | Err(HostError::NotFound | HostError::IsDir | HostError::Access) => {
                codec::NO_SUCH_FILE.to_owned()
            }
            Err(e) => return self.refuse_get(Status::Internal, &e.to_string()),
        };
        self.debug(format!(
            "probe peer={} name={name:?} answer={text:?}",
            self.peer
        ));
        self.reply(Reply::error(Status::NotFound, text));
        self.end();
    }

    pub(crate) fn finish_download(
        &mut self,
        now: u64,
        d: Download,
        result: Result<(), (Outcome, String)>,
        st: &mut dyn Storage,
    ) {
        let _ = st.close_file(d.file);
        let ms = now.saturating_sub(d.started);
        let (bytes, outcome, why) = match result {
            Ok(()) => (d.len, Outcome::Ok, String::new()),
            Err((outcome, why)) => (0, outcome, why),
        };
        let sha = d.digest.map(|x| hex(&x));
        let mut line = format!(
            "transfer proto=v2 direction=download peer={} file={:?} offset={} bytes={bytes} \
             duration_ms={ms} rate={}MB/s sha256={} result=\"{outcome}\"",
            self.peer,
            d.path,
            d.offset,
            rate(bytes, ms),
            sha.as_deref().unwrap_or("-"),
        );
        if outcome.is_ok() {
            self.debug(line);
        } else {
            line.push_str(&format!(" reason={why:?}"));
            self.warn(line);
        }
        self.push(Output::Transfer(TransferCompleted {
            protocol: "bulk".into(),
            peer: self.peer.clone(),
            file: d.path,
            direction: "download".into(),
            bytes,
            duration_ms: ms,
            sha256: sha,
            result: outcome.into(),
        }));
        self.end();
    }
}
