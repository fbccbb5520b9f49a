//! [`WatchedStorage`]: a machine's storage for one step, noting whether a call
//! answered [`HostError::Pending`].
//!
//! Why a wrapper rather than a check at every call: a step's code treats a failed
//! storage call as the protocol's error (a reply, a refusal), and some calls it makes
//! are best effort and swallow their errors (a digest side file, pruning old
//! partials). Whatever the step did after a call that waited, the machine throws away
//! (its outputs) or overwrites (its state) when it parks the step (see
//! [`crate::StorageWaits`]); knowing *that* a call waited is all it needs, and only a
//! wrapper sees every call. The files and bulk plugins share it.

use crate::error::HostError;
use crate::file_id::FileId;
use crate::stat::Stat;
use crate::storage::Storage;

/// `st`, seen through: every call forwarded as it is, [`WatchedStorage::waited`]
/// once an operation that completes by `StorageDone` (open, stat, list, create,
/// continue, commit, remove) answered `Pending`.
pub struct WatchedStorage<'a> {
    st: &'a mut dyn Storage,
    waited: bool,
}

impl std::fmt::Debug for WatchedStorage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchedStorage")
            .field("waited", &self.waited)
            .finish_non_exhaustive()
    }
}

impl<'a> WatchedStorage<'a> {
    /// Watch the calls made through `st`.
    pub fn new(st: &'a mut dyn Storage) -> WatchedStorage<'a> {
        WatchedStorage { st, waited: false }
    }

    /// Whether a call answered [`HostError::Pending`]: the step that made it must be
    /// parked (and run again when the answer is in), whatever it did afterwards.
    pub fn waited(&self) -> bool {
        self.waited
    }

    fn note<T>(&mut self, r: Result<T, HostError>) -> Result<T, HostError> {
        if matches!(r, Err(HostError::Pending)) {
            self.waited = true;
        }
        r
    }
}

impl Storage for WatchedStorage<'_> {
    fn open_read(&mut self, path: &str) -> Result<(FileId, u64), HostError> {
        let r = self.st.open_read(path);
        self.note(r)
    }
    /// Not watched: its `Pending` asks for a prefetch and a read again after
    /// `FilePrefetched`, which the caller does itself; no `StorageDone` follows.
    fn read_file(&mut self, file: FileId, offset: u64, buf: &mut [u8]) -> Result<usize, HostError> {
        self.st.read_file(file, offset, buf)
    }
    fn create_temp(&mut self, path: &str) -> Result<FileId, HostError> {
        let r = self.st.create_temp(path);
        self.note(r)
    }
    fn open_partial(&mut self, path: &str) -> Result<(FileId, u64), HostError> {
        let r = self.st.open_partial(path);
        self.note(r)
    }
    fn write_file(&mut self, file: FileId, data: &[u8]) -> Result<(), HostError> {
        self.st.write_file(file, data)
    }
    fn commit_file(&mut self, file: FileId, path: &str, overwrite: bool) -> Result<(), HostError> {
        let r = self.st.commit_file(file, path, overwrite);
        self.note(r)
    }
    fn close_file(&mut self, file: FileId) -> Result<(), HostError> {
        self.st.close_file(file)
    }
    fn stat(&mut self, path: &str) -> Result<Stat, HostError> {
        let r = self.st.stat(path);
        self.note(r)
    }
    fn list_dir(&mut self, path: &str) -> Result<Vec<(String, Stat)>, HostError> {
        let r = self.st.list_dir(path);
        self.note(r)
    }
    fn remove_file(&mut self, path: &str) -> Result<(), HostError> {
        let r = self.st.remove_file(path);
        self.note(r)
    }
    fn free_space(&mut self) -> Result<u64, HostError> {
        self.st.free_space()
    }
    fn fresh_step(&mut self) {
        self.st.fresh_step();
    }
    fn file_digest(&mut self, file: FileId, path: &str) -> Option<[u8; 32]> {
        self.st.file_digest(file, path)
    }
}

#[cfg(test)]
mod tests {
    use super::WatchedStorage;
    use crate::testing::MockHost;
    use crate::{HostError, Storage, StorageWaits};

    /// A best-effort step: a stat whose failure it swallows.
    fn swallowing(st: &mut dyn Storage) -> bool {
        let mut watched = WatchedStorage::new(st);
        let _ = watched.stat("a").ok();
        watched.waited()
    }

    #[test]
    fn a_swallowed_pending_is_still_seen() {
        for wait in [false, true] {
            let mut host = MockHost::new();
            host.storage_waits = wait;
            host.files.insert("a".into(), vec![1]);
            let mut waits = StorageWaits::new(0);
            let waited = host.with_ctx(0, |cx| swallowing(&mut waits.storage(cx)));
            assert_eq!(waited, wait);
        }
    }

    #[test]
    fn a_cold_read_is_not_a_storage_wait() {
        let mut host = MockHost::new();
        host.cold_reads = true;
        host.files.insert("a".into(), vec![1; 10]);
        let mut waits = StorageWaits::new(0);
        let (read, waited) = host.with_ctx(0, |cx| {
            let mut st = waits.storage(cx);
            let mut watched = WatchedStorage::new(&mut st);
            let (file, _) = watched.open_read("a").unwrap();
            let read = watched.read_file(file, 0, &mut [0; 4]);
            (read, watched.waited())
        });
        assert_eq!(read, Err(HostError::Pending));
        assert!(!waited, "a prefetch answers it, not a StorageDone");
    }

    #[test]
    fn other_failures_are_not_a_wait() {
        let mut host = MockHost::new();
        let mut waits = StorageWaits::new(0);
        let (got, waited) = host.with_ctx(0, |cx| {
            let mut st = waits.storage(cx);
            let mut watched = WatchedStorage::new(&mut st);
            (watched.open_read("missing").map(|_| ()), watched.waited())
        });
        assert_eq!(got, Err(HostError::NotFound));
        assert!(!waited);
    }
}
