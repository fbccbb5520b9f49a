//! Agent commands' arguments: `/agent SECRET [NAME]`, `/reply ID TEXT`, `/take ID`,
//! `/release [ID]`.

use super::names::{VisitorRef, check_nick};
use super::room::one_word;
use super::{CodecError, Request};

/// `/agent SECRET [NAME]`: the agent handshake.
pub fn handshake(args: &str) -> Result<Request<'_>, CodecError> {
    let mut words = args.split_whitespace();
    let secret = words.next().ok_or(CodecError::MissingArgument {
        command: "agent",
        what: "the secret",
    })?;
    let name = words.next().map(check_nick).transpose()?;
    if words.next().is_some() {
        return Err(CodecError::UnexpectedArgument { command: "agent" });
    }
    Ok(Request::Agent { secret, name })
}

/// `/reply ID TEXT`: the text is everything after the id, kept as typed.
pub fn reply(args: &str) -> Result<Request<'_>, CodecError> {
    let (id, text) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
    if id.is_empty() {
        return Err(CodecError::MissingArgument {
            command: "reply",
            what: "a visitor id and a text",
        });
    }
    let visitor = VisitorRef::parse(id)?;
    let text = text.trim_start();
    if text.trim().is_empty() {
        return Err(CodecError::MissingArgument {
            command: "reply",
            what: "a text after the visitor id",
        });
    }
    Ok(Request::Reply { visitor, text })
}

/// `/take ID`.
pub fn take(args: &str) -> Result<Request<'_>, CodecError> {
    Ok(Request::Take(VisitorRef::parse(one_word(
        args,
        "take",
        "a visitor id",
    )?)?))
}

/// `/release [ID]`: without an id, the visitor this agent holds.
pub fn release(args: &str) -> Result<Request<'_>, CodecError> {
    if args.trim().is_empty() {
        return Ok(Request::Release(None));
    }
    Ok(Request::Release(Some(VisitorRef::parse(one_word(
        args,
        "release",
        "a visitor id",
    )?)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_forms() {
        assert_eq!(
            handshake("s3cret"),
            Ok(Request::Agent {
                secret: "s3cret",
                name: None
            })
        );
        assert_eq!(
            handshake("s3cret alice"),
            Ok(Request::Agent {
                secret: "s3cret",
                name: Some("alice")
            })
        );
        assert!(matches!(
            handshake(""),
            Err(CodecError::MissingArgument {
                command: "agent",
                ..
            })
        ));
        assert_eq!(
            handshake("s a b"),
            Err(CodecError::UnexpectedArgument { command: "agent" })
        );
        assert!(matches!(handshake("s v9"), Err(CodecError::BadNick(_))));
    }

    #[test]
    fn reply_forms() {
        assert_eq!(
            reply("v3 hello  there"),
            Ok(Request::Reply {
                visitor: VisitorRef::local(3),
                text: "hello  there"
            })
        );
        assert!(matches!(
            reply(""),
            Err(CodecError::MissingArgument {
                command: "reply",
                ..
            })
        ));
        assert!(matches!(
            reply("v3"),
            Err(CodecError::MissingArgument {
                command: "reply",
                ..
            })
        ));
        assert!(matches!(
            reply("v3    "),
            Err(CodecError::MissingArgument {
                command: "reply",
                ..
            })
        ));
        assert!(matches!(reply("bob hi"), Err(CodecError::BadVisitorId(_))));
    }

    #[test]
    fn take_and_release_forms() {
        assert_eq!(take("v4"), Ok(Request::Take(VisitorRef::local(4))));
        assert!(matches!(
            take(""),
            Err(CodecError::MissingArgument {
                command: "take",
                ..
            })
        ));
        assert_eq!(
            take("v4 v5"),
            Err(CodecError::UnexpectedArgument { command: "take" })
        );
        assert!(matches!(take("x"), Err(CodecError::BadVisitorId(_))));
        assert_eq!(release(""), Ok(Request::Release(None)));
        assert_eq!(
            release("v2"),
            Ok(Request::Release(Some(VisitorRef::local(2))))
        );
        assert!(matches!(release("zz"), Err(CodecError::BadVisitorId(_))));
    }
}
