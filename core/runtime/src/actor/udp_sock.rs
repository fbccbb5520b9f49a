//! A UDP socket of the handler, with what it keeps for ordered, non-blocking sends
//! (see `udp_out`): the backlog behind a deferred file read, and the read-ahead
//! buffer with the cached-only read that fills it. Kept apart from `udp_out` so
//! `resources`, which holds the sockets, stands below the code that sends on them.

use std::cell::Cell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;

use super::streams::Gate;
use super::udp_io::UdpFd;
use actix::{Actor, AsyncContext, Context, SpawnHandle};

/// A UDP socket of the handler.
#[derive(Debug)]
pub struct UdpSock {
    pub sock: Rc<UdpFd>,
    /// Set for listener sockets, which outlive instances.
    pub listener: Option<Rc<str>>,
    pub local: SocketAddr,
    pub handle: SpawnHandle,
    /// Closed before the receive stream is cancelled (see [`Gate`]).
    pub gate: Gate,
    /// Bytes waiting in spawned sends after `EWOULDBLOCK`.
    pub queued: Rc<Cell<usize>>,
    /// Datagrams behind a file read that missed the page cache, in send order.
    pub backlog: VecDeque<Deferred>,
    /// Sequence number of the last backlog entry.
    pub backlog_seq: u64,
    /// The file range most likely sent next, already read (and the send buffer).
    pub ahead: ReadAhead,
    /// Whether a datagram from a file range went out during the current call into
    /// the plugin: the first goes at once (a lock-step transfer's only one, without
    /// delay), the ones after it are gathered in `batch`.
    pub sent_in_call: bool,
    /// Datagrams from `ahead` gathered during one call into the plugin, sent together
    /// (`sendmmsg`) when it returns, or earlier when anything else needs the socket or
    /// `ahead`.
    pub batch: Vec<Batched>,
}

impl UdpSock {
    /// Stop taking datagrams: the gate first, so the stream reads nothing more even
    /// in the poll actix makes after the cancel.
    pub fn stop_receiving<A: Actor<Context = Context<A>>>(&self, ctx: &mut Context<A>) {
        self.gate.close();
        ctx.cancel_future(self.handle);
    }
}

/// Longest header a batched datagram keeps; a datagram with a longer one is sent at
/// once.
pub const MAX_BATCHED_HEADER: usize = 32;

/// A datagram of a socket's batch: its header, and its payload in the socket's
/// [`ReadAhead`] buffer.
#[derive(Debug)]
pub struct Batched {
    pub to: SocketAddr,
    header: [u8; MAX_BATCHED_HEADER],
    header_len: u8,
    payload: std::ops::Range<usize>,
}

impl Batched {
    /// `None` when the header is longer than [`MAX_BATCHED_HEADER`].
    pub fn new(to: SocketAddr, header: &[u8], payload: std::ops::Range<usize>) -> Option<Batched> {
        let mut h = [0u8; MAX_BATCHED_HEADER];
        h.get_mut(..header.len())?.copy_from_slice(header);
        Some(Batched {
            to,
            header: h,
            header_len: header.len() as u8,
            payload,
        })
    }

    pub fn header(&self) -> &[u8] {
        &self.header[..usize::from(self.header_len)]
    }

    /// The payload, in the socket's read-ahead buffer it was gathered from.
    pub fn payload<'a>(&self, ahead: &'a ReadAhead) -> &'a [u8] {
        &ahead.buf[self.payload.clone()]
    }
}

/// A datagram waiting in a socket's ordered backlog.
#[derive(Debug)]
pub struct Deferred {
    pub seq: u64,
    pub to: SocketAddr,
    /// `None` while its file read is still running.
    pub data: Option<Vec<u8>>,
}

/// How much of a file one read for a datagram takes (a whole datagram when larger):
/// a lock-step transfer of 512-byte blocks then reads the file once per 128 blocks.
pub const CHUNK: usize = 64 * 1024;

/// What a socket read of the file it sends from, most likely holding the range it
/// sends next.
///
/// Why: a lock-step transfer (TFTP) sends block n+1 when ACK n arrives. tftpd-hpa
/// reads block n+1 while it waits for that ACK; doing the same takes the read off the
/// round trip's critical path (~10 us for 64 KiB here). Reading [`CHUNK`] at a time
/// also takes most reads away altogether at small block sizes: one `pread` per block
/// was a fifth of the host's system calls per block at 512 bytes. The reads are
/// cached-only, so they never block, and the datagram is sent from this buffer
/// (header and payload gathered by `sendmsg`): no copy, no allocation per packet.
#[derive(Debug, Default)]
pub struct ReadAhead {
    buf: Vec<u8>,
    /// (file id, offset, bytes) of what `buf` holds.
    holds: Option<(u64, u64, usize)>,
}

impl ReadAhead {
    /// The whole buffer (a [`ReadAhead::locate`] range indexes it).
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Where in the buffer the `len` bytes of file `id` at `offset` are, if held.
    pub fn locate(&self, id: u64, offset: u64, len: usize) -> Option<std::ops::Range<usize>> {
        let (held_id, start, held) = self.holds?;
        let skip = usize::try_from(offset.checked_sub(start)?).ok()?;
        (held_id == id && skip.checked_add(len)? <= held).then_some(skip..skip + len)
    }

    /// Read file `id` from `offset` (at least `need` bytes unless the file ends first,
    /// up to [`CHUNK`] when cached), only from the page cache. `Ok(None)`: `need`
    /// bytes are not all cached. `Ok(Some(n))`: `n` bytes held, fewer than `need`
    /// only at the end of the file. Callers send what a batch holds from the buffer
    /// first.
    pub fn fill(
        &mut self,
        id: u64,
        file: &std::fs::File,
        offset: u64,
        need: usize,
    ) -> std::io::Result<Option<usize>> {
        self.holds = None;
        let want = need.max(CHUNK);
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        let got = read_cached(file, &mut self.buf[..want], offset, need)?;
        // Zero bytes held is a holding too: an empty range at the end of a file (the
        // last, empty TFTP block of a file a whole number of blocks long) is sent as
        // its header alone.
        if let Some(n) = got {
            self.holds = Some((id, offset, n));
        }
        Ok(got)
    }
}

/// Read up to `buf.len()` bytes at `offset`, only from the page cache, stopping at
/// the first byte that is not cached once `need` bytes are read. `Ok(None)`: fewer
/// than `need` are cached (or the file system cannot tell), and a blocking read is
/// needed. `Ok(Some(n))` with `n < need`: the file ends there.
pub fn read_cached(
    file: &std::fs::File,
    buf: &mut [u8],
    offset: u64,
    need: usize,
) -> std::io::Result<Option<usize>> {
    let mut got = 0;
    while got < buf.len() {
        let mut slice = [std::io::IoSliceMut::new(&mut buf[got..])];
        match rustix::io::preadv2(
            file,
            &mut slice,
            offset + got as u64,
            rustix::io::ReadWriteFlags::NOWAIT,
        ) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::AGAIN | rustix::io::Errno::OPNOTSUPP) if got >= need => break,
            Err(rustix::io::Errno::AGAIN | rustix::io::Errno::OPNOTSUPP) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(got))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_of(bytes: &[u8]) -> std::fs::File {
        let mut f = tempfile::tempfile().expect("temp file");
        f.write_all(bytes).expect("write");
        f
    }

    #[test]
    fn a_range_inside_the_file_is_held_and_located() {
        let file = file_of(&[7u8; 3000]);
        let mut ahead = ReadAhead::default();
        assert_eq!(ahead.fill(1, &file, 512, 512).expect("read"), Some(2488));
        assert_eq!(ahead.locate(1, 1024, 512), Some(512..1024));
        assert_eq!(ahead.locate(2, 1024, 512), None, "another file's range");
        assert_eq!(ahead.locate(1, 2900, 512), None, "past what is held");
    }

    #[test]
    fn an_empty_range_at_the_end_of_the_file_is_held() {
        // A file a whole number of blocks long ends with an empty block.
        let file = file_of(&[1u8; 1024]);
        let mut ahead = ReadAhead::default();
        assert_eq!(ahead.fill(1, &file, 1024, 0).expect("read"), Some(0));
        assert_eq!(ahead.locate(1, 1024, 0), Some(0..0));
    }
}
