//! The server's lines: built by the plugin, classified by clients.
//!
//! | line | meaning |
//! |---|---|
//! | `TEXT` | to a visitor: the answer (an agent's, or the auto/busy reply), verbatim |
//! | `* TEXT` | information (joins, acks, lists); `* pong` answers `/ping` |
//! | `! TEXT` | an error; the request was refused, the session goes on |
//! | `#room <nick> TEXT` | a room line, fanned out to every member (the sender too) |
//! | `[v3] TEXT` | to agents: what visitor v3 wrote (`[v3] \TEXT` if it starts with `<` or `\`) |
//! | `[v3] <alice> TEXT` | to agents: agent alice's answer to v3 |
//!
//! Visitors see answers verbatim so that the seed client, which prints whatever
//! arrives, shows exactly what the agent typed. A visitor's text, on the other hand,
//! must never read as an agent's answer: one starting with `<` (or with the `\` that
//! marks this) gets a `\` in front, so `[v3] \<bob> refund done` is plainly v3's.

use std::fmt::Display;

use super::names::VisitorId;

/// The answer to `/ping`.
pub const PONG: &str = "* pong";

/// `! msg`.
pub fn error(msg: impl Display) -> String {
    format!("! {msg}")
}

/// `* msg`.
pub fn info(msg: impl Display) -> String {
    format!("* {msg}")
}

/// `#room <from> text`.
pub fn room_line(room: &str, from: &str, text: &str) -> String {
    let mut line = String::with_capacity(room.len() + from.len() + text.len() + 5);
    line.push('#');
    line.push_str(room);
    line.push_str(" <");
    line.push_str(from);
    line.push_str("> ");
    line.push_str(text);
    line
}

/// `[v3] text`: a visitor's line as agents see it; `[v3] \<x> text` for a text that
/// would otherwise read as agent x's answer.
pub fn visitor_line(id: impl std::fmt::Display, text: &str) -> String {
    if text.starts_with(['<', '\\']) {
        format!("[{id}] \\{text}")
    } else {
        format!("[{id}] {text}")
    }
}

/// `[v3] <agent> text`: an agent's answer as the other agents see it.
pub fn answer_line(id: impl std::fmt::Display, agent: &str, text: &str) -> String {
    format!("[{id}] <{agent}> {text}")
}

/// A server line, classified (for clients).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerLine<'a> {
    Pong,
    Info(&'a str),
    Error(&'a str),
    Room {
        room: &'a str,
        from: &'a str,
        text: &'a str,
    },
    Visitor {
        id: VisitorId,
        agent: Option<&'a str>,
        text: &'a str,
    },
    /// Anything else: an answer to a visitor.
    Plain(&'a str),
}

/// Classify one line the server sent.
pub fn classify(line: &str) -> ServerLine<'_> {
    if line == PONG {
        return ServerLine::Pong;
    }
    if let Some(rest) = line.strip_prefix("* ") {
        return ServerLine::Info(rest);
    }
    if let Some(rest) = line.strip_prefix("! ") {
        return ServerLine::Error(rest);
    }
    if let Some(room) = line.strip_prefix('#').and_then(room_parts) {
        return room;
    }
    if let Some(visitor) = line.strip_prefix('[').and_then(visitor_parts) {
        return visitor;
    }
    ServerLine::Plain(line)
}

fn room_parts(rest: &str) -> Option<ServerLine<'_>> {
    let (room, rest) = rest.split_once(" <")?;
    let (from, text) = rest.split_once("> ")?;
    Some(ServerLine::Room { room, from, text })
}

fn visitor_parts(rest: &str) -> Option<ServerLine<'_>> {
    let (id, rest) = rest.split_once("] ")?;
    let id = id.parse::<VisitorId>().ok()?;
    if let Some(text) = rest.strip_prefix('\\') {
        return Some(ServerLine::Visitor {
            id,
            agent: None,
            text,
        });
    }
    let answer = rest.strip_prefix('<').and_then(|r| r.split_once("> "));
    Some(match answer {
        Some((agent, text)) => ServerLine::Visitor {
            id,
            agent: Some(agent),
            text,
        },
        None => ServerLine::Visitor {
            id,
            agent: None,
            text: rest,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_kind_round_trips() {
        assert_eq!(classify(PONG), ServerLine::Pong);
        assert_eq!(classify(&info("joined")), ServerLine::Info("joined"));
        assert_eq!(classify(&error("nope")), ServerLine::Error("nope"));
        assert_eq!(
            classify(&room_line("lobby", "al", "hi> there")),
            ServerLine::Room {
                room: "lobby",
                from: "al",
                text: "hi> there"
            }
        );
        assert_eq!(
            classify(&visitor_line(VisitorId(3), "help me")),
            ServerLine::Visitor {
                id: VisitorId(3),
                agent: None,
                text: "help me"
            }
        );
        assert_eq!(
            classify(&answer_line(VisitorId(3), "bob", "sure")),
            ServerLine::Visitor {
                id: VisitorId(3),
                agent: Some("bob"),
                text: "sure"
            }
        );
        assert_eq!(classify("你好"), ServerLine::Plain("你好"));
        assert_eq!(
            classify("[not an id] x"),
            ServerLine::Plain("[not an id] x")
        );
        assert_eq!(classify("#hashtag"), ServerLine::Plain("#hashtag"));
    }

    /// Found by fuzzing (`chat_datagram`): a visitor writing `<bob> refund done` was
    /// shown to the agents as `[v3] <bob> refund done`, agent bob's answer to v3.
    #[test]
    fn a_visitor_text_never_reads_as_an_agent_answer() {
        for text in ["<bob> refund done", "<", "\\<bob> x", "\\", "<<a> b"] {
            let line = visitor_line(VisitorId(3), text);
            assert_eq!(
                classify(&line),
                ServerLine::Visitor {
                    id: VisitorId(3),
                    agent: None,
                    text
                },
                "{line}"
            );
            assert_ne!(line, answer_line(VisitorId(3), "bob", "refund done"));
        }
        assert_eq!(
            visitor_line(VisitorId(3), "<bob> refund done"),
            "[v3] \\<bob> refund done"
        );
        assert_eq!(visitor_line(VisitorId(3), "a <b> c"), "[v3] a <b> c");
    }
}
