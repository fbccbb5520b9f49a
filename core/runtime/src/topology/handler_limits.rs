//! A handler's `restart` and `limits` fields: each a struct of numbers with defaults,
//! read apart from the rest of the handler so `document.rs` stays the format's outline.

use std::time::Duration;

use super::collect::Diag;
use super::diagnostic::DiagnosticKind;
use super::model::{Limits, RestartPolicy};
use super::reader::Reader;

const RESTART_FIELDS: &[&str] = &["max_restarts", "within_secs"];
const LIMIT_FIELDS: &[&str] = &[
    "max_connections",
    "max_connections_per_ip",
    "max_write_buffer",
    "refusal",
];
/// The longest `refusal` line: one short sentence, sent whole in one segment.
const MAX_REFUSAL: usize = 512;

/// `restart: (max_restarts: N, within_secs: S)`; a missing part keeps its default.
pub(crate) fn read_restart<'a>(r: &mut Reader<'a>, raw: &'a str, what: &str) -> RestartPolicy {
    let default = RestartPolicy::default();
    let Some(f) = r.open(raw, format!("`restart` of {what}"), RESTART_FIELDS) else {
        return default;
    };
    let max_restarts = r
        .optional(&f, "max_restarts", default.max_restarts)
        .unwrap_or(default.max_restarts);
    let within = r
        .optional(&f, "within_secs", default.within.as_secs())
        .unwrap_or(default.within.as_secs());
    RestartPolicy {
        max_restarts,
        within: Duration::from_secs(within),
    }
}

/// `limits: (...)`: each number at least 1 (zero would refuse everything), else its
/// default with a diagnostic at the value; `refusal: Some("...")` one printable line.
pub(crate) fn read_limits<'a>(r: &mut Reader<'a>, raw: &'a str, what: &str) -> Limits {
    let default = Limits::default();
    let Some(f) = r.open(raw, format!("`limits` of {what}"), LIMIT_FIELDS) else {
        return default;
    };
    let positive = |r: &mut Reader<'a>, name: &str, default: usize| -> usize {
        let value = r.optional(&f, name, default).unwrap_or(default);
        if value == 0 {
            let span = f.get(name).and_then(|raw| r.span(raw));
            r.push(
                Diag::new(
                    DiagnosticKind::BadValue,
                    span,
                    format!("`{name}` in {} must be at least 1", f.what),
                )
                .label("zero would refuse everything"),
            );
            return default;
        }
        value
    };
    let refusal = match r.optional::<Option<String>>(&f, "refusal", None).flatten() {
        Some(line)
            if line.is_empty()
                || line.len() > MAX_REFUSAL
                || line.chars().any(char::is_control) =>
        {
            let span = f.get("refusal").and_then(|raw| r.span(raw));
            r.push(
                Diag::new(
                    DiagnosticKind::BadValue,
                    span,
                    format!(
                        "`refusal` in {} must be one line of 1 to {MAX_REFUSAL} bytes",
                        f.what
                    ),
                )
                .label("no line breaks or control characters: the host adds the LF"),
            );
            None
        }
        other => other,
    };
    Limits {
        max_connections: positive(r, "max_connections", default.max_connections),
        max_connections_per_ip: positive(
            r,
            "max_connections_per_ip",
            default.max_connections_per_ip,
        ),
        max_write_buffer: positive(r, "max_write_buffer", default.max_write_buffer),
        refusal,
    }
}
