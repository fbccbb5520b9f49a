//! Room commands' arguments: `/nick NAME`, `/join ROOM`.

use super::names::{check_nick, check_room};
use super::{CodecError, Request};

/// `/nick NAME`.
pub fn nick(args: &str) -> Result<Request<'_>, CodecError> {
    Ok(Request::Nick(check_nick(one_word(
        args, "nick", "a name",
    )?)?))
}

/// `/join ROOM` (with or without `#`).
pub fn join(args: &str) -> Result<Request<'_>, CodecError> {
    let room = one_word(args, "join", "a room name")?;
    Ok(Request::Join(check_room(room)?))
}

/// Exactly one whitespace-free argument.
pub(super) fn one_word<'a>(
    args: &'a str,
    command: &'static str,
    what: &'static str,
) -> Result<&'a str, CodecError> {
    let mut words = args.split_whitespace();
    let word = words
        .next()
        .ok_or(CodecError::MissingArgument { command, what })?;
    if words.next().is_some() {
        return Err(CodecError::UnexpectedArgument { command });
    }
    Ok(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nick_forms() {
        assert_eq!(nick("alice"), Ok(Request::Nick("alice")));
        assert_eq!(nick("  bob  "), Ok(Request::Nick("bob")));
        assert_eq!(
            nick(""),
            Err(CodecError::MissingArgument {
                command: "nick",
                what: "a name"
            })
        );
        assert_eq!(
            nick("a b"),
            Err(CodecError::UnexpectedArgument { command: "nick" })
        );
        assert!(matches!(nick("v1"), Err(CodecError::BadNick(_))));
    }

    #[test]
    fn join_forms() {
        assert_eq!(join("#Lobby"), Ok(Request::Join("lobby".into())));
        assert_eq!(
            join(""),
            Err(CodecError::MissingArgument {
                command: "join",
                what: "a room name"
            })
        );
        assert_eq!(
            join("a b"),
            Err(CodecError::UnexpectedArgument { command: "join" })
        );
        assert!(matches!(join("#bad!"), Err(CodecError::BadRoom(_))));
    }
}
