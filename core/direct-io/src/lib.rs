//! Receiving a large stream straight to disk: `O_DIRECT` writes and the sha256 on two
//! worker threads, the socket read straight into the buffers they take.
//!
//! Used by the host runtime (large `recv_to_file`, e.g. bulk and files uploads) and by
//! the bulk client (downloads): both receive big files from a TCP socket, hash them and
//! store them, and both ran into the same cost.
//!
//! Why: on these VMs, copying a received byte into the page cache costs more than
//! receiving and hashing it together. perf of a 1 GiB upload through a plain path
//! (`read`, `write`, hash, all on one thread): 54% of the thread in the page-cache copy
//! (`copy_folio_from_iter_atomic`), 23% in sha256, 6% in the socket copy — one core
//! fully busy and the upload slower than `nc` writing to a file. With `O_DIRECT` the
//! disk takes the bytes from our buffer by DMA: no page-cache copy, no dirty pages for a
//! later fsync to wait for, and the receiving thread only receives.
//!
//! # How
//! - The caller reads the socket into 1 MiB buffers aligned to 4 KiB ([`DirectSink::spare`],
//!   then [`DirectSink::filled`]); `O_DIRECT` wants memory, file offset and length
//!   aligned. A full buffer goes to the writer thread and to the hasher thread at once
//!   and returns to the pool when both are done with it.
//! - At most [`MAX_BUFS`] buffers are in flight: when the disk falls behind, `spare`
//!   has no buffer and the caller waits (woken by the pool), so memory stays flat
//!   however large the stream.
//! - The stream is appended at the file's current size, which is rarely aligned (a
//!   header chunk's body bytes written first, a resumed upload's kept part). The first
//!   buffer starts at that size rounded down and is pre-filled with the file's bytes of
//!   that block, which are rewritten unchanged. The last buffer is written rounded up
//!   with zeros; the caller cuts the file to [`Finished::size`] afterwards. The hasher
//!   covers the whole file: it reads what was there before (from the page cache) and
//!   then hashes only received bytes.
//! - The writes go through a second open file description (`/proc/self/fd/N` opened
//!   with `O_DIRECT`), so the caller's descriptor keeps its flags.
//! - The stream's blocks are allocated before it starts (`fallocate`), so a full disk
//!   refuses it at once rather than after the writers raced other writers for space.
//!
//! [`DirectSink::open_direct`] returns `None` where `O_DIRECT` is refused (then the
//! caller keeps its plain path) or for streams below [`DIRECT_MIN`], for which two
//! threads are not worth starting; [`DirectSink::open`] falls back to the same
//! pipeline with ordinary (page-cache) writes instead.
//!
//! # Layout
//! Each file stands only on the ones listed before it.
//! - `limits.rs`: the sizes and bounds (buffer size, alignment, in-flight buffers,
//!   reservation window, streams at once), re-exported here where public.
//! - `buf.rs`: the aligned buffers, their bounded pool, and a filled buffer's trip to
//!   the workers and back.
//! - `writer.rs`: the writer thread ([`WriterDone`]), and the file calls it shares
//!   with the sink: reopening, reserving blocks ahead, giving them back.
//! - `hasher.rs`: the hasher thread (the file's bytes before the stream, then each
//!   buffer).
//! - `outcome.rs`: waiting for both threads at the end, and what that reports
//!   ([`Finished`], [`Failed`]).
//! - `sink.rs`: [`DirectSink`], the caller's side: opening, filling and submitting
//!   buffers, closing.
//! - `tests.rs`: whole streams through a sink, on a real file.

mod buf;
mod hasher;
mod limits;
mod outcome;
mod sink;
mod writer;

pub use limits::{BUF_SIZE, DIRECT_MIN, MAX_ACTIVE, MAX_BUFS};
pub use outcome::{Failed, Finished};
pub use sink::DirectSink;
pub use writer::WriterDone;

#[cfg(test)]
mod tests;
