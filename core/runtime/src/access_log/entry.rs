//! [`Entry`]: one finished session, and its line in either format.
//!
//! Every value a peer or a plugin chose (the resource, the peer's text) is escaped, so
//! a line is always one line: a file name with a newline or a quote cannot forge a
//! second record.

use std::fmt::Write;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use switchyard_sdk::Direction;

use crate::topology::AccessLogFormat;

/// One finished session, as the host knew it when it ended.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// When it ended.
    pub at: SystemTime,
    pub handler: &'a str,
    /// `None`: the plugin never said (a request refused before it was described).
    pub peer: Option<SocketAddr>,
    /// What it worked on (a file name), as the plugin described it; may be empty.
    pub resource: &'a str,
    pub direction: Direction,
    /// Bytes moved (the larger of the plugin's count and the host's).
    pub bytes: u64,
    /// The outcome word (`ok`, `not_found`, ...: bounded, as in the metrics).
    pub outcome: &'a str,
    /// From its first description to its end (zero if never described).
    pub duration: Duration,
}

/// The direction's word in a line.
pub fn direction_word(d: Direction) -> &'static str {
    match d {
        Direction::Send => "send",
        Direction::Receive => "receive",
        Direction::None => "-",
    }
}

/// `2025-01-02T03:04:05.678Z`: UTC, milliseconds (civil date from the days since the
/// epoch, Howard Hinnant's algorithm; the host has no time-zone database to consult).
pub fn utc_millis(at: SystemTime) -> String {
    let since = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// A logfmt value: bare when it is one plain word, else quoted and escaped the way
/// Rust's `{:?}` does (control characters, quotes, backslashes), which the host's own
/// logfmt reader (`crate::logfmt`) undoes.
fn value(out: &mut String, v: &str) {
    let plain = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '=' | '\\'));
    if plain {
        out.push_str(v);
    } else {
        let _ = write!(out, "{v:?}");
    }
}

impl Entry<'_> {
    /// Append the entry's line (with its `\n`) to `out`.
    pub fn write_line(&self, format: AccessLogFormat, out: &mut String) {
        let duration_ms = self.duration.as_secs_f64() * 1000.0;
        match format {
            AccessLogFormat::Text => {
                let peer = self.peer.map_or_else(|| "-".to_owned(), |p| p.to_string());
                let _ = write!(out, "{} handler=", utc_millis(self.at));
                value(out, self.handler);
                let _ = write!(out, " peer={peer} resource=");
                value(out, self.resource);
                let _ = write!(
                    out,
                    " direction={} bytes={} outcome=",
                    direction_word(self.direction),
                    self.bytes
                );
                value(out, self.outcome);
                let _ = writeln!(out, " duration_ms={duration_ms:.3}");
            }
            AccessLogFormat::Json => {
                let line = serde_json::json!({
                    "ts": utc_millis(self.at),
                    "handler": self.handler,
                    "peer": self.peer.map(|p| p.to_string()),
                    "resource": self.resource,
                    "direction": direction_word(self.direction),
                    "bytes": self.bytes,
                    "outcome": self.outcome,
                    "duration_ms": (duration_ms * 1000.0).round() / 1000.0,
                });
                let _ = writeln!(out, "{line}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(resource: &str) -> Entry<'_> {
        Entry {
            at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            handler: "files",
            peer: Some("127.0.0.1:5000".parse().unwrap()),
            resource,
            direction: Direction::Send,
            bytes: 1024,
            outcome: "ok",
            duration: Duration::from_micros(1_234),
        }
    }

    #[test]
    fn utc_times_are_civil_dates() {
        let at = |ms: u64| utc_millis(SystemTime::UNIX_EPOCH + Duration::from_millis(ms));
        assert_eq!(at(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(at(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(at(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
    }

    #[test]
    fn a_text_line_has_every_field_and_stays_one_line() {
        let mut out = String::new();
        entry("a b.txt").write_line(AccessLogFormat::Text, &mut out);
        assert_eq!(
            out,
            "2023-11-14T22:13:20.123Z handler=files peer=127.0.0.1:5000 resource=\"a b.txt\" direction=send bytes=1024 outcome=ok duration_ms=1.234\n"
        );
        out.clear();
        entry("").write_line(AccessLogFormat::Text, &mut out);
        assert!(out.contains(" resource=\"\" "), "{out}");
        out.clear();
        entry("evil\"\nname").write_line(AccessLogFormat::Text, &mut out);
        assert_eq!(out.matches('\n').count(), 1, "{out}");
        assert!(out.contains(r#"resource="evil\"\nname""#), "{out}");
    }

    #[test]
    fn a_json_line_is_one_object_with_numbers_as_numbers() {
        let mut out = String::new();
        let mut e = entry("x\ny");
        e.peer = None;
        e.write_line(AccessLogFormat::Json, &mut out);
        assert_eq!(out.matches('\n').count(), 1, "{out}");
        let j: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(j["ts"], "2023-11-14T22:13:20.123Z");
        assert_eq!(j["handler"], "files");
        assert_eq!(j["peer"], serde_json::Value::Null);
        assert_eq!(j["resource"], "x\ny");
        assert_eq!(j["direction"], "send");
        assert_eq!(j["bytes"], 1024);
        assert_eq!(j["outcome"], "ok");
        assert_eq!(j["duration_ms"], 1.234);
    }
}
