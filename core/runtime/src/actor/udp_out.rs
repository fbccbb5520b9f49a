//! Sending datagrams, including datagrams built from file ranges, without ever
//! blocking the actor thread.
//!
//! Why this is more than `sendto`: one actor thread serves every transfer of its
//! handler. tftpd-hpa forks per transfer and may block in `read`; we may not — a single
//! `pread` that waits for the disk would stall every other transfer. So a datagram's
//! file range is first read with `RWF_NOWAIT`, which only succeeds from the page cache
//! (the common, fast case: no extra copy, no allocation, no thread hop). On a miss the
//! read runs on the blocking pool, with a readahead hint for what follows, and the
//! datagram goes out when the read completes.
//!
//! Datagrams of one socket stay in the order the plugin sent them: while a deferred one
//! is pending, later sends on that socket wait in its `backlog` behind it.
//!
//! Of the datagrams from file ranges that one call into the plugin sends (a TFTP
//! window), the first goes at once (a lock-step transfer waits for nothing) and the
//! rest are gathered in the socket's `batch`, sent with one `sendmmsg` when the call
//! returns (`udp_send::flush_batches`): two system calls per window instead of one
//! per block. Any other use of the socket, or of the read-ahead buffer the batch
//! points into, sends the batch first, so the order is kept.

use std::cell::Cell;
use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::num::NonZeroU64;
use std::os::unix::fs::FileExt;
use std::rc::Rc;
use std::sync::Arc;

use actix::{ActorFutureExt, AsyncContext, Context};
use slog::warn;
use switchyard_sdk::abi;

use super::InstanceActor;
use super::io::io_status;
use super::udp_io::{self, UdpFd};
use super::udp_send::{self, MAX_UDP_QUEUED};
use super::udp_sock::{Batched, Deferred, UdpSock};
use crate::metrics::HandlerMetrics;

/// How far ahead of a missed read the kernel is asked to read the file.
const READAHEAD: u64 = 2 * 1024 * 1024;

/// Read `buf.len()` bytes at `offset`, fewer only at end of file (may block).
pub fn read_full(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Send `data` to `to` now, or queue it behind what is already waiting.
pub fn send(
    s: &mut UdpSock,
    metrics: &HandlerMetrics,
    to: SocketAddr,
    data: &[u8],
    ctx: &mut Context<InstanceActor>,
) -> u32 {
    if s.local.is_ipv4() != to.is_ipv4() {
        return abi::SY_ERR_INVALID;
    }
    udp_send::flush_batch(s, metrics, ctx);
    if !s.backlog.is_empty() {
        if queued_bytes(s) + data.len() > MAX_UDP_QUEUED {
            return abi::SY_ERR_LIMIT;
        }
        s.backlog_seq += 1;
        s.backlog.push_back(Deferred {
            seq: s.backlog_seq,
            to,
            data: Some(data.to_vec()),
        });
        return abi::SY_OK;
    }
    send_unordered(&s.sock, &s.queued, metrics, to, data, ctx)
}

/// Bytes this socket holds in memory for later sends.
fn queued_bytes(s: &UdpSock) -> usize {
    let backlog: usize = s
        .backlog
        .iter()
        .map(|d| d.data.as_ref().map_or(0, Vec::len))
        .sum();
    s.queued.get() + backlog
}

/// `sendto` now; on a full socket buffer, a spawned send waits for room (counted in
/// `queued`).
fn send_unordered(
    sock: &Rc<UdpFd>,
    queued: &Rc<Cell<usize>>,
    metrics: &HandlerMetrics,
    to: SocketAddr,
    data: &[u8],
    ctx: &mut Context<InstanceActor>,
) -> u32 {
    udp_send::send_parts(sock, queued, metrics, to, (&[], data), ctx)
}

/// A file range a plugin asked to send, with what the host knows of the file.
#[derive(Debug)]
pub struct FileRange {
    pub id: u64,
    pub file: Arc<File>,
    /// The size at open: bounds what a deferred read reports.
    pub size: u64,
    pub offset: u64,
    pub len: usize,
}

/// Send `header` + the file range, in order with the socket's other datagrams. Only a
/// whole range is sent: when the file holds fewer bytes there (it ends, or shrank since
/// it was opened) nothing is sent and that count is returned, so a protocol never sends
/// a short block that a peer would take for the end of a file. Never blocks: a range
/// not in the page cache is read on the blocking pool and sent when read
/// ([`defer_file_read`]); if it then turns out short, it is dropped, and the plugin's
/// retransmission finds the short count on its next try.
pub fn send_file_range(
    actor: &mut InstanceActor,
    socket: u64,
    to: SocketAddr,
    header: &[u8],
    range: FileRange,
    ctx: &mut Context<InstanceActor>,
) -> Result<u32, u32> {
    // Borrowed, not cloned: this runs once per datagram.
    let metrics = &actor.shared.metrics;
    let Some(s) = actor.res.sockets.get_mut(&socket) else {
        return Err(abi::SY_ERR_INVALID);
    };
    if s.local.is_ipv4() != to.is_ipv4() {
        return Err(abi::SY_ERR_INVALID);
    }
    if !s.backlog.is_empty() {
        // Behind a deferred read: keep the order.
        return defer_file_read(actor, socket, to, header, range, ctx);
    }
    let (id, offset, len) = (range.id, range.offset, range.len);
    if s.ahead.locate(id, offset, len).is_none() {
        udp_send::flush_batch(s, metrics, ctx);
        match s.ahead.fill(id, &range.file, offset, len) {
            Ok(Some(got)) if got < len => return Ok(got as u32),
            Ok(Some(_)) => {}
            Ok(None) => return defer_file_read(actor, socket, to, header, range, ctx),
            Err(e) => return Err(io_status(&e)),
        }
    }
    let payload = s.ahead.locate(id, offset, len).expect("read above");
    let batched = if s.sent_in_call {
        if s.batch.len() >= udp_io::SEND_BATCH {
            udp_send::flush_batch(s, metrics, ctx);
        }
        Batched::new(to, header, payload.clone())
    } else {
        s.sent_in_call = true;
        actor.res.unflushed.push(socket);
        None
    };
    match batched {
        Some(b) => s.batch.push(b),
        None => {
            // The call's first (or one with a header too long to keep): now.
            udp_send::flush_batch(s, metrics, ctx);
            let parts = (header, &s.ahead.bytes()[payload]);
            let status = udp_send::send_parts(&s.sock, &s.queued, metrics, to, parts, ctx);
            if status != abi::SY_OK {
                return Err(status);
            }
        }
    }
    // Read what will most likely be asked for next, while the peer is busy (once
    // per CHUNK at small sizes: the next range is usually held already).
    let next = offset + len as u64;
    let next_len = range.size.saturating_sub(next).min(len as u64) as usize;
    if next_len > 0 && s.ahead.locate(id, next, next_len).is_none() {
        udp_send::flush_batch(s, metrics, ctx);
        let _ = s.ahead.fill(id, &range.file, next, next_len);
    }
    Ok(len as u32)
}

/// Queue a datagram of `header` plus the file range, read on the blocking pool; it is
/// sent, in order, once read — and only if the whole range was there. Returns the
/// count the plugin is told (short, and nothing queued, when the range passes the end
/// of the file as it was at open). The caller checked the socket's address family.
fn defer_file_read(
    actor: &mut InstanceActor,
    socket: u64,
    to: SocketAddr,
    header: &[u8],
    range: FileRange,
    ctx: &mut Context<InstanceActor>,
) -> Result<u32, u32> {
    let held = range.size.saturating_sub(range.offset);
    if held < range.len as u64 {
        return Ok(held as u32);
    }
    let Some(s) = actor.res.sockets.get_mut(&socket) else {
        return Err(abi::SY_ERR_INVALID);
    };
    // The batch goes first: it was sent before this range.
    udp_send::flush_batch(s, &actor.shared.metrics, ctx);
    let FileRange {
        file,
        offset,
        len: expect,
        ..
    } = range;
    if queued_bytes(s) + header.len() + expect > MAX_UDP_QUEUED {
        return Err(abi::SY_ERR_LIMIT);
    }
    s.backlog_seq += 1;
    let seq = s.backlog_seq;
    s.backlog.push_back(Deferred {
        seq,
        to,
        data: None,
    });
    actor.shared.metrics.reads_deferred.inc();
    let mut buf = Vec::with_capacity(header.len() + expect);
    buf.extend_from_slice(header);
    let head = header.len();
    let read = tokio::task::spawn_blocking(move || {
        buf.resize(head + expect, 0);
        let got = read_full(&file, &mut buf[head..], offset)?;
        if got < expect {
            return Err(io::Error::other(format!(
                "file shrank: {got} of {expect} bytes at offset {offset}"
            )));
        }
        // The next datagrams most likely want what follows: start reading it now.
        let _ = rustix::fs::fadvise(
            &*file,
            offset + got as u64,
            NonZeroU64::new(READAHEAD),
            rustix::fs::Advice::WillNeed,
        );
        io::Result::Ok(buf)
    });
    ctx.spawn(
        actix::fut::wrap_future::<_, InstanceActor>(read).map(move |done, act, ctx| {
            let data = match done {
                Ok(Ok(data)) => Some(data),
                Ok(Err(e)) => {
                    act.shared.metrics.error("storage_io");
                    warn!(act.shared.log, "file read for a datagram failed"; "error" => %e);
                    None
                }
                Err(e) => {
                    warn!(act.shared.log, "file read for a datagram did not finish"; "error" => %e);
                    None
                }
            };
            complete(act, socket, seq, data, ctx);
        }),
    );
    Ok(expect as u32)
}

/// A deferred read finished: fill its datagram (or drop it: the plugin's
/// retransmission covers a lost datagram) and send what is now at the front.
fn complete(
    act: &mut InstanceActor,
    socket: u64,
    seq: u64,
    data: Option<Vec<u8>>,
    ctx: &mut Context<InstanceActor>,
) {
    let metrics = act.shared.metrics.clone();
    // The socket may be gone (closed, instance restarted): then so is the datagram.
    let Some(s) = act.res.sockets.get_mut(&socket) else {
        return;
    };
    let Some(pos) = s.backlog.iter().position(|d| d.seq == seq) else {
        return;
    };
    match data {
        Some(data) => s.backlog[pos].data = Some(data),
        None => {
            s.backlog.remove(pos);
        }
    }
    flush(s, &metrics, ctx);
}

/// Send every datagram at the front of the backlog whose bytes are ready.
fn flush(s: &mut UdpSock, metrics: &HandlerMetrics, ctx: &mut Context<InstanceActor>) {
    while s.backlog.front().is_some_and(|d| d.data.is_some()) {
        let d = s.backlog.pop_front().expect("front exists");
        let data = d.data.expect("checked");
        // A full socket buffer here only delays it (spawned send); ordering among
        // backlog entries is kept because each is handed over in turn.
        let _ = send_unordered(&s.sock, &s.queued, metrics, d.to, &data, ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::udp_sock::read_cached;
    use std::io::Write;

    fn file_with(data: &[u8]) -> (tempfile::TempDir, File) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut f = File::create(&path).unwrap();
        f.write_all(data).unwrap();
        f.sync_all().unwrap();
        (dir, File::open(&path).unwrap())
    }

    #[test]
    fn cached_read_returns_the_range_and_stops_at_end_of_file() {
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let (_dir, f) = file_with(&data);
        let mut buf = vec![0u8; 4096];
        read_full(&f, &mut buf, 0).unwrap(); // now cached
        assert_eq!(read_cached(&f, &mut buf, 100, 4096).unwrap(), Some(4096));
        assert_eq!(buf, data[100..4196]);
        assert_eq!(read_cached(&f, &mut buf, 8_000, 4096).unwrap(), Some(2_000));
        assert_eq!(buf[..2_000], data[8_000..]);
    }

    #[test]
    fn a_read_that_misses_the_page_cache_asks_for_the_blocking_path() {
        let (_dir, f) = file_with(&vec![7u8; 1 << 20]);
        rustix::fs::fadvise(&f, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        let mut buf = vec![0u8; 65_536];
        assert_eq!(read_cached(&f, &mut buf, 512 * 1024, 1).unwrap(), None);
        assert_eq!(read_full(&f, &mut buf, 512 * 1024).unwrap(), 65_536);
        assert!(buf.iter().all(|&b| b == 7));
    }
}
