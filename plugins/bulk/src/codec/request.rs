//! v2 requests: `PUT` (upload) and `GET` (download), one per connection.
//!
//! ```text
//! offset size  field
//! 0      4     magic  B5 42 4C 4B
//! 4      1     version 2
//! 5      1     op: 1 PUT, 2 GET
//! 6      1     flags (PUT: 0x01 digest first, 0x02 digest last, 0x04 resumable,
//!              0x08 replace; GET: 0)
//! 7      1     name length, 1..=255
//! 8      8     PUT: total file length; GET: offset to start from (u64, big-endian)
//! 16     n     name (UTF-8)
//! ..     32    PUT with 0x01: sha256 of the whole file
//! ..     16    PUT with 0x04: upload id (random, chosen by the client)
//! ```
//! Specified in `docs/bulk-protocol.md`.

use super::{CodecError, DIGEST_LEN, MAGIC, UPLOAD_ID_LEN, VERSION};

const OP_PUT: u8 = 1;
const OP_GET: u8 = 2;
/// Fixed part before the name.
const FIXED: usize = 16;

/// `PUT` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// The sha256 of the whole file follows the name.
    pub const DIGEST_FIRST: u8 = 0x01;
    /// The sha256 of the whole file follows the body.
    pub const DIGEST_LAST: u8 = 0x02;
    /// An upload id follows; the server answers `CONTINUE offset` before the body.
    pub const RESUMABLE: u8 = 0x04;
    /// Commit over an existing file of that name instead of choosing `stem-N.ext`
    /// (the client asked for it: `--force`); the handler may forbid it.
    pub const REPLACE: u8 = 0x08;
    const KNOWN: u8 = 0x0F;

    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// An upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Put {
    pub name: String,
    /// Total length of the file (a resumed upload still states the whole length).
    pub len: u64,
    /// Expected digest, sent up front.
    pub digest: Option<[u8; 32]>,
    /// The client sends the digest after the body.
    pub digest_last: bool,
    /// Resume id: the server keeps what it got under this id if the connection is lost.
    pub upload_id: Option<[u8; 16]>,
    /// Replace an existing file of this name (flag `0x08`); without it a taken name
    /// is stored as `stem-1.ext`, which is what clients before the flag expect.
    pub replace: bool,
}

/// A download, from `offset` to the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Get {
    pub name: String,
    pub offset: u64,
}

/// One v2 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Put(Put),
    Get(Get),
}

impl Request {
    /// Whether `buf` starts with a whole request; returns its length in bytes.
    pub fn check(buf: &[u8]) -> Result<usize, CodecError> {
        // Check the magic byte by byte so that a wrong prefix fails at once.
        for (i, b) in buf.iter().take(MAGIC.len()).enumerate() {
            if *b != MAGIC[i] {
                return Err(CodecError::Invalid("bad magic"));
            }
        }
        let fixed = buf.get(..FIXED).ok_or(CodecError::Incomplete)?;
        if fixed[4] != VERSION {
            return Err(CodecError::Invalid("unsupported version"));
        }
        let flags = Flags(fixed[6]);
        let extra = match fixed[5] {
            OP_PUT => {
                if flags.0 & !Flags::KNOWN != 0 {
                    return Err(CodecError::Invalid("unknown flags"));
                }
                if flags.has(Flags::DIGEST_FIRST) && flags.has(Flags::DIGEST_LAST) {
                    return Err(CodecError::Invalid("digest both first and last"));
                }
                let d = if flags.has(Flags::DIGEST_FIRST) {
                    DIGEST_LEN
                } else {
                    0
                };
                let u = if flags.has(Flags::RESUMABLE) {
                    UPLOAD_ID_LEN
                } else {
                    0
                };
                d + u
            }
            OP_GET if flags.0 == 0 => 0,
            OP_GET => return Err(CodecError::Invalid("unknown flags")),
            _ => return Err(CodecError::Invalid("unknown operation")),
        };
        let name_len = fixed[7] as usize;
        if name_len == 0 {
            return Err(CodecError::Invalid("empty name"));
        }
        let total = FIXED + name_len + extra;
        if buf.len() < total {
            return Err(CodecError::Incomplete);
        }
        Ok(total)
    }

    /// Decode a request that passed [`Request::check`] (it checks again).
    pub fn parse(buf: &[u8]) -> Result<Request, CodecError> {
        Self::check(buf)?;
        let value = u64::from_be_bytes(buf[8..16].try_into().expect("8 bytes"));
        let name_end = FIXED + buf[7] as usize;
        let name = std::str::from_utf8(&buf[FIXED..name_end])
            .map_err(|_| CodecError::Invalid("name is not UTF-8"))?
            .to_owned();
        if buf[5] == OP_GET {
            return Ok(Request::Get(Get {
                name,
                offset: value,
            }));
        }
        let flags = Flags(buf[6]);
        let mut at = name_end;
        let mut take = |n: usize| {
            let s = &buf[at..at + n];
            at += n;
            s
        };
        let digest = flags
            .has(Flags::DIGEST_FIRST)
            .then(|| take(DIGEST_LEN).try_into().expect("32 bytes"));
        let upload_id = flags
            .has(Flags::RESUMABLE)
            .then(|| take(UPLOAD_ID_LEN).try_into().expect("16 bytes"));
        Ok(Request::Put(Put {
            name,
            len: value,
            digest,
            digest_last: flags.has(Flags::DIGEST_LAST),
            upload_id,
            replace: flags.has(Flags::REPLACE),
        }))
    }

    /// Encode. Fails for an empty name or one over 255 bytes, or a `PUT` with a digest
    /// both first and last.
    pub fn encode(&self) -> Result<Vec<u8>, CodecError> {
        let (op, flags, value, name) = match self {
            Request::Put(p) => {
                if p.digest.is_some() && p.digest_last {
                    return Err(CodecError::Invalid("digest both first and last"));
                }
                let mut f = 0;
                if p.digest.is_some() {
                    f |= Flags::DIGEST_FIRST;
                }
                if p.digest_last {
                    f |= Flags::DIGEST_LAST;
                }
                if p.upload_id.is_some() {
                    f |= Flags::RESUMABLE;
                }
                if p.replace {
                    f |= Flags::REPLACE;
                }
                (OP_PUT, f, p.len, &p.name)
            }
            Request::Get(g) => (OP_GET, 0, g.offset, &g.name),
        };
        if name.is_empty() || name.len() > super::MAX_NAME {
            return Err(CodecError::Invalid("name length must be 1..=255 bytes"));
        }
        let mut out = Vec::with_capacity(FIXED + name.len() + 48);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&[VERSION, op, flags, name.len() as u8]);
        out.extend_from_slice(&value.to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        if let Request::Put(p) = self {
            if let Some(d) = &p.digest {
                out.extend_from_slice(d);
            }
            if let Some(id) = &p.upload_id {
                out.extend_from_slice(id);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(len: u64) -> Put {
        Put {
            name: "report.pdf".into(),
            len,
            digest: None,
            digest_last: false,
            upload_id: None,
            replace: false,
        }
    }

    fn every_split_round_trips(req: &Request) {
        let wire = req.encode().unwrap();
        for cut in 0..wire.len() {
            assert_eq!(
                Request::check(&wire[..cut]),
                Err(CodecError::Incomplete),
                "cut {cut}"
            );
        }
        let mut with_body = wire.clone();
        with_body.extend_from_slice(b"BODY");
        assert_eq!(Request::check(&with_body), Ok(wire.len()));
        assert_eq!(&Request::parse(&with_body).unwrap(), req);
    }

    #[test]
    fn every_variant_round_trips_at_every_split() {
        every_split_round_trips(&Request::Put(put(5)));
        every_split_round_trips(&Request::Put(Put {
            digest: Some([7; 32]),
            upload_id: Some([9; 16]),
            ..put(u64::MAX)
        }));
        every_split_round_trips(&Request::Put(Put {
            replace: true,
            digest_last: true,
            ..put(3)
        }));
        every_split_round_trips(&Request::Put(Put {
            digest_last: true,
            ..put(1 << 40)
        }));
        every_split_round_trips(&Request::Get(Get {
            name: "é.bin".into(),
            offset: 42,
        }));
    }

    #[test]
    fn replace_is_flag_0x08() {
        let wire = Request::Put(Put {
            replace: true,
            ..put(1)
        })
        .encode()
        .unwrap();
        assert_eq!(wire[6], 0x08);
        match Request::parse(&wire).unwrap() {
            Request::Put(p) => assert!(p.replace),
            other => panic!("{other:?}"),
        }
        let plain = Request::Put(put(1)).encode().unwrap();
        assert_eq!(plain[6], 0);
    }

    #[test]
    fn lengths_are_64_bit() {
        for len in [0, (1 << 31) - 1, 1 << 31, 1 << 32, u64::MAX - 1, u64::MAX] {
            let wire = Request::Put(put(len)).encode().unwrap();
            match Request::parse(&wire).unwrap() {
                Request::Put(p) => assert_eq!(p.len, len),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn malformed_requests_fail_early() {
        let good = Request::Put(put(1)).encode().unwrap();
        let mut bad = good.clone();
        bad[1] = b'X';
        // A wrong magic fails as soon as its byte arrives.
        assert_eq!(
            Request::check(&bad[..2]),
            Err(CodecError::Invalid("bad magic"))
        );
        let mut v = good.clone();
        v[4] = 3;
        assert_eq!(
            Request::check(&v),
            Err(CodecError::Invalid("unsupported version"))
        );
        let mut op = good.clone();
        op[5] = 9;
        assert_eq!(
            Request::check(&op),
            Err(CodecError::Invalid("unknown operation"))
        );
        let mut fl = good.clone();
        for unknown in [0x10, 0x20, 0x40, 0x80] {
            fl[6] = unknown;
            assert_eq!(
                Request::check(&fl),
                Err(CodecError::Invalid("unknown flags")),
                "{unknown:#x}"
            );
        }
        fl[6] = Flags::DIGEST_FIRST | Flags::DIGEST_LAST;
        assert!(Request::check(&fl).is_err());
        let mut empty = good.clone();
        empty[7] = 0;
        assert_eq!(
            Request::check(&empty),
            Err(CodecError::Invalid("empty name"))
        );
        let mut utf = good;
        utf[16] = 0xFF;
        assert_eq!(
            Request::parse(&utf),
            Err(CodecError::Invalid("name is not UTF-8"))
        );
    }

    #[test]
    fn matches_the_example_in_the_spec() {
        // docs/bulk-protocol.md, "Example (hex)".
        let wire = Request::Put(Put {
            digest_last: true,
            ..Put {
                name: "a".into(),
                len: 3,
                digest: None,
                digest_last: false,
                upload_id: None,
                replace: false,
            }
        })
        .encode()
        .unwrap();
        assert_eq!(
            wire,
            [
                0xB5, 0x42, 0x4C, 0x4B, 2, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 3, 0x61
            ]
        );
    }

    #[test]
    fn names_must_fit_one_byte_length() {
        let long = Request::Get(Get {
            name: "x".repeat(256),
            offset: 0,
        });
        assert!(long.encode().is_err());
        let ok = Request::Get(Get {
            name: "x".repeat(255),
            offset: 0,
        });
        assert_eq!(Request::check(&ok.encode().unwrap()), Ok(16 + 255));
    }
}
