//! The wire formats, shared with the client through the rlib.
//!
//! Every decoder follows the mini-redis shape: `check(buf)` says whether a whole
//! frame is there ([`CodecError::Incomplete`] if not, an error if it can never
//! be valid) and how long it is, then `parse(buf)` builds the value. Nothing here
//! allocates more than one frame or reads past it, so the caller can hand the
//! bytes after the frame (the start of a body) to the file.
//!
//! # Layout
//! - this file: [`detect`] (v1 or v2 from the first byte), [`CodecError`], [`MAGIC`].
//! - `v1`: the seed's 4-byte signed big-endian length.
//! - `request`: v2 `PUT` and `GET` requests.
//! - `reply`: v2 replies (`CONTINUE`, `OK`, errors).
//! - `name`: the file name policy.
//! - `taken`: the `NOT_FOUND` texts that tell a free name from a taken one.

mod name;
mod reply;
mod request;
mod taken;
mod v1;

pub use name::check_name;
pub use reply::{Reply, Status};
pub use request::{Flags, Get, Put, Request};
pub use taken::{NO_SUCH_FILE, PROBE_OFFSET, past_the_end, taken_size};
pub use v1::{V1_HEADER_LEN, V1Header};

/// First bytes of every v2 request and reply. The first byte has its high bit set, so
/// read as a v1 header it is a negative length, which v1 refuses: no valid v1 upload
/// can start like a v2 request, and the first byte alone decides.
pub const MAGIC: [u8; 4] = [0xB5, b'B', b'L', b'K'];
/// The only v2 version so far.
pub const VERSION: u8 = 2;
/// Longest file name (one path component: Linux `NAME_MAX`).
pub const MAX_NAME: usize = 255;
/// Length of a sha256 digest.
pub const DIGEST_LEN: usize = 32;
/// Length of a resume id.
pub const UPLOAD_ID_LEN: usize = 16;

/// Why bytes are not (yet) a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodecError {
    /// Not enough bytes yet: read more and call again.
    Incomplete,
    /// These bytes can never become a valid frame; the reason is for the log and the
    /// error reply.
    Invalid(&'static str),
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodecError::Incomplete => f.write_str("incomplete frame"),
            CodecError::Invalid(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for CodecError {}

/// Which protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    /// The seed's protocol: a 4-byte length, then the body.
    V1,
    /// A v2 request (magic checked in full by [`Request::check`]).
    V2,
}

/// Decide from the first byte. `None` when `buf` is empty.
///
/// A v1 header with a non-negative length starts with a byte below 0x80; `MAGIC[0]`
/// is above. Any other byte of 0x80 or more is a v1 header with a negative length,
/// which v1 refuses anyway.
pub fn detect(buf: &[u8]) -> Option<Detected> {
    match buf.first()? {
        &b if b == MAGIC[0] => Some(Detected::V2),
        _ => Some(Detected::V1),
    }
}

/// Lowercase hex of a digest (or any bytes), as the side files write it
/// ([`switchyard_sdk::sums`]).
pub fn hex(bytes: &[u8]) -> String {
    switchyard_sdk::sums::to_hex(bytes)
}

/// Parse 64 hex digits into a digest.
pub fn parse_digest(text: &str) -> Option<[u8; 32]> {
    let text = text.as_bytes();
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in text.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_byte_decides() {
        assert_eq!(detect(b""), None);
        assert_eq!(detect(&[0, 0, 0, 5]), Some(Detected::V1));
        assert_eq!(detect(&[0x7F]), Some(Detected::V1));
        assert_eq!(detect(&MAGIC[..1]), Some(Detected::V2));
        // Another high byte: a negative v1 length, refused by the v1 codec.
        assert_eq!(detect(&[0xFF, 0xFF, 0xFF, 0xFF]), Some(Detected::V1));
        // The magic read as a v1 length is negative.
        assert!(i32::from_be_bytes(MAGIC) < 0);
    }

    #[test]
    fn hex_round_trip() {
        let d = [0xABu8; 32];
        assert_eq!(parse_digest(&hex(&d)), Some(d));
        assert_eq!(parse_digest("zz"), None);
        assert_eq!(parse_digest(&"g".repeat(64)), None);
    }
}
