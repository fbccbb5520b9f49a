//! The bulk protocol v2, spoken raw as `docs/bulk-protocol.md` says (so the tests check
//! the spec too): request headers, replies, statuses and flags.

use std::io::Read;
use std::net::TcpStream;

use sha2::{Digest, Sha256};

/// Every v2 frame starts with it.
pub const MAGIC: [u8; 4] = [0xB5, b'B', b'L', b'K'];

/// Reply statuses.
pub const OK: u8 = 0;
pub const CONTINUE: u8 = 1;
pub const BAD_NAME: u8 = 0x11;
pub const TOO_LARGE: u8 = 0x12;
pub const NO_SPACE: u8 = 0x13;
pub const DIGEST_MISMATCH: u8 = 0x15;

/// PUT flags.
pub const DIGEST_FIRST: u8 = 0x01;
pub const DIGEST_LAST: u8 = 0x02;
pub const RESUMABLE: u8 = 0x04;

/// A v2 `PUT` header: `len` bytes of `name`, with a digest ahead (or `DIGEST_LAST`)
/// and a resume id.
pub fn put_header(
    name: &str,
    len: u64,
    flags: u8,
    digest: Option<[u8; 32]>,
    id: Option<[u8; 16]>,
) -> Vec<u8> {
    let mut w = MAGIC.to_vec();
    w.extend_from_slice(&[2, 1, flags, name.len() as u8]);
    w.extend_from_slice(&len.to_be_bytes());
    w.extend_from_slice(name.as_bytes());
    if let Some(d) = digest {
        w.extend_from_slice(&d);
    }
    if let Some(id) = id {
        w.extend_from_slice(&id);
    }
    w
}

/// A v2 `GET` header: `name` from `offset`.
pub fn get_header(name: &str, offset: u64) -> Vec<u8> {
    let mut w = MAGIC.to_vec();
    w.extend_from_slice(&[2, 2, 0, name.len() as u8]);
    w.extend_from_slice(&offset.to_be_bytes());
    w.extend_from_slice(name.as_bytes());
    w
}

/// A v2 reply.
#[derive(Debug)]
pub struct Reply {
    pub status: u8,
    pub value: u64,
    pub digest: Option<[u8; 32]>,
    pub text: String,
}

/// Read one reply (its fixed 48 bytes, then its text).
pub fn read_reply(s: &mut TcpStream) -> Reply {
    let mut fixed = [0u8; 48];
    s.read_exact(&mut fixed).expect("reply header");
    assert_eq!(fixed[..4], MAGIC);
    let mut text = vec![0u8; u16::from_be_bytes([fixed[6], fixed[7]]) as usize];
    s.read_exact(&mut text).expect("reply text");
    Reply {
        status: fixed[4],
        value: u64::from_be_bytes(fixed[8..16].try_into().unwrap()),
        digest: (fixed[5] & 1 != 0).then(|| fixed[16..48].try_into().unwrap()),
        text: String::from_utf8(text).unwrap(),
    }
}

/// The sha256 of `data`.
pub fn sha(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}
