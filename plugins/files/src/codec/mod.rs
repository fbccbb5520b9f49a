//! The wire format, shared by the server and the client (through the rlib).
//!
//! One frame codec serves both protocols and both directions: a v2 frame is one line
//! of space-separated tokens (`frame`), names inside tokens are percent-encoded
//! (`name`), and replies are typed on top of frames (`reply`). The seed's v1 has no
//! frames: [`detect`] recognises its `N:` prefix and the machine reads the rest as a
//! raw stream.
//!
//! Parsing follows mini-redis: [`Frame::check`] says whether a whole frame is buffered
//! (or [`CodecError::Incomplete`]) without allocating, then [`Frame::parse`] builds it.
//!
//! # Layout
//! - `frame`: [`Frame`], one line of tokens: `check` / `parse` / `encode`.
//! - `name`: percent-encoding of names and the server's name policy.
//! - `reply`: [`Reply`] and [`ErrorCode`], the server's answers.
//! - this file: [`CodecError`], [`detect`] and the v2 magic line.

mod frame;
mod name;
mod reply;

pub use frame::Frame;
pub use name::{check_name, decode_name, encode_name};
pub use reply::{ErrorCode, Reply};

/// The first line of every v2 connection. Its first byte (`S`) can never start a v1
/// request (which always starts with an ASCII digit), so one byte tells them apart.
pub const MAGIC: &[u8] = b"SYFILES/2\n";

/// Why bytes could not become a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// Not enough bytes yet: read more and try again.
    #[error("incomplete frame")]
    Incomplete,
    /// No end of line within the configured maximum.
    #[error("line longer than {0} bytes")]
    TooLong(usize),
    /// The bytes can never become a valid frame or request.
    #[error("{0}")]
    Invalid(String),
    /// Well-formed, but the name is refused by the server's policy (traversal,
    /// absolute, hidden...).
    #[error("{0}")]
    Refused(String),
}

impl CodecError {
    pub(crate) fn invalid(msg: impl Into<String>) -> CodecError {
        CodecError::Invalid(msg.into())
    }

    pub(crate) fn refused(msg: impl Into<String>) -> CodecError {
        CodecError::Refused(msg.into())
    }
}

/// The seed's three commands, from the digit before the first colon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V1Op {
    /// `0:MSG`: the client says goodbye; the message is logged.
    Quit,
    /// `1:NAME`: download.
    Download,
    /// `2:DATA`: upload, data up to the client's close.
    Upload,
}

/// What the first bytes of a connection say it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    /// A seed request; `consumed` bytes (`N:`) belong to the header.
    V1 { op: V1Op, consumed: usize },
    /// The framed protocol; `consumed` bytes are the magic line.
    V2 { consumed: usize },
}

/// Tell v1 from v2 from the first bytes of a connection.
///
/// v1 requests start with `0:`, `1:` or `2:`; v2 connections start with [`MAGIC`].
/// Anything else is refused as soon as one byte proves it cannot match either.
pub fn detect(buf: &[u8]) -> Result<Detected, CodecError> {
    let Some(&first) = buf.first() else {
        return Err(CodecError::Incomplete);
    };
    if first.is_ascii_digit() {
        let Some(&second) = buf.get(1) else {
            return Err(CodecError::Incomplete);
        };
        if second != b':' {
            return Err(CodecError::invalid(
                "v1 request without ':' after its digit",
            ));
        }
        let op = match first {
            b'0' => V1Op::Quit,
            b'1' => V1Op::Download,
            b'2' => V1Op::Upload,
            _ => {
                return Err(CodecError::invalid(format!(
                    "unknown v1 operation {}",
                    first as char
                )));
            }
        };
        return Ok(Detected::V1 { op, consumed: 2 });
    }
    let n = buf.len().min(MAGIC.len());
    if buf[..n] != MAGIC[..n] {
        return Err(CodecError::invalid(
            "neither a v1 request nor the v2 magic line",
        ));
    }
    if n < MAGIC.len() {
        return Err(CodecError::Incomplete);
    }
    Ok(Detected::V2 {
        consumed: MAGIC.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_ops_are_detected() {
        assert_eq!(
            detect(b"1:a.txt"),
            Ok(Detected::V1 {
                op: V1Op::Download,
                consumed: 2
            })
        );
        assert_eq!(
            detect(b"2:"),
            Ok(Detected::V1 {
                op: V1Op::Upload,
                consumed: 2
            })
        );
        assert_eq!(
            detect(b"0:bye"),
            Ok(Detected::V1 {
                op: V1Op::Quit,
                consumed: 2
            })
        );
    }

    #[test]
    fn split_prefixes_are_incomplete() {
        assert_eq!(detect(b""), Err(CodecError::Incomplete));
        assert_eq!(detect(b"1"), Err(CodecError::Incomplete));
        for n in 1..MAGIC.len() {
            assert_eq!(detect(&MAGIC[..n]), Err(CodecError::Incomplete), "{n}");
        }
    }

    #[test]
    fn v2_magic_is_detected_with_what_follows() {
        let mut buf = MAGIC.to_vec();
        buf.extend_from_slice(b"LIST\n");
        assert_eq!(
            detect(&buf),
            Ok(Detected::V2 {
                consumed: MAGIC.len()
            })
        );
    }

    #[test]
    fn garbage_is_refused_early() {
        assert!(matches!(detect(b"GET x\n"), Err(CodecError::Invalid(_))));
        assert!(matches!(detect(b"3:x"), Err(CodecError::Invalid(_))));
        assert!(matches!(detect(b"12"), Err(CodecError::Invalid(_))));
        assert!(matches!(
            detect(b"SYFILES/3\n"),
            Err(CodecError::Invalid(_))
        ));
        assert!(matches!(detect(b"SX"), Err(CodecError::Invalid(_))));
        assert!(matches!(detect(b"\0"), Err(CodecError::Invalid(_))));
    }
}
