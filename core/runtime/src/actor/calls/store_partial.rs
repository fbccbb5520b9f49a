//! Kept partial uploads on an `s3` storage (`OPEN_PARTIAL`): continued by one host at
//! a time, by any host.
//!
//! A partial kept by one host is an object (`.partial.<id>`, hidden from peers by the
//! plugins). To continue it, a host takes its lock (a conditional-create lock object
//! with a lease, renewed while the upload runs, so two hosts cannot both hold it) and
//! brings the kept bytes into a spool temp; appends go there. Committing the handle
//! uploads the whole file under its final name; closing it keeps what was appended by
//! uploading it over the partial. Either way the lock goes with the handle.

use std::sync::Arc;

use actix::Context;
use slog::warn;
use switchyard_object_storage::{LockGuard, ObjectStorage, ObjectStorageError};

use crate::actor::InstanceActor;
use crate::actor::resources::OpenFile;
use crate::objects::{LEASE, ObjectBackend};

/// Take the lock of partial `name` and copy its kept bytes into `spool` (a temp's
/// descriptor): the size kept, and the lock.
pub async fn claim(
    storage: ObjectStorage,
    name: String,
    spool: Arc<std::fs::File>,
) -> Result<(u64, LockGuard), ObjectStorageError> {
    let lock = storage.lock(&name, LEASE).await?;
    let copied = copy_into(&storage, &name, &spool).await;
    match copied {
        Ok(size) => Ok((size, lock)),
        Err(e) => {
            let _ = lock.release().await;
            Err(e)
        }
    }
}

async fn copy_into(
    storage: &ObjectStorage,
    name: &str,
    spool: &std::fs::File,
) -> Result<u64, ObjectStorageError> {
    use std::os::unix::fs::FileExt;
    let read = storage.open_read(name).await?;
    let size = read.info().size;
    let mut at = 0;
    while at < size {
        let bytes = read.read_range(at..(at + (8 << 20)).min(size)).await?;
        if bytes.is_empty() {
            return Err(ObjectStorageError::Replaced(name.to_owned()));
        }
        spool
            .write_all_at(&bytes, at)
            .map_err(|e| ObjectStorageError::Config(format!("spool: {e}")))?;
        at += bytes.len() as u64;
    }
    Ok(size)
}

/// `close_file` of a continued partial on an `s3` storage: what was appended is kept,
/// by uploading the spool over the partial (then the lock goes). `None` for any other
/// handle (closed as on a dir).
pub fn close(
    actor: &mut InstanceActor,
    ctx: &mut Context<InstanceActor>,
    file: u64,
) -> Option<u32> {
    let claim = actor.res.object_partials.remove(&file)?;
    super::files::settle_direct(actor, ctx, file);
    let Some(OpenFile::Temp(temp, _)) = actor.res.files.remove(&file) else {
        return Some(switchyard_sdk::abi::SY_ERR_INVALID);
    };
    let spool = match temp.file().try_clone() {
        Ok(f) => Arc::new(f),
        Err(e) => return Some(crate::actor::io::io_status(&e)),
    };
    let backend = Arc::clone(claim.backend());
    let storage = backend.storage.clone();
    let (log, health) = (actor.shared.log.clone(), Arc::clone(&backend.health));
    backend.spawn(async move {
        let name = claim.name().to_owned();
        let commit = ObjectBackend::commit_spooled(storage, spool, name.clone(), true, None);
        let kept = health.track(commit).await;
        if let Err(e) = kept {
            warn!(log, "partial upload not kept"; "name" => name, "error" => %e);
        }
        drop(temp);
        drop(claim);
    });
    Some(switchyard_sdk::abi::SY_OK)
}
