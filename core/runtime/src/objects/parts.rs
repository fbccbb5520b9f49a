//! Parts of a spool temp as a multipart upload sends them: their size, how many go at
//! once, and reading one.

use std::fs::File;
use std::os::unix::fs::FileExt;

use bytes::Bytes;

/// Bytes per part: above S3's 5 MiB minimum, and what one part holds in memory.
pub(super) const PART: usize = 8 << 20;

/// Parts sent at once (memory held: `PARALLEL * PART`); see
/// docs/decisions/object-store-spool.md.
pub(super) const PARALLEL: usize = 4;

/// The next part of `file` from `at` (shorter at the end, empty past it).
pub(super) fn read_part(file: &File, at: u64) -> std::io::Result<Bytes> {
    let mut buf = vec![0u8; PART];
    let mut n = 0;
    while n < PART {
        match file.read_at(&mut buf[n..], at + n as u64)? {
            0 => break,
            k => n += k,
        }
    }
    buf.truncate(n);
    Ok(Bytes::from(buf))
}
