//! The sizes and bounds every part of the pipeline shares, in a file of their own so
//! the buffers, the workers and the sink can all use them without using the crate
//! root (which uses them); the public ones are re-exported from there.

/// Bytes per buffer (one write, one hash step).
pub const BUF_SIZE: usize = 1024 * 1024;
/// `O_DIRECT` alignment of memory, offsets and lengths (a page: enough for every
/// logical block size in use).
pub(crate) const ALIGN: usize = 4096;
/// Buffers in flight per receive: the memory bound, and how far the disk may lag.
pub const MAX_BUFS: usize = 4;
/// Smallest receive that goes direct.
pub const DIRECT_MIN: u64 = 8 * 1024 * 1024;
/// How far ahead of the writes disk blocks are reserved. Bounded, so a client that
/// announces 16 GiB and sends nothing pins 64 MiB, not 16 GiB.
pub(crate) const RESERVE_AHEAD: u64 = 64 * 1024 * 1024;
/// Most direct streams at once in this process (each has two threads and up to
/// [`MAX_BUFS`] buffers); beyond it
/// [`DirectSink::open_direct`](crate::DirectSink::open_direct) says `None`.
pub const MAX_ACTIVE: usize = 64;
