//! Is a file range in the page cache? Asked before each `sendfile` of a connection's
//! file, so the handler thread never waits for the disk inside `sendfile`.
//!
//! Why: `sendfile` has no "cached only" flag (unlike `preadv2(RWF_NOWAIT)`, which the
//! datagram path uses), and one read from a cold disk inside it stalls every session of
//! the handler. `cachestat(2)` (Linux 6.5) counts the cached pages of a range in one
//! cheap call; when some are missing, the connection waits while the blocking pool
//! reads the range in (`prefetch::prefetch`), then sends it from memory.

use std::fs::File;
use std::os::fd::AsRawFd;

/// How far ahead of the send offset the cache is checked (and read in on a miss):
/// more than one `sendfile` moves into a full socket buffer.
pub const PROBE: u64 = 4 * 1024 * 1024;

/// `struct cachestat_range` of `<linux/mman.h>`.
#[repr(C)]
struct Range {
    off: u64,
    len: u64,
}

/// `struct cachestat` of `<linux/mman.h>`.
#[repr(C)]
#[derive(Default)]
struct Stat {
    nr_cache: u64,
    nr_dirty: u64,
    nr_writeback: u64,
    nr_evicted: u64,
    nr_recently_evicted: u64,
}

/// `__NR_cachestat`: the same on x86-64 and the generic table (aarch64).
const SYS_CACHESTAT: libc::c_long = 451;

/// Whether every page of `file[offset..offset + len]` is cached. A kernel without
/// `cachestat` (before 6.5) answers yes: then `sendfile` behaves as it always did.
pub fn is_cached(file: &File, offset: u64, len: u64) -> bool {
    if len == 0 {
        return true;
    }
    // SAFETY: sysconf has no memory arguments.
    let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        p if p > 0 => p as u64,
        _ => 4096,
    };
    let range = Range { off: offset, len };
    let mut stat = Stat::default();
    // SAFETY: cachestat(fd, &range, &stat, 0) reads `range` and writes `stat`, both
    // live locals of the kernel's layout.
    let rc = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            file.as_raw_fd(),
            &range as *const Range,
            &mut stat as *mut Stat,
            0u32,
        )
    };
    if rc != 0 {
        return true;
    }
    let pages = offset.saturating_add(len).div_ceil(page) - offset / page;
    stat.nr_cache >= pages
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn an_evicted_range_is_not_cached_until_it_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut f = File::create(&path).unwrap();
        f.write_all(&vec![3u8; 1 << 20]).unwrap();
        f.sync_all().unwrap();
        rustix::fs::fadvise(&f, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        let f = File::open(&path).unwrap();
        assert!(!is_cached(&f, 0, 1 << 20), "just evicted");
        super::super::prefetch::prefetch(&f, 0, 1 << 20).unwrap();
        assert!(is_cached(&f, 0, 1 << 20), "read back in");
        assert!(is_cached(&f, 4096, 5000), "a part of it");
        assert!(is_cached(&f, 0, 0));
    }
}
