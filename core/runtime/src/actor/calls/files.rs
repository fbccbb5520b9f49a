//! Files through the storage capability: opening, reading, uploads into temp files
//! (written, committed or kept as partials), directory queries and prefetches.

use std::sync::Arc;

use actix::Context;
use slog::{debug, warn};
use switchyard_sdk::abi::{self, SyStat};

use crate::actor::InstanceActor;
use crate::actor::io::io_status;
use crate::actor::resources::OpenFile;
use crate::actor::udp_out;
use crate::actor::writeback::Writeback;
use crate::storage::{Root, StorageError};

/// Most files one instance may have open.
const MAX_FILES: usize = 1_024;

/// A temp a direct receive writes into must not change under its writer, nor
/// after the plugin commits it. So before the plugin reads, writes, commits or
/// receives into such a temp, a receive still running into it is ended (its
/// `FILE_RECEIVED` follows, with `CLOSED`) and the call waits for the writer. The
/// wait blocks this thread, but briefly: the writer's queue is a few MiB. It
/// happens only when a plugin touches a temp mid-receive (e.g. keeping a partial
/// on a timeout, or after the connection was dropped).
pub fn settle_direct(actor: &mut InstanceActor, ctx: &mut Context<InstanceActor>, file: u64) {
    let Some(done) = actor.res.direct_writers.remove(&file) else {
        return;
    };
    if done.is_done() {
        return;
    }
    let receiving = actor
        .res
        .conns
        .iter()
        .find(|(_, c)| c.recv.as_ref().is_some_and(|r| r.file == file))
        .map(|(id, _)| *id);
    if let Some(id) = receiving {
        actor.finish_recv(id, Err(abi::SY_ERR_CLOSED), ctx);
    }
    done.wait();
}

/// Count and log a storage failure (a refusal at debug: the plugin asked for
/// something the root does not allow); the status the plugin gets.
fn storage_err(actor: &InstanceActor, what: &str, path: &str, e: &StorageError) -> u32 {
    let status = e.status();
    actor.shared.metrics.error(if status == abi::SY_ERR_IO {
        "storage_io"
    } else {
        "storage_refused"
    });
    if status == abi::SY_ERR_IO {
        warn!(actor.shared.log, "storage error"; "op" => what, "path" => path, "error" => %e);
    } else {
        debug!(actor.shared.log, "storage refused"; "op" => what, "path" => path, "error" => %e);
    }
    status
}

/// A synchronous storage call on an `s3` handler: `UNSUPPORTED`, said in the log.
pub fn refuse_sync(actor: &InstanceActor, call: &'static str) -> Option<u32> {
    let objects = actor.shared.objects.as_ref()?;
    warn!(actor.shared.log, "synchronous storage call refused on an s3 storage"; "call" => call, "storage" => &objects.name);
    Some(abi::SY_ERR_UNSUPPORTED)
}

/// The handler's storage root, or `UNSUPPORTED` for a handler configured without one
/// (or on an `s3` storage, where the root is the host's spool: see `store`).
fn root(actor: &InstanceActor) -> Result<Arc<Root>, u32> {
    if let Some(status) = refuse_sync(actor, "storage") {
        return Err(status);
    }
    actor.shared.root.clone().ok_or(abi::SY_ERR_UNSUPPORTED)
}

/// A temp in the spool of an `s3` handler: an upload, made an object at commit.
pub fn create_spool_temp(actor: &mut InstanceActor) -> Result<u64, u32> {
    let spool = actor.shared.root.clone().ok_or(abi::SY_ERR_UNSUPPORTED)?;
    let temp = spool
        .create_temp("upload")
        .map_err(|e| storage_err(actor, "create_temp", "", &e))?;
    let writeback = temp.file().try_clone().ok().map(Writeback::new);
    new_file(actor, OpenFile::Temp(temp, writeback))
}

/// Keep an open read of a spooled object as a handle.
pub fn keep_read(
    actor: &mut InstanceActor,
    file: Arc<std::fs::File>,
    version: crate::storage::FileVersion,
    spool: Arc<crate::objects::SpoolProgress>,
) -> Result<u64, u32> {
    // Once filled, the file is served as any other.
    let spool = (!spool.is_complete()).then_some(spool);
    new_file(
        actor,
        OpenFile::Read {
            file,
            version,
            path: "".into(),
            spool,
        },
    )
}

/// Keep an opened file under a fresh id, so a plugin leaking handles hits
/// `MAX_FILES` instead of the process's descriptor limit.
fn new_file(actor: &mut InstanceActor, file: OpenFile) -> Result<u64, u32> {
    if actor.res.files.len() >= MAX_FILES {
        return Err(abi::SY_ERR_LIMIT);
    }
    let id = actor.shared.next_id();
    actor.res.files.insert(id, file);
    Ok(id)
}

pub fn open_read(actor: &mut InstanceActor, path: &str) -> Result<(u64, u64), u32> {
    let root = root(actor)?;
    let (file, version) = root
        .open_read(path)
        .map_err(|e| storage_err(actor, "open_read", path, &e))?;
    let id = new_file(
        actor,
        OpenFile::Read {
            file: Arc::new(file),
            version,
            path: path.into(),
            spool: None,
        },
    )?;
    Ok((id, version.size))
}

/// The digest the host knows for open file `file` (`Root::digest`: its cache, else
/// the side file): `NOT_FOUND` when unknown, `INVALID` for anything but a read handle.
pub fn file_digest(actor: &mut InstanceActor, file: u64) -> Result<[u8; 32], u32> {
    if actor.shared.objects.is_some() {
        // A spooled object's digest came from its metadata, remembered at open.
        let Some(OpenFile::Read { version, .. }) = actor.res.files.get(&file) else {
            return Err(abi::SY_ERR_INVALID);
        };
        return crate::storage::digests::lookup(version).ok_or(abi::SY_ERR_NOT_FOUND);
    }
    let root = root(actor)?;
    let Some(OpenFile::Read { version, path, .. }) = actor.res.files.get(&file) else {
        return Err(abi::SY_ERR_INVALID);
    };
    root.digest(path, version).ok_or(abi::SY_ERR_NOT_FOUND)
}

pub fn read_file(
    actor: &mut InstanceActor,
    ctx: &mut Context<InstanceActor>,
    file: u64,
    offset: u64,
    buf: &mut [u8],
) -> Result<usize, u32> {
    settle_direct(actor, ctx, file);
    let f = match actor.res.files.get(&file) {
        Some(OpenFile::Read { file, spool, .. }) => {
            // Not spooled yet: the plugin prefetches it and asks again.
            let end = offset.saturating_add(buf.len() as u64);
            if let Some(spool) = spool
                && !spool.ready(end)?
            {
                return Err(abi::SY_PENDING);
            }
            file
        }
        Some(OpenFile::Temp(t, _)) => t.file(),
        None => return Err(abi::SY_ERR_INVALID),
    };
    udp_out::read_full(f, buf, offset).map_err(|e| io_status(&e))
}

pub fn create_temp(actor: &mut InstanceActor, path: &str) -> Result<u64, u32> {
    let root = root(actor)?;
    let temp = root
        .create_temp(path)
        .map_err(|e| storage_err(actor, "create_temp", path, &e))?;
    let writeback = temp.file().try_clone().ok().map(Writeback::new);
    new_file(actor, OpenFile::Temp(temp, writeback))
}

pub fn open_partial(actor: &mut InstanceActor, path: &str) -> Result<(u64, u64), u32> {
    let root = root(actor)?;
    let (temp, size) = root
        .open_partial(path)
        .map_err(|e| storage_err(actor, "open_partial", path, &e))?;
    let writeback = temp.file().try_clone().ok().map(Writeback::new);
    Ok((new_file(actor, OpenFile::Temp(temp, writeback))?, size))
}

pub fn write_file(
    actor: &mut InstanceActor,
    ctx: &mut Context<InstanceActor>,
    file: u64,
    data: &[u8],
) -> u32 {
    settle_direct(actor, ctx, file);
    match actor.res.files.get_mut(&file) {
        Some(OpenFile::Temp(t, writeback)) => match t.append(data) {
            Ok(()) => {
                if let Some(w) = writeback {
                    w.wrote(data.len() as u64);
                }
                abi::SY_OK
            }
            Err(e) => storage_err(actor, "write", "", &e),
        },
        _ => abi::SY_ERR_INVALID,
    }
}

pub fn commit_file(
    actor: &mut InstanceActor,
    ctx: &mut Context<InstanceActor>,
    file: u64,
    path: &str,
    overwrite: bool,
) -> u32 {
    settle_direct(actor, ctx, file);
    let root = match root(actor) {
        Ok(root) => root,
        Err(status) => return status,
    };
    let Some(OpenFile::Temp(temp, _)) = actor.res.files.get_mut(&file) else {
        return abi::SY_ERR_INVALID;
    };
    match root.commit(temp, path, overwrite) {
        Ok(()) => {
            actor.res.files.remove(&file);
            abi::SY_OK
        }
        Err(e) => storage_err(actor, "commit", path, &e),
    }
}

pub fn close_file(actor: &mut InstanceActor, ctx: &mut Context<InstanceActor>, file: u64) -> u32 {
    // A continued partial is kept: its writer must be done before its lock goes.
    // A writer still running into a plain temp writes into the unlinked file,
    // harmlessly: no wait.
    if actor
        .res
        .files
        .get(&file)
        .is_some_and(OpenFile::is_continued_temp)
    {
        settle_direct(actor, ctx, file);
    }
    actor.res.direct_writers.remove(&file);
    // An upload closed without a commit: its early parts are given up.
    actor.res.object_uploads.remove(&file);
    match actor.res.files.remove(&file) {
        Some(_) => abi::SY_OK,
        None => abi::SY_ERR_INVALID,
    }
}

pub fn stat(actor: &mut InstanceActor, path: &str) -> Result<SyStat, u32> {
    let root = root(actor)?;
    root.stat(path)
        .map(|s| s.to_abi())
        .map_err(|e| storage_err(actor, "stat", path, &e))
}

pub fn list_dir(actor: &mut InstanceActor, path: &str) -> Result<Vec<(String, SyStat)>, u32> {
    let root = root(actor)?;
    match root.list(path) {
        Ok(entries) => Ok(entries
            .into_iter()
            .map(|(name, st)| (name, st.to_abi()))
            .collect()),
        Err(e) => Err(storage_err(actor, "list", path, &e)),
    }
}

pub fn remove_file(actor: &mut InstanceActor, path: &str) -> u32 {
    let root = match root(actor) {
        Ok(root) => root,
        Err(status) => return status,
    };
    match root.remove(path) {
        Ok(()) => abi::SY_OK,
        Err(e) => storage_err(actor, "remove", path, &e),
    }
}

pub fn free_space(actor: &mut InstanceActor) -> Result<u64, u32> {
    // On an `s3` storage uploads arrive in the spool first: its disk is what limits.
    let root = match actor.shared.objects {
        Some(_) => actor.shared.root.clone().ok_or(abi::SY_ERR_UNSUPPORTED)?,
        None => root(actor)?,
    };
    root.free_space()
        .map_err(|e| storage_err(actor, "free_space", "", &e))
}

pub fn prefetch_file(
    actor: &mut InstanceActor,
    ctx: &mut Context<InstanceActor>,
    file: u64,
    offset: u64,
    len: u64,
    token: u64,
) -> u32 {
    let Some(OpenFile::Read {
        file,
        version,
        spool,
        ..
    }) = actor.res.files.get(&file)
    else {
        return abi::SY_ERR_INVALID;
    };
    let end = offset.saturating_add(len).min(version.size);
    let (file, spool) = (Arc::clone(file), spool.clone());
    crate::actor::prefetch::spawn(actor, (file, spool), (offset, end), token, ctx)
}
