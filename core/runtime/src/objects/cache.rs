//! [`ReadCache`]: objects brought into local spool files, one per (name, etag), shared
//! by every transfer that reads that version and kept while they read it.
//!
//! Why whole objects: a pinned version in a local file is served by the paths a dir
//! uses (`sendfile`, datagrams from a file range, the page cache), and a boot storm of
//! a thousand clients reading one kernel fetches it from the store once. The spool
//! file is unlinked from the start (`O_TMPFILE`): a crash leaves nothing, and no
//! partial copy is ever visible under any name. Files no transfer holds are dropped
//! oldest first once the spooled bytes pass the bound.
//!
//! Why served while spooling: a transfer starts once the first range is in, and
//! each of its sends waits only for the ranges ahead of it ([`SpoolProgress`]), so a
//! cold read costs about the store's time, not the store's time plus the send's
//! (measured: docs/decisions/object-store-spool.md). Ranges are written where they
//! belong as they arrive; what readers are told is the prefix with no range missing.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;

use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use switchyard_object_storage::{ObjectStorage, ObjectStorageError, PinnedRead};

use super::health::StoreHealth;
use super::progress::SpoolProgress;

/// Bytes asked of the store per request while spooling: also what an open waits for
/// before it answers.
const CHUNK: u64 = 8 << 20;

/// Ranges asked at once while spooling: one stream leaves the store's read path idle
/// between requests (measured: docs/decisions/object-store-spool.md); the memory
/// held is `PARALLEL * CHUNK`.
const PARALLEL: usize = 4;

/// One version of an object in a local file (sparse at first: see `progress`).
#[derive(Debug, Clone)]
pub struct Spooled {
    pub file: Arc<File>,
    pub size: u64,
    /// From the object's metadata (or its digest record), when its upload gave one.
    pub sha256: Option<[u8; 32]>,
    pub modified_unix: i64,
    /// How far the file is filled; every read of it asks here first.
    pub progress: Arc<SpoolProgress>,
}

#[derive(Debug)]
struct Slot {
    spooled: Spooled,
    last_used: u64,
}

type Slots = Arc<Mutex<HashMap<(String, String), Slot>>>;

/// The spool of one storage.
#[derive(Debug)]
pub struct ReadCache {
    dir: PathBuf,
    max_bytes: u64,
    slots: Slots,
    clock: AtomicU64,
}

impl ReadCache {
    /// Spool files go in `dir`; kept ones are dropped past `max_bytes`.
    pub fn new(dir: &Path, max_bytes: u64) -> ReadCache {
        ReadCache {
            dir: dir.to_path_buf(),
            max_bytes,
            slots: Arc::default(),
            clock: AtomicU64::new(0),
        }
    }

    /// The current version of `name`, spooling (once, however many ask at a time):
    /// answered once its first [`CHUNK`] is in; the rest follows in the background,
    /// tracked in `health` like any store operation.
    pub async fn get(
        &self,
        storage: &ObjectStorage,
        health: &Arc<StoreHealth>,
        name: &str,
    ) -> Result<Spooled, ObjectStorageError> {
        let read = storage.open_read(name).await?;
        let key = (
            name.to_owned(),
            read.info().etag.clone().unwrap_or_default(),
        );
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        let (spooled, fresh) = {
            let mut slots = lock(&self.slots);
            match slots.get_mut(&key) {
                // A failed spool is not reused: the next open fetches again.
                Some(slot) if !slot.spooled.progress.has_failed() => {
                    slot.last_used = tick;
                    (slot.spooled.clone(), false)
                }
                _ => {
                    let spooled = sparse(&self.dir, &read)?;
                    let slot = Slot {
                        spooled: spooled.clone(),
                        last_used: tick,
                    };
                    slots.insert(key.clone(), slot);
                    (spooled, true)
                }
            }
        };
        if fresh {
            let (spooled, slots, health) =
                (spooled.clone(), Arc::clone(&self.slots), Arc::clone(health));
            tokio::spawn(async move {
                let filled = health.track(fill(&read, &spooled)).await;
                if let Err(e) = filled {
                    spooled.progress.fail(e);
                    let mut slots = lock(&slots);
                    if slots
                        .get(&key)
                        .is_some_and(|s| Arc::ptr_eq(&s.spooled.file, &spooled.file))
                    {
                        slots.remove(&key);
                    }
                }
            });
        }
        spooled.progress.wait_err(CHUNK, name).await?;
        self.evict();
        Ok(spooled)
    }

    /// Bytes spooled now (held or kept, filled or being filled).
    pub fn spooled_bytes(&self) -> u64 {
        lock(&self.slots).values().map(|s| s.spooled.size).sum()
    }

    /// Drop the least recently used files no transfer holds, down to the bound.
    fn evict(&self) {
        let mut slots = lock(&self.slots);
        let mut total: u64 = slots.values().map(|s| s.spooled.size).sum();
        while total > self.max_bytes {
            let idle = slots
                .iter()
                .filter(|(_, s)| {
                    s.spooled.progress.is_complete() && Arc::strong_count(&s.spooled.file) == 1
                })
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, s)| (k.clone(), s.spooled.size));
            let Some((key, size)) = idle else { break };
            slots.remove(&key);
            total -= size;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A new unlinked file in `dir` of the pinned version's size, all hole so far.
fn sparse(dir: &Path, read: &PinnedRead) -> Result<Spooled, ObjectStorageError> {
    let info = read.info();
    let file = tempfile::tempfile_in(dir).map_err(io)?;
    file.set_len(info.size).map_err(io)?;
    Ok(Spooled {
        file: Arc::new(file),
        size: info.size,
        sha256: info.sha256,
        modified_unix: info.modified_unix,
        progress: Arc::new(SpoolProgress::new(info.size)),
    })
}

fn io(e: std::io::Error) -> ObjectStorageError {
    ObjectStorageError::Config(format!("spool: {e}"))
}

/// Copy the pinned version `read` into `spooled`'s file, [`PARALLEL`] ranges at a
/// time (a new one asked as soon as any is in, so a slow range does not idle the
/// others), each range's bytes written at their offset as they arrive (no range is
/// held in memory); the readers are told the prefix every range before which is in.
async fn fill(read: &PinnedRead, spooled: &Spooled) -> Result<(), ObjectStorageError> {
    let size = spooled.size;
    let count = size.div_ceil(CHUNK);
    let ranges = (0..count).map(|i| (i, i * CHUNK..((i + 1) * CHUNK).min(size)));
    let file = &spooled.file;
    let mut fetches = futures_util::stream::iter(ranges)
        .map(|(i, range)| async move {
            let mut chunks = read.read_range_chunks(range.clone()).await?;
            let mut at = range.start;
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk?;
                if at + chunk.len() as u64 > range.end {
                    break;
                }
                file.write_all_at(&chunk, at).map_err(io)?;
                at += chunk.len() as u64;
            }
            if at != range.end {
                return Err(ObjectStorageError::Replaced(read.info().name.to_string()));
            }
            Ok(i)
        })
        .buffer_unordered(PARALLEL);
    let mut arrived = vec![false; count as usize];
    let mut prefix = 0;
    while let Some(fetched) = fetches.next().await {
        arrived[fetched? as usize] = true;
        while arrived.get(prefix).copied().unwrap_or(false) {
            prefix += 1;
        }
        spooled.progress.filled_to(prefix as u64 * CHUNK);
    }
    Ok(())
}
