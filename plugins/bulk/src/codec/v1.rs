//! The seed's header: a 4-byte big-endian *signed* length (`struct.pack('!i', n)`).
//!
//! The seed server read it with one `recv(4)`, which crashes on a split header and
//! accepts a negative length as an empty file. Here the header may arrive in any
//! number of pieces, and a negative length is an error before anything is created.

use super::CodecError;

/// Bytes in a v1 header.
pub const V1_HEADER_LEN: usize = 4;

/// A decoded v1 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V1Header {
    /// Body length in bytes (never negative: that is refused by [`V1Header::check`]).
    pub len: u64,
}

impl V1Header {
    /// Whether `buf` starts with a whole, acceptable header; returns its length.
    pub fn check(buf: &[u8]) -> Result<usize, CodecError> {
        let raw = buf.get(..V1_HEADER_LEN).ok_or(CodecError::Incomplete)?;
        let n = i32::from_be_bytes(raw.try_into().expect("4 bytes"));
        if n < 0 {
            return Err(CodecError::Invalid("negative length"));
        }
        Ok(V1_HEADER_LEN)
    }

    /// Decode a header that passed [`V1Header::check`].
    pub fn parse(buf: &[u8]) -> Result<V1Header, CodecError> {
        Self::check(buf)?;
        let n = i32::from_be_bytes(buf[..V1_HEADER_LEN].try_into().expect("4 bytes"));
        Ok(V1Header { len: n as u64 })
    }

    /// Encode a length; `None` for 2 GiB or more (v1 cannot say it).
    pub fn encode(len: u64) -> Option<[u8; V1_HEADER_LEN]> {
        i32::try_from(len).ok().map(i32::to_be_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_split_is_incomplete_until_four_bytes() {
        let header = V1Header::encode(123_456).unwrap();
        for cut in 0..V1_HEADER_LEN {
            assert_eq!(V1Header::check(&header[..cut]), Err(CodecError::Incomplete));
        }
        assert_eq!(V1Header::check(&header), Ok(4));
        assert_eq!(V1Header::parse(&header).unwrap().len, 123_456);
    }

    #[test]
    fn body_bytes_after_the_header_are_not_consumed() {
        let mut buf = V1Header::encode(3).unwrap().to_vec();
        buf.extend_from_slice(b"abcdef");
        assert_eq!(V1Header::check(&buf), Ok(4));
        assert_eq!(V1Header::parse(&buf).unwrap().len, 3);
    }

    #[test]
    fn negative_lengths_are_refused() {
        for n in [-1i32, i32::MIN, -1024] {
            let b = n.to_be_bytes();
            assert_eq!(
                V1Header::check(&b),
                Err(CodecError::Invalid("negative length"))
            );
        }
    }

    #[test]
    fn extremes() {
        assert_eq!(V1Header::parse(&[0, 0, 0, 0]).unwrap().len, 0);
        let max = V1Header::encode(i32::MAX as u64).unwrap();
        assert_eq!(V1Header::parse(&max).unwrap().len, (1 << 31) - 1);
        assert_eq!(V1Header::encode(1 << 31), None);
        assert_eq!(V1Header::encode(u64::MAX), None);
    }
}
