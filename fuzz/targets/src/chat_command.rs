//! `chat_command`: structured commands written as a client would type them (`/nick
//! NAME`, `/join #ROOM`, `/agent SECRET [NAME]`, `/reply v3 TEXT`, ...), decoded: a
//! well-formed command decodes to exactly its request, and one with a bad argument is
//! refused with the error of the rule it breaks.

use arbitrary::{Arbitrary, Unstructured};
use switchyard_chat::codec::names::{check_nick, check_room};
use switchyard_chat::codec::{CodecError, Request, VisitorRef, decode};

#[derive(Debug, Arbitrary)]
enum Cmd {
    Nick(String),
    Join(String, bool),
    Agent(String, Option<String>),
    Reply(u64, bool, String),
    Take(u64),
    Release(Option<u64>),
    Simple(u8),
    Text(String),
}

const MAX: usize = 1024;

/// One word a command takes: non-empty, no whitespace, no control character.
fn word(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn id(n: u64, v: bool) -> String {
    if v { format!("v{n}") } else { n.to_string() }
}

pub fn chat_command(data: &[u8]) {
    let Ok(cmd) = Cmd::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    match &cmd {
        Cmd::Nick(n) if word(n) => {
            let line = format!("/nick {n}");
            if line.len() > MAX {
                return;
            }
            assert_eq!(
                decode(line.as_bytes(), MAX),
                check_nick(n).map(Request::Nick)
            );
        }
        Cmd::Join(r, hash) if word(r) => {
            let line = format!("/join {}{r}", if *hash { "#" } else { "" });
            let want = check_room(r).map(Request::Join);
            if line.len() <= MAX && (!r.starts_with('#') || !*hash) {
                assert_eq!(decode(line.as_bytes(), MAX), want);
            }
        }
        Cmd::Agent(secret, name) if word(secret) && name.as_deref().is_none_or(word) => {
            let line = match name {
                Some(n) => format!("/agent {secret} {n}"),
                None => format!("/agent {secret}"),
            };
            if line.len() > MAX {
                return;
            }
            let want = match name.as_deref().map(check_nick).transpose() {
                Ok(name) => Ok(Request::Agent { secret, name }),
                Err(e) => Err(e),
            };
            assert_eq!(decode(line.as_bytes(), MAX), want);
        }
        Cmd::Reply(n, v, text) if !text.chars().any(char::is_control) => {
            let line = format!("/reply {} {text}", id(*n, *v));
            let got = decode(line.as_bytes(), MAX);
            if line.len() > MAX {
                assert!(matches!(got, Err(CodecError::TooLong { .. })));
            } else if text.trim().is_empty() {
                assert!(
                    matches!(got, Err(CodecError::MissingArgument { .. })),
                    "{got:?}"
                );
            } else {
                let want = Request::Reply {
                    visitor: VisitorRef::local(*n),
                    text: text.trim_start(),
                };
                assert_eq!(got, Ok(want));
            }
        }
        Cmd::Take(n) => {
            let line = format!("/take v{n}");
            assert_eq!(
                decode(line.as_bytes(), MAX),
                Ok(Request::Take(VisitorRef::local(*n)))
            );
        }
        Cmd::Release(n) => {
            let line = match n {
                Some(n) => format!("/release {n}"),
                None => "/release".to_owned(),
            };
            assert_eq!(
                decode(line.as_bytes(), MAX),
                Ok(Request::Release(n.map(VisitorRef::local)))
            );
        }
        Cmd::Simple(i) => {
            let table = [
                ("help", Request::Help),
                ("?", Request::Help),
                ("ping", Request::Ping),
                ("quit", Request::Bye),
                ("leave", Request::Leave),
                ("part", Request::Leave),
                ("who", Request::Who),
                ("rooms", Request::Rooms),
                ("waiting", Request::Waiting),
                ("list", Request::Waiting),
            ];
            let (name, want) = &table[usize::from(*i) % table.len()];
            assert_eq!(
                decode(format!("/{name}").as_bytes(), MAX).as_ref(),
                Ok(want)
            );
            assert_eq!(
                decode(format!("/{name}\r\n").as_bytes(), MAX).as_ref(),
                Ok(want)
            );
            assert!(matches!(
                decode(format!("/{name} extra").as_bytes(), MAX),
                Err(CodecError::UnexpectedArgument { .. })
            ));
        }
        Cmd::Text(t) if !t.starts_with('/') && t.trim() != "bye" && !t.trim().is_empty() => {
            if t.len() <= MAX && !t.chars().any(|c| c.is_control() && c != '\t') {
                assert_eq!(decode(t.as_bytes(), MAX), Ok(Request::Text(t)));
            }
            // `//` escapes a text that starts with a slash.
            let escaped = format!("//{t}");
            if escaped.len() <= MAX && !t.chars().any(|c| c.is_control() && c != '\t') {
                let want = format!("/{t}");
                assert_eq!(decode(escaped.as_bytes(), MAX), Ok(Request::Text(&want)));
            }
        }
        _ => {}
    }
}
