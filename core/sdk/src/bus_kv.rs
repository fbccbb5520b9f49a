//! [`KvOp`]: a key-value operation on the cluster bus, the safe view of `SyBusKvOp`,
//! used by both sides of the ABI (the plugin's [`crate::Ctx::bus_kv`], the host's
//! [`crate::host::HostCalls::bus_kv_begin`]).
//!
//! A claim ("exactly one agent takes this visitor", across hosts) is [`KvKind::Create`]:
//! of any number of concurrent creators of a key on any hosts, exactly one succeeds,
//! the others get [`crate::HostError::Exists`]. Keeping a claim is [`KvKind::Update`]
//! at the revision it got, which also renews its age against the bucket's expiry.

use crate::abi::{self, SyBusKvOp, SyBytes, SyStr};
use crate::bus_subject::{bucket_problem, key_problem};

/// What a [`KvOp`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvKind {
    /// The key's live value and revision.
    Get,
    /// Write the value whatever was there.
    Put,
    /// Write the value only if the key has no live value (a claim).
    Create,
    /// Write the value only if the key is still at `revision` (keep a claim).
    Update,
    /// Remove the key (release a claim).
    Delete,
}

/// One key-value operation on bucket `bucket` (entries expire `max_age_secs` after
/// their last write; 0: never).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvOp<'a> {
    pub kind: KvKind,
    pub bucket: &'a str,
    pub key: &'a str,
    /// `Put`, `Create`, `Update`; empty otherwise.
    pub value: &'a [u8],
    /// `Update`: the revision the key must still be at.
    pub revision: u64,
    pub max_age_secs: u32,
}

impl<'a> KvOp<'a> {
    /// `kind` on `bucket`/`key`, no value, no revision.
    pub fn new(kind: KvKind, bucket: &'a str, key: &'a str, max_age_secs: u32) -> KvOp<'a> {
        KvOp {
            kind,
            bucket,
            key,
            value: &[],
            revision: 0,
            max_age_secs,
        }
    }

    /// The same operation with `value`.
    pub fn with_value(self, value: &'a [u8]) -> KvOp<'a> {
        KvOp { value, ..self }
    }

    /// The same operation at `revision` (for `Update`).
    pub fn at_revision(self, revision: u64) -> KvOp<'a> {
        KvOp { revision, ..self }
    }

    /// The `SY_BUS_KV_*` of this operation.
    pub fn kind_code(&self) -> u32 {
        match self.kind {
            KvKind::Get => abi::SY_BUS_KV_GET,
            KvKind::Put => abi::SY_BUS_KV_PUT,
            KvKind::Create => abi::SY_BUS_KV_CREATE,
            KvKind::Update => abi::SY_BUS_KV_UPDATE,
            KvKind::Delete => abi::SY_BUS_KV_DELETE,
        }
    }

    /// The ABI struct, borrowing this operation's strings and bytes.
    pub fn to_raw(&self) -> SyBusKvOp {
        SyBusKvOp {
            struct_size: std::mem::size_of::<SyBusKvOp>() as u32,
            kind: self.kind_code(),
            bucket: SyStr::from_str(self.bucket),
            key: SyStr::from_str(self.key),
            value: SyBytes::from_slice(self.value),
            revision: self.revision,
            max_age_secs: self.max_age_secs,
            reserved0: 0,
        }
    }

    /// The operation `raw` describes, with its strings and bytes decoded by the
    /// caller; `None` for an unknown kind, a bad bucket or key.
    pub fn from_raw(
        raw: &SyBusKvOp,
        bucket: &'a str,
        key: &'a str,
        value: &'a [u8],
    ) -> Option<KvOp<'a>> {
        let kind = match raw.kind {
            abi::SY_BUS_KV_GET => KvKind::Get,
            abi::SY_BUS_KV_PUT => KvKind::Put,
            abi::SY_BUS_KV_CREATE => KvKind::Create,
            abi::SY_BUS_KV_UPDATE => KvKind::Update,
            abi::SY_BUS_KV_DELETE => KvKind::Delete,
            _ => return None,
        };
        if bucket_problem(bucket).is_some() || key_problem(key).is_some() {
            return None;
        }
        Some(KvOp {
            kind,
            bucket,
            key,
            value,
            revision: raw.revision,
            max_age_secs: raw.max_age_secs,
        })
    }
}
