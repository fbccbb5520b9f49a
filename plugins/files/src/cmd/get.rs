//! `GET name [offset]` -> `OK <length> <sha256|->`, then exactly `<length>` bytes of the
//! file from `offset` (sent by the host with `sendfile`). The digest, when the server
//! knows it, is of the *whole* file, whatever the offset.

use crate::cmd::{arity, name_arg, number_arg};
use crate::codec::{CodecError, ErrorCode, Frame, Reply, encode_name};
use crate::machine::{Sending, Session, Storage, host_error, sums};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Get {
    pub name: String,
    pub offset: u64,
}

/// The fields of `GET`'s `OK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetOk {
    /// Bytes that follow the reply line.
    pub len: u64,
    pub sha256: Option<String>,
}

impl GetOk {
    pub fn to_reply(&self) -> Reply {
        Reply::Ok(vec![
            self.len.to_string(),
            self.sha256.clone().unwrap_or_else(|| "-".into()),
        ])
    }

    pub fn from_fields(fields: &[String]) -> Result<GetOk, CodecError> {
        arity("GET reply", fields, 2, 2)?;
        Ok(GetOk {
            len: number_arg("length", &fields[0])?,
            sha256: crate::cmd::sha_arg(&fields[1])?,
        })
    }
}

impl Get {
    pub fn parse(args: &[String]) -> Result<Get, CodecError> {
        arity("GET", args, 1, 2)?;
        let offset = match args.get(1) {
            Some(t) => number_arg("offset", t)?,
            None => 0,
        };
        Ok(Get {
            name: name_arg(&args[0], false)?,
            offset,
        })
    }

    pub fn to_frame(&self) -> Frame {
        let mut tokens = vec!["GET".to_owned(), encode_name(&self.name)];
        if self.offset > 0 {
            tokens.push(self.offset.to_string());
        }
        Frame::new(tokens)
    }

    pub(crate) fn apply(self, s: &mut Session, now: u64, st: &mut dyn Storage) {
        let (file, size) = match st.open_read(&self.name) {
            Ok(f) => f,
            Err(e) => {
                let (code, msg) = host_error(e);
                return s.refuse(now, "GET", &self.name, code, msg);
            }
        };
        if self.offset > size {
            let _ = st.close_file(file);
            return s.refuse(
                now,
                "GET",
                &self.name,
                ErrorCode::BadOffset,
                "offset past the end of the file",
            );
        }
        let sha256 = sums::load(st, &self.name, file);
        let len = size - self.offset;
        s.reply(
            &GetOk {
                len,
                sha256: sha256.clone(),
            }
            .to_reply(),
        );
        let sending = Sending {
            file,
            name: self.name,
            len,
            started: now,
            token: 0,
            sha256,
            v1: false,
        };
        if len == 0 {
            // Nothing to send: no host round trip, but the same bookkeeping.
            s.finish_send(now, sending, Ok(0), st);
        } else {
            s.start_send(now, sending, self.offset);
        }
    }
}
