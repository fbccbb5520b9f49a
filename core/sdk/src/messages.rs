//! Typed messages exchanged between handlers.
//!
//! A message crosses the boundary as `(port, type name, JSON bytes)`: JSON so that a
//! plugin written in C can read and write it too, and a type name so that
//! `switchyard validate` can check a route's two ends before anything runs.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

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
    /// `ok`, or a short reason.
    pub result: String,
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
