//! The [`Ctx`] calls for storage that may wait: [`Ctx::storage_begin`] and
//! [`Ctx::storage_listing`].
//!
//! Why beside the synchronous calls rather than instead of them: a dir storage answers
//! at once, and a plugin written before these calls keeps compiling and serving dirs.
//! A plugin that serves an object store states what it waits for (a token), goes on
//! with other sessions, and continues when [`crate::Event::StorageDone`] comes.

use std::ffi::c_void;
use std::task::Poll;

use crate::abi;
use crate::ctx::{Ctx, collect_entry};
use crate::error::HostError;
use crate::stat::Stat;
use crate::store_op::{StoreDone, StoreOp};

impl Ctx<'_> {
    /// Start storage operation `op`, answered by `token` (unique among this
    /// instance's operations in flight). `Ready` when it is done now (a dir storage);
    /// `Pending` when [`crate::Event::StorageDone`] with `token` will say how it ended
    /// (an s3 storage). A listing's entries: [`Ctx::storage_listing`] in the same call.
    pub fn storage_begin(
        &mut self,
        op: StoreOp<'_>,
        token: u64,
    ) -> Poll<Result<StoreDone, HostError>> {
        let raw = op.to_raw();
        let mut out = abi::SyStorageDone::default();
        // SAFETY: `raw` and its path are valid for the call; `out` is a valid local.
        match unsafe { (self.api.storage_begin)(self.raw, &raw, token, &mut out) } {
            abi::SY_OK => Poll::Ready(Ok(StoreDone::from_raw(&out))),
            abi::SY_PENDING => Poll::Pending,
            other => Poll::Ready(Err(HostError::from_status(other))),
        }
    }

    /// The entries of listing `token`, in the call in which it finished (right after
    /// [`Ctx::storage_begin`] answered, or during its [`crate::Event::StorageDone`]).
    pub fn storage_listing(&mut self, token: u64) -> Result<Vec<(String, Stat)>, HostError> {
        let mut out: Vec<(String, Stat)> = Vec::new();
        // SAFETY: `collect_entry` matches `SyListFn`; `out` outlives the call.
        HostError::check(unsafe {
            (self.api.storage_listing)(
                self.raw,
                token,
                collect_entry,
                &mut out as *mut _ as *mut c_void,
            )
        })?;
        Ok(out)
    }
}
