//! Allocator settings for a long-running server.
//!
//! Why: glibc raises its mmap threshold each time a large mmapped block is freed (up to
//! 32 MiB). After a burst of uploads has freed its 1 MiB receive buffers, later buffers
//! of that size come from the heap arenas instead, and when they are freed the memory
//! stays in the process: measured by the soak run, RSS sat at 80-120 MiB after load
//! against a 19 MiB baseline while only 4-9 MB were in use. A fixed threshold keeps
//! every large buffer in its own mapping, returned to the system when freed, so RSS
//! comes back to its baseline once the load is gone.

/// Blocks at least this large are mmapped (and unmapped when freed), always.
const MMAP_THRESHOLD: i32 = 256 * 1024;

/// Apply the settings; call once, first thing in `main`.
pub fn tune() {
    // SAFETY: `mallopt` only changes allocator parameters; called before any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}
