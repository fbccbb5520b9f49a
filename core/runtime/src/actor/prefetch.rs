//! `prefetch_file`: bring a file range into the page cache on the blocking pool, then
//! tell the plugin.
//!
//! Why: `read_file` is a synchronous call (a plugin that transforms bytes, like TFTP's
//! netascii, must see them), and on a cold cache one such read would stall every session
//! of the handler thread. A plugin prefetches what it is about to read and reads it once
//! `FILE_PREFETCHED` arrives, from memory. The pages could in principle be evicted
//! again before the read (heavy memory pressure); then that read waits for the disk, as
//! every read did before.

use std::fs::File;
use std::io;
use std::num::NonZeroU64;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use actix::{ActorFutureExt, AsyncContext, Context};
use slog::warn;
use switchyard_sdk::abi;

use super::InstanceActor;
use super::event::HostEvent;
use super::io::io_status;
use crate::objects::SpoolProgress;

/// Read `file[offset..end]` once, so its pages are cached: a readahead hint first (the
/// kernel reads in large requests), then a pass that waits for every page.
pub fn prefetch(file: &File, offset: u64, end: u64) -> io::Result<()> {
    if end <= offset {
        return Ok(());
    }
    let _ = rustix::fs::fadvise(
        file,
        offset,
        NonZeroU64::new(end - offset),
        rustix::fs::Advice::WillNeed,
    );
    let mut buf = vec![0u8; 256 * 1024];
    let mut at = offset;
    while at < end {
        let want = buf.len().min((end - at) as usize);
        match file.read_at(&mut buf[..want], at) {
            Ok(0) => break, // shorter than it was: reads past the end find nothing anyway
            Ok(n) => at += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Most prefetches in flight per instance.
pub const MAX_PREFETCHES: usize = 1024;

/// Run [`prefetch`] of `file[offset..end]` on the blocking pool; deliver
/// `FILE_PREFETCHED` with `token` when done (tracked in the instance's resources, so
/// it is cancelled with the instance). A file still being spooled (`spool`) is first
/// waited for up to `end`: the plugin's prefetch after `SY_PENDING` is what lets its
/// next read find the range.
pub fn spawn(
    actor: &mut InstanceActor,
    (file, spool): (Arc<File>, Option<Arc<SpoolProgress>>),
    (offset, end): (u64, u64),
    token: u64,
    ctx: &mut Context<InstanceActor>,
) -> u32 {
    if actor.res.prefetches.len() >= MAX_PREFETCHES {
        return abi::SY_ERR_LIMIT;
    }
    let id = actor.shared.next_id();
    let job = async move {
        if let Some(spool) = spool {
            let spooled = spool.wait(end).await;
            spooled.map_err(|status| (status, "the object's spool failed".to_owned()))?;
        }
        match tokio::task::spawn_blocking(move || prefetch(&file, offset, end)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(io::Error::other(e.to_string())),
        }
        .map_err(|e| (io_status(&e), e.to_string()))
    };
    let handle = ctx.spawn(actix::fut::wrap_future::<_, InstanceActor>(job).map(
        move |done: Result<(), (u32, String)>, act, ctx| {
            act.res.prefetches.remove(&id);
            let status = match done {
                Ok(()) => abi::SY_OK,
                Err((status, why)) => {
                    act.shared.metrics.error("storage_io");
                    warn!(act.shared.log, "file prefetch failed"; "error" => why);
                    status
                }
            };
            act.deliver(HostEvent::FilePrefetched { token, status }, ctx);
        },
    ));
    actor.res.prefetches.insert(id, handle);
    abi::SY_OK
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn prefetch_reads_the_range_and_tolerates_a_range_past_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&vec![7u8; 600_000])
            .unwrap();
        let f = File::open(&path).unwrap();
        prefetch(&f, 0, 600_000).unwrap();
        prefetch(&f, 100, 10_000_000).unwrap();
        prefetch(&f, 5, 5).unwrap();
    }
}
