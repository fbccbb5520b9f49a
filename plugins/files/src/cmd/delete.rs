//! `DELETE name` -> `OK`, only where the configuration allows it (`allow_delete`);
//! otherwise `405`. Directories are not removed.

use crate::cmd::{arity, name_arg};
use crate::codec::{CodecError, ErrorCode, Frame, Reply, encode_name};
use crate::machine::{Session, Storage, host_error, sums};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    pub name: String,
}

impl Delete {
    pub fn parse(args: &[String]) -> Result<Delete, CodecError> {
        arity("DELETE", args, 1, 1)?;
        Ok(Delete {
            name: name_arg(&args[0], false)?,
        })
    }

    pub fn to_frame(&self) -> Frame {
        Frame::new(["DELETE".to_owned(), encode_name(&self.name)])
    }

    pub(crate) fn apply(self, s: &mut Session, st: &mut dyn Storage) {
        if !s.cfg.allow_delete {
            return s.fail(
                "DELETE",
                &self.name,
                ErrorCode::NotAllowed,
                "deleting is disabled on this server",
            );
        }
        match st.stat(&self.name) {
            Ok(stat) if !stat.is_file => {
                return s.fail("DELETE", &self.name, ErrorCode::NotAFile, "not a file");
            }
            Ok(_) => {}
            Err(e) => {
                let (code, msg) = host_error(e);
                return s.fail("DELETE", &self.name, code, msg);
            }
        }
        match st.remove_file(&self.name) {
            Ok(()) => {
                sums::forget(st, &self.name);
                s.reply(&Reply::Ok(vec![]));
                s.log_ok(format!(
                    "request cmd=DELETE proto=v2 peer={} file={:?} result=ok",
                    s.peer, self.name
                ));
            }
            Err(e) => {
                let (code, msg) = host_error(e);
                s.fail("DELETE", &self.name, code, msg);
            }
        }
    }
}
