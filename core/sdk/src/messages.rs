//! Typed messages exchanged between handlers.
//!
//! A message crosses the boundary as `(port, type name, JSON bytes)`: JSON so that a
//! plugin written in C can read and write it too, and a type name so that
//! `switchyard validate` can check a route's two ends before anything runs.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

mod outcome;

pub use outcome::{Outcome, UnknownOutcome};

/// A message type with a stable, versioned name.
pub trait Message: Serialize + DeserializeOwned {
    /// e.g. `switchyard.TransferCompleted/1`. Change the suffix on an incompatible change.
    const TYPE: &'static str;
}

/// One file transfer ended, successfully or not (TFTP, files, bulk).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferCompleted {
    /// `tftp`, `files`, `bulk`, ...
    pub protocol: String,
    pub peer: String,
    /// Path under the handler's root.
    pub file: String,
    /// `upload` or `download`.
    pub direction: String,
    pub bytes: u64,
    pub duration_ms: u64,
    /// Hex sha256 when known.
    pub sha256: Option<String>,
    /// How it ended: one of [`Outcome`]'s strings (`ok`, `refused`, `not_found`,
    /// `aborted`, `partial`, `timeout`, `invalid`, `error`, `other`, `probe`), written as
    /// `Outcome::Timeout.into()`: the outcome the plugin also ends its session with
    /// (`Ctx::end_session`, the metrics' bounded label; the host reads no message), so
    /// it comes from that fixed set: the free-text reason goes into the plugin's log
    /// line. A plugin built
    /// against an older SDK may still send free text here; readers use
    /// [`TransferCompleted::outcome`], which counts that as [`Outcome::Other`].
    ///
    /// A `String` and not an `Outcome` so that the type (and struct literals in
    /// existing plugins) stays source and wire compatible.
    pub result: String,
}

impl TransferCompleted {
    /// The [`Outcome`] `result` names; [`Outcome::Other`] for anything outside the set.
    pub fn outcome(&self) -> Outcome {
        self.result.parse().unwrap_or(Outcome::Other)
    }
}

impl Message for TransferCompleted {
    const TYPE: &'static str = "switchyard.TransferCompleted/1";
}

/// One chat line (visitor, agent or room).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub from: String,
    /// Room name, or the visitor id of a support conversation.
    pub channel: String,
    pub text: String,
    pub at_unix_ms: u64,
}

impl Message for ChatMessage {
    const TYPE: &'static str = "switchyard.ChatMessage/1";
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer(result: impl Into<String>) -> TransferCompleted {
        TransferCompleted {
            protocol: "bulk".into(),
            peer: "127.0.0.1:1".into(),
            file: "f".into(),
            direction: "upload".into(),
            bytes: 1,
            duration_ms: 2,
            sha256: None,
            result: result.into(),
        }
    }

    #[test]
    fn result_carries_the_outcome_string_on_the_wire() {
        let t = transfer(Outcome::Partial);
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(json["result"], "partial");
        let back: TransferCompleted = serde_json::from_value(json).unwrap();
        assert_eq!(back.outcome(), Outcome::Partial);
    }

    #[test]
    fn an_older_plugins_free_text_reads_as_other() {
        let t = transfer("connection closed; 1760559104 bytes kept for resume");
        assert_eq!(t.outcome(), Outcome::Other);
        assert_eq!(transfer("ok").outcome(), Outcome::Ok);
    }
}
