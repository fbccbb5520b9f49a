//! [`EarlyParts`]: an upload's parts sent to the store while it arrives.
//!
//! Why: the store's write path is the slow side of an upload (measured:
//! docs/decisions/object-store-spool.md), and sending every part only at commit made
//! an upload cost the receive plus the store's time. So from `create_temp`, a task
//! on the storage's runtime watches the spool temp grow and sends each full part as
//! soon as it is written, [`PARALLEL`] at a time (the memory held is bounded: parts are
//! read from the temp, which is the buffer). The commit then sends only the tail and
//! completes. The parts are not hashed here: the receive hashes every byte anyway
//! (for `FILE_RECEIVED`, over the whole temp), and that digest is declared at
//! completion (a temp written otherwise is hashed at commit); it is kept in a digest
//! record since the metadata was fixed when the upload began (`digest.rs` of
//! `switchyard-object-storage`).
//!
//! What is written is known from the temp's size: its bytes are only appended, in
//! order, by one writer at a time (a receive's direct writer grows the size only by
//! writes; its last write may run up to a disk block past the end before it is cut
//! back, hence [`UNSETTLED`]).
//!
//! Nothing is visible before the commit: the multipart upload is recorded like any
//! (the sweeper aborts it if this host dies), and one given up — the temp closed, the
//! instance gone, a commit to another name — is aborted by its task.

use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use switchyard_object_storage::{ObjectStorage, ObjectStorageError, Upload, UploadOptions};
use tokio::sync::watch;

use super::backend::ObjectBackend;
use super::parts::{PARALLEL, PART, direct_reader, read_part, read_whole_part_direct};

/// Bytes past a part that must be written before it is sent: a direct writer's last
/// block may be padded past the end until it is cut back.
const UNSETTLED: u64 = 4096;

/// How often the temp's size is looked at: at first, and while it grows...
const POLL_MIN: Duration = Duration::from_millis(10);
/// ...and at most, while it does not (an idle upload costs little).
const POLL_MAX: Duration = Duration::from_millis(250);

/// How the upload stands, as its owner tells the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Open,
    /// Committing: send no more; the commit sends the rest.
    Final,
    /// Given up: abort.
    Cancelled,
}

/// What the task sent: the upload, and the bytes its parts cover.
pub struct Sent {
    pub upload: Upload,
    pub to: u64,
}

/// One spool temp's early parts; dropping it gives them up (the task aborts the
/// upload).
#[derive(Debug)]
pub struct EarlyParts {
    name: String,
    end: watch::Sender<End>,
    task: Option<tokio::task::JoinHandle<Result<Option<Sent>, ObjectStorageError>>>,
    /// Parts sent so far (for tests and the log).
    sent: Arc<AtomicU64>,
    /// The temp's size and sha256 when a receive into it ended (its digest covers
    /// the whole file): the upload's digest, if nothing was written after it.
    received: Option<(u64, [u8; 32])>,
}

impl std::fmt::Debug for Sent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sent").field("to", &self.to).finish()
    }
}

impl EarlyParts {
    /// Start sending `file`'s parts as object `name`, on `backend`'s runtime.
    pub fn start(backend: &ObjectBackend, name: String, file: Arc<File>) -> EarlyParts {
        let (end, watching) = watch::channel(End::Open);
        let sent = Arc::new(AtomicU64::new(0));
        // Not counted in the store's health: a client gone mid-upload is no failure
        // of the store (the commit that follows is counted).
        let task = backend.spawn(pump(
            backend.storage.clone(),
            name.clone(),
            file,
            watching,
            Arc::clone(&sent),
        ));
        EarlyParts {
            name,
            end,
            task: Some(task),
            sent,
            received: None,
        }
    }

    /// A receive into the temp ended with the whole file's `digest` at `size` bytes.
    pub fn received(&mut self, size: u64, digest: [u8; 32]) {
        self.received = Some((size, digest));
    }

    /// The digest of the temp at `size` bytes, when a receive gave it.
    pub fn digest_at(&self, size: u64) -> Option<[u8; 32]> {
        self.received.filter(|(at, _)| *at == size).map(|(_, d)| d)
    }

    /// The object the parts are for.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Parts sent so far.
    pub fn parts_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Stop sending and take what was sent: `None` when no part was (the upload was
    /// smaller than one), an error when a part failed (the upload is then aborted).
    pub async fn finish(mut self) -> Result<Option<Sent>, ObjectStorageError> {
        self.end.send_replace(End::Final);
        let task = self.task.take().expect("finished once");
        task.await
            .map_err(|e| ObjectStorageError::Config(format!("early parts: {e}")))?
    }
}

impl Drop for EarlyParts {
    fn drop(&mut self) {
        if self.task.is_some() {
            self.end.send_replace(End::Cancelled);
        }
    }
}

/// Send each part of `file` once it is written, until told to stop.
async fn pump(
    storage: ObjectStorage,
    name: String,
    file: Arc<File>,
    mut end: watch::Receiver<End>,
    sent: Arc<AtomicU64>,
) -> Result<Option<Sent>, ObjectStorageError> {
    // A small upload never begins one here: the commit sends it whole.
    if !written(&file, PART as u64, &mut end).await? {
        return Ok(None);
    }
    let mut upload = storage
        .begin_upload(&name, UploadOptions::default())
        .await?;
    let to = Arc::new(AtomicU64::new(0));
    let direct = direct_reader(&file).map(Arc::new);
    let parts = futures_util::stream::unfold((0u64, end), |(at, mut end)| {
        let (file, to, sent) = (Arc::clone(&file), Arc::clone(&to), Arc::clone(&sent));
        let direct = direct.clone();
        async move {
            let next = at + PART as u64;
            match written(&file, next, &mut end).await {
                Ok(false) => None,
                Ok(true) => {
                    let part = match direct.and_then(|d| read_whole_part_direct(&d, at)) {
                        Some(part) => Ok(part),
                        None => read_part(&file, at).map_err(io),
                    };
                    to.store(next, Ordering::Relaxed);
                    sent.fetch_add(1, Ordering::Relaxed);
                    Some((part, (next, end)))
                }
                Err(e) => Some((Err(e), (next, end))),
            }
        }
    });
    match upload.put_parts(parts.boxed(), PARALLEL).await {
        Ok(()) => Ok(Some(Sent {
            upload,
            to: to.load(Ordering::Relaxed),
        })),
        Err(e) => {
            let _ = upload.abort().await;
            Err(e)
        }
    }
}

/// Wait until `file` holds `upto` bytes for sure: `true`; `false` once the commit
/// came first; an error once the upload was given up.
async fn written(
    file: &File,
    upto: u64,
    end: &mut watch::Receiver<End>,
) -> Result<bool, ObjectStorageError> {
    let mut poll = POLL_MIN;
    let mut seen = 0;
    loop {
        match *end.borrow_and_update() {
            End::Final => return Ok(false),
            End::Cancelled => return Err(ObjectStorageError::Config("upload given up".into())),
            End::Open => {}
        }
        let size = file.metadata().map_err(io)?.len();
        if size >= upto + UNSETTLED {
            return Ok(true);
        }
        poll = if size > seen {
            POLL_MIN
        } else {
            (poll * 2).min(POLL_MAX)
        };
        seen = size;
        tokio::select! {
            _ = end.changed() => {}
            () = tokio::time::sleep(poll) => {}
        }
    }
}

fn io(e: std::io::Error) -> ObjectStorageError {
    ObjectStorageError::Config(format!("spool: {e}"))
}
