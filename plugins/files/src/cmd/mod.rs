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

    /// The path the request names (a `LIST`'s directory too), for the server's policy
    /// on hidden names.
    pub fn path(&self) -> Option<&str> {
        match self {
            Command::Get(c) => Some(&c.name),
            Command::Put(c) => Some(&c.name),
            Command::List(c) => Some(&c.dir),
            Command::Stat(c) => Some(&c.name),
            Command::Delete(c) => Some(&c.name),
            Command::Hash(c) => Some(&c.name),
            Command::Quit(_) => None,
        }
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

/// Lowercase hex of a digest, as the side files write it ([`switchyard_sdk::sums`]).
pub fn hex(digest: &[u8]) -> String {
    switchyard_sdk::sums::to_hex(digest)
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
            "GET .sy-tmp.1",
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
    fn reply_fields_parse_and_refuse_malformed_forms() {
        let f = |s: &str| {
            s.split(' ')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let sha = "ab".repeat(32);
        let g = get::GetOk::from_fields(&f(&format!("12 {sha}"))).unwrap();
        assert_eq!((g.len, g.sha256.as_deref()), (12, Some(sha.as_str())));
        assert_eq!(get::GetOk::from_fields(&f("0 -")).unwrap().sha256, None);
        assert_eq!(
            get::GetOk {
                len: 3,
                sha256: None
            }
            .to_reply()
            .to_bytes(),
            b"OK 3 -\n"
        );
        let p = put::PutOk::from_fields(&f(&format!("a%20b 5 {sha}"))).unwrap();
        assert_eq!((p.name.as_str(), p.size), ("a b", 5));
        let st = stat::StatOk::from_fields(&f("d 4096 -5")).unwrap();
        assert_eq!((st.kind, st.size, st.mtime), ('d', 4096, -5));
        let e = list::Entry::from_frame(&Frame::new(["f", "1", "2", "x%25"])).unwrap();
        assert_eq!((e.kind, e.name.as_str()), ('f', "x%"));
        for bad in ["", "12", "x -", "12 abc", "12 - extra"] {
            assert!(get::GetOk::from_fields(&f(bad)).is_err(), "GET {bad:?}");
        }
        for bad in ["a 5", "a 5 -", "a x {sha}", "a%zz 5 {sha}"] {
            assert!(
                put::PutOk::from_fields(&f(&bad.replace("{sha}", &sha))).is_err(),
                "PUT {bad:?}"
            );
        }
        for bad in ["x 1 2", "ff 1 2", "f 1", "f -1 2", "f 1 x"] {
            assert!(stat::StatOk::from_fields(&f(bad)).is_err(), "STAT {bad:?}");
        }
        for bad in [
            &["q", "1", "2", "n"][..],
            &["f", "1", "2"],
            &["f", "x", "2", "n"],
            &["f", "1", "2", "%"],
        ] {
            assert!(
                list::Entry::from_frame(&Frame::new(bad.iter().copied())).is_err(),
                "LIST {bad:?}"
            );
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
