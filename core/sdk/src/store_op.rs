//! [`StoreOp`] and [`StoreDone`]: a storage operation that may wait, and what it gave —
//! the safe view of `SyStorageOp` / `SyStorageDone`, used by both sides of the ABI
//! (the plugin's [`crate::Ctx::storage_begin`], the host's
//! [`crate::host::HostCalls::storage_begin`]).
//!
//! Why one operation type rather than an asynchronous twin of each call: the table
//! grows by two entries for every kind of storage there will be, and a new operation
//! is a new `SY_STORE_*` value, not a new ABI entry.

use crate::abi::{self, SyStat, SyStorageDone, SyStorageOp, SyStr};
use crate::file_id::FileId;
use crate::stat::Stat;

/// One storage operation that may wait on the network. Each is the counterpart of a
/// synchronous call of the first table, with the same confinement and results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp<'a> {
    /// Open a file for reading: its handle and size.
    OpenRead(&'a str),
    /// Metadata of a path.
    Stat(&'a str),
    /// The entries of a directory (`""` is the root), read with
    /// [`crate::Ctx::storage_listing`].
    List(&'a str),
    /// A hidden upload beside `path`, invisible until committed.
    CreateTemp(&'a str),
    /// Continue a kept partial upload: its handle and the size so far.
    OpenPartial(&'a str),
    /// Make an upload visible under `path`.
    Commit {
        file: FileId,
        path: &'a str,
        overwrite: bool,
    },
    /// Remove a file.
    Remove(&'a str),
}

impl<'a> StoreOp<'a> {
    /// The `SY_STORE_*` of this operation.
    pub fn kind(&self) -> u32 {
        match self {
            StoreOp::OpenRead(_) => abi::SY_STORE_OPEN_READ,
            StoreOp::Stat(_) => abi::SY_STORE_STAT,
            StoreOp::List(_) => abi::SY_STORE_LIST,
            StoreOp::CreateTemp(_) => abi::SY_STORE_CREATE_TEMP,
            StoreOp::OpenPartial(_) => abi::SY_STORE_OPEN_PARTIAL,
            StoreOp::Commit { .. } => abi::SY_STORE_COMMIT,
            StoreOp::Remove(_) => abi::SY_STORE_REMOVE,
        }
    }

    /// The path it works on.
    pub fn path(&self) -> &'a str {
        match *self {
            StoreOp::OpenRead(p)
            | StoreOp::Stat(p)
            | StoreOp::List(p)
            | StoreOp::CreateTemp(p)
            | StoreOp::OpenPartial(p)
            | StoreOp::Remove(p) => p,
            StoreOp::Commit { path, .. } => path,
        }
    }

    /// The raw operation; it borrows `self`'s path.
    pub fn to_raw(&self) -> SyStorageOp {
        let (file, flags) = match *self {
            StoreOp::Commit {
                file, overwrite, ..
            } => (
                file.0,
                if overwrite {
                    abi::SY_COMMIT_OVERWRITE
                } else {
                    0
                },
            ),
            _ => (0, 0),
        };
        SyStorageOp {
            struct_size: std::mem::size_of::<SyStorageOp>() as u32,
            kind: self.kind(),
            path: SyStr::from_str(self.path()),
            file,
            flags,
            reserved0: 0,
        }
    }

    /// Decode a raw operation whose path was checked UTF-8 (`path`); `None` for an
    /// unknown kind.
    pub fn from_raw(raw: &SyStorageOp, path: &'a str) -> Option<StoreOp<'a>> {
        Some(match raw.kind {
            abi::SY_STORE_OPEN_READ => StoreOp::OpenRead(path),
            abi::SY_STORE_STAT => StoreOp::Stat(path),
            abi::SY_STORE_LIST => StoreOp::List(path),
            abi::SY_STORE_CREATE_TEMP => StoreOp::CreateTemp(path),
            abi::SY_STORE_OPEN_PARTIAL => StoreOp::OpenPartial(path),
            abi::SY_STORE_COMMIT => StoreOp::Commit {
                file: FileId(raw.file),
                path,
                overwrite: raw.flags & abi::SY_COMMIT_OVERWRITE != 0,
            },
            abi::SY_STORE_REMOVE => StoreOp::Remove(path),
            _ => return None,
        })
    }
}

/// What a finished storage operation gave. A listing's entries are read with
/// [`crate::Ctx::storage_listing`] during the call it finished in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreDone {
    /// [`StoreOp::OpenRead`] or [`StoreOp::OpenPartial`]: the handle and the size.
    Opened { file: FileId, size: u64 },
    /// [`StoreOp::Stat`].
    Stat(Stat),
    /// [`StoreOp::List`].
    Listed,
    /// [`StoreOp::CreateTemp`].
    Created(FileId),
    /// [`StoreOp::Commit`] or [`StoreOp::Remove`].
    Done,
}

impl StoreDone {
    /// Decode the raw result of an operation of `kind`.
    pub fn from_raw(raw: &SyStorageDone) -> StoreDone {
        match raw.kind {
            abi::SY_STORE_OPEN_READ | abi::SY_STORE_OPEN_PARTIAL => StoreDone::Opened {
                file: FileId(raw.file),
                size: raw.stat.size,
            },
            abi::SY_STORE_STAT => StoreDone::Stat(Stat::from(raw.stat)),
            abi::SY_STORE_LIST => StoreDone::Listed,
            abi::SY_STORE_CREATE_TEMP => StoreDone::Created(FileId(raw.file)),
            _ => StoreDone::Done,
        }
    }
}

/// The raw result of an operation of `kind` that gave `file` and `stat`.
pub fn raw_done(kind: u32, file: u64, stat: Option<SyStat>) -> SyStorageDone {
    SyStorageDone {
        struct_size: std::mem::size_of::<SyStorageDone>() as u32,
        kind,
        file,
        stat: stat.unwrap_or_default(),
    }
}
