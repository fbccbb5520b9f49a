//! File names on the wire and the server's name policy.
//!
//! A name is a `/`-separated path relative to the server's root. On the wire it is one
//! token, so the bytes that would break a token are percent-encoded: `%`, space, every
//! byte below 0x21 and 0x7F become `%XX` (hex, either case on input). Everything else,
//! UTF-8 included, may travel raw. A decoded name must be UTF-8.
//!
//! The policy ([`check_name`]) is checked before any storage call, so a refusal has a
//! precise reason for the client; the host's storage layer checks again beneath the
//! root (symlinks, mounts), which the plugin cannot see.

use super::CodecError;

/// Longest path accepted (Linux `PATH_MAX` minus the NUL).
const MAX_PATH: usize = 4095;
/// Longest component accepted (Linux `NAME_MAX`).
const MAX_COMPONENT: usize = 255;

/// Percent-encode `name` for a token.
pub fn encode_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c == '%' || c <= ' ' || c == '\u{7f}' {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Decode a name token.
pub fn decode_name(token: &str) -> Result<String, CodecError> {
    let raw = token.as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hex = raw
                .get(i + 1..i + 3)
                .ok_or_else(|| CodecError::invalid("truncated %-escape in name"))?;
            let hex = std::str::from_utf8(hex)
                .map_err(|_| CodecError::invalid("bad %-escape in name"))?;
            let b = u8::from_str_radix(hex, 16)
                .map_err(|_| CodecError::invalid("bad %-escape in name"))?;
            out.push(b);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| CodecError::invalid("name is not UTF-8"))
}

/// The server's policy for a client-supplied name (`dir` allows the empty root).
///
/// Refused: empty names, absolute paths, empty, `.` and `..` components, the host's
/// temp names (`.sy-tmp.*`), backslashes (a Windows `..\x` must not become a file
/// either), control characters (log injection, C strings), and over-long components or
/// paths. Other hidden names (a component starting with `.`, the server's own side
/// files) pass here: whether they are served is the session's `serve_hidden` policy.
pub fn check_name(name: &str, dir: bool) -> Result<(), CodecError> {
    if name.is_empty() {
        return if dir {
            Ok(())
        } else {
            Err(CodecError::refused("empty name"))
        };
    }
    if name.len() > MAX_PATH {
        return Err(CodecError::refused("name too long"));
    }
    if name.starts_with('/') {
        return Err(CodecError::refused("absolute path"));
    }
    if name.contains('\\') {
        return Err(CodecError::refused("backslash in name"));
    }
    if name.chars().any(char::is_control) {
        return Err(CodecError::refused("control character in name"));
    }
    for c in name.split('/') {
        if c.is_empty() {
            return Err(CodecError::refused("empty path component"));
        }
        if c == "." || c == ".." {
            return Err(CodecError::refused("dot path component"));
        }
        if c.starts_with(".sy-tmp.") {
            return Err(CodecError::refused("reserved temp name"));
        }
        if c.len() > MAX_COMPONENT {
            return Err(CodecError::refused("path component too long"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_awkward_names() {
        for name in [
            "a.txt",
            "with space",
            "100%",
            "tab\there",
            "nl\nx",
            "ünï 字.txt",
            "a:b:c",
            "del\u{7f}",
        ] {
            let token = encode_name(name);
            assert!(
                !token.contains(' ') && !token.contains('\n') && !token.contains('\t'),
                "{token}"
            );
            assert_eq!(decode_name(&token).unwrap(), name);
        }
        assert_eq!(encode_name("a b%"), "a%20b%25");
        assert_eq!(encode_name("ü b"), "ü%20b");
    }

    #[test]
    fn decoding_accepts_any_case_and_rejects_bad_escapes() {
        assert_eq!(decode_name("a%2fb%2F").unwrap(), "a/b/");
        assert!(decode_name("a%2").is_err());
        assert!(decode_name("a%zz").is_err());
        assert!(decode_name("%ff").is_err(), "decoded bytes must be UTF-8");
    }

    #[test]
    fn policy_refuses_every_escape_form() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            "a//b",
            "a/",
            "d/.sy-tmp.1",
            "..\\x",
            "a\0b",
            "x\ny",
            &"n".repeat(256),
            &"a/".repeat(2048),
        ] {
            assert!(check_name(bad, false).is_err(), "{bad:?}");
        }
        for good in [
            "a.txt",
            "dir/sub/file.bin",
            "a:b",
            "x y",
            "ünï",
            "a..b",
            "a..",
            ".hidden",
            "d/.x.sha256",
        ] {
            assert!(check_name(good, false).is_ok(), "{good:?}");
        }
        assert!(check_name("", true).is_ok());
    }
}
