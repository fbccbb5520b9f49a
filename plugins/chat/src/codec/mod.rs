//! The wire format: one UTF-8 line per datagram, both ways.
//!
//! [`decode`] turns a client datagram into a [`Request`] or a [`CodecError`]; the
//! [`reply`] module builds (and, for clients, classifies) the server's lines. Plain text
//! is a chat line; a leading `/` starts a command (`//` sends a literal `/`); the exact
//! text `bye` ends the session, as in the seed. Decoding borrows from the datagram and
//! allocates only for a room name (which is lowercased).
//!
//! One module per command family: [`names`] (ids, nicks, rooms), `room` (`/nick`,
//! `/join`), `agent` (`/agent`, `/reply`, `/take`, `/release`).
//!
//! # Layout
//! - this file: [`decode`] and [`Request`].
//! - `error`: [`CodecError`], why a datagram is not a valid request.
//! - [`names`]: visitor ids, nicknames, room names.
//! - `room`: `/nick` and `/join` arguments.
//! - `agent`: `/agent`, `/reply`, `/take` and `/release` arguments.
//! - [`reply`]: the server's lines, built by the plugin and classified by clients.

mod agent;
mod error;
pub mod names;
pub mod reply;
mod room;

pub use error::CodecError;
pub use names::{VisitorId, VisitorRef};

/// The text that ends a visitor's session (seed-compatible: no reply is sent).
pub const BYE: &str = "bye";

/// One decoded client datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    /// A chat line: to the room if in one, else to the support desk (visitor) or to
    /// the visitor an agent holds.
    Text(&'a str),
    /// `bye` or `/quit`: end the session, no reply.
    Bye,
    /// `/help`.
    Help,
    /// `/ping`: liveness probe, answered `* pong`.
    Ping,
    /// `/nick NAME`.
    Nick(&'a str),
    /// `/join ROOM` (lowercased, without `#`).
    Join(String),
    /// `/leave`.
    Leave,
    /// `/who`: members of the current room.
    Who,
    /// `/rooms`: rooms and their sizes.
    Rooms,
    /// `/agent SECRET [NAME]`: become a support agent.
    Agent {
        secret: &'a str,
        name: Option<&'a str>,
    },
    /// `/reply ID TEXT` (agents).
    Reply {
        visitor: VisitorRef<'a>,
        text: &'a str,
    },
    /// `/take ID` (agents): this agent alone handles the visitor from now on.
    Take(VisitorRef<'a>),
    /// `/release [ID]` (agents): give a visitor back to all agents.
    Release(Option<VisitorRef<'a>>),
    /// `/waiting` (agents): visitors waiting for an answer.
    Waiting,
}

/// Decode one datagram of at most `max_len` bytes.
///
/// Checks, in order: size (before anything else, so an oversized datagram is never
/// truncated into something valid), UTF-8, one trailing newline dropped (for `nc`
/// users), control characters, then the command syntax.
pub fn decode(data: &[u8], max_len: usize) -> Result<Request<'_>, CodecError> {
    if data.len() > max_len {
        return Err(CodecError::TooLong {
            len: data.len(),
            max: max_len,
        });
    }
    let text = std::str::from_utf8(data).map_err(|e| CodecError::InvalidUtf8 {
        at: e.valid_up_to(),
    })?;
    let text = match text.strip_suffix('\n') {
        Some(t) => t.strip_suffix('\r').unwrap_or(t),
        None => text,
    };
    if let Some((at, _)) = text
        .char_indices()
        .find(|&(_, c)| c.is_control() && c != '\t')
    {
        return Err(CodecError::ControlChar { at });
    }
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(CodecError::Empty);
    }
    if trimmed == BYE {
        return Ok(Request::Bye);
    }
    match text.strip_prefix('/') {
        Some(rest) if rest.starts_with('/') => Ok(Request::Text(rest)),
        Some(rest) => command(rest),
        None => Ok(Request::Text(text)),
    }
}

/// A command line without its leading `/`.
fn command(line: &str) -> Result<Request<'_>, CodecError> {
    let (name, args) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let none = |request: Request<'static>, command: &'static str| {
        if args.trim().is_empty() {
            Ok(request)
        } else {
            Err(CodecError::UnexpectedArgument { command })
        }
    };
    match name {
        "help" | "?" => none(Request::Help, "help"),
        "ping" => none(Request::Ping, "ping"),
        "quit" => none(Request::Bye, "quit"),
        "leave" | "part" => none(Request::Leave, "leave"),
        "who" => none(Request::Who, "who"),
        "rooms" => none(Request::Rooms, "rooms"),
        "waiting" | "list" => none(Request::Waiting, "waiting"),
        "nick" => room::nick(args),
        "join" => room::join(args),
        "agent" => agent::handshake(args),
        "reply" | "r" => agent::reply(args),
        "take" => agent::take(args),
        "release" => agent::release(args),
        other => Err(CodecError::UnknownCommand(names::clip(other, 32))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(data: &[u8]) -> Result<Request<'_>, CodecError> {
        decode(data, 64)
    }

    #[test]
    fn plain_text_and_bye() {
        assert_eq!(d("你好".as_bytes()), Ok(Request::Text("你好")));
        assert_eq!(d(b"hello\n"), Ok(Request::Text("hello")));
        assert_eq!(d(b"hello\r\n"), Ok(Request::Text("hello")));
        assert_eq!(d(b"  spaced  "), Ok(Request::Text("  spaced  ")));
        assert_eq!(d(b"a\tb"), Ok(Request::Text("a\tb")));
        assert_eq!(d(b"bye"), Ok(Request::Bye));
        assert_eq!(d(b"bye\n"), Ok(Request::Bye));
        assert_eq!(d(b"/quit"), Ok(Request::Bye));
        assert_eq!(d(b"bye bye"), Ok(Request::Text("bye bye")));
        assert_eq!(
            d(b"//join is a command"),
            Ok(Request::Text("/join is a command"))
        );
    }

    #[test]
    fn size_is_checked_first_and_exactly() {
        assert_eq!(decode(&[b'a'; 64], 64), Ok(Request::Text(&"a".repeat(64))));
        assert_eq!(
            decode(&[b'a'; 65], 64),
            Err(CodecError::TooLong { len: 65, max: 64 })
        );
        // Oversized *and* invalid UTF-8: the size error wins, nothing is truncated.
        assert_eq!(
            decode(&[0xff; 100], 64),
            Err(CodecError::TooLong { len: 100, max: 64 })
        );
    }

    #[test]
    fn malformed_utf8() {
        assert_eq!(d(b"\xff"), Err(CodecError::InvalidUtf8 { at: 0 }));
        assert_eq!(
            d(b"ab\xc3"),
            Err(CodecError::InvalidUtf8 { at: 2 }),
            "split character"
        );
        let mut split = "你好".as_bytes().to_vec();
        split.pop();
        assert_eq!(d(&split), Err(CodecError::InvalidUtf8 { at: 3 }));
        assert_eq!(
            d(b"\xed\xa0\x80"),
            Err(CodecError::InvalidUtf8 { at: 0 }),
            "surrogate"
        );
        assert_eq!(
            d(b"\xc0\xaf"),
            Err(CodecError::InvalidUtf8 { at: 0 }),
            "overlong"
        );
    }

    #[test]
    fn empty_and_control() {
        assert_eq!(d(b""), Err(CodecError::Empty));
        assert_eq!(d(b"   "), Err(CodecError::Empty));
        assert_eq!(d(b"\n"), Err(CodecError::Empty));
        assert_eq!(d(b"a\x1b[2Jb"), Err(CodecError::ControlChar { at: 1 }));
        assert_eq!(d(b"a\nb"), Err(CodecError::ControlChar { at: 1 }));
        assert_eq!(d(b"a\0"), Err(CodecError::ControlChar { at: 1 }));
        assert_eq!(
            d("a\u{85}".as_bytes()),
            Err(CodecError::ControlChar { at: 1 })
        );
    }

    #[test]
    fn commands() {
        assert_eq!(d(b"/help"), Ok(Request::Help));
        assert_eq!(d(b"/ping"), Ok(Request::Ping));
        assert_eq!(d(b"/who"), Ok(Request::Who));
        assert_eq!(d(b"/rooms"), Ok(Request::Rooms));
        assert_eq!(d(b"/leave"), Ok(Request::Leave));
        assert_eq!(d(b"/list"), Ok(Request::Waiting));
        assert_eq!(d(b"/nick al"), Ok(Request::Nick("al")));
        assert_eq!(d(b"/join #x"), Ok(Request::Join("x".into())));
        assert_eq!(
            d(b"/r v1 ok"),
            Ok(Request::Reply {
                visitor: VisitorRef::local(1),
                text: "ok"
            })
        );
        assert_eq!(d(b"/take 2"), Ok(Request::Take(VisitorRef::local(2))));
        assert_eq!(
            d(b"/agent pw"),
            Ok(Request::Agent {
                secret: "pw",
                name: None
            })
        );
    }

    #[test]
    fn malformed_commands() {
        assert_eq!(d(b"/"), Err(CodecError::UnknownCommand(String::new())));
        assert_eq!(
            d(b"/frob x"),
            Err(CodecError::UnknownCommand("frob".into()))
        );
        assert_eq!(d(b"/HELP"), Err(CodecError::UnknownCommand("HELP".into())));
        assert_eq!(
            d(b"/who me"),
            Err(CodecError::UnexpectedArgument { command: "who" })
        );
        assert_eq!(
            d(b"/ping x"),
            Err(CodecError::UnexpectedArgument { command: "ping" })
        );
        assert!(matches!(
            d(b"/nick"),
            Err(CodecError::MissingArgument {
                command: "nick",
                ..
            })
        ));
        assert!(matches!(
            d(b"/join"),
            Err(CodecError::MissingArgument {
                command: "join",
                ..
            })
        ));
        assert!(matches!(
            d(b"/reply"),
            Err(CodecError::MissingArgument {
                command: "reply",
                ..
            })
        ));
        assert!(matches!(
            d(b"/take"),
            Err(CodecError::MissingArgument {
                command: "take",
                ..
            })
        ));
        assert!(matches!(
            d(b"/agent"),
            Err(CodecError::MissingArgument {
                command: "agent",
                ..
            })
        ));
        let long = format!("/{}", "x".repeat(60));
        match d(long.as_bytes()) {
            Err(CodecError::UnknownCommand(name)) => assert_eq!(name.len(), 32),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(
            CodecError::TooLong {
                len: 2000,
                max: 1024
            }
            .to_string(),
            "message too long: 2000 bytes, at most 1024"
        );
        assert_eq!(
            CodecError::InvalidUtf8 { at: 3 }.to_string(),
            "invalid UTF-8 at byte 3"
        );
        assert_eq!(
            CodecError::UnknownCommand("x".into()).to_string(),
            "unknown command /x; try /help"
        );
    }
}
