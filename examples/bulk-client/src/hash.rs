//! sha256 of a file being uploaded, read through a memory map.
//!
//! Why a map: the body itself goes out with `sendfile` and is never in our memory, so
//! the digest needs a second pass over the file. Reading it with `read(2)` copies every
//! byte once more (perf: 13% of an upload's CPU on this VM, whose kernel copies are
//! slow); a read-only map hashes the page cache in place.
//!
//! The price of a map: a file cut shorter while mapped raises `SIGBUS` on the next
//! access. [`guard_sigbus`] turns that into a clear message and exit status 1 instead
//! of a crash: the transfer did not complete, so the server did not store the file
//! (a resumable upload keeps its partial, as after any broken connection).

use std::fs::File;
use std::io;
use std::sync::Once;

use rustix::mm::{Advice, MapFlags, ProtFlags};
use sha2::{Digest, Sha256};

/// Bytes mapped at a time: bounded address space, few `mmap` calls.
const WINDOW: u64 = 64 << 20;

/// sha256 of a whole file, on a thread of its own (runs beside the transfer).
pub fn hash_file_in_background(file: File) -> std::thread::JoinHandle<io::Result<[u8; 32]>> {
    std::thread::spawn(move || hash_range(&file, 0, u64::MAX))
}

/// sha256 of `file` from `from` up to `to` (or its end, as it is now).
pub fn hash_range(file: &File, from: u64, to: u64) -> io::Result<[u8; 32]> {
    guard_sigbus();
    let end = file.metadata()?.len().min(to);
    let page = rustix::param::page_size() as u64;
    let mut h = Sha256::new();
    let mut at = from;
    while at < end {
        // Map from the page holding `at`; hash from `at`.
        let base = at - at % page;
        let len = (end - base).min(WINDOW) as usize;
        // SAFETY: a fresh read-only shared mapping of `len` bytes of an open file; it is
        // only read, and unmapped before the next one. Truncation is `guard_sigbus`'s.
        let map = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ,
                MapFlags::SHARED,
                file,
                base,
            )?
        };
        // SAFETY: the mapping above, alive until the munmap below.
        let bytes = unsafe { std::slice::from_raw_parts(map.cast::<u8>(), len) };
        // SAFETY: advice on our own mapping; failure only loses the hint.
        let _ = unsafe { rustix::mm::madvise(map, len, Advice::Sequential) };
        h.update(&bytes[(at - base) as usize..]);
        // SAFETY: unmapping exactly what was mapped; `bytes` is not used after.
        unsafe { rustix::mm::munmap(map, len)? };
        at = base + len as u64;
    }
    Ok(h.finalize().into())
}

/// Exit with a message (status 1) on `SIGBUS`, which only a file cut shorter under our
/// map raises here.
fn guard_sigbus() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: installs a handler that calls only async-signal-safe functions
        // (write, _exit); the struct is zeroed, then filled as sigaction(2) wants.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigbus as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
        }
    });
}

extern "C" fn on_sigbus(_: libc::c_int) {
    const MSG: &[u8] =
        b"switchyard-bulk: the file shrank (or became unreadable) while it was being sent; \
          the upload did not complete\n";
    // SAFETY: write(2) and _exit(2) are async-signal-safe; MSG is static.
    unsafe {
        libc::write(2, MSG.as_ptr().cast(), MSG.len());
        libc::_exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn range_hash_matches_one_shot_across_windows_and_unaligned_starts() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let data: Vec<u8> = (0..(WINDOW as u32 + 3_000_000))
            .map(|i| (i.wrapping_mul(13) ^ (i >> 9)) as u8)
            .collect();
        f.write_all(&data).unwrap();
        let file = f.reopen().unwrap();
        let want: [u8; 32] = Sha256::digest(&data).into();
        assert_eq!(hash_range(&file, 0, u64::MAX).unwrap(), want);
        let part: [u8; 32] = Sha256::digest(&data[10..2_000_000]).into();
        assert_eq!(hash_range(&file, 10, 2_000_000).unwrap(), part);
        let tail: [u8; 32] = Sha256::digest(&data[WINDOW as usize - 5..]).into();
        assert_eq!(hash_range(&file, WINDOW - 5, u64::MAX).unwrap(), tail);
        assert_eq!(hash_file_in_background(file).join().unwrap().unwrap(), want);
    }

    #[test]
    fn an_empty_file_hashes_to_the_empty_digest() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let want: [u8; 32] = Sha256::digest(b"").into();
        assert_eq!(hash_range(&f.reopen().unwrap(), 0, u64::MAX).unwrap(), want);
    }
}
