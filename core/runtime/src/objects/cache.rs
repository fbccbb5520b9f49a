//! [`ReadCache`]: objects brought into local spool files, one per (name, etag), shared
//! by every transfer that reads that version and kept while they read it.
//!
//! Why whole objects: a pinned version in a local file is served by the paths a dir
//! uses (`sendfile`, datagrams from a file range, the page cache), and a boot storm of
//! a thousand clients reading one kernel fetches it from the store once. The spool
//! file is unlinked from the start (`O_TMPFILE`): a crash leaves nothing, and no
//! partial copy is ever visible under any name. Files no transfer holds are dropped
//! oldest first once the spooled bytes pass the bound.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;

use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use switchyard_object_storage::{ObjectStorage, ObjectStorageError, PinnedRead};

/// Bytes asked of the store per request while spooling.
const CHUNK: u64 = 8 << 20;

/// Ranges asked at once while spooling: one stream leaves the store's read path idle
/// between requests (measured: docs/decisions/object-store-spool.md); the memory
/// held is `PARALLEL * CHUNK`.
const PARALLEL: usize = 4;

/// One version of an object in a local file.
#[derive(Debug, Clone)]
pub struct Spooled {
    pub file: Arc<File>,
    pub size: u64,
    /// From the object's metadata, when its upload declared one.
    pub sha256: Option<[u8; 32]>,
    pub modified_unix: i64,
}

#[derive(Debug, Default)]
struct Slot {
    spooled: tokio::sync::OnceCell<Spooled>,
    last_used: AtomicU64,
}

/// The spool of one storage.
#[derive(Debug)]
pub struct ReadCache {
    dir: PathBuf,
    max_bytes: u64,
    slots: Mutex<HashMap<(String, String), Arc<Slot>>>,
    clock: AtomicU64,
}

impl ReadCache {
    /// Spool files go in `dir`; kept ones are dropped past `max_bytes`.
    pub fn new(dir: &Path, max_bytes: u64) -> ReadCache {
        ReadCache {
            dir: dir.to_path_buf(),
            max_bytes,
            slots: Mutex::new(HashMap::new()),
            clock: AtomicU64::new(0),
        }
    }

    /// The current version of `name`, spooled (once, however many ask at a time).
    pub async fn get(
        &self,
        storage: &ObjectStorage,
        name: &str,
    ) -> Result<Spooled, ObjectStorageError> {
        let read = storage.open_read(name).await?;
        let etag = read.info().etag.clone().unwrap_or_default();
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(slots.entry((name.to_owned(), etag)).or_default())
        };
        let spooled = slot
            .spooled
            .get_or_try_init(|| spool(&self.dir, &read))
            .await?
            .clone();
        slot.last_used.store(
            self.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        self.evict();
        Ok(spooled)
    }

    /// Bytes spooled now (held or kept).
    pub fn spooled_bytes(&self) -> u64 {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots
            .values()
            .filter_map(|s| s.spooled.get().map(|f| f.size))
            .sum()
    }

    /// Drop the least recently used files no transfer holds, down to the bound.
    fn evict(&self) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let mut total: u64 = slots
            .values()
            .filter_map(|s| s.spooled.get().map(|f| f.size))
            .sum();
        while total > self.max_bytes {
            let idle = slots
                .iter()
                .filter(|(_, s)| {
                    s.spooled
                        .get()
                        .is_some_and(|f| Arc::strong_count(&f.file) == 1)
                })
                .min_by_key(|(_, s)| s.last_used.load(Ordering::Relaxed))
                .map(|(k, s)| (k.clone(), s.spooled.get().map_or(0, |f| f.size)));
            let Some((key, size)) = idle else { break };
            slots.remove(&key);
            total -= size;
        }
    }
}

/// Copy the pinned version `read` into a new unlinked file in `dir`, [`PARALLEL`]
/// ranges at a time, each written at its offset as it arrives.
async fn spool(dir: &Path, read: &PinnedRead) -> Result<Spooled, ObjectStorageError> {
    let info = read.info();
    let io = |e: std::io::Error| ObjectStorageError::Config(format!("spool: {e}"));
    let file = tempfile::tempfile_in(dir).map_err(io)?;
    let ranges =
        (0..info.size.div_ceil(CHUNK)).map(|i| i * CHUNK..((i + 1) * CHUNK).min(info.size));
    let mut fetches = futures_util::stream::iter(ranges)
        .map(|range| async move { read.read_range(range.clone()).await.map(|b| (range, b)) })
        .buffer_unordered(PARALLEL);
    while let Some(fetched) = fetches.next().await {
        let (range, bytes) = fetched?;
        if bytes.len() as u64 != range.end - range.start {
            return Err(ObjectStorageError::Replaced(info.name.to_string()));
        }
        file.write_all_at(&bytes, range.start).map_err(io)?;
    }
    Ok(Spooled {
        file: Arc::new(file),
        size: info.size,
        sha256: info.sha256,
        modified_unix: info.modified_unix,
    })
}
