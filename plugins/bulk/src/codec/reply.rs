//! v2 replies, server to client.
//!
//! ```text
//! offset size  field
//! 0      4     magic  B5 42 4C 4B
//! 4      1     status (see [`Status`])
//! 5      1     flags: 0x01 the digest field is meaningful
//! 6      2     text length (u16, at most 1024)
//! 8      8     value: OK to PUT: bytes stored; OK to GET: bytes that follow;
//!              CONTINUE: offset to send from; errors: 0
//! 16     32    sha256 of the whole file (zeros unless flag 0x01)
//! 48     n     text: the stored name (OK to PUT), the name (GET), or an error message
//! ```

use super::{CodecError, DIGEST_LEN, MAGIC};

const FIXED: usize = 16 + DIGEST_LEN;
/// Longest text in a reply.
pub const MAX_TEXT: usize = 1024;
const HAS_DIGEST: u8 = 0x01;

/// What a reply says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done (upload stored / download follows).
    Ok,
    /// Resumable upload: send the body from `value` on.
    Continue,
    /// The request is malformed, or bytes came that the protocol does not allow.
    BadRequest,
    /// The name is not acceptable.
    BadName,
    /// The length is over the server's limit.
    TooLarge,
    /// Not enough free space, before or during the transfer.
    NoSpace,
    /// No such file (GET), or an offset past its end.
    NotFound,
    /// The received bytes do not hash to the digest the client sent.
    DigestMismatch,
    /// A resumed upload disagrees with what the server kept (offset or length).
    ResumeMismatch,
    /// The transfer was too slow or stalled.
    Timeout,
    /// The server is shutting down or the operation is disabled.
    Unavailable,
    /// A storage failure; the server logged the details.
    Internal,
    /// The request asked for something this handler forbids (a `PUT` with the
    /// replace flag while `allow_overwrite` is off). Only clients that send the
    /// flag can see it.
    NotAllowed,
}

impl Status {
    pub fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Continue => 1,
            Status::BadRequest => 0x10,
            Status::BadName => 0x11,
            Status::TooLarge => 0x12,
            Status::NoSpace => 0x13,
            Status::NotFound => 0x14,
            Status::DigestMismatch => 0x15,
            Status::ResumeMismatch => 0x16,
            Status::Timeout => 0x17,
            Status::Unavailable => 0x18,
            Status::Internal => 0x19,
            Status::NotAllowed => 0x1A,
        }
    }

    pub fn from_code(code: u8) -> Option<Status> {
        [
            Status::Ok,
            Status::Continue,
            Status::BadRequest,
            Status::BadName,
            Status::TooLarge,
            Status::NoSpace,
            Status::NotFound,
            Status::DigestMismatch,
            Status::ResumeMismatch,
            Status::Timeout,
            Status::Unavailable,
            Status::Internal,
            Status::NotAllowed,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }

    /// A short word for logs and `TransferCompleted::result`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Continue => "continue",
            Status::BadRequest => "bad-request",
            Status::BadName => "bad-name",
            Status::TooLarge => "too-large",
            Status::NoSpace => "no-space",
            Status::NotFound => "not-found",
            Status::DigestMismatch => "digest-mismatch",
            Status::ResumeMismatch => "resume-mismatch",
            Status::Timeout => "timeout",
            Status::Unavailable => "unavailable",
            Status::Internal => "internal",
            Status::NotAllowed => "not-allowed",
        }
    }
}

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: Status,
    pub value: u64,
    pub digest: Option<[u8; 32]>,
    pub text: String,
}

impl Reply {
    /// An error reply with a message.
    pub fn error(status: Status, text: impl Into<String>) -> Reply {
        Reply {
            status,
            value: 0,
            digest: None,
            text: text.into(),
        }
    }

    /// Whether `buf` starts with a whole reply; returns its length.
    pub fn check(buf: &[u8]) -> Result<usize, CodecError> {
        for (i, b) in buf.iter().take(MAGIC.len()).enumerate() {
            if *b != MAGIC[i] {
                return Err(CodecError::Invalid("bad magic"));
            }
        }
        let fixed = buf.get(..FIXED).ok_or(CodecError::Incomplete)?;
        if Status::from_code(fixed[4]).is_none() {
            return Err(CodecError::Invalid("unknown status"));
        }
        let text = u16::from_be_bytes([fixed[6], fixed[7]]) as usize;
        if text > MAX_TEXT {
            return Err(CodecError::Invalid("reply text too long"));
        }
        if buf.len() < FIXED + text {
            return Err(CodecError::Incomplete);
        }
        Ok(FIXED + text)
    }

    /// Decode a reply that passed [`Reply::check`] (it checks again).
    pub fn parse(buf: &[u8]) -> Result<Reply, CodecError> {
        let len = Self::check(buf)?;
        let status = Status::from_code(buf[4]).expect("checked");
        let value = u64::from_be_bytes(buf[8..16].try_into().expect("8 bytes"));
        let digest =
            (buf[5] & HAS_DIGEST != 0).then(|| buf[16..FIXED].try_into().expect("32 bytes"));
        let text = String::from_utf8_lossy(&buf[FIXED..len]).into_owned();
        Ok(Reply {
            status,
            value,
            digest,
            text,
        })
    }

    /// Encode; an over-long text is cut at a character boundary.
    pub fn encode(&self) -> Vec<u8> {
        let mut end = self.text.len().min(MAX_TEXT);
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let text = &self.text.as_bytes()[..end];
        let mut out = Vec::with_capacity(FIXED + text.len());
        out.extend_from_slice(&MAGIC);
        out.push(self.status.code());
        out.push(if self.digest.is_some() { HAS_DIGEST } else { 0 });
        out.extend_from_slice(&(text.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.value.to_be_bytes());
        out.extend_from_slice(&self.digest.unwrap_or([0; 32]));
        out.extend_from_slice(text);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_at_every_split() {
        let r = Reply {
            status: Status::Ok,
            value: u64::MAX,
            digest: Some([3; 32]),
            text: "incoming/a-1.bin".into(),
        };
        let wire = r.encode();
        for cut in 0..wire.len() {
            assert_eq!(Reply::check(&wire[..cut]), Err(CodecError::Incomplete));
        }
        let mut more = wire.clone();
        more.extend_from_slice(b"file bytes");
        assert_eq!(Reply::check(&more), Ok(wire.len()));
        assert_eq!(Reply::parse(&more).unwrap(), r);
    }

    #[test]
    fn every_status_has_a_code() {
        for code in 0..=255u8 {
            if let Some(s) = Status::from_code(code) {
                assert_eq!(s.code(), code);
                let wire = Reply::error(s, "x").encode();
                assert_eq!(Reply::parse(&wire).unwrap().status, s);
            }
        }
        assert_eq!(Status::from_code(0x42), None);
        // docs/bulk-protocol.md, the status table.
        assert_eq!(Status::from_code(0x1A), Some(Status::NotAllowed));
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary() {
        let r = Reply::error(Status::BadName, "é".repeat(600));
        let back = Reply::parse(&r.encode()).unwrap();
        assert!(back.text.len() <= MAX_TEXT);
        assert!(back.text.chars().all(|c| c == 'é'));
    }

    #[test]
    fn garbage_is_invalid() {
        assert_eq!(
            Reply::check(b"HTTP/1.1"),
            Err(CodecError::Invalid("bad magic"))
        );
        let mut w = Reply::error(Status::Ok, "").encode();
        w[4] = 0x77;
        assert_eq!(Reply::check(&w), Err(CodecError::Invalid("unknown status")));
    }
}
