//! Decoding a plugin's raw arguments for the `extern "C"` entries of [`super::HOST_API`]:
//! the context lent for the call, strings, bytes, addresses and out-pointers — every
//! one checked, so a malformed argument is refused before host code runs.

use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::calls::{HostCalls, Lent};
use crate::abi::{self, SY_ERR_INVALID, SyAddr, SyBytes, SyHostCtx, SyStr};

/// Recover the `HostCalls` of this call and run `f` on it, catching host panics.
pub(super) fn dispatch<R>(
    ctx: *mut SyHostCtx,
    on_panic: R,
    f: impl FnOnce(&mut dyn HostCalls) -> R,
) -> R {
    if ctx.is_null() {
        return on_panic;
    }
    // SAFETY: every ctx given to this table is a `Lent` slot made by `with_ctx` (or
    // `MockHost::raw_ctx`), valid for the call. The pointer is copied out, so no
    // reference to the slot is alive while the context (which may hold it) is borrowed.
    let Lent(calls) = unsafe { ctx.cast::<Lent<'_>>().read() };
    // SAFETY: the lender gave up its borrow of the context for the call: this is the
    // only reference to it until the entry returns.
    let calls = unsafe { &mut *calls };
    catch_unwind(AssertUnwindSafe(|| f(calls))).unwrap_or(on_panic)
}

/// Refuse a call whose arguments cannot be decoded, telling the context (which logs it).
pub(super) fn malformed(ctx: *mut SyHostCtx, call: &'static str) -> u32 {
    dispatch(ctx, (), |c| c.malformed(call));
    SY_ERR_INVALID
}

// The decoders below borrow the plugin's memory: use them only on the arguments of the
// entry being run, which the plugin lends for the call.

pub(super) fn str_arg<'a>(s: SyStr) -> Option<&'a str> {
    if s.ptr.is_null() && s.len != 0 {
        return None;
    }
    // SAFETY: the plugin lends `s` for the call (null only with len 0, checked above).
    std::str::from_utf8(unsafe { s.as_bytes() }).ok()
}

pub(super) fn bytes_arg<'a>(b: SyBytes) -> Option<&'a [u8]> {
    if b.ptr.is_null() && b.len != 0 {
        return None;
    }
    // SAFETY: the plugin lends `b` for the call.
    Some(unsafe { b.as_slice() })
}

pub(super) fn addr_arg(a: *const SyAddr) -> Option<SocketAddr> {
    // SAFETY: the plugin lends `a` for the call (or passes null, refused).
    unsafe { a.as_ref() }.and_then(SyAddr::to_socket_addr)
}

/// Write `value` to an out-pointer the plugin gave us, if non-null.
pub(super) fn put<T>(out: *mut T, value: T) {
    // SAFETY: the plugin lends a writable out-pointer for the call (null is skipped).
    if let Some(slot) = unsafe { out.as_mut() } {
        *slot = value;
    }
}

pub(super) fn status<T>(r: Result<T, u32>, out: impl FnOnce(T)) -> u32 {
    match r {
        Ok(v) => {
            out(v);
            abi::SY_OK
        }
        Err(s) => s,
    }
}
