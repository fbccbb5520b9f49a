//! A `bulk` client (docs/bulk-protocol.md), one transfer per connection: v2 uploads
//! (digest first, last, none, or resumable, half of those broken off and resumed)
//! of a fresh file that is then downloaded and checked, v2 downloads of fixtures (some from an offset), and v1 uploads (no
//! reply: their digests are checked on disk after the load).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

use super::verify::{check, pick_fixture};
use super::{Busy, Ctx};
use crate::data::{Rng, content, hex, sha256, sha256_hex};
use crate::stats::Fail;
use crate::topology::FIXTURE_SIZES;

const MAGIC: [u8; 4] = [0xB5, 0x42, 0x4C, 0x4B];
const PUT: u8 = 1;
const GET: u8 = 2;
const DIGEST_FIRST: u8 = 0x01;
const DIGEST_LAST: u8 = 0x02;
const RESUMABLE: u8 = 0x04;
const OK: u8 = 0x00;
const CONTINUE: u8 = 0x01;
/// v1 uploads stay small: they are kept on disk until the end of the soak.
const V1_MAX: u64 = 64 * 1024;

pub fn client(ctx: &Ctx, id: usize, mut rng: Rng) {
    let mut n = 0u64;
    while ctx.running() {
        let _busy = Busy::new(&ctx.busy_tcp);
        match rng.below(10) {
            0 if ctx.owned => {
                let r = v1_put(ctx, &mut rng);
                ctx.record("bulk.v1_put", r);
            }
            0..=3 => {
                let r = get_fixture(ctx, &mut rng);
                ctx.record("bulk.get", r);
            }
            _ => {
                n += 1;
                let r = put_get(ctx, &format!("soak-b-{id}-{n}.bin"), &mut rng);
                ctx.record("bulk.put_get", r);
            }
        }
    }
}

/// v1: `!i` length and body; the server closes once the file is stored.
fn v1_put(ctx: &Ctx, rng: &mut Rng) -> Result<u64, Fail> {
    let data = content(rng.next_u64(), rng.size(V1_MAX));
    let mut s = connect(ctx)?;
    s.write_all(&(data.len() as i32).to_be_bytes())?;
    s.write_all(&data)?;
    s.shutdown(Shutdown::Write)?;
    let mut rest = Vec::new();
    s.read_to_end(&mut rest)?;
    if !rest.is_empty() {
        return Err(Fail::new("bulk_reply", "v1 got bytes back"));
    }
    ctx.v1_sent
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(sha256(&data));
    Ok(data.len() as u64)
}

/// GET a fixture from 0 or from a random offset, checked against the fixture.
fn get_fixture(ctx: &Ctx, rng: &mut Rng) -> Result<u64, Fail> {
    let (name, (size, digest)) = pick_fixture(ctx, rng);
    let offset = if rng.chance(25) {
        rng.below(*size as u64 + 1) as usize
    } else {
        0
    };
    let tail = get(ctx, name, offset as u64)?;
    if offset == 0 {
        check(&tail, *size, digest, name)?;
    } else {
        let whole = fixture_bytes(*size);
        check(&tail, size - offset, &sha256_hex(&whole[offset..]), name)?;
    }
    Ok(tail.len() as u64)
}

/// The fixture of `size` bytes, as `topology::write_fixtures` made it.
fn fixture_bytes(size: usize) -> Vec<u8> {
    debug_assert!(FIXTURE_SIZES.contains(&size));
    content(0xF1_u64 << 32 | size as u64, size)
}

/// PUT a fresh file, check the server's digest and stored name, GET it back, then
/// remove it from disk (bulk has no DELETE).
fn put_get(ctx: &Ctx, name: &str, rng: &mut Rng) -> Result<u64, Fail> {
    let data = content(rng.next_u64(), rng.size(ctx.shape.max_size));
    let digest = sha256(&data);
    let flags = [0, DIGEST_FIRST, DIGEST_LAST, RESUMABLE | DIGEST_FIRST][rng.below(4) as usize];
    let mut s = connect(ctx)?;
    let mut head = header(PUT, flags, name, data.len() as u64);
    if flags & DIGEST_FIRST != 0 {
        head.extend_from_slice(&digest);
    }
    let mut from = 0;
    if flags & RESUMABLE != 0 {
        head.extend_from_slice(&upload_id(rng));
        if data.len() >= 2 && rng.chance(50) {
            // Broken off halfway, then resumed on a new connection: the server
            // continues its kept part in place and the digest covers the whole file.
            let half = data.len() / 2;
            continue_at(&mut s, &head, name, 0..=0)?;
            s.write_all(&data[..half])?;
            s.shutdown(Shutdown::Write)?;
            s.read_to_end(&mut Vec::new())?; // the server closes once it kept the part
            ctx.record("bulk.broken_off", Ok(half as u64));
            s = connect(ctx)?;
            from = continue_at(&mut s, &head, name, 0..=half as u64)? as usize;
        } else {
            continue_at(&mut s, &head, name, 0..=0)?;
        }
    } else {
        s.write_all(&head)?;
    }
    s.write_all(&data[from..])?;
    if flags & DIGEST_LAST != 0 {
        s.write_all(&digest)?;
    }
    let Reply {
        status,
        value,
        digest: server_digest,
        text,
    } = reply(&mut s)?;
    if status != OK || value != data.len() as u64 || text != name {
        return Err(Fail::new(
            "bulk_reply",
            format!("PUT {name}: status {status:#x} value {value} {text}"),
        ));
    }
    if server_digest != Some(digest) {
        return Err(Fail::new(
            "digest_mismatch",
            format!(
                "PUT {name}: server digest {:?}",
                server_digest.map(|d| hex(&d))
            ),
        ));
    }
    let back = get(ctx, name, 0)?;
    check(&back, data.len(), &hex(&digest), name)?;
    let dir = ctx.data.join("incoming");
    std::fs::remove_file(dir.join(name))
        .map_err(|e| Fail::new("cleanup", format!("{name}: {e}")))?;
    // The remembered digest, if the server kept one: not an error if it did not.
    let _ = std::fs::remove_file(dir.join(format!(".{name}.sha256")));
    Ok(2 * data.len() as u64)
}

/// Send a resumable PUT's header and expect `CONTINUE` at an offset in `want`.
fn continue_at(
    s: &mut TcpStream,
    head: &[u8],
    name: &str,
    want: std::ops::RangeInclusive<u64>,
) -> Result<u64, Fail> {
    s.write_all(head)?;
    let Reply {
        status,
        value,
        text,
        ..
    } = reply(s)?;
    if status != CONTINUE || !want.contains(&value) {
        return Err(Fail::new(
            "bulk_reply",
            format!("PUT {name}: status {status:#x} value {value} {text}"),
        ));
    }
    Ok(value)
}

/// GET `name` from `offset`: the bytes that follow an `OK`, up to the close.
fn get(ctx: &Ctx, name: &str, offset: u64) -> Result<Vec<u8>, Fail> {
    let mut s = connect(ctx)?;
    s.write_all(&header(GET, 0, name, offset))?;
    let Reply {
        status,
        value,
        text,
        ..
    } = reply(&mut s)?;
    if status != OK {
        return Err(Fail::new(
            "bulk_reply",
            format!("GET {name}@{offset}: status {status:#x} {text}"),
        ));
    }
    let mut got = Vec::with_capacity(value as usize);
    s.read_to_end(&mut got)?;
    if got.len() as u64 != value {
        return Err(Fail::new(
            "short_transfer",
            format!("GET {name}: {} bytes, announced {value}", got.len()),
        ));
    }
    Ok(got)
}

fn header(op: u8, flags: u8, name: &str, value: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(16 + name.len() + 48);
    h.extend_from_slice(&MAGIC);
    h.extend_from_slice(&[2, op, flags, name.len() as u8]);
    h.extend_from_slice(&value.to_be_bytes());
    h.extend_from_slice(name.as_bytes());
    h
}

/// One reply: status, value, digest (when flagged) and text.
struct Reply {
    status: u8,
    value: u64,
    digest: Option<[u8; 32]>,
    text: String,
}

fn reply(s: &mut TcpStream) -> Result<Reply, Fail> {
    let mut head = [0u8; 48];
    s.read_exact(&mut head)?;
    if head[..4] != MAGIC {
        return Err(Fail::new("bulk_reply", "reply without the magic"));
    }
    let text_len = u16::from_be_bytes([head[6], head[7]]) as usize;
    let mut text = vec![0; text_len];
    s.read_exact(&mut text)?;
    let value = u64::from_be_bytes(head[8..16].try_into().expect("8 bytes"));
    let digest = (head[5] & 1 != 0).then(|| head[16..48].try_into().expect("32 bytes"));
    Ok(Reply {
        status: head[4],
        value,
        digest,
        text: String::from_utf8_lossy(&text).into_owned(),
    })
}

/// 128 unguessable-enough bits for a test: the spec asks clients for random ids.
fn upload_id(rng: &mut Rng) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    id[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    id
}

fn connect(ctx: &Ctx) -> Result<TcpStream, Fail> {
    let s = TcpStream::connect_timeout(&ctx.bulk, ctx.left())?;
    s.set_read_timeout(Some(ctx.left()))?;
    s.set_write_timeout(Some(ctx.left()))?;
    Ok(s)
}

/// After the load: the `v1-*.bin` files in the incoming directory are exactly the
/// v1 uploads the server accepted, byte for byte (matched by digest, as v1 tells the
/// client no name). Returns how many were checked.
pub fn verify_v1_on_disk(ctx: &Ctx) -> Result<usize, Fail> {
    if !ctx.owned {
        return Ok(0);
    }
    let mut sent = ctx
        .v1_sent
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    sent.sort_unstable();
    let mut stored = Vec::new();
    let dir = ctx.data.join("incoming");
    for entry in std::fs::read_dir(&dir).map_err(|e| Fail::new("cleanup", e))? {
        let entry = entry.map_err(|e| Fail::new("cleanup", e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("v1-") && name.ends_with(".bin") {
            let bytes = std::fs::read(entry.path()).map_err(|e| Fail::new("cleanup", e))?;
            stored.push(sha256(&bytes));
            std::fs::remove_file(entry.path()).map_err(|e| Fail::new("cleanup", e))?;
        }
    }
    stored.sort_unstable();
    if stored != sent {
        return Err(Fail::new(
            "digest_mismatch",
            format!(
                "bulk v1: {} files stored, {} uploads accepted, or their contents differ",
                stored.len(),
                sent.len()
            ),
        ));
    }
    Ok(stored.len())
}
