//! `PUT name size [sha256|-] [overwrite]` -> `CONTINUE` (or an error, and the client
//! sends nothing), then the client sends exactly `size` bytes, then `OK <name> <size>
//! <sha256>` once the file is stored: fsynced and renamed into place by the host, so
//! nothing partial is ever visible. With a digest, a mismatch stores nothing (`422`).

use crate::cmd::{arity, name_arg, number_arg, sha_arg};
use crate::codec::{CodecError, ErrorCode, Frame, Reply, encode_name};
use crate::machine::{Receiving, Session, Storage, host_error};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Put {
    pub name: String,
    pub size: u64,
    pub sha256: Option<String>,
    pub overwrite: bool,
}

/// The fields of `PUT`'s final `OK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutOk {
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

impl PutOk {
    pub fn from_fields(fields: &[String]) -> Result<PutOk, CodecError> {
        arity("PUT reply", fields, 3, 3)?;
        let sha256 =
            sha_arg(&fields[2])?.ok_or_else(|| CodecError::invalid("PUT reply without sha256"))?;
        Ok(PutOk {
            name: crate::codec::decode_name(&fields[0])?,
            size: number_arg("size", &fields[1])?,
            sha256,
        })
    }
}

impl Put {
    pub fn parse(args: &[String]) -> Result<Put, CodecError> {
        arity("PUT", args, 2, 4)?;
        let sha256 = match args.get(2) {
            Some(t) => sha_arg(t)?,
            None => None,
        };
        let overwrite = match args.get(3).map(String::as_str) {
            None => false,
            Some("overwrite") => true,
            Some(_) => {
                return Err(CodecError::invalid(
                    "the 4th PUT argument can only be `overwrite`",
                ));
            }
        };
        Ok(Put {
            name: name_arg(&args[0], false)?,
            size: number_arg("size", &args[1])?,
            sha256,
            overwrite,
        })
    }

    pub fn to_frame(&self) -> Frame {
        let mut tokens = vec![
            "PUT".to_owned(),
            encode_name(&self.name),
            self.size.to_string(),
        ];
        if self.sha256.is_some() || self.overwrite {
            tokens.push(self.sha256.clone().unwrap_or_else(|| "-".into()));
        }
        if self.overwrite {
            tokens.push("overwrite".into());
        }
        Frame::new(tokens)
    }

    pub(crate) fn apply(self, s: &mut Session, now: u64, st: &mut dyn Storage) {
        let name = self.name.as_str();
        if s.draining {
            return s.refuse(
                now,
                "PUT",
                name,
                ErrorCode::Unavailable,
                "server shutting down",
            );
        }
        if self.size > s.cfg.max_upload_bytes {
            let msg = format!("size over the limit of {} bytes", s.cfg.max_upload_bytes);
            return s.refuse(now, "PUT", name, ErrorCode::TooLarge, &msg);
        }
        if self.overwrite && !s.cfg.allow_overwrite {
            return s.refuse(
                now,
                "PUT",
                name,
                ErrorCode::NotAllowed,
                "overwriting is disabled on this server",
            );
        }
        match st.stat(name) {
            Ok(stat) if !stat.is_file => {
                return s.refuse(now, "PUT", name, ErrorCode::NotAFile, "is a directory");
            }
            Ok(_) if !self.overwrite => {
                return s.refuse(now, "PUT", name, ErrorCode::Exists, "already exists");
            }
            Ok(_) | Err(switchyard_sdk::HostError::NotFound) => {}
            Err(e) => {
                let (code, msg) = host_error(e);
                return s.refuse(now, "PUT", name, code, msg);
            }
        }
        let free = st.free_space().unwrap_or(0);
        if self.size.saturating_add(s.cfg.reserve_free_bytes) > free {
            return s.refuse(
                now,
                "PUT",
                name,
                ErrorCode::NoSpace,
                "not enough free space for this size",
            );
        }
        let file = match st.create_temp(name) {
            Ok(f) => f,
            Err(e) => {
                let (code, msg) = host_error(e);
                return s.refuse(now, "PUT", name, code, msg);
            }
        };
        s.reply(&Reply::Continue);
        let r = Receiving {
            file,
            name: self.name,
            size: self.size,
            remaining: self.size,
            expected: self.sha256,
            overwrite: self.overwrite,
            started: now,
            token: 0,
        };
        s.start_recv(r, st);
    }
}
