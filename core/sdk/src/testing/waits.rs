//! Storage operations that wait, on the mock: kept in flight until a test finishes
//! them, as an s3 storage would after a round trip; and reads of ranges not
//! prefetched, which wait for a prefetch ([`MockHost::cold_reads`]).

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
    /// Whether `len` bytes of `file` at `offset` may be read now: always, unless
    /// [`MockHost::cold_reads`], then only within a range prefetched.
    pub(super) fn is_warm(&self, file: u64, offset: u64, len: u64) -> bool {
        !self.cold_reads
            || len == 0
            || self.warm.get(&file).is_some_and(|ranges| {
                ranges
                    .iter()
                    .any(|&(start, end)| start <= offset && offset.saturating_add(len) <= end)
            })
    }

    /// `prefetch_file` `token` asked for a range: it is in once its `FilePrefetched`
    /// is delivered ([`MockHost::deliver`]).
    pub(super) fn warming(&mut self, token: u64, file: u64, offset: u64, len: u64) {
        let range = (file, offset, offset.saturating_add(len));
        self.prefetching.insert(token, range);
    }

    /// Prefetch `token` ended: its range is in, if it went well.
    pub(super) fn prefetched(&mut self, token: u64, ok: bool) {
        if let Some((file, start, end)) = self.prefetching.remove(&token).filter(|_| ok) {
            self.warm.entry(file).or_default().push((start, end));
        }
    }

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

#[cfg(test)]
mod tests {
    use crate::HostError;
    use crate::testing::MockHost;

    #[test]
    fn a_cold_range_waits_for_its_prefetch() {
        let mut host = MockHost::new();
        host.cold_reads = true;
        host.files.insert("f".into(), vec![7; 100]);
        let file = host.with_ctx(0, |cx| {
            let (file, _) = cx.open_read("f").unwrap();
            let mut buf = [0u8; 10];
            assert_eq!(cx.read_file(file, 20, &mut buf), Err(HostError::Pending));
            cx.prefetch_file(file, 0, 50, 1).unwrap();
            assert_eq!(cx.read_file(file, 20, &mut buf), Err(HostError::Pending));
            file
        });
        host.prefetched(1, true);
        host.with_ctx(0, |cx| {
            let mut buf = [0u8; 10];
            assert_eq!(cx.read_file(file, 20, &mut buf), Ok(10));
            assert_eq!(cx.read_file(file, 45, &mut buf), Err(HostError::Pending));
            // At the end of the file, what is there is the whole range.
            cx.prefetch_file(file, 50, 50, 2).unwrap();
        });
        host.prefetched(2, true);
        host.with_ctx(0, |cx| {
            let mut buf = [0u8; 10];
            assert_eq!(cx.read_file(file, 95, &mut buf), Ok(5));
        });
    }
}
