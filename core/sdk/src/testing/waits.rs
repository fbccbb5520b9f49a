//! Storage operations that wait, on the mock: kept in flight until a test finishes
//! them, as an s3 storage would after a round trip.

use super::MockHost;
use crate::error::HostError;
use crate::event::Event;
use crate::file_id::FileId;
use crate::host::answer_at_once;
use crate::protocol::Protocol;
use crate::store_op::{StoreDone, StoreOp};

/// A [`StoreOp`] kept past the call that began it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OwnedOp {
    kind: u32,
    path: String,
    file: FileId,
    overwrite: bool,
}

impl From<StoreOp<'_>> for OwnedOp {
    fn from(op: StoreOp<'_>) -> OwnedOp {
        let (file, overwrite) = match op {
            StoreOp::Commit {
                file, overwrite, ..
            } => (file, overwrite),
            _ => (FileId(0), false),
        };
        OwnedOp {
            kind: op.kind(),
            path: op.path().to_owned(),
            file,
            overwrite,
        }
    }
}

impl OwnedOp {
    fn as_op(&self) -> StoreOp<'_> {
        let raw = StoreOp::Commit {
            file: self.file,
            path: &self.path,
            overwrite: self.overwrite,
        }
        .to_raw();
        let raw = crate::abi::SyStorageOp {
            kind: self.kind,
            ..raw
        };
        StoreOp::from_raw(&raw, &self.path).expect("a kind this SDK made")
    }
}

impl MockHost {
    /// How many storage operations are in flight ([`MockHost::storage_waits`]).
    pub fn storage_in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Finish every storage operation in flight, in order, as the real host would
    /// (the same results as at once), returning each token and result. A listing's
    /// entries stay readable with `Ctx::storage_listing`.
    pub fn finish_storage(&mut self) -> Vec<(u64, Result<StoreDone, HostError>)> {
        let ops = std::mem::take(&mut self.in_flight);
        ops.into_iter()
            .map(|(token, op)| {
                let result = match answer_at_once(self, op.as_op()) {
                    Ok((done, listing)) => {
                        if let Some(entries) = listing {
                            self.listings.insert(token, entries);
                        }
                        Ok(StoreDone::from_raw(&done))
                    }
                    Err(status) => Err(HostError::from_status(status)),
                };
                (token, result)
            })
            .collect()
    }

    /// Finish every storage operation in flight and deliver each
    /// [`Event::StorageDone`] to `proto` at `now_ms`; how many there were. Operations
    /// the plugin begins while handling them stay in flight.
    pub fn complete_storage<P: Protocol>(&mut self, proto: &mut P, now_ms: u64) -> usize {
        let finished = self.finish_storage();
        let n = finished.len();
        for (token, result) in finished {
            self.deliver(proto, now_ms, Event::StorageDone { token, result });
        }
        n
    }
}
