//! The failure of one host call, decoded from the ABI's status code.

use crate::abi;

/// Why a host call failed. Each variant is one `SY_ERR_*` status of the ABI.
///
/// Non-exhaustive: a later SDK may name a status that is now [`HostError::Other`], and
/// a plugin's `match` must keep compiling when it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// An argument was malformed: unknown socket, connection or file id, bad address.
    #[error("invalid argument")]
    Invalid,
    /// The file or directory does not exist under the handler's root.
    #[error("not found")]
    NotFound,
    /// The path leaves the root (`..`, absolute, symlink out) or is not permitted.
    #[error("access denied")]
    Access,
    /// The target exists and replacing it was not asked for.
    #[error("already exists")]
    Exists,
    /// The disk (or a configured quota) is full.
    #[error("no space left")]
    NoSpace,
    /// Any other I/O failure; the host logged its details.
    #[error("I/O error")]
    Io,
    /// The peer, connection or socket is gone.
    #[error("closed")]
    Closed,
    /// A host limit was reached (open files, sockets, buffered bytes).
    #[error("limit reached")]
    Limit,
    /// The host does not offer this operation here (e.g. no storage root configured).
    #[error("unsupported")]
    Unsupported,
    /// The path names a directory where a file was expected.
    #[error("is a directory")]
    IsDir,
    /// The file is in use by another handle (another upload continues it).
    #[error("in use")]
    Busy,
    /// Not a failure: the storage operation waits on the network (an object store).
    /// Its result comes later ([`crate::Event::StorageDone`]); for a read, prefetch
    /// the range and read again after [`crate::Event::FilePrefetched`].
    #[error("pending")]
    Pending,
    /// A status this SDK does not know (a newer host).
    #[error("host status {0}")]
    Other(u32),
}

impl HostError {
    /// `Ok(())` for `SY_OK`, the matching error otherwise.
    pub fn check(status: u32) -> Result<(), HostError> {
        match status {
            abi::SY_OK => Ok(()),
            other => Err(HostError::from_status(other)),
        }
    }

    /// Decode a non-OK status.
    pub fn from_status(status: u32) -> HostError {
        match status {
            abi::SY_ERR_INVALID => HostError::Invalid,
            abi::SY_ERR_NOT_FOUND => HostError::NotFound,
            abi::SY_ERR_ACCESS => HostError::Access,
            abi::SY_ERR_EXISTS => HostError::Exists,
            abi::SY_ERR_NO_SPACE => HostError::NoSpace,
            abi::SY_ERR_IO => HostError::Io,
            abi::SY_ERR_CLOSED => HostError::Closed,
            abi::SY_ERR_LIMIT => HostError::Limit,
            abi::SY_ERR_UNSUPPORTED => HostError::Unsupported,
            abi::SY_ERR_IS_DIR => HostError::IsDir,
            abi::SY_ERR_BUSY => HostError::Busy,
            abi::SY_PENDING => HostError::Pending,
            other => HostError::Other(other),
        }
    }

    /// The ABI status code of this error.
    pub fn status(self) -> u32 {
        match self {
            HostError::Invalid => abi::SY_ERR_INVALID,
            HostError::NotFound => abi::SY_ERR_NOT_FOUND,
            HostError::Access => abi::SY_ERR_ACCESS,
            HostError::Exists => abi::SY_ERR_EXISTS,
            HostError::NoSpace => abi::SY_ERR_NO_SPACE,
            HostError::Io => abi::SY_ERR_IO,
            HostError::Closed => abi::SY_ERR_CLOSED,
            HostError::Limit => abi::SY_ERR_LIMIT,
            HostError::Unsupported => abi::SY_ERR_UNSUPPORTED,
            HostError::IsDir => abi::SY_ERR_IS_DIR,
            HostError::Busy => abi::SY_ERR_BUSY,
            HostError::Pending => abi::SY_PENDING,
            HostError::Other(s) => s,
        }
    }
}
