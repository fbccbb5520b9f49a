//! Parts of a spool temp as a multipart upload sends them: their size, how many go at
//! once, and reading one.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};

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

/// What `O_DIRECT` wants of a buffer's address, a file offset and a length.
const BLOCK: usize = 4096;

/// A second descriptor of `file` that reads around the page cache (`O_DIRECT`), or
/// `None` where the file system refuses it.
///
/// Why: a large upload is written to its temp with `O_DIRECT` (`switchyard-direct-io`:
/// copying into the page cache costs these VMs more than the disk does), so reading
/// its parts back through the page cache would copy every byte once more; read
/// directly, the disk fills the part's buffer itself.
pub(super) fn direct_reader(file: &File) -> Option<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT | libc::O_CLOEXEC)
        .open(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .ok()
}

/// The whole part of `direct` (an `O_DIRECT` descriptor) at `at`, a multiple of
/// [`PART`]; `None` when the read does not give it whole (the caller reads it the
/// ordinary way).
pub(super) fn read_whole_part_direct(direct: &File, at: u64) -> Option<Bytes> {
    let mut buf = vec![0u8; PART + BLOCK];
    let start = buf.as_ptr().align_offset(BLOCK);
    let part = buf.get_mut(start..start + PART)?;
    let mut n = 0;
    while n < PART {
        match direct.read_at(&mut part[n..], at + n as u64) {
            Ok(0) | Err(_) => return None,
            Ok(k) if k % BLOCK != 0 && n + k < PART => return None,
            Ok(k) => n += k,
        }
    }
    Some(Bytes::from(buf).slice(start..start + PART))
}
