//! `LIST [dir]` -> `OK <count> <total>`, then `<count>` entry lines
//! `<kind> <size> <mtime> <name>`: kind `f` (file), `d` (directory) or `o` (other),
//! mtime in Unix seconds, name percent-encoded. Hidden names are not listed; at most
//! `max_list_entries` are (`total` says how many there were).

use switchyard_sdk::Stat;

use crate::cmd::{arity, name_arg, number_arg};
use crate::codec::{CodecError, Frame, Reply, decode_name, encode_name};
use crate::machine::{Session, Storage, host_error};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    /// `""` is the root.
    pub dir: String,
}

/// One listed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: char,
    pub size: u64,
    pub mtime: i64,
    pub name: String,
}

impl Entry {
    pub(crate) fn from_stat(name: &str, stat: &Stat) -> Entry {
        Entry {
            kind: kind(stat),
            size: stat.size,
            mtime: stat.modified_unix,
            name: name.to_owned(),
        }
    }

    pub fn to_frame(&self) -> Frame {
        Frame::new([
            self.kind.to_string(),
            self.size.to_string(),
            self.mtime.to_string(),
            encode_name(&self.name),
        ])
    }

    pub fn from_frame(frame: &Frame) -> Result<Entry, CodecError> {
        arity("LIST entry", &frame.tokens, 4, 4)?;
        let t = &frame.tokens;
        let kind = match t[0].as_str() {
            "f" => 'f',
            "d" => 'd',
            "o" => 'o',
            _ => return Err(CodecError::invalid("entry kind must be f, d or o")),
        };
        let mtime = t[2].parse().map_err(|_| CodecError::invalid("bad mtime"))?;
        Ok(Entry {
            kind,
            size: number_arg("size", &t[1])?,
            mtime,
            name: decode_name(&t[3])?,
        })
    }
}

/// `f`, `d` or `o`.
pub(crate) fn kind(stat: &Stat) -> char {
    if stat.is_file {
        'f'
    } else if stat.is_dir {
        'd'
    } else {
        'o'
    }
}

impl List {
    pub fn parse(args: &[String]) -> Result<List, CodecError> {
        arity("LIST", args, 0, 1)?;
        let dir = match args.first() {
            Some(t) => name_arg(t, true)?,
            None => String::new(),
        };
        Ok(List { dir })
    }

    pub fn to_frame(&self) -> Frame {
        if self.dir.is_empty() {
            Frame::new(["LIST"])
        } else {
            Frame::new(["LIST".to_owned(), encode_name(&self.dir)])
        }
    }

    pub(crate) fn apply(self, s: &mut Session, st: &mut dyn Storage) {
        let entries = match st.list_dir(&self.dir) {
            Ok(e) => e,
            Err(e) => {
                let (code, msg) = host_error(e);
                return s.fail("LIST", &self.dir, code, msg);
            }
        };
        let visible: Vec<&(String, Stat)> = entries.iter().filter(|(n, _)| !s.hides(n)).collect();
        let shown = visible.len().min(s.cfg.max_list_entries);
        let mut out = Reply::Ok(vec![shown.to_string(), visible.len().to_string()]).to_bytes();
        for (name, stat) in visible.iter().take(shown) {
            Entry::from_stat(name, stat).to_frame().encode(&mut out);
        }
        s.write(out);
        s.log_ok(format!(
            "request cmd=LIST proto=v2 peer={} file={:?} entries={shown} result=ok",
            s.peer, self.dir
        ));
    }
}
