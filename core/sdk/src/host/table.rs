//! The one [`SyHostApi`] table: `extern "C"` functions that decode their arguments,
//! refuse malformed ones, and dispatch to the [`HostCalls`] lent through `ctx`.
//!
//! Every argument is validated here — null pointers, bad addresses, non-UTF-8 paths —
//! so a malformed action from a plugin is refused with `SY_ERR_INVALID` (and reported
//! to [`HostCalls::malformed`]) instead of reaching the host's I/O code.

use std::ffi::c_void;

use super::bus_table::{
    h_bus_identity, h_bus_kv_begin, h_bus_publish, h_bus_stream_read, h_bus_subscribe,
    h_bus_unsubscribe,
};
use super::calls::HostCalls;
use super::decode::{addr_arg, bytes_arg, dispatch, malformed, put, status, str_arg};
use super::store_table::{h_storage_begin, h_storage_listing, list_to};
use crate::abi::{
    self, SY_ERR_IO, SyAddr, SyBytes, SyHostApi, SyHostCtx, SyListFn, SySession, SyStat, SyStr,
};
use crate::event::ConnId;
use crate::session::{Direction, Session};

unsafe extern "C" fn h_log(ctx: *mut SyHostCtx, level: u32, msg: SyStr) {
    let msg = match str_arg(msg) {
        Some(text) => text.to_owned(),
        // Lossy for plugins that log non-UTF-8; nothing for a null pointer.
        None if msg.ptr.is_null() => String::new(),
        // SAFETY: non-null, lent by the plugin for the call.
        None => unsafe { msg.to_string_lossy() }.into_owned(),
    };
    dispatch(ctx, (), |c| c.log(level, &msg))
}
unsafe extern "C" fn h_config_error(ctx: *mut SyHostCtx, msg: SyStr, line: u32, col: u32) {
    let msg = str_arg(msg).unwrap_or("(message not UTF-8)");
    dispatch(ctx, (), |c| c.config_error(msg, line, col))
}
unsafe extern "C" fn h_send_datagram(
    ctx: *mut SyHostCtx,
    socket: u64,
    to: *const SyAddr,
    data: SyBytes,
) -> u32 {
    let (Some(to), Some(data)) = (addr_arg(to), bytes_arg(data)) else {
        return malformed(ctx, "send_datagram");
    };
    dispatch(ctx, SY_ERR_IO, |c| c.send_datagram(socket, to, data))
}
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn h_send_datagram_file(
    ctx: *mut SyHostCtx,
    socket: u64,
    to: *const SyAddr,
    header: SyBytes,
    file: u64,
    offset: u64,
    len: u32,
    out_sent: *mut u32,
) -> u32 {
    let (Some(to), Some(header)) = (addr_arg(to), bytes_arg(header)) else {
        return malformed(ctx, "send_datagram_file");
    };
    dispatch(ctx, SY_ERR_IO, |c| {
        status(
            c.send_datagram_file(socket, to, header, file, offset, len),
            |n| put(out_sent, n),
        )
    })
}
unsafe extern "C" fn h_open_udp(
    ctx: *mut SyHostCtx,
    like: u64,
    out: *mut u64,
    local: *mut SyAddr,
) -> u32 {
    dispatch(ctx, SY_ERR_IO, |c| {
        status(c.open_udp(like), |(id, addr)| {
            put(out, id);
            put(local, SyAddr::from(addr));
        })
    })
}
unsafe extern "C" fn h_close_socket(ctx: *mut SyHostCtx, socket: u64) -> u32 {
    dispatch(ctx, SY_ERR_IO, |c| c.close_socket(socket))
}
unsafe extern "C" fn h_write(ctx: *mut SyHostCtx, conn: u64, data: SyBytes) -> u32 {
    let Some(data) = bytes_arg(data) else {
        return malformed(ctx, "write");
    };
    dispatch(ctx, SY_ERR_IO, |c| c.write(conn, data))
}
unsafe extern "C" fn h_notify_drained(ctx: *mut SyHostCtx, conn: u64, token: u64) -> u32 {
    dispatch(ctx, SY_ERR_IO, |c| c.notify_drained(conn, token))
}
unsafe extern "C" fn h_shutdown_write(ctx: *mut SyHostCtx, conn: u64) -> u32 {
    dispatch(ctx, SY_ERR_IO, |c| c.shutdown_write(conn))
}
unsafe extern "C" fn h_close(ctx: *mut SyHostCtx, conn: u64) -> u32 {
    dispatch(ctx, SY_ERR_IO, |c| c.close(conn))
}
unsafe extern "C" fn h_set_reading(ctx: *mut SyHostCtx, conn: u64, on: u32) -> u32 {
    dispatch(ctx, SY_ERR_IO, |c| c.set_reading(conn, on != 0))
}
unsafe extern "C" fn h_send_file(
    ctx: *mut SyHostCtx,
    conn: u64,
    file: u64,
    offset: u64,
    len: u64,
    token: u64,
) -> u32 {
    dispatch(ctx, SY_ERR_IO, |c| {
        c.send_file(conn, file, offset, len, token)
    })
}
unsafe extern "C" fn h_recv_to_file(
    ctx: *mut SyHostCtx,
    conn: u64,
    file: u64,
    len: u64,
    flags: u32,
    token: u64,
) -> u32 {
    dispatch(ctx, SY_ERR_IO, |c| {
        c.recv_to_file(conn, file, len, flags & abi::SY_RECV_SHA256 != 0, token)
    })
}
unsafe extern "C" fn h_set_timer(ctx: *mut SyHostCtx, token: u64, delay_ms: u64) -> u32 {
    dispatch(ctx, SY_ERR_IO, |c| c.set_timer(token, delay_ms))
}
unsafe extern "C" fn h_cancel_timer(ctx: *mut SyHostCtx, token: u64) -> u32 {
    dispatch(ctx, SY_ERR_IO, |c| c.cancel_timer(token))
}
unsafe extern "C" fn h_emit(ctx: *mut SyHostCtx, port: u32, data: SyBytes) -> u32 {
    let Some(data) = bytes_arg(data) else {
        return malformed(ctx, "emit");
    };
    dispatch(ctx, SY_ERR_IO, |c| c.emit(port, data))
}
/// The calls that open a path and hand back a file id and its size (checked like every
/// entry: a malformed path is refused and reported, null out-pointers are skipped).
fn open_sized(
    ctx: *mut SyHostCtx,
    call: &'static str,
    path: SyStr,
    out: *mut u64,
    size: *mut u64,
    open: impl FnOnce(&mut dyn HostCalls, &str) -> Result<(u64, u64), u32>,
) -> u32 {
    let Some(path) = str_arg(path) else {
        return malformed(ctx, call);
    };
    dispatch(ctx, SY_ERR_IO, |c| {
        status(open(c, path), |(id, len)| {
            put(out, id);
            put(size, len);
        })
    })
}
unsafe extern "C" fn h_open_read(
    ctx: *mut SyHostCtx,
    path: SyStr,
    out: *mut u64,
    size: *mut u64,
) -> u32 {
    open_sized(ctx, "open_read", path, out, size, |c, p| c.open_read(p))
}
unsafe extern "C" fn h_open_partial(
    ctx: *mut SyHostCtx,
    path: SyStr,
    out: *mut u64,
    size: *mut u64,
) -> u32 {
    open_sized(ctx, "open_partial", path, out, size, |c, p| {
        c.open_partial(p)
    })
}
unsafe extern "C" fn h_read_file(
    ctx: *mut SyHostCtx,
    file: u64,
    offset: u64,
    buf: *mut u8,
    len: usize,
    out: *mut usize,
) -> u32 {
    if buf.is_null() && len != 0 {
        return malformed(ctx, "read_file");
    }
    let buf: &mut [u8] = if len == 0 {
        &mut []
    } else {
        // SAFETY: the plugin lends `len` writable bytes at `buf` for the call.
        unsafe { std::slice::from_raw_parts_mut(buf, len) }
    };
    dispatch(ctx, SY_ERR_IO, |c| {
        status(c.read_file(file, offset, buf), |n| put(out, n))
    })
}
unsafe extern "C" fn h_create_temp(ctx: *mut SyHostCtx, path: SyStr, out: *mut u64) -> u32 {
    let Some(path) = str_arg(path) else {
        return malformed(ctx, "create_temp");
    };
    dispatch(ctx, SY_ERR_IO, |c| {
        status(c.create_temp(path), |id| put(out, id))
    })
}
unsafe extern "C" fn h_write_file(ctx: *mut SyHostCtx, file: u64, data: SyBytes) -> u32 {
    let Some(data) = bytes_arg(data) else {
        return malformed(ctx, "write_file");
    };
    dispatch(ctx, SY_ERR_IO, |c| c.write_file(file, data))
}
unsafe extern "C" fn h_commit_file(ctx: *mut SyHostCtx, file: u64, path: SyStr, flags: u32) -> u32 {
    let Some(path) = str_arg(path) else {
        return malformed(ctx, "commit_file");
    };
    dispatch(ctx, SY_ERR_IO, |c| {
        c.commit_file(file, path, flags & abi::SY_COMMIT_OVERWRITE != 0)
    })
}
unsafe extern "C" fn h_close_file(ctx: *mut SyHostCtx, file: u64) -> u32 {
    dispatch(ctx, SY_ERR_IO, |c| c.close_file(file))
}
unsafe extern "C" fn h_stat(ctx: *mut SyHostCtx, path: SyStr, out: *mut SyStat) -> u32 {
    let Some(path) = str_arg(path) else {
        return malformed(ctx, "stat");
    };
    dispatch(ctx, SY_ERR_IO, |c| status(c.stat(path), |st| put(out, st)))
}
unsafe extern "C" fn h_list_dir(
    ctx: *mut SyHostCtx,
    path: SyStr,
    each: SyListFn,
    user: *mut c_void,
) -> u32 {
    let Some(path) = str_arg(path) else {
        return malformed(ctx, "list_dir");
    };
    let entries = match dispatch(ctx, Err(SY_ERR_IO), |c| c.list_dir(path)) {
        Ok(entries) => entries,
        Err(status) => return status,
    };
    list_to(&entries, each, user);
    abi::SY_OK
}
unsafe extern "C" fn h_remove_file(ctx: *mut SyHostCtx, path: SyStr) -> u32 {
    let Some(path) = str_arg(path) else {
        return malformed(ctx, "remove_file");
    };
    dispatch(ctx, SY_ERR_IO, |c| c.remove_file(path))
}
unsafe extern "C" fn h_free_space(ctx: *mut SyHostCtx, out: *mut u64) -> u32 {
    dispatch(ctx, SY_ERR_IO, |c| status(c.free_space(), |n| put(out, n)))
}

unsafe extern "C" fn h_prefetch_file(
    ctx: *mut SyHostCtx,
    file: u64,
    offset: u64,
    len: u64,
    token: u64,
) -> u32 {
    dispatch(ctx, SY_ERR_IO, |c| {
        c.prefetch_file(file, offset, len, token)
    })
}

/// A plugin's session description, checked: a whole struct, UTF-8 strings, a known
/// address family (or none).
fn session_arg<'a>(info: *const SySession) -> Option<Session<'a>> {
    // SAFETY: the plugin lends `info` for the call (or passes null, refused).
    let raw = unsafe { info.as_ref() }?;
    if (raw.struct_size as usize) < std::mem::size_of::<SySession>() {
        return None;
    }
    let peer = match raw.peer.family {
        0 => None,
        _ => Some(raw.peer.to_socket_addr()?),
    };
    Some(Session {
        direction: Direction::from_raw(raw.direction),
        peer,
        conn: (raw.conn != 0).then_some(ConnId(raw.conn)),
        resource: str_arg(raw.resource)?,
        state: str_arg(raw.state)?,
        bytes_done: raw.bytes_done,
        bytes_total: (raw.bytes_total != 0).then_some(raw.bytes_total),
    })
}

unsafe extern "C" fn h_session_update(
    ctx: *mut SyHostCtx,
    session: u64,
    info: *const SySession,
) -> u32 {
    let Some(info) = session_arg(info) else {
        return malformed(ctx, "session_update");
    };
    dispatch(ctx, SY_ERR_IO, |c| c.session_update(session, &info))
}
unsafe extern "C" fn h_session_end(ctx: *mut SyHostCtx, session: u64, result: SyStr) -> u32 {
    let Some(result) = str_arg(result) else {
        return malformed(ctx, "session_end");
    };
    dispatch(ctx, SY_ERR_IO, |c| c.session_end(session, result))
}
unsafe extern "C" fn h_hand_over_state(ctx: *mut SyHostCtx, version: u32, data: SyBytes) -> u32 {
    let Some(data) = bytes_arg(data) else {
        return malformed(ctx, "hand_over_state");
    };
    dispatch(ctx, SY_ERR_IO, |c| c.hand_over_state(version, data))
}

unsafe extern "C" fn h_counter_take(
    ctx: *mut SyHostCtx,
    name: SyStr,
    limit: u64,
    out_value: *mut u64,
) -> u32 {
    let Some(name) = str_arg(name).filter(|_| !out_value.is_null()) else {
        return malformed(ctx, "counter_take");
    };
    dispatch(ctx, SY_ERR_IO, |c| match c.counter_take(name, limit) {
        Ok(value) => {
            // SAFETY: checked non-null; the plugin lends it for the call.
            unsafe { out_value.write(value) };
            abi::SY_OK
        }
        Err(status) => status,
    })
}
unsafe extern "C" fn h_counter_give(ctx: *mut SyHostCtx, name: SyStr) -> u32 {
    let Some(name) = str_arg(name) else {
        return malformed(ctx, "counter_give");
    };
    dispatch(ctx, SY_ERR_IO, |c| c.counter_give(name))
}

unsafe extern "C" fn h_file_digest(ctx: *mut SyHostCtx, file: u64, out: *mut u8) -> u32 {
    if out.is_null() {
        return malformed(ctx, "file_digest");
    }
    dispatch(ctx, SY_ERR_IO, |c| {
        status(c.file_digest(file), |digest| {
            // SAFETY: the plugin lends 32 writable bytes at `out` for the call.
            unsafe { std::ptr::copy_nonoverlapping(digest.as_ptr(), out, digest.len()) }
        })
    })
}

unsafe extern "C" fn h_open_udp_in(
    ctx: *mut SyHostCtx,
    like: u64,
    port_lo: u16,
    port_hi: u16,
    out: *mut u64,
    local: *mut SyAddr,
) -> u32 {
    if port_lo == 0 || port_lo > port_hi {
        return malformed(ctx, "open_udp_in");
    }
    dispatch(ctx, SY_ERR_IO, |c| {
        status(c.open_udp_in(like, port_lo..=port_hi), |(id, addr)| {
            put(out, id);
            put(local, SyAddr::from(addr));
        })
    })
}

/// The one host API table, shared by every host and mock (see the module docs).
pub static HOST_API: SyHostApi = SyHostApi {
    struct_size: std::mem::size_of::<SyHostApi>() as u32,
    abi_version: abi::SY_ABI_VERSION,
    log: h_log,
    config_error: h_config_error,
    send_datagram: h_send_datagram,
    send_datagram_file: h_send_datagram_file,
    open_udp: h_open_udp,
    close_socket: h_close_socket,
    write: h_write,
    notify_drained: h_notify_drained,
    shutdown_write: h_shutdown_write,
    close: h_close,
    set_reading: h_set_reading,
    send_file: h_send_file,
    recv_to_file: h_recv_to_file,
    set_timer: h_set_timer,
    cancel_timer: h_cancel_timer,
    emit: h_emit,
    open_read: h_open_read,
    read_file: h_read_file,
    create_temp: h_create_temp,
    write_file: h_write_file,
    commit_file: h_commit_file,
    close_file: h_close_file,
    stat: h_stat,
    list_dir: h_list_dir,
    remove_file: h_remove_file,
    free_space: h_free_space,
    prefetch_file: h_prefetch_file,
    open_partial: h_open_partial,
    session_update: h_session_update,
    session_end: h_session_end,
    hand_over_state: h_hand_over_state,
    counter_take: h_counter_take,
    counter_give: h_counter_give,
    file_digest: h_file_digest,
    open_udp_in: h_open_udp_in,
    storage_begin: h_storage_begin,
    storage_listing: h_storage_listing,
    bus_publish: h_bus_publish,
    bus_subscribe: h_bus_subscribe,
    bus_unsubscribe: h_bus_unsubscribe,
    bus_kv_begin: h_bus_kv_begin,
    bus_identity: h_bus_identity,
    bus_stream_read: h_bus_stream_read,
};
