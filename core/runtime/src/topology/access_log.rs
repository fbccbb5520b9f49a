//! The top-level `access_log` field:
//!
//! ```ron
//! access_log: Some((path: "/var/log/switchyard/access.log", buffer_kib: 64, flush_ms: 1000, format: text)),
//! ```
//!
//! `path` is required; the others have the defaults shown (nginx's `access_log path
//! buffer=64k flush=1s`). Each bad part is reported at its own place, and the rest is
//! still read.

use std::path::PathBuf;
use std::time::Duration;

use ron::value::RawValue;

use super::collect::Diag;
use super::diagnostic::DiagnosticKind;
use super::model::{AccessLogFormat, AccessLogSpec};
use super::raw;
use super::reader::Reader;

const FIELDS: &[&str] = &["path", "buffer_kib", "flush_ms", "format"];

/// Default `buffer_kib`: nginx's usual `buffer=64k`.
pub const DEFAULT_BUFFER_KIB: usize = 64;
/// Largest `buffer_kib` (16 MiB): more only delays lines and costs memory.
const MAX_BUFFER_KIB: usize = 16 * 1024;
/// Default `flush_ms`: a line waits at most a second.
pub const DEFAULT_FLUSH_MS: u64 = 1000;
/// Largest `flush_ms` (a minute): what a crash of the machine can lose at most.
const MAX_FLUSH_MS: u64 = 60_000;

/// Read `access_log`'s value (`Some((...))` or `None`); `None` also when it has an
/// error (reported).
pub(crate) fn read<'a>(r: &mut Reader<'a>, raw: &'a str) -> Option<AccessLogSpec> {
    let inner = match raw::parse::<Option<&'a RawValue>>(raw) {
        Ok(None) => return None,
        Ok(Some(v)) => v.trim().get_ron(),
        Err(_) => {
            r.push(
                Diag::new(
                    DiagnosticKind::BadValue,
                    r.span(raw),
                    "invalid `access_log`".to_owned(),
                )
                .label("not `Some((...))` or `None`")
                .help(Some(
                    "write `Some((path: \"access.log\"))`, or leave the field out".into(),
                )),
            );
            return None;
        }
    };
    let f = r.open(inner, "`access_log`".into(), FIELDS)?;
    let path = r
        .required(&f, "path")
        .and_then(|raw| r.value::<PathBuf>(raw, "`path` in `access_log`"));
    if let (Some(p), Some(raw)) = (&path, f.get("path"))
        && p.as_os_str().is_empty()
    {
        r.push(
            Diag::new(
                DiagnosticKind::BadValue,
                r.span(raw),
                "`path` in `access_log` is empty".to_owned(),
            )
            .label("no file"),
        );
    }
    let mut in_range = |name: &str, default: u64, max: u64, why: &str| -> Option<u64> {
        let value = r.optional(&f, name, default)?;
        if (1..=max).contains(&value) {
            return Some(value);
        }
        let span = f.get(name).and_then(|raw| r.span(raw));
        r.push(
            Diag::new(
                DiagnosticKind::BadValue,
                span,
                format!("`{name}` in `access_log` must be between 1 and {max}"),
            )
            .label(why.to_owned()),
        );
        None
    };
    let buffer_kib = in_range(
        "buffer_kib",
        DEFAULT_BUFFER_KIB as u64,
        MAX_BUFFER_KIB as u64,
        "kibibytes of lines kept before they are written",
    );
    let flush_ms = in_range(
        "flush_ms",
        DEFAULT_FLUSH_MS,
        MAX_FLUSH_MS,
        "milliseconds a line may wait to be written",
    );
    let format = r.optional(&f, "format", AccessLogFormat::default());
    Some(AccessLogSpec {
        path: path.filter(|p| !p.as_os_str().is_empty())?,
        buffer_bytes: usize::try_from(buffer_kib?).ok()? * 1024,
        flush: Duration::from_millis(flush_ms?),
        format: format?,
    })
}
