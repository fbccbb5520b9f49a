//! [`FileId`]: an open file's handle, below both events and storage operations that
//! name it.

/// An open file handle under the handler's storage root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u64);
