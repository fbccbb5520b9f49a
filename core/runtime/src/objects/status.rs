//! An object storage failure as the `SY_ERR_*` a plugin gets.

use switchyard_object_storage::ObjectStorageError;
use switchyard_sdk::abi;

/// The plugin's status for `e`: the peer-visible cases keep their meaning (absent,
/// taken, a name the storage refuses), the store's own failures are `SY_ERR_IO`.
pub fn status_of(e: &ObjectStorageError) -> u32 {
    match e {
        ObjectStorageError::NotFound(_) => abi::SY_ERR_NOT_FOUND,
        ObjectStorageError::AlreadyExists(_) => abi::SY_ERR_EXISTS,
        ObjectStorageError::InvalidName(_) => abi::SY_ERR_ACCESS,
        ObjectStorageError::Locked(_) => abi::SY_ERR_BUSY,
        _ => abi::SY_ERR_IO,
    }
}
