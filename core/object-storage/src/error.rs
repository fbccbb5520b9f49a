//! What can go wrong, in terms a handler can turn into a protocol error.

/// An object storage failure. The variants a peer can cause or must be told about
/// (bad name, absent, already there, replaced mid-read, digest mismatch) are kept apart
/// from the store's own failures, which carry the operation and the object.
#[derive(Debug, thiserror::Error)]
pub enum ObjectStorageError {
    /// The name breaks the storage's name rules (`names.rs`); nothing was sent.
    #[error("invalid name: {0}")]
    InvalidName(&'static str),
    /// No object of that name.
    #[error("`{0}` does not exist")]
    NotFound(String),
    /// A create-only commit found the name taken: the upload was aborted.
    #[error("`{0}` already exists")]
    AlreadyExists(String),
    /// The object changed since the read began (its etag no longer matches): the
    /// transfer must end with an error rather than mix two versions.
    #[error("`{0}` was replaced while it was being read")]
    Replaced(String),
    /// The bytes written do not hash to the digest declared when the upload began.
    #[error("`{0}`: the bytes received do not match the declared sha256")]
    DigestMismatch(String),
    /// Another holder has the lock and its lease has not run out.
    #[error("`{0}` is locked by another host")]
    Locked(String),
    /// The configuration cannot describe a store (bad endpoint URL, bucket...).
    #[error("invalid storage configuration: {0}")]
    Config(String),
    /// A record the host keeps in the store could not be read back.
    #[error("corrupt record `{path}`: {why}")]
    CorruptRecord {
        /// The record's key.
        path: String,
        /// What was wrong with it.
        why: String,
    },
    /// The store failed (network, credentials, server error).
    #[error("{op} `{name}`: {source}")]
    Store {
        /// The operation attempted (`stat`, `read`, `upload part` ...).
        op: &'static str,
        /// The object's name (or key, for host records).
        name: String,
        /// The client's error.
        #[source]
        source: object_store::Error,
    },
}

impl ObjectStorageError {
    /// Wrap a client error for `op` on `name`, turning "not found" into [`Self::NotFound`].
    pub(crate) fn store(op: &'static str, name: &str, source: object_store::Error) -> Self {
        match source {
            object_store::Error::NotFound { .. } => ObjectStorageError::NotFound(name.into()),
            source => ObjectStorageError::Store {
                op,
                name: name.into(),
                source,
            },
        }
    }
}

/// This crate's results.
pub type Result<T, E = ObjectStorageError> = std::result::Result<T, E>;
