//! The storage operation entries of [`super::HOST_API`]: `storage_begin` and
//! `storage_listing`, decoded and checked like every other entry.

use std::ffi::c_void;

use super::decode::{dispatch, malformed, put, str_arg};
use crate::abi::{self, SY_ERR_IO, SyHostCtx, SyListFn, SyStorageDone, SyStorageOp, SyStr};
use crate::store_op::StoreOp;

/// Call the plugin's `each` for every entry of a listing.
pub(super) fn list_to(entries: &[(String, abi::SyStat)], each: SyListFn, user: *mut c_void) {
    for (name, st) in entries {
        // SAFETY: the plugin's callback, given values valid for the call; no borrow of
        // the host context is live while it runs.
        unsafe { each(user, SyStr::from_str(name), st) }
    }
}

pub(super) unsafe extern "C" fn h_storage_begin(
    ctx: *mut SyHostCtx,
    op: *const SyStorageOp,
    token: u64,
    out: *mut SyStorageDone,
) -> u32 {
    // SAFETY: the plugin lends `op` for the call (or passes null, refused).
    let Some(raw) = (unsafe { op.as_ref() }) else {
        return malformed(ctx, "storage_begin");
    };
    if (raw.struct_size as usize) < std::mem::size_of::<SyStorageOp>() {
        return malformed(ctx, "storage_begin");
    }
    let Some(op) = str_arg(raw.path).and_then(|path| StoreOp::from_raw(raw, path)) else {
        return malformed(ctx, "storage_begin");
    };
    dispatch(ctx, SY_ERR_IO, |c| match c.storage_begin(op, token) {
        Ok(Some(done)) => {
            put(out, done);
            abi::SY_OK
        }
        Ok(None) => abi::SY_PENDING,
        Err(status) => status,
    })
}

pub(super) unsafe extern "C" fn h_storage_listing(
    ctx: *mut SyHostCtx,
    token: u64,
    each: SyListFn,
    user: *mut c_void,
) -> u32 {
    match dispatch(ctx, Err(SY_ERR_IO), |c| c.storage_listing(token)) {
        Ok(entries) => {
            list_to(&entries, each, user);
            abi::SY_OK
        }
        Err(status) => status,
    }
}
