//! Remembered sha256 digests, so that `GET` can tell the client what to expect without
//! reading the file twice. The side-file format is [`switchyard_sdk::sums`], shared
//! with the bulk plugin; this only speaks it in the hex strings the files protocol
//! carries.

use switchyard_sdk::{FileId, sums};

use super::Storage;

/// The known digest of `name`, open as `file` (lowercase hex): the host's cache, or the
/// side file if it still matches the file.
pub(crate) fn load(st: &mut dyn Storage, name: &str, file: FileId) -> Option<String> {
    sums::load(st, name, file).map(|d| sums::to_hex(&d))
}

/// Remember `hex` as the digest of `name` (best effort: a failure only costs a later
/// `HASH`).
pub(crate) fn store(st: &mut dyn Storage, name: &str, hex: &str) {
    if let Some(digest) = sums::parse_hex(hex) {
        sums::store(st, name, &digest);
    }
}

/// Forget `name`'s digest (after a delete).
pub(crate) fn forget(st: &mut dyn Storage, name: &str) {
    sums::forget(st, name);
}
