//! How a transfer ended, as a small fixed set of values.
//!
//! `TransferCompleted::result` becomes a metric label (`switchyard_transfers_total`),
//! and a label with free text in it (`"connection closed; 1760559104 bytes kept for
//! resume"`) makes a new time series for every cut transfer. So the event carries one
//! of these values; the free-text reason belongs in the plugin's log line.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How one transfer ended. Fits TFTP, files and bulk; a new protocol picks the closest
/// value (or [`Outcome::Other`]) rather than adding one, so dashboards stay comparable.
///
/// Non-exhaustive: a later SDK may add a value, and a plugin's `match` must keep
/// compiling when it does. The strings ([`Outcome::as_str`]) are part of the wire
/// format of `switchyard.TransferCompleted/1` and of the metrics: they never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// The whole file moved (and matched its digest, where the protocol has one).
    Ok,
    /// Refused by a limit or a policy: before any data moved (a bad or forbidden name,
    /// the file exists, too large, not enough space, the operation disabled, the server
    /// shutting down), or mid-transfer when an upload outgrows its size limit.
    Refused,
    /// The requested file does not exist (or the requested offset is past its end).
    NotFound,
    /// The peer ended it mid-transfer (connection closed or reset, an error packet from
    /// the peer) and nothing was kept.
    Aborted,
    /// Cut off mid-transfer, and what arrived was kept so that the client can resume.
    Partial,
    /// The peer stalled or was too slow, and nothing was kept.
    Timeout,
    /// The peer broke the protocol mid-transfer, or the data failed its check (digest
    /// mismatch, more bytes than announced).
    Invalid,
    /// The server failed: storage I/O, disk full mid-transfer, a failed commit.
    Error,
    /// None of the above. Also what a `result` outside this set (free text from a
    /// plugin built against an older SDK) is counted as.
    Other,
    /// The peer only asked about the file and ended it before any data moved, as
    /// intended: a TFTP size probe (UEFI firmware asks `tsize`, then answers the OACK
    /// with ERROR 8 and asks again for the download). Not a failure, and not a
    /// transfer either: counted apart so that neither `ok` nor `aborted` is inflated.
    /// Added after the first nine (append-only).
    Probe,
}

impl Outcome {
    /// Every value, in declaration order (for documentation, tests and dashboards).
    pub const ALL: [Outcome; 10] = [
        Outcome::Ok,
        Outcome::Refused,
        Outcome::NotFound,
        Outcome::Aborted,
        Outcome::Partial,
        Outcome::Timeout,
        Outcome::Invalid,
        Outcome::Error,
        Outcome::Other,
        Outcome::Probe,
    ];

    /// The snake_case string written into `TransferCompleted::result` and the metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::NotFound => "not_found",
            Outcome::Aborted => "aborted",
            Outcome::Partial => "partial",
            Outcome::Timeout => "timeout",
            Outcome::Invalid => "invalid",
            Outcome::Error => "error",
            Outcome::Other => "other",
            Outcome::Probe => "probe",
        }
    }

    pub const fn is_ok(self) -> bool {
        matches!(self, Outcome::Ok)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `result` string that is none of [`Outcome`]'s values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown transfer outcome {0:?}")]
pub struct UnknownOutcome(pub String);

impl FromStr for Outcome {
    type Err = UnknownOutcome;

    /// Exactly one of the [`Outcome::as_str`] strings; anything else is an error (the
    /// caller decides whether that means [`Outcome::Other`]).
    fn from_str(s: &str) -> Result<Outcome, UnknownOutcome> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownOutcome(s.to_owned()))
    }
}

impl From<Outcome> for String {
    fn from(o: Outcome) -> String {
        o.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_through_its_string_and_serde() {
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>(), Ok(o));
            assert_eq!(o.to_string(), o.as_str());
            let json = serde_json::to_string(&o).unwrap();
            assert_eq!(json, format!("\"{}\"", o.as_str()));
            assert_eq!(serde_json::from_str::<Outcome>(&json).unwrap(), o);
        }
    }

    #[test]
    fn strings_are_distinct_snake_case_label_values() {
        let mut seen = std::collections::BTreeSet::new();
        for o in Outcome::ALL {
            let s = o.as_str();
            assert!(
                !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s}"
            );
            assert!(seen.insert(s), "{s} twice");
        }
        assert_eq!(seen.len(), Outcome::ALL.len());
    }

    #[test]
    fn free_text_and_near_misses_are_unknown() {
        for s in [
            "",
            "OK",
            "Ok",
            "not-found",
            "connection closed; 1760559104 bytes kept for resume",
            "timeout ",
        ] {
            assert_eq!(s.parse::<Outcome>(), Err(UnknownOutcome(s.to_owned())));
        }
    }
}
