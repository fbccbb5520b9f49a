//! # switchyard-fuzz-targets — what the fuzzers check
//!
//! One module per fuzz target, each a `pub fn name(data: &[u8])` that panics when a
//! property fails: decode -> encode -> decode gives the same value where a codec has
//! both directions, a stream decoder gives the same answer whatever the split of its
//! input, and a plugin state machine driven by an arbitrary event sequence on a manual
//! clock keeps its invariants (window bounds, no output after it is done, no file
//! handle leaked). The bodies live here, in a workspace member, so that the seed
//! corpora in `fuzz/corpus/<target>/` replay under the ordinary `cargo test`
//! (`tests/corpus.rs`); `fuzz/` is the cargo-fuzz crate, one line per target.
//!
//! # Layout
//! - [`TARGETS`]: every target by name (the replay test and `fuzz/run` agree on it).
//! - codecs: [`tftp_packet`], [`tftp_options`], [`files_v1`], [`files_v2`],
//!   [`bulk_v1`], [`bulk_v2`], [`chat_datagram`], [`chat_command`], [`topology`].
//! - state machines: [`tftp_transfer`], [`files_machine`], [`bulk_machine`],
//!   [`chat_machine`].
//! - helpers: `host` (in-memory storage and the receive a host does), `catalog` (the
//!   real plugins described to the topology compiler without loading a library).

mod catalog;
mod conn;
mod host;

pub mod bulk_machine;
pub mod bulk_v1;
pub mod bulk_v2;
pub mod chat_command;
pub mod chat_datagram;
pub mod chat_machine;
pub mod files_machine;
pub mod files_v1;
pub mod files_v2;
pub mod tftp_options;
pub mod tftp_packet;
pub mod tftp_transfer;
pub mod topology;

/// A fuzz target body.
pub type Target = fn(&[u8]);

/// Every target, by the name of its `fuzz/fuzz_targets/<name>.rs` and corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("tftp_packet", tftp_packet::tftp_packet),
    ("tftp_options", tftp_options::tftp_options),
    ("tftp_transfer", tftp_transfer::tftp_transfer),
    ("files_v1", files_v1::files_v1),
    ("files_v2", files_v2::files_v2),
    ("files_machine", files_machine::files_machine),
    ("bulk_v1", bulk_v1::bulk_v1),
    ("bulk_v2", bulk_v2::bulk_v2),
    ("bulk_machine", bulk_machine::bulk_machine),
    ("chat_datagram", chat_datagram::chat_datagram),
    ("chat_command", chat_command::chat_command),
    ("chat_machine", chat_machine::chat_machine),
    ("topology", topology::topology),
];
