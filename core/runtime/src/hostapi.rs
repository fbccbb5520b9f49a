//! The host side of [`SyHostApi`]: one static table of `extern "C"` functions that
//! decode their arguments and dispatch to a [`HostCalls`] implementation.
//!
//! The opaque `SyHostCtx` pointer a plugin gets is a pointer to a `&mut dyn HostCalls`
//! living on the host's stack for the duration of one call, so the same table serves
//! config checks (which only log and report errors) and running instances (which own
//! sockets, timers and files). Every argument is validated here — null pointers, bad
//! addresses, non-UTF-8 paths — so a malformed action from a plugin is refused with
//! `SY_ERR_INVALID` instead of reaching the I/O code. Every function catches panics of
//! the host's own code: unwinding into a plugin's frames would be undefined behaviour.

use std::ffi::c_void;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};

use switchyard_sdk::abi::{
    self, SY_ERR_INVALID, SY_ERR_IO, SY_ERR_UNSUPPORTED, SyAddr, SyBytes, SyHostApi, SyHostCtx,
    SyListFn, SyStat, SyStr,
};

/// What a plugin may ask of the host. Every method has a default that refuses with
/// `SY_ERR_UNSUPPORTED`, so a context implements only what it offers.
#[allow(unused_variables)]
pub trait HostCalls {
    fn log(&mut self, level: u32, msg: &str);
    fn config_error(&mut self, msg: &str, line: u32, col: u32) {}
    fn send_datagram(&mut self, socket: u64, to: SocketAddr, data: &[u8]) -> u32 {
        SY_ERR_UNSUPPORTED
    }
    fn send_datagram_file(
        &mut self,
        socket: u64,
        to: SocketAddr,
        header: &[u8],
        file: u64,
        offset: u64,
        len: u32,
    ) -> Result<u32, u32> {
        Err(SY_ERR_UNSUPPORTED)
    }
    fn open_udp(&mut self, like_socket: u64) -> Result<(u64, SocketAddr), u32> {
        Err(SY_ERR_UNSUPPORTED)
    }
    fn close_socket(&mut self, socket: u64) -> u32 {
        SY_ERR_UNSUPPORTED
    }
    fn write(&mut self, conn: u64, data: &[u8]) -> u32 {
        SY_ERR_UNSUPPORTED
    }
    fn notify_drained(&mut self, conn: u64, token: u64) -> u32 {
        SY_ERR_UNSUPPORTED
    }
    fn shutdown_write(&mut self, conn: u64) -> u32 {
        SY_ERR_UNSUPPORTED
    }
    fn close(&mut self, conn: u64) -> u32 {
        SY_ERR_UNSUPPORTED
    }
    fn set_reading(&mut self, conn: u64, on: bool) -> u32 {
        SY_ERR_UNSUPPORTED
    }
    fn send_file(&mut self, conn: u64, file: u64, offset: u64, len: u64, token: u64) -> u32 {
        SY_ERR_UNSUPPORTED
    }
    fn recv_to_file(&mut self, conn: u64, file: u64, len: u64, sha256: bool, token: u64) -> u32 {
        SY_ERR_UNSUPPORTED
    }
    fn set_timer(&mut self, token: u64, delay_ms: u64) -> u32 {
        SY_ERR_UNSUPPORTED
    }
    fn cancel_timer(&mut self, token: u64) -> u32 {
        SY_ERR_UNSUPPORTED
    }
    fn emit(&mut self, port: u32, data: &[u8]) -> u32 {
        SY_ERR_UNSUPPORTED
    }
    fn open_read(&mut self, path: &str) -> Result<(u64, u64), u32> {
        Err(SY_ERR_UNSUPPORTED)
    }
    fn read_file(&mut self, file: u64, offset: u64, buf: &mut [u8]) -> Result<usize, u32> {
        Err(SY_ERR_UNSUPPORTED)
    }
    fn create_temp(&mut self, path: &str) -> Result<u64, u32> {
        Err(SY_ERR_UNSUPPORTED)
    }
    fn write_file(&mut self, file: u64, data: &[u8]) -> u32 {
        SY_ERR_UNSUPPORTED
    }
    fn commit_file(&mut self, file: u64, path: &str, overwrite: bool) -> u32 {
        SY_ERR_UNSUPPORTED
    }
    fn close_file(&mut self, file: u64) -> u32 {
        SY_ERR_UNSUPPORTED
    }
    fn stat(&mut self, path: &str) -> Result<SyStat, u32> {
        Err(SY_ERR_UNSUPPORTED)
    }
    /// The entries of a directory. The plugin's callback is called with them only
    /// after this returns, so a callback that calls the host never aliases `self`.
    fn list_dir(&mut self, path: &str) -> Result<Vec<(String, SyStat)>, u32> {
        Err(SY_ERR_UNSUPPORTED)
    }
    fn remove_file(&mut self, path: &str) -> u32 {
        SY_ERR_UNSUPPORTED
    }
    fn free_space(&mut self) -> Result<u64, u32> {
        Err(SY_ERR_UNSUPPORTED)
    }
    fn prefetch_file(&mut self, file: u64, offset: u64, len: u64, token: u64) -> u32 {
        SY_ERR_UNSUPPORTED
    }
    fn open_partial(&mut self, path: &str) -> Result<(u64, u64), u32> {
        Err(SY_ERR_UNSUPPORTED)
    }
    /// The plugin made call `call` with arguments that cannot be decoded (a null pointer
    /// with a length, a bad address, a non-UTF-8 path); it got `SY_ERR_INVALID`. A
    /// context that logs should say so: it is a bug in the plugin.
    fn malformed(&mut self, call: &'static str) {}
}

/// Run `f` with the raw `(api, ctx)` pair that lends `calls` to a plugin for one call.
pub fn with_ctx<R>(
    calls: &mut dyn HostCalls,
    f: impl FnOnce(*const SyHostApi, *mut SyHostCtx) -> R,
) -> R {
    let mut fat: &mut dyn HostCalls = calls;
    let ctx = &mut fat as *mut &mut dyn HostCalls as *mut SyHostCtx;
    f(&HOST_API, ctx)
}

/// Recover the `HostCalls` of this call and run `f` on it, catching host panics.
fn dispatch<R>(ctx: *mut SyHostCtx, on_panic: R, f: impl FnOnce(&mut dyn HostCalls) -> R) -> R {
    if ctx.is_null() {
        return on_panic;
    }
    // SAFETY: every ctx the host hands out is made by `with_ctx` and valid for the call.
    let calls = unsafe { &mut *(ctx as *mut &mut dyn HostCalls) };
    catch_unwind(AssertUnwindSafe(|| f(&mut **calls))).unwrap_or(on_panic)
}

/// Refuse a call whose arguments cannot be decoded, telling the context (which logs it).
fn malformed(ctx: *mut SyHostCtx, call: &'static str) -> u32 {
    dispatch(ctx, (), |c| c.malformed(call));
    SY_ERR_INVALID
}

fn str_arg<'a>(s: SyStr) -> Option<&'a str> {
    if s.ptr.is_null() && s.len != 0 {
        return None;
    }
    // SAFETY: the plugin lends `s` for the call (null only with len 0, checked above).
    std::str::from_utf8(unsafe { s.as_bytes() }).ok()
}

fn bytes_arg<'a>(b: SyBytes) -> Option<&'a [u8]> {
    if b.ptr.is_null() && b.len != 0 {
        return None;
    }
    // SAFETY: the plugin lends `b` for the call.
    Some(unsafe { b.as_slice() })
}

fn addr_arg(a: *const SyAddr) -> Option<SocketAddr> {
    // SAFETY: the plugin lends `a` for the call (or passes null, refused).
    unsafe { a.as_ref() }.and_then(SyAddr::to_socket_addr)
}

/// Write `value` to an out-pointer the plugin gave us, if non-null.
fn put<T>(out: *mut T, value: T) {
    // SAFETY: the plugin lends a writable out-pointer for the call (null is skipped).
    if let Some(slot) = unsafe { out.as_mut() } {
        *slot = value;
    }
}

fn status<T>(r: Result<T, u32>, out: impl FnOnce(T)) -> u32 {
    match r {
        Ok(v) => {
            out(v);
            abi::SY_OK
        }
        Err(s) => s,
    }
}

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
    for (name, st) in &entries {
        // SAFETY: the plugin's callback, given values valid for the call; no borrow of
        // the host context is live while it runs.
        unsafe { each(user, SyStr::from_str(name), st) }
    }
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

/// The one host API table.
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
};

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Recorder {
        sends: Vec<(u64, SocketAddr, Vec<u8>)>,
        logs: Vec<String>,
        malformed: Vec<&'static str>,
    }

    impl HostCalls for Recorder {
        fn log(&mut self, _level: u32, msg: &str) {
            self.logs.push(msg.to_owned());
        }
        fn send_datagram(&mut self, socket: u64, to: SocketAddr, data: &[u8]) -> u32 {
            self.sends.push((socket, to, data.to_vec()));
            abi::SY_OK
        }
        fn malformed(&mut self, call: &'static str) {
            self.malformed.push(call);
        }
    }

    #[test]
    fn a_call_reaches_the_context_it_was_lent_to() {
        let mut rec = Recorder::default();
        let to: SocketAddr = "[::1]:5353".parse().unwrap();
        let status = with_ctx(&mut rec, |api, ctx| {
            let addr = SyAddr::from(to);
            // SAFETY: our own table and context.
            unsafe { ((*api).send_datagram)(ctx, 9, &addr, SyBytes::from_slice(b"abc")) }
        });
        assert_eq!(status, abi::SY_OK);
        assert_eq!(rec.sends, vec![(9, to, b"abc".to_vec())]);
    }

    #[test]
    fn malformed_arguments_are_refused_before_dispatch() {
        let mut rec = Recorder::default();
        let statuses = with_ctx(&mut rec, |api, ctx| {
            // SAFETY: deliberately bad arguments; the table must refuse them.
            unsafe {
                let api = &*api;
                let bad_bytes = SyBytes {
                    ptr: std::ptr::null(),
                    len: 5,
                };
                let bad_family = SyAddr {
                    family: 9,
                    ..SyAddr::default()
                };
                let good = SyAddr::from("127.0.0.1:1".parse::<SocketAddr>().unwrap());
                [
                    (api.send_datagram)(ctx, 1, std::ptr::null(), SyBytes::EMPTY),
                    (api.send_datagram)(ctx, 1, &bad_family, SyBytes::EMPTY),
                    (api.send_datagram)(ctx, 1, &good, bad_bytes),
                    (api.open_read)(
                        ctx,
                        SyStr {
                            ptr: std::ptr::null(),
                            len: 3,
                        },
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                    ),
                    (api.open_read)(
                        ctx,
                        SyStr::from_str("\u{0}"),
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                    ),
                    (api.read_file)(ctx, 1, 0, std::ptr::null_mut(), 10, std::ptr::null_mut()),
                ]
            }
        });
        assert_eq!(&statuses[..3], &[SY_ERR_INVALID; 3]);
        assert_eq!(statuses[3], SY_ERR_INVALID);
        // Valid UTF-8 reaches the context, which does not offer storage here.
        assert_eq!(statuses[4], SY_ERR_UNSUPPORTED);
        assert_eq!(statuses[5], SY_ERR_INVALID);
        assert!(rec.sends.is_empty());
        // Each refusal is reported to the context (which logs it), the valid call not.
        assert_eq!(
            rec.malformed,
            [
                "send_datagram",
                "send_datagram",
                "send_datagram",
                "open_read",
                "read_file"
            ]
        );
    }

    #[test]
    fn a_null_context_is_refused() {
        // SAFETY: a null ctx must be refused, not dereferenced.
        let status = unsafe { (HOST_API.close)(std::ptr::null_mut(), 1) };
        assert_eq!(status, SY_ERR_IO);
    }

    #[test]
    fn non_utf8_logs_are_kept_lossily() {
        let mut rec = Recorder::default();
        with_ctx(&mut rec, |api, ctx| {
            let bytes = [b'o', b'k', 0xff];
            // SAFETY: our own table and context.
            unsafe {
                ((*api).log)(
                    ctx,
                    abi::SY_LOG_INFO,
                    SyStr {
                        ptr: bytes.as_ptr(),
                        len: bytes.len(),
                    },
                )
            }
        });
        assert_eq!(rec.logs, vec!["ok\u{fffd}".to_string()]);
    }
}
