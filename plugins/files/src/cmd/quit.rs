//! `QUIT` -> `OK bye`, then the server closes the connection.

use crate::cmd::arity;
use crate::codec::{CodecError, Frame, Reply};
use crate::machine::Session;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quit;

impl Quit {
    pub fn parse(args: &[String]) -> Result<Quit, CodecError> {
        arity("QUIT", args, 0, 0)?;
        Ok(Quit)
    }

    pub fn to_frame(&self) -> Frame {
        Frame::new(["QUIT"])
    }

    pub(crate) fn apply(self, s: &mut Session) {
        s.reply(&Reply::Ok(vec!["bye".into()]));
        s.log_ok(format!(
            "request cmd=QUIT proto=v2 peer={} result=ok",
            s.peer
        ));
        s.close();
    }
}
