//! TCP connections as a plugin drives them: writes, `sendfile`s, drain notices,
//! shutdown and close go into the ordered output queue (written by `conn_out`);
//! reading is paused, resumed, or turned into a receive straight into a file.

use std::cell::RefCell;
use std::io;
use std::os::unix::fs::FileExt;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::{AsyncContext, Context};
use sha2::Digest;
use switchyard_sdk::abi;

use super::files;
use crate::actor::InstanceActor;
use crate::actor::io::io_status;
use crate::actor::messages::{Flush, ReplayHeld};
use crate::actor::resources::{OpenFile, Out, RecvToFile};
use crate::actor::writeback::Writeback;
use switchyard_direct_io::DirectSink;

/// How long a closed connection may take to send what was queued before it.
const CLOSE_LINGER: Duration = Duration::from_secs(5);

/// Put `item` at the end of the connection's output queue (nothing after a
/// shutdown or close) and schedule a flush: written after this call returns.
/// Writes up to this size are gathered until the plugin's call returns (see `write`).
const COALESCE_BELOW: usize = 64 * 1024;

fn queue(actor: &mut InstanceActor, ctx: &mut Context<InstanceActor>, conn: u64, item: Out) -> u32 {
    let Some(c) = actor.res.conns.get_mut(&conn) else {
        return abi::SY_ERR_INVALID;
    };
    if c.write_closed {
        return abi::SY_ERR_CLOSED;
    }
    if matches!(item, Out::Shutdown | Out::Close) {
        c.write_closed = true;
    }
    c.out.push_back(item);
    ctx.notify(Flush(conn));
    abi::SY_OK
}

pub fn write(
    actor: &mut InstanceActor,
    ctx: &mut Context<InstanceActor>,
    conn: u64,
    data: &[u8],
) -> u32 {
    let max = actor.shared.limits.max_write_buffer;
    let Some(c) = actor.res.conns.get_mut(&conn) else {
        return abi::SY_ERR_INVALID;
    };
    if c.write_closed {
        return abi::SY_ERR_CLOSED;
    }
    if data.is_empty() {
        return abi::SY_OK;
    }
    // LIMIT means "nothing was written": decide before writing a byte. An empty
    // queue accepts any write (what the socket does not take now is queued once).
    if !c.out.is_empty() && c.pending + data.len() > max {
        return abi::SY_ERR_LIMIT;
    }
    let was_empty = c.out.is_empty();
    if was_empty && data.len() > COALESCE_BELOW {
        // A large write goes out at once, as far as the socket takes it: what it does
        // not take is queued, and the queue stays short for the next one.
        let written = match c.stream.try_write(data) {
            Ok(n) => {
                actor.shared.metrics.bytes_out.inc_by(n as u64);
                c.count(n as u64);
                n
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => return io_status(&e),
        };
        let rest = &data[written..];
        if !rest.is_empty() {
            c.pending += rest.len();
            c.out.push_back(Out::Bytes {
                data: rest.to_vec(),
                pos: 0,
            });
            ctx.notify(Flush(conn));
        }
        return abi::SY_OK;
    }
    // A small write waits for the end of the plugin's call: the writes of one event
    // (a header, a line, the file that follows: `conn_out` inlines a small one) leave
    // in one send, one segment, one wake-up of the peer.
    c.pending += data.len();
    match c.out.back_mut() {
        Some(Out::Bytes { data: tail, .. }) if tail.len() + data.len() <= COALESCE_BELOW => {
            tail.extend_from_slice(data)
        }
        _ => c.out.push_back(Out::Bytes {
            data: data.to_vec(),
            pos: 0,
        }),
    }
    if was_empty {
        ctx.notify(Flush(conn));
    }
    abi::SY_OK
}

pub fn notify_drained(
    actor: &mut InstanceActor,
    ctx: &mut Context<InstanceActor>,
    conn: u64,
    token: u64,
) -> u32 {
    queue(actor, ctx, conn, Out::Drained { token })
}

pub fn shutdown_write(
    actor: &mut InstanceActor,
    ctx: &mut Context<InstanceActor>,
    conn: u64,
) -> u32 {
    queue(actor, ctx, conn, Out::Shutdown)
}

pub fn close(actor: &mut InstanceActor, ctx: &mut Context<InstanceActor>, conn: u64) -> u32 {
    let Some(c) = actor.res.conns.get_mut(&conn) else {
        return abi::SY_ERR_INVALID;
    };
    if c.closing {
        return abi::SY_OK;
    }
    // Nothing more is read or delivered; what is queued gets CLOSE_LINGER to go out,
    // so a peer that never reads cannot hold the connection (or its slot) open.
    c.closing = true;
    c.write_closed = true;
    c.read.pause();
    c.held.clear();
    c.out.push_back(Out::Close);
    ctx.notify(Flush(conn));
    ctx.run_later(CLOSE_LINGER, move |act, ctx| {
        if act.res.conns.get(&conn).is_some_and(|c| c.closing) {
            act.drop_conn(conn, abi::SY_OK, ctx);
        }
    });
    abi::SY_OK
}

pub fn set_reading(
    actor: &mut InstanceActor,
    ctx: &mut Context<InstanceActor>,
    conn: u64,
    on: bool,
) -> u32 {
    let Some(c) = actor.res.conns.get_mut(&conn) else {
        return abi::SY_ERR_INVALID;
    };
    if c.closing {
        return abi::SY_OK;
    }
    c.want_read = on;
    if !on {
        c.read.pause();
    } else if c.recv_finishing {
        // Resumed (held bytes first) after the receive's FILE_RECEIVED.
    } else if c.held.is_empty() {
        c.read.resume();
    } else {
        // Held bytes go first; the stream resumes after them (`replay_held`).
        ctx.notify(ReplayHeld(conn));
    }
    abi::SY_OK
}

pub fn send_file(
    actor: &mut InstanceActor,
    ctx: &mut Context<InstanceActor>,
    conn: u64,
    file: u64,
    offset: u64,
    len: u64,
    token: u64,
) -> u32 {
    let Some(OpenFile::Read { file, spool, .. }) = actor.res.files.get(&file) else {
        return abi::SY_ERR_INVALID;
    };
    // Shared, not duplicated (no `fcntl` per send): the plugin may close its handle
    // before the send ends, and the descriptor lives until the send's reference goes.
    let (file, spool) = (Arc::clone(file), spool.clone());
    queue(
        actor,
        ctx,
        conn,
        Out::File {
            file,
            offset,
            remaining: len,
            sent: 0,
            token,
            cached_until: 0,
            spool,
        },
    )
}

pub fn recv_to_file(
    actor: &mut InstanceActor,
    ctx: &mut Context<InstanceActor>,
    conn: u64,
    file: u64,
    len: u64,
    sha256: bool,
    token: u64,
) -> u32 {
    files::settle_direct(actor, ctx, file);
    let Some(OpenFile::Temp(temp, _)) = actor.res.files.get(&file) else {
        return abi::SY_ERR_INVALID;
    };
    let Some(c) = actor.res.conns.get(&conn) else {
        return abi::SY_ERR_INVALID;
    };
    if c.recv.is_some() || c.recv_finishing {
        return abi::SY_ERR_INVALID;
    }
    let direct = if c.eof {
        None
    } else {
        match DirectSink::open_direct(temp.file(), len, sha256) {
            Ok(d) => d.map(|d| Rc::new(RefCell::new(d))),
            Err(e) => return io_status(&e),
        }
    };
    let (hasher, writeback) = if direct.is_some() {
        (None, None)
    } else {
        let hasher = if sha256 {
            match hash_whole(temp.file()) {
                Ok(h) => Some(h),
                Err(e) => return io_status(&e),
            }
        } else {
            None
        };
        // A second descriptor for the blocking pool; without it, no early writeback.
        (hasher, temp.file().try_clone().ok().map(Writeback::new))
    };
    let Some(c) = actor.res.conns.get_mut(&conn) else {
        return abi::SY_ERR_INVALID;
    };
    match &direct {
        Some(d) => {
            if d.borrow().is_direct() {
                actor.shared.metrics.receives_direct.inc();
            }
            c.read.set_direct(Some(Rc::clone(d)));
            let done = d.borrow().writer_done();
            actor.res.direct_writers.insert(file, done);
        }
        None => c.read.set_chunk(crate::actor::conn::FILE_READ_CHUNK),
    }
    c.recv = Some(RecvToFile {
        file,
        remaining: len,
        received: 0,
        token,
        hasher,
        writeback,
        direct,
    });
    if len == 0 || c.eof {
        let status = if len == 0 {
            Ok(())
        } else {
            Err(abi::SY_ERR_CLOSED)
        };
        ctx.run_later(Duration::ZERO, move |act, ctx| {
            act.finish_recv(conn, status, ctx)
        });
    }
    abi::SY_OK
}

/// A sha256 state over everything already in `file`: a receive's digest covers the
/// whole file (the plain path; a direct receive hashes on its own thread).
fn hash_whole(file: &std::fs::File) -> io::Result<sha2::Sha256> {
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut off = 0u64;
    loop {
        match file.read_at(&mut buf, off) {
            Ok(0) => return Ok(h),
            Ok(n) => {
                h.update(&buf[..n]);
                off += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
