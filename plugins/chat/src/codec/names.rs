//! Names that appear on the wire: visitor ids, nicknames, room names.
//!
//! Kept strict (ASCII letters, digits, `_`, `-`, `.`) so that a name can never
//! impersonate a server line (`* ...`, `! ...`) or another visitor's tag.

use std::fmt;
use std::str::FromStr;

use super::CodecError;

/// Longest nickname, in bytes.
pub const MAX_NICK: usize = 24;
/// Longest room name (without the `#`), in bytes.
pub const MAX_ROOM: usize = 32;

/// The short id an agent uses to address a visitor: `v12` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VisitorId(pub u64);

impl fmt::Display for VisitorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

impl FromStr for VisitorId {
    type Err = CodecError;

    /// `v12`, `V12` or plain `12`.
    fn from_str(s: &str) -> Result<VisitorId, CodecError> {
        let digits = s.strip_prefix(['v', 'V']).unwrap_or(s);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodecError::BadVisitorId(clip(s, 32)));
        }
        digits
            .parse()
            .map(VisitorId)
            .map_err(|_| CodecError::BadVisitorId(clip(s, 32)))
    }
}

/// A visitor as an agent names it: `v12` on this host, `v12@host-b` on another host
/// of the cluster (the host's bus name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisitorRef<'a> {
    pub id: VisitorId,
    pub host: Option<&'a str>,
}

impl<'a> VisitorRef<'a> {
    /// A visitor of this host.
    pub fn local(id: u64) -> VisitorRef<'static> {
        VisitorRef {
            id: VisitorId(id),
            host: None,
        }
    }

    /// `v12` or `v12@host` (host: `[A-Za-z0-9_-]`, at most 64 bytes).
    pub fn parse(s: &'a str) -> Result<VisitorRef<'a>, CodecError> {
        let (id, host) = match s.split_once('@') {
            Some((id, host)) => (id, Some(host)),
            None => (s, None),
        };
        let bad_host = |h: &&str| {
            h.is_empty()
                || h.len() > 64
                || !h
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        };
        if host.as_ref().is_some_and(bad_host) {
            return Err(CodecError::BadVisitorId(clip(s, 32)));
        }
        Ok(VisitorRef {
            id: id.parse()?,
            host,
        })
    }
}

impl fmt::Display for VisitorRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host {
            Some(host) => write!(f, "{}@{host}", self.id),
            None => write!(f, "{}", self.id),
        }
    }
}

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// Check a nickname: 1..=24 of `[A-Za-z0-9_.-]`, starting with a letter, not of the
/// form `v<digits>` (that is how visitors are tagged) and not `auto`.
pub fn check_nick(nick: &str) -> Result<&str, CodecError> {
    if nick.is_empty() {
        return Err(CodecError::BadNick("empty"));
    }
    if nick.len() > MAX_NICK {
        return Err(CodecError::BadNick("at most 24 characters"));
    }
    if !nick.chars().all(name_char) {
        return Err(CodecError::BadNick(
            "only letters, digits, '_', '-' and '.'",
        ));
    }
    if !nick.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(CodecError::BadNick("must start with a letter"));
    }
    if nick.parse::<VisitorId>().is_ok() && nick.starts_with(['v', 'V']) {
        return Err(CodecError::BadNick("v<number> is reserved for visitor ids"));
    }
    // `auto` authors the automatic replies in published chat lines.
    if nick.eq_ignore_ascii_case("auto") {
        return Err(CodecError::BadNick("reserved"));
    }
    Ok(nick)
}

/// Check a room name (an optional leading `#` is dropped) and return it lowercased,
/// the form rooms are keyed and shown by.
pub fn check_room(room: &str) -> Result<String, CodecError> {
    let room = room.strip_prefix('#').unwrap_or(room);
    if room.is_empty() {
        return Err(CodecError::BadRoom("empty"));
    }
    if room.len() > MAX_ROOM {
        return Err(CodecError::BadRoom("at most 32 characters"));
    }
    if !room.chars().all(name_char) {
        return Err(CodecError::BadRoom(
            "only letters, digits, '_', '-' and '.'",
        ));
    }
    Ok(room.to_ascii_lowercase())
}

/// At most `max` bytes of `s`, cut on a character boundary (for echoing bad input).
pub fn clip(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visitor_ids() {
        assert_eq!("v12".parse::<VisitorId>(), Ok(VisitorId(12)));
        assert_eq!("V3".parse::<VisitorId>(), Ok(VisitorId(3)));
        assert_eq!("7".parse::<VisitorId>(), Ok(VisitorId(7)));
        assert_eq!(VisitorId(5).to_string(), "v5");
        for bad in [
            "",
            "v",
            "vx",
            "v1x",
            "x1",
            "v-1",
            "v99999999999999999999999",
        ] {
            assert!(
                matches!(bad.parse::<VisitorId>(), Err(CodecError::BadVisitorId(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn visitor_refs() {
        assert_eq!(VisitorRef::parse("v3"), Ok(VisitorRef::local(3)));
        let remote = VisitorRef::parse("v3@host-b").unwrap();
        assert_eq!((remote.id, remote.host), (VisitorId(3), Some("host-b")));
        assert_eq!(remote.to_string(), "v3@host-b");
        for bad in ["v3@", "v3@a.b", "x@host", "v3@a b"] {
            assert!(VisitorRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nicks() {
        assert_eq!(check_nick("alice_2"), Ok("alice_2"));
        assert_eq!(check_nick(""), Err(CodecError::BadNick("empty")));
        assert!(check_nick(&"a".repeat(25)).is_err());
        assert!(check_nick("al ice").is_err());
        assert!(check_nick("*root").is_err());
        assert!(check_nick("9lives").is_err());
        assert!(check_nick("v12").is_err());
        assert!(check_nick("victor").is_ok());
        assert_eq!(check_nick("Auto"), Err(CodecError::BadNick("reserved")));
        assert!(check_nick("名前").is_err());
    }

    #[test]
    fn rooms() {
        assert_eq!(check_room("#Lobby").as_deref(), Ok("lobby"));
        assert_eq!(check_room("dev-ops").as_deref(), Ok("dev-ops"));
        assert!(check_room("#").is_err());
        assert!(check_room("a b").is_err());
        assert!(check_room(&"r".repeat(33)).is_err());
    }

    #[test]
    fn clip_respects_char_boundaries() {
        assert_eq!(clip("héllo", 2), "h");
        assert_eq!(clip("abc", 10), "abc");
    }
}
