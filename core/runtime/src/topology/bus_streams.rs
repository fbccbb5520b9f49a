//! The bus's `streams`: JetStream streams the host creates on NATS, so what is
//! published on their subjects is stored on disk, acknowledged and deduplicated (the
//! cluster transcript: `docs/decisions/cluster-transcript.md`).
//!
//! ```ron
//! streams: {
//!     "transcript": (
//!         subjects: ["chat.lines", "transfers"], // exactly these, under the prefix
//!         max_bytes: 1073741824,                 // kept at most (default 1 GiB)
//!         max_age_secs: 604800,                  // kept at most (default 7 days)
//!         duplicate_window_secs: 120,            // a re-sent publish is stored once
//!     ),
//! },
//! ```
//!
//! Read and checked in full, each problem at its value; a subject captured by two
//! streams is refused (NATS would refuse the second stream at run time).

use std::time::Duration;

use switchyard_bus::subject_problem;
use switchyard_sdk::bus_subject::bucket_problem;

use super::collect::Diag;
use super::diagnostic::DiagnosticKind;
use super::model::StreamSpec;
use super::named::{At, named_entries};
use super::reader::{Fields, Reader};
use super::storages::checked;

const FIELDS: &[&str] = &[
    "subjects",
    "max_bytes",
    "max_age_secs",
    "duplicate_window_secs",
];
/// `max_bytes` when none is given, and its bounds.
const DEFAULT_MAX_BYTES: u64 = 1 << 30;
const MAX_BYTES: (u64, u64) = (1 << 20, 1 << 50);
/// `max_age_secs` when none is given (a week), and its bounds (a minute, ten years).
const DEFAULT_MAX_AGE: u64 = 7 * 24 * 3600;
const MAX_AGE: (u64, u64) = (60, 10 * 365 * 24 * 3600);
/// `duplicate_window_secs` when none is given (NATS's own default), and its bounds.
const DEFAULT_WINDOW: u64 = 120;
const WINDOW: (u64, u64) = (1, 24 * 3600);

/// Read `streams`' value: every stream, each problem reported; the streams that had
/// none.
pub(crate) fn read<'a>(r: &mut Reader<'a>, raw: &'a str) -> Option<Vec<StreamSpec>> {
    let before = r.diags.0.len();
    let mut streams = Vec::new();
    // Each subject with where it is written and the stream that took it first.
    let mut taken: Vec<(String, String)> = Vec::new();
    for (name, value) in named_entries(r, raw, "stream", false) {
        if let Some(problem) = bucket_problem(&name.value) {
            r.push(
                Diag::new(
                    DiagnosticKind::BadName,
                    name.span.clone(),
                    format!("invalid stream name `{}`: {problem}", name.value),
                )
                .label("bad name"),
            );
        }
        if let Some(spec) = read_stream(r, &name, value, &mut taken) {
            streams.push(spec);
        }
    }
    (r.diags.0.len() == before).then_some(streams)
}

fn read_stream<'a>(
    r: &mut Reader<'a>,
    name: &At<String>,
    raw: &'a str,
    taken: &mut Vec<(String, String)>,
) -> Option<StreamSpec> {
    let what = format!("stream `{}`", name.value);
    let f = r.open(raw, what.clone(), FIELDS)?;
    let subjects = read_subjects(r, &f, &name.value, taken);
    let max_bytes = bounded(r, &f, "max_bytes", DEFAULT_MAX_BYTES, MAX_BYTES);
    let max_age = bounded(r, &f, "max_age_secs", DEFAULT_MAX_AGE, MAX_AGE);
    let window = bounded(r, &f, "duplicate_window_secs", DEFAULT_WINDOW, WINDOW);
    let window = match (window, max_age, f.get("duplicate_window_secs")) {
        (Some(w), Some(age), Some(raw)) if w > age => {
            let problem = Some(format!("longer than `max_age_secs` ({age})"));
            checked(r, raw, &what, "duplicate_window_secs", problem, w)
        }
        (w, _, _) => w,
    };
    Some(StreamSpec {
        name: name.value.clone(),
        subjects: subjects?,
        max_bytes: max_bytes?,
        max_age: Duration::from_secs(max_age?),
        duplicate_window: Duration::from_secs(window?),
    })
}

/// `subjects`: a non-empty list of subjects, none given twice, none another stream's.
fn read_subjects<'a>(
    r: &mut Reader<'a>,
    f: &Fields<'a>,
    stream: &str,
    taken: &mut Vec<(String, String)>,
) -> Option<Vec<String>> {
    let what = format!("stream `{stream}`");
    let raw = r.required(f, "subjects")?;
    let seq = r.seq(raw, &format!("`subjects` of {what}"))?;
    if seq.items.is_empty() {
        let problem = Some("no subject; write e.g. [\"chat.lines\"]".to_string());
        return checked(r, raw, &what, "subjects", problem, Vec::new());
    }
    let mut subjects = Some(Vec::new());
    for item in seq.items {
        let subject = r
            .value::<String>(item, &format!("a subject of {what}"))
            .and_then(|s| checked(r, item, &what, "subject", subject_problem(&s), s))
            .and_then(|s| not_taken(r, item, stream, taken, s));
        match (subject, subjects.as_mut()) {
            (Some(s), Some(list)) => list.push(s),
            _ => subjects = None,
        }
    }
    subjects
}

/// `subject`, unless a stream (this one or another) captures it already.
fn not_taken(
    r: &mut Reader<'_>,
    at: &str,
    stream: &str,
    taken: &mut Vec<(String, String)>,
    subject: String,
) -> Option<String> {
    let Some((_, first)) = taken.iter().find(|(s, _)| *s == subject) else {
        taken.push((subject.clone(), stream.to_string()));
        return Some(subject);
    };
    let message = if first == stream {
        format!("subject `{subject}` is given twice in stream `{stream}`")
    } else {
        format!("subject `{subject}` is captured by stream `{first}` already")
    };
    r.push(
        Diag::new(DiagnosticKind::Duplicate, r.span(at), message)
            .label("second time")
            .help(Some(
                "a message is stored in one stream: give each subject to one".into(),
            )),
    );
    None
}

/// Whole number field `field` within `(low, high)`, `default` when absent.
fn bounded<'a>(
    r: &mut Reader<'a>,
    f: &Fields<'a>,
    field: &str,
    default: u64,
    (low, high): (u64, u64),
) -> Option<u64> {
    let n = r.optional(f, field, default)?;
    match f.get(field) {
        Some(raw) if !(low..=high).contains(&n) => {
            let problem = Some(format!("between {low} and {high}"));
            checked(r, raw, &f.what, field, problem, n)
        }
        _ => Some(n),
    }
}
