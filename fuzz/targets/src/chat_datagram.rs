//! `chat_datagram`: any datagram through the chat decoder, with any size limit. Every
//! refusal names a real fault of the input; every request carries names that pass the
//! name rules; and a chat line the server builds from a decoded text (room line,
//! visitor line, agent answer) classifies back to its parts on the client side.

use switchyard_chat::codec::names::{check_nick, check_room};
use switchyard_chat::codec::reply::{self, ServerLine};
use switchyard_chat::codec::{CodecError, Request, VisitorId, decode};

pub fn chat_datagram(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let max = 32 + usize::from(pick) * 4;
    let _ = reply::classify(&String::from_utf8_lossy(rest));
    match decode(rest, max) {
        Err(CodecError::TooLong { len, max: m }) => assert!(len == rest.len() && len > m),
        Err(CodecError::InvalidUtf8 { at }) => {
            let e = std::str::from_utf8(rest).expect_err("refused valid UTF-8");
            assert_eq!(e.valid_up_to(), at);
        }
        Err(CodecError::ControlChar { at }) => {
            let text = std::str::from_utf8(rest).expect("checked");
            let c = text[at..].chars().next().expect("a char at the offset");
            assert!(
                c.is_control() && c != '\t',
                "{c:?} is not a control character"
            );
        }
        Err(CodecError::Empty) => {
            assert!(
                std::str::from_utf8(rest)
                    .expect("checked")
                    .trim()
                    .is_empty()
            )
        }
        Err(_) => {}
        Ok(req) => {
            assert!(rest.len() <= max);
            check_request(&req);
        }
    }
}

fn check_request(req: &Request<'_>) {
    match req {
        Request::Text(t) => {
            assert!(!t.trim().is_empty());
            assert!(!t.chars().any(|c| c.is_control() && c != '\t'));
            lines_classify_back(t);
        }
        Request::Nick(n) => assert_eq!(check_nick(n), Ok(*n)),
        Request::Join(room) => assert_eq!(check_room(room).as_ref(), Ok(room)),
        Request::Agent { secret, name } => {
            assert!(!secret.is_empty() && !secret.contains(char::is_whitespace));
            if let Some(n) = name {
                assert_eq!(check_nick(n), Ok(*n));
            }
        }
        Request::Reply { text, .. } => {
            assert!(!text.trim().is_empty());
            lines_classify_back(text);
        }
        _ => {}
    }
}

/// The lines built around `text` classify back to their parts.
fn lines_classify_back(text: &str) {
    let id = VisitorId(3);
    assert_eq!(
        reply::classify(&reply::room_line("lobby", "alice", text)),
        ServerLine::Room {
            room: "lobby",
            from: "alice",
            text
        }
    );
    assert_eq!(
        reply::classify(&reply::answer_line(id, "alice", text)),
        ServerLine::Visitor {
            id,
            agent: Some("alice"),
            text
        }
    );
    assert_eq!(
        reply::classify(&reply::visitor_line(id, text)),
        ServerLine::Visitor {
            id,
            agent: None,
            text
        },
        "a visitor's text reads as something else"
    );
}
