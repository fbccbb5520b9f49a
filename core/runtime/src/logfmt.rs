//! Plugin log lines, split into a message and fields.
//!
//! A plugin logs one string through the ABI (`log(level, text)`), and by convention
//! writes its fields logfmt-style after the message: `transfer peer=127.0.0.1:5000
//! file="a b.txt" result=ok` (values with spaces, quotes or `=` quoted the way Rust's
//! `{:?}` quotes them). The host splits that back so that `--log-format json` gives
//! each field its own key (`"peer":"127.0.0.1:5000"`), whatever language the plugin
//! is written in, with no ABI change. A line that does not end in well-formed fields
//! is logged as it is.
//!
//! Field names come from plugin code, so they are few; they are interned (slog keys
//! are `&'static str`) up to [`MAX_KEYS`] distinct names, after which further names
//! are logged under `field` as `name=value` rather than growing memory without bound.

use std::collections::HashSet;
use std::sync::Mutex;

use slog::{KV, Key, Record, Serializer};

/// Distinct field names kept for the life of the process.
const MAX_KEYS: usize = 512;

/// Names the host sets itself: a plugin field of that name would shadow it.
const RESERVED: &[&str] = &["msg", "level", "ts", "handler", "plugin"];

/// A plugin line: the message and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    pub msg: &'a str,
    pub fields: Vec<(&'a str, String)>,
}

/// Split `text` into a message and trailing `key=value` fields.
pub fn parse(text: &str) -> Line<'_> {
    let whole = Line {
        msg: text,
        fields: Vec::new(),
    };
    let Some(start) = first_field(text) else {
        return whole;
    };
    let mut fields = Vec::new();
    let mut rest = &text[start..];
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            return whole;
        };
        if !is_key(key) {
            return whole;
        }
        let Some((value, after)) = value(after) else {
            return whole;
        };
        fields.push((key, value));
        rest = after.trim_start_matches(' ');
    }
    Line {
        msg: text[..start].trim_end(),
        fields,
    }
}

/// Where the first ` key=` token starts (the message is everything before it).
fn first_field(text: &str) -> Option<usize> {
    let mut at = 0;
    for word in text.split(' ') {
        if word.split_once('=').is_some_and(|(key, _)| is_key(key)) {
            return Some(at);
        }
        at += word.len() + 1;
    }
    None
}

fn is_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A bare value (up to the next space) or a quoted one with Rust-style escapes.
fn value(s: &str) -> Option<(String, &str)> {
    let Some(quoted) = s.strip_prefix('"') else {
        let end = s.find(' ').unwrap_or(s.len());
        return Some((s[..end].to_owned(), &s[end..]));
    };
    let mut out = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                let after = &quoted[i + 1..];
                return (after.is_empty() || after.starts_with(' ')).then_some((out, after));
            }
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                '0' => out.push('\0'),
                'u' => {
                    let (open, _) = chars.next()?;
                    let hex_start = open + 1;
                    let close = quoted[hex_start..].find('}')? + hex_start;
                    let code = u32::from_str_radix(&quoted[hex_start..close], 16).ok()?;
                    out.push(char::from_u32(code)?);
                    while chars.next()?.0 < close {}
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

static KEYS: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);

/// The interned `&'static str` for `name`, while fewer than [`MAX_KEYS`] are known.
fn intern(name: &str) -> Option<&'static str> {
    let mut keys = KEYS.lock().unwrap_or_else(|e| e.into_inner());
    let keys = keys.get_or_insert_with(HashSet::new);
    if let Some(k) = keys.get(name) {
        return Some(k);
    }
    if keys.len() >= MAX_KEYS {
        return None;
    }
    let k: &'static str = Box::leak(name.to_owned().into_boxed_str());
    keys.insert(k);
    Some(k)
}

/// The fields of a [`Line`], as slog key-values.
#[derive(Debug)]
pub struct Fields<'a>(pub &'a [(&'a str, String)]);

impl KV for Fields<'_> {
    fn serialize(&self, _record: &Record<'_>, ser: &mut dyn Serializer) -> slog::Result {
        for (name, value) in self.0 {
            let key: Key = match intern(name) {
                Some(k) if !RESERVED.contains(&k) => k,
                _ => {
                    ser.emit_str("field", &format!("{name}={value}"))?;
                    continue;
                }
            };
            // Counts as JSON numbers, so a log query can compare them.
            match value.parse::<u64>() {
                Ok(n) if !value.starts_with('0') || value == "0" => ser.emit_u64(key, n)?,
                _ => ser.emit_str(key, value)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(line: &Line<'_>) -> Vec<(String, String)> {
        line.fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn message_and_fields_are_split() {
        let l = parse(
            r#"transfer peer=127.0.0.1:5 file="a b.txt" options="blksize=1468 windowsize=8" result=ok"#,
        );
        assert_eq!(l.msg, "transfer");
        assert_eq!(
            fields(&l),
            vec![
                ("peer".into(), "127.0.0.1:5".into()),
                ("file".into(), "a b.txt".into()),
                ("options".into(), "blksize=1468 windowsize=8".into()),
                ("result".into(), "ok".into()),
            ]
        );
    }

    #[test]
    fn rust_escapes_are_undone() {
        let text = format!("x k={:?} j=1", "quote\" back\\ nl\n uni\u{7f}");
        let l = parse(&text);
        assert_eq!(l.fields[0].1, "quote\" back\\ nl\n uni\u{7f}");
        assert_eq!(l.fields[1], ("j", "1".to_owned()));
    }

    #[test]
    fn lines_without_well_formed_fields_stay_whole() {
        for text in [
            "plain message",
            "half a=1 then words",
            r#"open k="unterminated"#,
            r#"glued k="v"x"#,
            "",
            "=value",
        ] {
            let l = parse(text);
            assert_eq!((l.msg, l.fields.len()), (text, 0), "{text}");
        }
    }

    #[test]
    fn a_message_may_be_empty() {
        let l = parse("a=1 b=2");
        assert_eq!(l.msg, "");
        assert_eq!(l.fields.len(), 2);
    }
}
