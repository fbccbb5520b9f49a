//! The header: v1 or v2 told apart by the first byte, parsed once it is all there,
//! and dispatched to an upload's admission or a download (each a step, `park`), or
//! refused.

use super::park::Step;
use super::upload::Want;
use super::{Output, Phase, Session, Storage};
use crate::codec::{self, CodecError, Detected, Reply, Request, Status, V1Header};

impl Session {
    pub(super) fn try_header(&mut self, now: u64, st: &mut dyn Storage) {
        let Some(proto) = codec::detect(&self.inbuf) else {
            return;
        };
        match proto {
            Detected::V1 => match V1Header::parse(&self.inbuf) {
                Err(CodecError::Incomplete) => {}
                Err(CodecError::Invalid(why)) => self.refuse_v1(why),
                Ok(_) if !self.cfg.v1 => self.refuse_v1("v1 is disabled"),
                Ok(h) => {
                    self.inbuf.drain(..codec::V1_HEADER_LEN);
                    self.start_upload(now, Want::v1(h.len), st);
                }
            },
            Detected::V2 => match Request::check(&self.inbuf) {
                Err(CodecError::Incomplete) => {}
                Err(CodecError::Invalid(why)) => self.refuse_v2(Status::BadRequest, why),
                Ok(n) => {
                    let req = Request::parse(&self.inbuf);
                    self.inbuf.drain(..n);
                    match req {
                        Err(e) => self.refuse_v2(Status::BadRequest, &e.to_string()),
                        Ok(Request::Put(p)) => self.start_upload(now, Want::v2(p), st),
                        Ok(Request::Get(g)) => self.start_step(now, Step::Download(g), st),
                    }
                }
            },
        }
    }

    /// Admit (or refuse) an upload: a step, as its storage calls may wait.
    fn start_upload(&mut self, now: u64, want: Want, st: &mut dyn Storage) {
        let wall = self.wall_secs;
        self.start_step(now, Step::Admit { want, wall }, st);
    }

    /// Refuse a v1 request: v1 has no error channel, so log and close.
    pub(crate) fn refuse_v1(&mut self, why: &str) {
        self.warn(format!(
            "refused proto=v1 peer={} reason={why:?}",
            self.peer
        ));
        self.phase = Phase::Done;
        self.out.push_back(Output::Close);
    }

    /// Refuse a v2 request with an error reply, then close.
    pub(crate) fn refuse_v2(&mut self, status: Status, why: &str) {
        self.warn(format!(
            "refused proto=v2 peer={} status={} reason={why:?}",
            self.peer,
            status.as_str()
        ));
        self.reply(Reply::error(status, why));
        self.phase = Phase::Done;
        self.out.push_back(Output::Close);
    }
}
