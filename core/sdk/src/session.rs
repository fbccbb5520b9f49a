//! [`Session`]: what a plugin tells the host about one of its sessions.
//!
//! Why the host wants to know: when it must cut sessions (the drain deadline of a
//! shutdown or a reload) it logs one line per session naming the peer, the file and
//! the bytes done, and the operator's view lists what runs. Only the plugin knows what
//! a session is (a TFTP transfer on its own socket, a chat member on a shared one, a
//! files request on a connection), so it describes each one with
//! [`Ctx::describe_session`](crate::Ctx::describe_session) and ends it with
//! [`Ctx::end_session`](crate::Ctx::end_session), whose [`Outcome`] is the metrics'
//! bounded `result` label.

use std::net::SocketAddr;

use crate::abi::{self, SySession, SyStr};
use crate::ctx::Ctx;
use crate::error::HostError;
use crate::event::ConnId;

pub use crate::messages::Outcome;

/// Which way a session's bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Neither (a chat member, a control connection).
    #[default]
    None,
    /// To the peer: a download.
    Send,
    /// From the peer: an upload.
    Receive,
}

impl Direction {
    /// The `SY_DIR_*` value.
    pub const fn raw(self) -> u32 {
        match self {
            Direction::None => abi::SY_DIR_NONE,
            Direction::Send => abi::SY_DIR_SEND,
            Direction::Receive => abi::SY_DIR_RECEIVE,
        }
    }

    /// From `SY_DIR_*`; an unknown value is `None`.
    pub const fn from_raw(raw: u32) -> Direction {
        match raw {
            abi::SY_DIR_SEND => Direction::Send,
            abi::SY_DIR_RECEIVE => Direction::Receive,
            _ => Direction::None,
        }
    }

    /// `send`, `receive` or `none`, as logs and metrics write it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::None => "none",
            Direction::Send => "send",
            Direction::Receive => "receive",
        }
    }
}

/// One session as its plugin describes it. Borrowed: the host copies what it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Session<'a> {
    pub direction: Direction,
    pub peer: Option<SocketAddr>,
    /// The connection it runs on: the host then counts the bytes it moves there for
    /// the session (file sends and receives included), so a plugin that hands a file
    /// to `send_file` need not report progress itself.
    pub conn: Option<ConnId>,
    /// What it works on (a file name), or empty.
    pub resource: &'a str,
    /// A short word for its state (`sending`, `waiting`, `joined`), or empty.
    pub state: &'a str,
    pub bytes_done: u64,
    pub bytes_total: Option<u64>,
}

impl<'a> Session<'a> {
    /// The raw struct, borrowing `self`'s strings.
    pub fn to_raw(&self) -> SySession {
        SySession {
            struct_size: std::mem::size_of::<SySession>() as u32,
            direction: self.direction.raw(),
            peer: self.peer.map(abi::SyAddr::from).unwrap_or_default(),
            conn: self.conn.map_or(0, |c| c.0),
            resource: SyStr::from_str(self.resource),
            state: SyStr::from_str(self.state),
            bytes_done: self.bytes_done,
            bytes_total: self.bytes_total.unwrap_or(0),
        }
    }
}

impl Ctx<'_> {
    /// Describe session `id` (a key of the plugin's choosing, unique within the
    /// instance: a socket or connection id does), or update its description. Cheap:
    /// call it when the session starts and as it progresses (every few blocks, not
    /// every byte); the host copies the numbers, and the strings only when changed.
    pub fn describe_session(&mut self, id: u64, session: &Session<'_>) -> Result<(), HostError> {
        let raw = session.to_raw();
        // SAFETY: `raw` and the strings it borrows outlive the call.
        HostError::check(unsafe { (self.api.session_update)(self.raw, id, &raw) })
    }

    /// Session `id` ended with `outcome`: the host forgets it and counts the outcome in
    /// `switchyard_transfers_total{result}`. Ending an `id` never described counts too
    /// (a request refused at once needs no description first).
    pub fn end_session(&mut self, id: u64, outcome: Outcome) -> Result<(), HostError> {
        // SAFETY: a static string.
        HostError::check(unsafe {
            (self.api.session_end)(self.raw, id, SyStr::from_str(outcome.as_str()))
        })
    }
}
