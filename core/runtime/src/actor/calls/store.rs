//! `storage_begin` on a handler: at once on a dir (the synchronous calls' own code),
//! or on its `s3` storage, where every operation but a temp's creation runs on the
//! storage's runtime and ends with `STORAGE_DONE`.
//!
//! On an `s3` storage the handler's root is the host's private spool, so the
//! synchronous storage calls are refused there (`files::refuse_sync`): a plugin that
//! made them would read or write the spool as if it were the storage.

use std::future::Future;
use std::sync::Arc;

use actix::{ActorFutureExt, AsyncContext, Context};
use slog::{debug, warn};
use switchyard_object_storage::{ListEntry, LockGuard, ObjectName, ObjectStorageError};
use switchyard_sdk::abi::{self, SyStat, SyStorageDone};
use switchyard_sdk::{StoreOp, raw_done};

use super::Calls;
use super::store_partial;
use crate::actor::InstanceActor;
use crate::actor::event::HostEvent;
use crate::actor::resources::OpenFile;
use crate::objects::{EarlyParts, ObjectBackend, PartialClaim, Spooled, status_of};
use crate::storage::FileVersion;
use crate::storage::digests;

/// Most storage operations in flight per instance.
const MAX_OPS: usize = 1024;

/// What an operation on the store gave, before it is a handle or an event.
enum Gave {
    Spooled(Spooled),
    /// A kept partial continued in spool temp `file`: its size, and its lock.
    Partial {
        file: u64,
        size: u64,
        lock: LockGuard,
        name: String,
    },
    Stat(SyStat),
    Listing(Vec<(String, SyStat)>),
    Done,
}

/// `storage_begin` of `op` for `token`.
pub fn begin(
    calls: &mut Calls<'_>,
    op: StoreOp<'_>,
    token: u64,
) -> Result<Option<SyStorageDone>, u32> {
    let Some(objects) = calls.actor.shared.objects.clone() else {
        let (done, listing) = switchyard_sdk::host::answer_at_once(calls, op)?;
        calls.actor.res.listing = listing.map(|entries| (token, entries));
        return Ok(Some(done));
    };
    let actor = &mut *calls.actor;
    let kind = op.kind();
    let name = |path: &str| {
        ObjectName::parse(path)
            .map(|n| n.as_str().to_owned())
            .map_err(|e| refused(actor, kind, path, &e))
    };
    let storage = objects.storage.clone();
    match op {
        StoreOp::CreateTemp(path) => {
            let name = name(path)?;
            // The upload arrives in the spool; its parts leave as they arrive, and
            // it becomes an object at commit.
            let id = super::files::create_spool_temp(actor)?;
            if let Some(OpenFile::Temp(t, _)) = actor.res.files.get(&id)
                && let Ok(file) = t.file().try_clone()
            {
                let early = EarlyParts::start(&objects, name, Arc::new(file));
                actor.res.object_uploads.insert(id, early);
            }
            Ok(Some(raw_done(kind, id, None)))
        }
        StoreOp::OpenPartial(path) => {
            let name = name(path)?;
            if actor.res.object_partials.values().any(|c| c.name() == name) {
                return Err(abi::SY_ERR_BUSY);
            }
            let file = super::files::create_spool_temp(actor)?;
            let spool = match actor.res.files.get(&file) {
                Some(OpenFile::Temp(t, _)) => t.file().try_clone().map(Arc::new),
                _ => return Err(abi::SY_ERR_INVALID),
            }
            .map_err(|e| crate::actor::io::io_status(&e))?;
            let pending = spawn(calls, token, kind, async move {
                let (size, lock) = store_partial::claim(storage, name.clone(), spool).await?;
                Ok(Gave::Partial {
                    file,
                    size,
                    lock,
                    name,
                })
            });
            if pending.is_err() {
                calls.actor.res.files.remove(&file);
            } else {
                calls.actor.res.partials_opening.insert(token, file);
            }
            pending
        }
        StoreOp::OpenRead(path) => {
            let (name, backend) = (name(path)?, Arc::clone(&objects));
            spawn(calls, token, kind, async move {
                backend
                    .cache
                    .get(&backend.storage, &backend.health, &name)
                    .await
                    .map(Gave::Spooled)
            })
        }
        StoreOp::Stat(path) => {
            let name = name(path)?;
            spawn(calls, token, kind, async move {
                let info = storage.stat(&name).await?;
                Ok(Gave::Stat(regular(info.size, info.modified_unix)))
            })
        }
        StoreOp::List(path) => {
            let dir = (!path.is_empty()).then(|| name(path)).transpose()?;
            spawn(calls, token, kind, async move {
                let entries = storage.list(dir.as_deref()).await?;
                Ok(Gave::Listing(entries.into_iter().map(entry).collect()))
            })
        }
        StoreOp::Remove(path) => {
            let name = name(path)?;
            spawn(calls, token, kind, async move {
                storage.delete(&name).await.map(|()| Gave::Done)
            })
        }
        StoreOp::Commit {
            file,
            path,
            overwrite,
        } => {
            let name = name(path)?;
            super::files::settle_direct(calls.actor, calls.ctx, file.0);
            let Some(OpenFile::Temp(temp, _)) = calls.actor.res.files.remove(&file.0) else {
                return Err(abi::SY_ERR_INVALID);
            };
            // A continued partial's lock goes once its bytes are an object (or not).
            let claim = calls.actor.res.object_partials.remove(&file.0);
            let early = calls.actor.res.object_uploads.remove(&file.0);
            let spool = temp
                .file()
                .try_clone()
                .map(Arc::new)
                .map_err(|e| crate::actor::io::io_status(&e))?;
            let (log, early_parts) = (
                calls.actor.shared.log.clone(),
                early.as_ref().map_or(0, EarlyParts::parts_sent),
            );
            spawn(calls, token, kind, async move {
                let began = std::time::Instant::now();
                let committed =
                    ObjectBackend::commit_upload(storage, spool, name.clone(), overwrite, early)
                        .await;
                if let Ok(c) = &committed {
                    debug!(log, "upload committed"; "name" => name, "bytes" => c.size,
                        "parts_sent_while_arriving" => early_parts,
                        "commit_ms" => began.elapsed().as_millis() as u64);
                }
                // The spool temp goes once the object exists (or the upload failed).
                drop(temp);
                drop(claim);
                committed.map(|_| Gave::Done)
            })
        }
    }
}

/// Run `op` on the storage's runtime; deliver `STORAGE_DONE` with `token` when done.
fn spawn(
    calls: &mut Calls<'_>,
    token: u64,
    kind: u32,
    op: impl Future<Output = Result<Gave, ObjectStorageError>> + Send + 'static,
) -> Result<Option<SyStorageDone>, u32> {
    let actor = &mut *calls.actor;
    if actor.res.storage_ops.len() >= MAX_OPS {
        return Err(abi::SY_ERR_LIMIT);
    }
    let objects = actor.shared.objects.as_ref().expect("an s3 handler");
    let job = objects.run(op);
    let id = actor.shared.next_id();
    let handle = calls
        .ctx
        .spawn(
            actix::fut::wrap_future::<_, InstanceActor>(job).map(move |joined, act, ctx| {
                act.res.storage_ops.remove(&id);
                let outcome = joined.unwrap_or_else(|e| {
                    Err(ObjectStorageError::Config(format!("storage task: {e}")))
                });
                finish(act, ctx, token, kind, outcome);
            }),
        );
    actor.res.storage_ops.insert(id, handle);
    Ok(None)
}

/// Turn what the store gave into the plugin's view and tell it.
fn finish(
    act: &mut InstanceActor,
    ctx: &mut Context<InstanceActor>,
    token: u64,
    kind: u32,
    outcome: Result<Gave, ObjectStorageError>,
) {
    let opening = act.res.partials_opening.remove(&token);
    let result = match outcome {
        Ok(Gave::Partial {
            file,
            size,
            lock,
            name,
        }) => partial_opened(act, file, size, (lock, name))
            .map(|stat| raw_done(kind, file, Some(stat))),
        Ok(Gave::Spooled(s)) => {
            open_spooled(act, s).map(|(id, stat)| raw_done(kind, id, Some(stat)))
        }
        Ok(Gave::Stat(stat)) => Ok(raw_done(kind, 0, Some(stat))),
        Ok(Gave::Listing(entries)) => {
            act.res.listing = Some((token, entries));
            Ok(raw_done(kind, 0, None))
        }
        Ok(Gave::Done) => Ok(raw_done(kind, 0, None)),
        Err(e) => {
            // A partial that could not be claimed leaves no spool temp behind.
            if let Some(file) = opening {
                act.res.files.remove(&file);
            }
            Err(failed(act, kind, &e))
        }
    };
    let (status, done) = match result {
        Ok(done) => (abi::SY_OK, done),
        Err(status) => (status, raw_done(kind, 0, None)),
    };
    act.deliver(
        HostEvent::StorageDone {
            token,
            status,
            done: &done,
        },
        ctx,
    );
}

/// A claimed partial's spool temp, positioned at its end for appends, kept with its
/// claim.
fn partial_opened(
    act: &mut InstanceActor,
    file: u64,
    size: u64,
    (lock, name): (LockGuard, String),
) -> Result<SyStat, u32> {
    let objects = act.shared.objects.clone().ok_or(abi::SY_ERR_INVALID)?;
    let Some(OpenFile::Temp(temp, _)) = act.res.files.get_mut(&file) else {
        return Err(abi::SY_ERR_INVALID);
    };
    use std::io::Seek;
    temp.file_mut()
        .seek(std::io::SeekFrom::End(0))
        .map_err(|e| crate::actor::io::io_status(&e))?;
    act.res
        .object_partials
        .insert(file, PartialClaim::new(objects, name, lock));
    Ok(regular(size, 0))
}

/// A spooled object as a read handle; its digest (from the metadata) remembered
/// under the spool file's version, so `file_digest` finds it.
fn open_spooled(act: &mut InstanceActor, s: Spooled) -> Result<(u64, SyStat), u32> {
    let version = FileVersion::of(&s.file).map_err(|e| crate::actor::io::io_status(&e))?;
    if let Some(digest) = s.sha256 {
        digests::remember(version, digest);
    }
    let id = super::files::keep_read(act, s.file, version, s.progress)?;
    Ok((id, regular(s.size, s.modified_unix)))
}

fn regular(size: u64, modified_unix: i64) -> SyStat {
    SyStat {
        struct_size: std::mem::size_of::<SyStat>() as u32,
        kind: abi::SY_FILE_REGULAR,
        size,
        modified_unix,
    }
}

/// A listing entry as `list_dir` gives it: the last component of its name.
fn entry(e: ListEntry) -> (String, SyStat) {
    let (name, stat) = match e {
        ListEntry::File {
            name,
            size,
            modified_unix,
        } => (name, regular(size, modified_unix)),
        ListEntry::Dir(name) => (
            name,
            SyStat {
                kind: abi::SY_FILE_DIR,
                ..regular(0, 0)
            },
        ),
    };
    let leaf = name
        .as_str()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    (leaf, stat)
}

/// A name the storage refuses, before anything is sent.
fn refused(actor: &InstanceActor, kind: u32, path: &str, e: &ObjectStorageError) -> u32 {
    actor.shared.metrics.error("storage_refused");
    debug!(actor.shared.log, "storage refused"; "op" => kind, "path" => path, "error" => %e);
    abi::SY_ERR_ACCESS
}

/// A failed operation: counted, logged (a store failure at warn, naming the storage),
/// and the plugin's status.
fn failed(act: &InstanceActor, kind: u32, e: &ObjectStorageError) -> u32 {
    let status = status_of(e);
    let storage = act.shared.objects.as_ref().map_or("", |o| o.name.as_str());
    if status == abi::SY_ERR_IO {
        act.shared.metrics.error("storage_io");
        warn!(act.shared.log, "object storage error"; "op" => kind, "storage" => storage, "error" => %e);
    } else {
        act.shared.metrics.error("storage_refused");
        debug!(act.shared.log, "object storage refused"; "op" => kind, "storage" => storage, "error" => %e);
    }
    status
}
