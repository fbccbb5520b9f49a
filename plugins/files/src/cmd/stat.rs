//! `STAT name` -> `OK <kind> <size> <mtime>` (kind `f`, `d` or `o`; mtime in Unix seconds).

use crate::cmd::list::kind;
use crate::cmd::{arity, name_arg, number_arg};
use crate::codec::{CodecError, Frame, Reply, encode_name};
use crate::machine::{Session, Storage, host_error};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub name: String,
}

/// The fields of `STAT`'s `OK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatOk {
    pub kind: char,
    pub size: u64,
    pub mtime: i64,
}

impl StatOk {
    pub fn from_fields(fields: &[String]) -> Result<StatOk, CodecError> {
        arity("STAT reply", fields, 3, 3)?;
        let kind = fields[0]
            .chars()
            .next()
            .filter(|c| "fdo".contains(*c) && fields[0].len() == 1);
        Ok(StatOk {
            kind: kind.ok_or_else(|| CodecError::invalid("kind must be f, d or o"))?,
            size: number_arg("size", &fields[1])?,
            mtime: fields[2]
                .parse()
                .map_err(|_| CodecError::invalid("bad mtime"))?,
        })
    }
}

impl Stat {
    pub fn parse(args: &[String]) -> Result<Stat, CodecError> {
        arity("STAT", args, 1, 1)?;
        Ok(Stat {
            name: name_arg(&args[0], false)?,
        })
    }

    pub fn to_frame(&self) -> Frame {
        Frame::new(["STAT".to_owned(), encode_name(&self.name)])
    }

    pub(crate) fn apply(self, s: &mut Session, st: &mut dyn Storage) {
        match st.stat(&self.name) {
            Ok(stat) => {
                let fields = vec![
                    kind(&stat).to_string(),
                    stat.size.to_string(),
                    stat.modified_unix.to_string(),
                ];
                s.reply(&Reply::Ok(fields));
                s.log_ok(format!(
                    "request cmd=STAT proto=v2 peer={} file={:?} result=ok",
                    s.peer, self.name
                ));
            }
            Err(e) => {
                let (code, msg) = host_error(e);
                s.fail("STAT", &self.name, code, msg);
            }
        }
    }
}
