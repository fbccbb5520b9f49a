//! [`CodecError`]: why a datagram is not a valid request.
//!
//! Every variant's `Display` text is what the client reads after `! `, so the texts are
//! written for the person at the keyboard, not for a log.

/// A malformed datagram or command. Answered with an error reply, never a crash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// Nothing but whitespace (the seed client sends this for an empty line).
    #[error("empty message")]
    Empty,
    /// Larger than the configured maximum: refused whole, never truncated.
    #[error("message too long: {len} bytes, at most {max}")]
    TooLong { len: usize, max: usize },
    /// Not UTF-8; `at` is the length of the valid prefix.
    #[error("invalid UTF-8 at byte {at}")]
    InvalidUtf8 { at: usize },
    /// A control character (other than tab) that could garble other users' terminals.
    #[error("control character at byte {at}")]
    ControlChar { at: usize },
    /// `/something` this server does not know.
    #[error("unknown command /{0}; try /help")]
    UnknownCommand(String),
    /// A command without its required argument.
    #[error("/{command} needs {what}")]
    MissingArgument {
        command: &'static str,
        what: &'static str,
    },
    /// A command that takes no argument (or fewer than were given).
    #[error("/{command}: unexpected argument")]
    UnexpectedArgument { command: &'static str },
    /// A nickname that breaks the naming rules.
    #[error("invalid nick: {0}")]
    BadNick(&'static str),
    /// A room name that breaks the naming rules.
    #[error("invalid room name: {0}")]
    BadRoom(&'static str),
    /// Not a visitor id (`v12`).
    #[error("invalid visitor id {0:?}: ids look like v12")]
    BadVisitorId(String),
}
