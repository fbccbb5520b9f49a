//! [`answer_at_once`]: a storage operation carried out by the synchronous calls of the
//! same context, for storage that never waits (a directory, the mock's map).
//!
//! Why here: the real host's dir storage and [`crate::testing::MockHost`] both answer
//! `storage_begin` this way; written once, an operation means the same on both.

use super::calls::HostCalls;
use crate::abi::{self, SyStat, SyStorageDone};
use crate::store_op::{StoreOp, raw_done};

/// A listing's entries, as the synchronous `list_dir` gives them.
pub type Listing = Vec<(String, SyStat)>;

/// Carry out `op` now with `calls`' synchronous methods: what it gave, and for a
/// listing its entries (which the context keeps for `storage_listing`).
pub fn answer_at_once(
    calls: &mut dyn HostCalls,
    op: StoreOp<'_>,
) -> Result<(SyStorageDone, Option<Listing>), u32> {
    let kind = op.kind();
    let status = |s: u32| if s == abi::SY_OK { Ok(()) } else { Err(s) };
    Ok(match op {
        StoreOp::OpenRead(path) => {
            let (file, size) = calls.open_read(path)?;
            (raw_done(kind, file, Some(regular(size))), None)
        }
        StoreOp::OpenPartial(path) => {
            let (file, size) = calls.open_partial(path)?;
            (raw_done(kind, file, Some(regular(size))), None)
        }
        StoreOp::Stat(path) => (raw_done(kind, 0, Some(calls.stat(path)?)), None),
        StoreOp::List(path) => (raw_done(kind, 0, None), Some(calls.list_dir(path)?)),
        StoreOp::CreateTemp(path) => (raw_done(kind, calls.create_temp(path)?, None), None),
        StoreOp::Commit {
            file,
            path,
            overwrite,
        } => {
            status(calls.commit_file(file.0, path, overwrite))?;
            (raw_done(kind, 0, None), None)
        }
        StoreOp::Remove(path) => {
            status(calls.remove_file(path))?;
            (raw_done(kind, 0, None), None)
        }
    })
}

/// The stat an open gives: a regular file of `size` bytes (its time is not asked).
fn regular(size: u64) -> SyStat {
    SyStat {
        struct_size: std::mem::size_of::<SyStat>() as u32,
        kind: abi::SY_FILE_REGULAR,
        size,
        modified_unix: 0,
    }
}
