//! Remembered sha256 digests, so that `GET` can tell the client what to expect without
//! reading the file twice. The side-file format is [`switchyard_sdk::sums`], shared
//! with the bulk plugin; this only speaks it in the hex strings the files protocol
//! carries.

use switchyard_sdk::{Stat, sums};

use super::Storage;

/// The remembered digest of `name` (lowercase hex), if it is still valid for `stat`.
pub(crate) fn load(st: &mut dyn Storage, name: &str, stat: &Stat) -> Option<String> {
    sums::load(st, name, stat).map(|d| sums::to_hex(&d))
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
