//! The ABI status for an I/O error.
//!
//! Why a file of its own: sockets, connections, files and prefetches all report I/O
//! failures to plugins, and each must map an errno the same way; kept here, below all
//! of them, none has to reach into another to share it.

use std::io;

use switchyard_sdk::abi;

/// The ABI status for an I/O error.
pub fn io_status(e: &io::Error) -> u32 {
    match rustix::io::Errno::from_io_error(e) {
        Some(rustix::io::Errno::NOSPC) | Some(rustix::io::Errno::DQUOT) => abi::SY_ERR_NO_SPACE,
        _ => match e.kind() {
            io::ErrorKind::NotFound => abi::SY_ERR_NOT_FOUND,
            io::ErrorKind::PermissionDenied => abi::SY_ERR_ACCESS,
            io::ErrorKind::AlreadyExists => abi::SY_ERR_EXISTS,
            io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected => abi::SY_ERR_CLOSED,
            _ => abi::SY_ERR_IO,
        },
    }
}
