//! The v2 commands: one module each, holding the request's wire form (parsed by the
//! server, encoded by the client), its `OK` reply's fields, and — on the server —
//! how it runs against the session (`apply`).
//!
//! # Layout
//! - [`get`], [`put`], [`list`], [`stat`], [`delete`], [`hash`], [`quit`]: one command each.
//! - this file: [`Command`], dispatch on the verb, and the argument parsers they share.

pub mod delete;
pub mod get;
pub mod hash;
pub mod list;
pub mod put;
pub mod quit;
pub mod stat;

use crate::codec::{CodecError, Frame, check_name, decode_name};

/// One parsed v2 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Get(get::Get),
    Put(put::Put),
    List(list::List),
    Stat(stat::Stat),
    Delete(delete::Delete),
    Hash(hash::Hash),
    Quit(quit::Quit),
}

impl Command {
    /// The request in `frame`; `Ok(None)` for an empty line (ignored, for `nc` users).
    pub fn from_frame(frame: &Frame) -> Result<Option<Command>, CodecError> {
        let Some((verb, args)) = frame.tokens.split_first() else {
            return Ok(None);
        };
        let cmd = match verb.as_str() {
            "GET" => Command::Get(get::Get::parse(args)?),
            "PUT" => Command::Put(put::Put::parse(args)?),
            "LIST" => Command::List(list::List::parse(args)?),
            "STAT" => Command::Stat(stat::Stat::parse(args)?),
            "DELETE" => Command::Delete(delete::Delete::parse(args)?),
            "HASH" => Command::Hash(hash::Hash::parse(args)?),
            "QUIT" => Command::Quit(quit::Quit::parse(args)?),
            other => return Err(CodecError::invalid(format!("unknown command {other:?}"))),
        };
        Ok(Some(cmd))
    }

    /// The request's wire form (client side).
    pub fn to_frame(&self) -> Frame {
        match self {
            Command::Get(c) => c.to_frame(),
            Command::Put(c) => c.to_frame(),
            Command::List(c) => c.to_frame(),
            Command::Stat(c) => c.to_frame(),
            Command::Delete(c) => c.to_frame(),
            Command::Hash(c) => c.to_frame(),
            Command::Quit(c) => c.to_frame(),
        }
    }

    /// The verb, for logs.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Get(_) => "GET",
            Command::Put(_) => "PUT",
            Command::List(_) => "LIST",
            Command::Stat(_) => "STAT",
            Command::Delete(_) => "DELETE",
            Command::Hash(_) => "HASH",
            Command::Quit(_) => "QUIT",
        }
    }
}

/// Check the argument count is within `min..=max`.
pub(crate) fn arity(verb: &str, args: &[String], min: usize, max: usize) -> Result<(), CodecError> {
    if args.len() < min || args.len() > max {
        let want = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(CodecError::invalid(format!(
            "{verb} takes {want} arguments, got {}",
            args.len()
        )));
    }
    Ok(())
}

/// A decoded name that passes the server's policy.
pub(crate) fn name_arg(token: &str, dir: bool) -> Result<String, CodecError> {
    let name = decode_name(token)?;
    check_name(&name, dir)?;
    Ok(name)
}

/// A decimal `u64`: digits only (no sign, no spaces), at most 20 of them.
pub fn number_arg(what: &str, token: &str) -> Result<u64, CodecError> {
    if token.is_empty() || token.len() > 20 || !token.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CodecError::invalid(format!(
            "{what} must be a decimal number"
        )));
    }
    token
        .parse()
        .map_err(|_| CodecError::invalid(format!("{what} out of range")))
}

/// A sha256 as 64 hex digits, returned lowercase; `-` means none.
pub fn sha_arg(token: &str) -> Result<Option<String>, CodecError> {
    if token == "-" {
        return Ok(None);
    }
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CodecError::invalid("sha256 must be 64 hex digits or -"));
    }
    Ok(Some(token.to_ascii_lowercase()))
}

/// Lowercase hex of a digest.
pub fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(line: &str) -> Result<Option<Command>, CodecError> {
        Command::from_frame(&Frame::parse(format!("{line}\n").as_bytes()).unwrap())
    }

    #[test]
    fn every_command_round_trips_through_its_frame() {
        for line in [
            "GET a.txt",
            "GET a%20b 10",
            "PUT x 0",
            "PUT x 5 - overwrite",
            &format!("PUT d/x 5 {}", "ab".repeat(32)),
            "LIST",
            "LIST sub",
            "STAT a",
            "DELETE a",
            "HASH a",
            "QUIT",
        ] {
            let c = cmd(line).unwrap().unwrap();
            assert_eq!(
                Command::from_frame(&c.to_frame()).unwrap().unwrap(),
                c,
                "{line}"
            );
        }
    }

    #[test]
    fn empty_line_is_no_command() {
        assert_eq!(cmd("").unwrap(), None);
    }

    #[test]
    fn malformed_requests_are_refused() {
        for bad in [
            "get a",
            "FETCH a",
            "GET",
            "GET a 1 2",
            "GET a -1",
            "GET a +1",
            "GET a 1x",
            "GET a 99999999999999999999",
            "GET ../etc/passwd",
            "GET /etc/passwd",
            "GET a%2F..%2F..%2Fx",
            "GET %2e%2e",
            "GET .hidden",
            "GET a%00b",
            "GET a%zz",
            "PUT a",
            "PUT a x",
            "PUT a 1 abc",
            "PUT a 1 - replace",
            "PUT a 1 - overwrite extra",
            "LIST a b",
            "LIST ..",
            "STAT",
            "DELETE",
            "HASH",
            "QUIT now",
        ] {
            assert!(cmd(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_and_digests() {
        assert_eq!(number_arg("n", "18446744073709551615").unwrap(), u64::MAX);
        assert!(number_arg("n", "18446744073709551616").is_err());
        assert_eq!(sha_arg(&"AB".repeat(32)).unwrap(), Some("ab".repeat(32)));
        assert_eq!(sha_arg("-").unwrap(), None);
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
