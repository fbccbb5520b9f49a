//! The crash-recovery sweep run by [`Root::open`](super::Root::open): delete temp files
//! whose writer died, anywhere under the root.
//!
//! The walk goes through directory fds with `O_NOFOLLOW`, so a symlink under the root
//! cannot send it (and its `unlink`s) elsewhere. Unreadable directories are skipped:
//! the sweep is housekeeping and must never stop the host from starting.

use std::os::fd::{AsFd, BorrowedFd};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use super::path::is_temp_name;
use super::tempname::is_stale;

/// Deepest directory nesting visited; deeper trees are left alone rather than risk
/// exhausting the stack or file descriptors.
const MAX_DEPTH: usize = 64;

/// Remove stale temps beneath `dir`; returns how many were removed.
pub fn sweep(dir: BorrowedFd<'_>) -> usize {
    sweep_at(dir, 0)
}

fn sweep_at(dir: BorrowedFd<'_>, depth: usize) -> usize {
    let Ok(entries) = rustix::fs::Dir::read_from(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let kind = match entry.file_type() {
            FileType::Unknown => {
                match rustix::fs::statat(dir, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) => FileType::from_raw_mode(st.st_mode),
                    Err(_) => continue,
                }
            }
            kind => kind,
        };
        if kind == FileType::Directory {
            if depth < MAX_DEPTH {
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                if let Ok(sub) = rustix::fs::openat(dir, entry.file_name(), flags, Mode::empty()) {
                    removed += sweep_at(sub.as_fd(), depth + 1);
                }
            }
        } else if is_temp_name(name)
            && std::str::from_utf8(name).is_ok_and(is_stale)
            && rustix::fs::unlinkat(dir, entry.file_name(), AtFlags::empty()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}
