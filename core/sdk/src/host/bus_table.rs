//! The cluster bus entries of [`super::HOST_API`]: `bus_publish`, `bus_subscribe`,
//! `bus_unsubscribe`, `bus_kv_begin`, `bus_identity` and `bus_stream_read`, decoded and checked like every other entry. A subject that NATS
//! would read as another (a wildcard, an empty token, whitespace) or a flag this SDK
//! does not know is refused here, for the host and `MockHost` alike.

use super::decode::{bytes_arg, dispatch, malformed, put, str_arg};
use crate::KvOp;
use crate::abi::{
    SY_BUS_OWN, SY_ERR_IO, SY_ERR_LIMIT, SY_OK, SyBusKvOp, SyBytes, SyHostCtx, SyStr,
};
use crate::bus_subject::{bucket_problem, subject_problem};

/// The subject, when it is one NATS reads as meant.
fn subject_arg<'a>(s: SyStr) -> Option<&'a str> {
    str_arg(s).filter(|subject| subject_problem(subject).is_none())
}

pub(super) unsafe extern "C" fn h_bus_publish(
    ctx: *mut SyHostCtx,
    subject: SyStr,
    type_name: SyStr,
    data: SyBytes,
) -> u32 {
    let (Some(subject), Some(type_name), Some(data)) =
        (subject_arg(subject), str_arg(type_name), bytes_arg(data))
    else {
        return malformed(ctx, "bus_publish");
    };
    dispatch(ctx, SY_ERR_IO, |c| c.bus_publish(subject, type_name, data))
}

pub(super) unsafe extern "C" fn h_bus_subscribe(
    ctx: *mut SyHostCtx,
    subject: SyStr,
    flags: u32,
    token: u64,
) -> u32 {
    let Some(subject) = subject_arg(subject).filter(|_| flags & !SY_BUS_OWN == 0) else {
        return malformed(ctx, "bus_subscribe");
    };
    dispatch(ctx, SY_ERR_IO, |c| {
        c.bus_subscribe(subject, flags & SY_BUS_OWN != 0, token)
    })
}

pub(super) unsafe extern "C" fn h_bus_unsubscribe(ctx: *mut SyHostCtx, token: u64) -> u32 {
    dispatch(ctx, SY_ERR_IO, |c| c.bus_unsubscribe(token))
}

pub(super) unsafe extern "C" fn h_bus_kv_begin(
    ctx: *mut SyHostCtx,
    op: *const SyBusKvOp,
    token: u64,
) -> u32 {
    // SAFETY: the plugin lends `op` for the call (or passes null, refused).
    let Some(raw) = (unsafe { op.as_ref() }) else {
        return malformed(ctx, "bus_kv_begin");
    };
    if (raw.struct_size as usize) < std::mem::size_of::<SyBusKvOp>() {
        return malformed(ctx, "bus_kv_begin");
    }
    let decoded = (str_arg(raw.bucket), str_arg(raw.key), bytes_arg(raw.value));
    let (Some(bucket), Some(key), Some(value)) = decoded else {
        return malformed(ctx, "bus_kv_begin");
    };
    let Some(op) = KvOp::from_raw(raw, bucket, key, value) else {
        return malformed(ctx, "bus_kv_begin");
    };
    dispatch(ctx, SY_ERR_IO, |c| c.bus_kv_begin(op, token))
}

pub(super) unsafe extern "C" fn h_bus_identity(
    ctx: *mut SyHostCtx,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> u32 {
    if buf.is_null() && cap != 0 {
        return malformed(ctx, "bus_identity");
    }
    dispatch(ctx, SY_ERR_IO, |c| match c.bus_identity() {
        Ok(name) => {
            put(len, name.len());
            if name.len() > cap {
                return SY_ERR_LIMIT;
            }
            // SAFETY: the plugin lends `cap` writable bytes at `buf` for the call
            // (non-null whenever `cap` is not 0, checked above).
            unsafe { std::ptr::copy_nonoverlapping(name.as_ptr(), buf, name.len()) };
            SY_OK
        }
        Err(status) => status,
    })
}

pub(super) unsafe extern "C" fn h_bus_stream_read(
    ctx: *mut SyHostCtx,
    stream: SyStr,
    start: u64,
    token: u64,
) -> u32 {
    let Some(stream) = str_arg(stream).filter(|s| bucket_problem(s).is_none()) else {
        return malformed(ctx, "bus_stream_read");
    };
    dispatch(ctx, SY_ERR_IO, |c| c.bus_stream_read(stream, start, token))
}
