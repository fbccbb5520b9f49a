//! Refused (or cut) requests as transfer records.

use switchyard_sdk::messages::{Outcome, TransferCompleted};

use super::{Output, Session};
use crate::codec::Status;

impl Session {
    /// A transfer request refused before any data moved: recorded too (no bytes, no
    /// duration), so that refusals show in the metrics and the audit trail.
    pub(crate) fn record_refusal(&mut self, direction: &str, status: Status) {
        let outcome = match status {
            Status::NotFound => Outcome::NotFound,
            Status::Internal => Outcome::Error,
            _ => Outcome::Refused,
        };
        self.record_cut(direction, outcome);
    }

    /// A transfer request cut before any data moved (its storage never answered, the
    /// connection went): recorded with its outcome.
    pub(crate) fn record_cut(&mut self, direction: &str, outcome: Outcome) {
        self.push(Output::Transfer(TransferCompleted {
            protocol: "bulk".into(),
            peer: self.peer.clone(),
            file: String::new(),
            direction: direction.into(),
            bytes: 0,
            duration_ms: 0,
            sha256: None,
            result: outcome.into(),
        }));
    }
}
