//! Digest side files: a stored file's sha256 remembered beside it, written once here so
//! that every serving plugin reads what another wrote (`files` and `bulk` may serve one
//! root) and a format change cannot reach only one of them. The host reads them too
//! (the same [`side_path`] and [`parse`]): a plugin asks it for an open file's digest
//! ([`load`], `Ctx::file_digest`), and it answers from a cache keyed by the file's
//! inode and times, reading the side file only on a miss.
//!
//! The digest of `dir/name` lives in the hidden file `dir/.name.sha256` as one line,
//! `<64 hex digits> <size> <mtime>\n`. It is trusted only while the file's size and
//! modification time (unix seconds) still match: an external change within the same
//! second and size goes unnoticed, so a client verifying the bytes then reports a
//! mismatch — it never accepts wrong bytes. Hidden names are refused to clients, so
//! they can neither read nor forge these.

pub use crate::digest_line::{
    MAX_COMPONENT, MAX_SIDE_FILE, encode, parse, parse_hex, side_path, to_hex,
};
use crate::{FileId, HostError, Storage};

/// The digest of `file`, opened with `open_read` at `path`, if known: the host's
/// cache, or the side file (`Storage::file_digest`).
pub fn load(st: &mut dyn Storage, path: &str, file: FileId) -> Option<[u8; 32]> {
    st.file_digest(file, path)
}

/// Remember `digest` for `path` as it is now (best effort: without it a later request
/// just carries no digest or hashes again). Committed by rename, so a reader never sees
/// half a line.
pub fn store(st: &mut dyn Storage, path: &str, digest: &[u8; 32]) {
    let Some(side) = side_path(path) else { return };
    let Ok(stat) = st.stat(path) else { return };
    let Ok(file) = st.create_temp(&side) else {
        return;
    };
    let line = encode(digest, &stat);
    let stored = st
        .write_file(file, line.as_bytes())
        .and_then(|()| st.commit_file(file, &side, true));
    // `Pending`: the commit is under way on a store that waits and owns the temp
    // until it ends; closing it now would delete what it commits.
    if stored.is_err_and(|e| e != HostError::Pending) {
        let _ = st.close_file(file);
    }
}

/// Forget `path`'s digest (after a delete), so a new file of the same size and second
/// cannot inherit it.
pub fn forget(st: &mut dyn Storage, path: &str) {
    if let Some(side) = side_path(path) {
        let _ = st.remove_file(&side);
    }
}
