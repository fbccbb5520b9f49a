//! `HASH name` -> `OK <sha256>` of the whole file. A digest remembered from the upload
//! (or an earlier `HASH`) answers at once; otherwise the server reads the file in
//! steps of `hash_step_bytes`, yielding to the host between steps, and remembers it.

use sha2::{Digest, Sha256};

use crate::cmd::{arity, name_arg};
use crate::codec::{CodecError, Frame, Reply, encode_name};
use crate::machine::{Hashing, Session, Storage, host_error, sums};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hash {
    pub name: String,
}

impl Hash {
    pub fn parse(args: &[String]) -> Result<Hash, CodecError> {
        arity("HASH", args, 1, 1)?;
        Ok(Hash {
            name: name_arg(&args[0], false)?,
        })
    }

    pub fn to_frame(&self) -> Frame {
        Frame::new(["HASH".to_owned(), encode_name(&self.name)])
    }

    pub(crate) fn apply(self, s: &mut Session, now: u64, st: &mut dyn Storage) {
        let (file, size) = match st.open_read(&self.name) {
            Ok(f) => f,
            Err(e) => {
                let (code, msg) = host_error(e);
                return s.fail("HASH", &self.name, code, msg);
            }
        };
        if let Some(hex) = sums::load(st, &self.name, file) {
            let _ = st.close_file(file);
            s.reply(&Reply::Ok(vec![hex.clone()]));
            s.log_ok(format!(
                "request cmd=HASH proto=v2 peer={} file={:?} sha256={hex} cached=true result=ok",
                s.peer, self.name
            ));
            return;
        }
        s.start_hash(
            Hashing {
                file,
                name: self.name,
                size,
                offset: 0,
                hasher: Sha256::new(),
                started: now,
                next_step: now,
                prefetch: None,
            },
            now,
            st,
        );
    }
}
