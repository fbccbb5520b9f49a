//! The schema toolkit: open a struct and check its field names, read typed leaf values,
//! and turn every failure into a diagnostic at the right place in the file.
//!
//! Unknown fields are found by comparing names with a known list (not by serde's
//! `deny_unknown_fields`), so all of them are reported, each with a suggestion, and the
//! known fields next to them are still read and checked.

use std::ops::Range;

use serde::Deserialize;

use super::collect::{Diag, Diags, did_you_mean, one_of};
use super::diagnostic::DiagnosticKind;
use super::raw::{self, RawMap, RawSeq, RawStruct};
use super::source::{offset_at, offset_in, token_at};

/// The file being read and the problems found so far.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    pub text: &'a str,
    pub diags: Diags,
}

/// An opened struct: what it is (for messages), where it starts, and its fields.
#[derive(Debug)]
pub(crate) struct Fields<'a> {
    pub what: String,
    pub open: Option<Range<usize>>,
    pub fields: Vec<(&'a str, &'a str)>,
}

impl<'a> Fields<'a> {
    /// The value text of field `name` (its first occurrence; a second one is reported).
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }
}

impl<'a> Reader<'a> {
    pub fn new(text: &'a str) -> Reader<'a> {
        Reader {
            text,
            diags: Diags::default(),
        }
    }

    /// Where `part` (a slice of the file) is.
    pub fn span(&self, part: &str) -> Option<Range<usize>> {
        offset_in(self.text, part)
    }

    /// Where the first character of `part` is: for "missing field" carets, which would
    /// otherwise underline a whole struct.
    pub fn start_of(&self, part: &str) -> Option<Range<usize>> {
        let span = self.span(part)?;
        let len = part.chars().next().map_or(0, char::len_utf8);
        Some(span.start..span.start + len)
    }

    pub fn push(&mut self, diag: Diag) {
        self.diags.push(diag);
    }

    /// A ron error from parsing `within` (a slice of the file), placed at its position.
    pub fn ron_error(
        &mut self,
        kind: DiagnosticKind,
        within: &str,
        err: &ron::error::SpannedError,
    ) {
        let base = self.span(within).map_or(0, |s| s.start);
        let offset = base + offset_at(within, err.span.start.line, err.span.start.col);
        let (message, help) = ron_message(&err.code);
        let diag = Diag::new(kind, Some(token_at(self.text, offset)), message).help(help);
        self.push(diag);
    }

    /// Open `raw` as a struct whose fields may be `known`; reports the shape, unknown
    /// fields and duplicated fields.
    pub fn open(&mut self, raw: &'a str, what: String, known: &[&str]) -> Option<Fields<'a>> {
        let st = match raw::parse::<RawStruct<'a>>(raw) {
            Ok(st) => st,
            Err(err) => {
                let help = format!("{what} is written `( field: value, ... )`");
                self.push(
                    Diag::new(
                        DiagnosticKind::BadValue,
                        self.span(raw),
                        format!("{what} must be a struct"),
                    )
                    .label(ron_message(&err.code).0)
                    .help(Some(help)),
                );
                return None;
            }
        };
        for (i, (name, _)) in st.fields.iter().enumerate() {
            if !known.contains(name) {
                let help = did_you_mean(name, known.iter().copied())
                    .or_else(|| Some(format!("expected {}", one_of(known.iter().copied()))));
                self.push(
                    Diag::new(
                        DiagnosticKind::UnknownField,
                        self.span(name),
                        format!("unknown field `{name}` in {what}"),
                    )
                    .label("unknown field")
                    .help(help),
                );
            } else if st.fields[..i].iter().any(|(n, _)| n == name) {
                self.push(
                    Diag::new(
                        DiagnosticKind::Duplicate,
                        self.span(name),
                        format!("field `{name}` is given twice in {what}"),
                    )
                    .label("second time"),
                );
            }
        }
        Some(Fields {
            what,
            open: self.start_of(raw),
            fields: st.fields,
        })
    }

    /// The value of required field `name`, or a "missing field" diagnostic.
    pub fn required(&mut self, fields: &Fields<'a>, name: &str) -> Option<&'a str> {
        let value = fields.get(name);
        if value.is_none() {
            self.push(
                Diag::new(
                    DiagnosticKind::MissingField,
                    fields.open.clone(),
                    format!("missing field `{name}` in {}", fields.what),
                )
                .label(format!("`{name}` is required here")),
            );
        }
        value
    }

    /// Parse a leaf value; on failure the whole value is underlined.
    pub fn value<T: Deserialize<'a>>(&mut self, raw: &'a str, what: &str) -> Option<T> {
        match raw::parse::<T>(raw) {
            Ok(v) => Some(v),
            Err(err) => {
                let (message, help) = ron_message(&err.code);
                self.push(
                    Diag::new(
                        DiagnosticKind::BadValue,
                        self.span(raw),
                        format!("invalid {what}: {message}"),
                    )
                    .label("this value")
                    .help(help),
                );
                None
            }
        }
    }

    /// Field `name` parsed as `T`, `default` when absent, `None` when invalid.
    pub fn optional<T: Deserialize<'a>>(
        &mut self,
        fields: &Fields<'a>,
        name: &str,
        default: T,
    ) -> Option<T> {
        match fields.get(name) {
            Some(raw) => self.value(raw, &format!("`{name}` in {}", fields.what)),
            None => Some(default),
        }
    }

    /// Open `raw` as a map `{ key: value }`, or report that it is not one.
    pub fn map(&mut self, raw: &'a str, what: &str) -> Option<RawMap<'a>> {
        self.shaped(raw, what, "a map `{ \"name\": value, ... }`")
    }

    /// Open `raw` as a list `[ value, ... ]`, or report that it is not one.
    pub fn seq(&mut self, raw: &'a str, what: &str) -> Option<RawSeq<'a>> {
        self.shaped(raw, what, "a list `[ value, ... ]`")
    }

    fn shaped<T: Deserialize<'a>>(&mut self, raw: &'a str, what: &str, shape: &str) -> Option<T> {
        match raw::parse::<T>(raw) {
            Ok(v) => Some(v),
            Err(err) => {
                self.push(
                    Diag::new(
                        DiagnosticKind::BadValue,
                        self.span(raw),
                        format!("{what} must be {shape}"),
                    )
                    .label(ron_message(&err.code).0),
                );
                None
            }
        }
    }
}

/// A ron error in our words, with a suggestion when it names an unknown identifier.
pub(crate) fn ron_message(code: &ron::Error) -> (String, Option<String>) {
    match code {
        ron::Error::NoSuchEnumVariant {
            expected, found, ..
        } => (
            format!(
                "unknown variant `{found}`, expected {}",
                one_of(expected.iter().copied())
            ),
            did_you_mean(found, expected.iter().copied()),
        ),
        ron::Error::NoSuchStructField {
            expected, found, ..
        } => (
            format!(
                "unknown field `{found}`, expected {}",
                one_of(expected.iter().copied())
            ),
            did_you_mean(found, expected.iter().copied()),
        ),
        ron::Error::MissingStructField { field, .. } => (format!("missing field `{field}`"), None),
        other => (other.to_string(), None),
    }
}
