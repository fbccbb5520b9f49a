//! Who said a line, shown in front of it: a visitor cannot otherwise tell the agent's
//! answers from their own typing, nor an agent one visitor from another.
//!
//! The server's notices keep their own marks (`* ` information, `! ` errors). A
//! visitor's client is not told the agent's name (the seed's protocol sends an answer
//! as bare text), so it shows `[agent]`.

use std::io::{IsTerminal, Write};

use switchyard_chat::codec::reply::{self, ServerLine};

/// `text` from the server as shown to a visitor (`agent` false) or an agent.
pub fn shown(text: &str, agent: bool) -> String {
    match reply::classify(text) {
        ServerLine::Info(_) | ServerLine::Error(_) | ServerLine::Pong => text.to_owned(),
        ServerLine::Room { room, from, text } => format!("[#{room} {from}] {text}"),
        ServerLine::Visitor {
            id,
            agent: Some(a),
            text,
        } => format!("[agent {a} -> {id}] {text}"),
        ServerLine::Visitor {
            id,
            agent: None,
            text,
        } => format!("[{id}] {text}"),
        ServerLine::Plain(t) if !agent => format!("[agent] {t}"),
        ServerLine::Plain(t) => t.to_owned(),
    }
}

/// Show the user's own line as `[you] …`: on a terminal in place of the line the
/// terminal echoed as it was typed, elsewhere (a script's transcript) as a new line.
pub fn show_own(line: &str) {
    let mut out = std::io::stdout().lock();
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        // Up one line, to its start, clear it.
        let _ = write!(out, "\x1b[1A\r\x1b[2K");
    }
    let _ = writeln!(out, "[you] {line}");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_says_who_speaks() {
        assert_eq!(shown("hello there", false), "[agent] hello there");
        assert_eq!(shown("* agent al is online", false), "* agent al is online");
        assert_eq!(shown("! bad secret", true), "! bad secret");
        assert_eq!(shown("[3] need help", true), "[v3] need help");
        assert_eq!(shown("[3] <al> on it", true), "[agent al -> v3] on it");
    }
}
