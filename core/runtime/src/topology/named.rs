//! The entries of a `{ "name": value }` map (listeners, handlers, plugins, storages,
//! bus streams), their names read and checked in one place, so every named section
//! reports a bad, empty or repeated name the same way.

use std::ops::Range;

use super::collect::Diag;
use super::diagnostic::DiagnosticKind;
use super::raw;
use super::reader::Reader;

/// A value and where it is written.
#[derive(Debug, Clone)]
pub(crate) struct At<T> {
    pub value: T,
    pub span: Option<Range<usize>>,
}

/// The entries of a `{ "name": value }` map, names read and checked: strings, not
/// empty, each defined once, and for names that routes use (`routed`) no `.`, which
/// routes use for ports.
pub(crate) fn named_entries<'a>(
    r: &mut Reader<'a>,
    raw: &'a str,
    what: &str,
    routed: bool,
) -> Vec<(At<String>, &'a str)> {
    let Some(map) = r.map(raw, &format!("`{what}s`")) else {
        return Vec::new();
    };
    let mut out: Vec<(At<String>, &'a str)> = Vec::new();
    for (key, value) in map.entries {
        let span = r.span(key);
        let Ok(name) = raw::parse::<String>(key) else {
            r.push(
                Diag::new(
                    DiagnosticKind::BadName,
                    span,
                    format!("a {what} name must be a string"),
                )
                .label("not a string")
                .help(Some(format!(
                    "write it in quotes: `\"{}\"`",
                    key.trim_matches('"')
                ))),
            );
            continue;
        };
        if name.is_empty() || (routed && name.contains('.')) {
            r.push(
                Diag::new(
                    DiagnosticKind::BadName,
                    span.clone(),
                    format!("invalid {what} name `{name}`"),
                )
                .label("bad name")
                .help(Some(
                    "names are not empty and have no `.` (routes write `handler.port`)".into(),
                )),
            );
        }
        if out.iter().any(|(n, _)| n.value == name) {
            r.push(
                Diag::new(
                    DiagnosticKind::Duplicate,
                    span.clone(),
                    format!("{what} `{name}` is defined twice"),
                )
                .label("second definition"),
            );
            continue;
        }
        out.push((At { value: name, span }, value));
    }
    out
}
