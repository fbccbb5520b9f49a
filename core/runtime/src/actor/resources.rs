//! What a plugin instance owns through the host: UDP sockets, TCP connections, timers,
//! open files and the sessions it described. Released all at once when the instance
//! is gone (panic or stop), so a restarted instance starts clean and no temp file of
//! the dead one stays visible.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;

use actix::{Actor, AsyncContext, Context, SpawnHandle, StreamHandler};
use tokio::net::TcpStream;

use super::handler_wide::CounterHoldings;
use super::sessions::{ByteCount, SessionTable};
use super::shared::ConnSlot;
use super::streams::{Gate, ReadControl, UdpItem, UdpRecv};
use super::udp_sock::{ReadAhead, UdpSock};
use super::writeback::Writeback;
use crate::ids::IdMap;
use crate::objects::SpoolProgress;
use crate::storage::{FileVersion, TempFile};
use switchyard_direct_io::DirectSink;

/// One item of a connection's output queue, written in order.
#[derive(Debug)]
pub enum Out {
    Bytes {
        data: Vec<u8>,
        pos: usize,
    },
    File {
        /// The plugin's open file, shared: no descriptor is duplicated per send.
        file: std::sync::Arc<std::fs::File>,
        offset: u64,
        remaining: u64,
        sent: u64,
        token: u64,
        /// The file is known to be in the page cache up to here (see `file_cache`).
        cached_until: u64,
        /// An object being spooled: bytes go out only once spooled.
        spool: Option<std::sync::Arc<SpoolProgress>>,
    },
    Drained {
        token: u64,
    },
    Shutdown,
    Close,
}

/// A receive straight into a temp file (`recv_to_file`).
#[derive(Debug)]
pub struct RecvToFile {
    pub file: u64,
    pub remaining: u64,
    pub received: u64,
    pub token: u64,
    pub hasher: Option<sha2::Sha256>,
    /// Starts the disk early, so the fsync at commit waits for the tail only.
    pub writeback: Option<Writeback>,
    /// Large receives: `O_DIRECT` writes and hashing on worker threads (then `hasher`
    /// and `writeback` are `None`). Shared with the read stream, which reads into it.
    pub direct: Option<Rc<RefCell<DirectSink>>>,
}

/// Where a connection came from, as `CONN_OPENED` told the instance (kept so that a
/// reload can move the connection to a successor with the same description).
#[derive(Debug, Clone)]
pub struct ConnOrigin {
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub listener: Rc<str>,
}

/// A TCP connection of the instance.
#[derive(Debug)]
pub struct Conn {
    pub stream: Rc<TcpStream>,
    pub origin: ConnOrigin,
    /// Bytes moved both ways since it opened (reads, writes, `sendfile`, receives into
    /// files): the host's count for the sessions that run on it.
    pub moved: ByteCount,
    /// The read stream, cancelled when the connection is dropped.
    pub read_handle: SpawnHandle,
    /// Pause flag, read size and buffers shared with the read stream.
    pub read: Rc<ReadControl>,
    /// What the plugin asked with `set_reading` (the stream itself may lag behind).
    pub want_read: bool,
    /// Bytes that arrived while reading was paused mid-chunk; delivered on resume.
    pub held: Vec<u8>,
    pub eof: bool,
    pub out: VecDeque<Out>,
    /// Bytes queued in `out` (files not counted: they are not in memory).
    pub pending: usize,
    /// The writable-wait in flight, cancelled when the connection is dropped (it holds
    /// the socket: an uncancelled wait on a peer that never reads would keep it open).
    pub flush_wait: Option<SpawnHandle>,
    /// `close` or `shutdown_write` was queued: further writes are refused.
    pub write_closed: bool,
    /// `close` was asked: nothing more is read, and a linger deadline runs.
    pub closing: bool,
    pub recv: Option<RecvToFile>,
    /// A direct receive got all its bytes and waits for its writes and digest: input
    /// is held (and reading paused) so `FILE_RECEIVED` comes before later bytes.
    pub recv_finishing: bool,
    /// The peer's EOF or a read failure that came while `recv_finishing`: delivered
    /// after `FILE_RECEIVED`.
    pub end_behind_recv: Option<ConnEnd>,
    _slot: ConnSlot,
}

impl Conn {
    pub fn new(
        stream: Rc<TcpStream>,
        origin: ConnOrigin,
        read_handle: SpawnHandle,
        read: Rc<ReadControl>,
        slot: ConnSlot,
    ) -> Conn {
        Conn {
            stream,
            origin,
            moved: ByteCount::default(),
            read_handle,
            read,
            want_read: true,
            held: Vec::new(),
            eof: false,
            out: VecDeque::new(),
            pending: 0,
            flush_wait: None,
            write_closed: false,
            closing: false,
            recv: None,
            recv_finishing: false,
            end_behind_recv: None,
            _slot: slot,
        }
    }

    /// Count `n` bytes moved (either way) for the sessions on this connection.
    pub fn count(&self, n: u64) {
        self.moved.set(self.moved.get() + n);
    }

    /// Cancel the futures that hold this connection's socket.
    pub fn cancel_io<A: Actor<Context = Context<A>>>(&self, ctx: &mut Context<A>) {
        ctx.cancel_future(self.read_handle);
        if let Some(h) = self.flush_wait {
            ctx.cancel_future(h);
        }
    }
}

/// How a connection ended while a direct receive was finishing.
#[derive(Debug, Clone, Copy)]
pub enum ConnEnd {
    Eof,
    Failed(u32),
}

/// A file opened through the storage capability.
#[derive(Debug)]
pub enum OpenFile {
    /// Shared so a read that missed the page cache can run on the blocking pool, and
    /// a `sendfile` can hold it after the plugin closed its handle.
    Read {
        file: std::sync::Arc<std::fs::File>,
        /// The version opened (its size included): the key of its digest.
        version: FileVersion,
        /// Where it was opened, for its digest side file.
        path: Box<str>,
        /// An object still being spooled into `file` (`None` on a dir): every read
        /// of it waits for (or answers `SY_PENDING` until) its range is in.
        spool: Option<std::sync::Arc<SpoolProgress>>,
    },
    /// An upload, and the writeback of what `write_file` appends to it (so the fsync
    /// of its commit waits for the tail only; `None` if no second descriptor).
    Temp(TempFile, Option<Writeback>),
}

impl OpenFile {
    /// A continued partial (kept when closed): its direct writer must finish before
    /// the handle, and with it the file's lock, goes.
    pub fn is_continued_temp(&self) -> bool {
        matches!(self, OpenFile::Temp(t, _) if t.is_continued())
    }
}

/// A plugin's timer: the sleep running for it, and when the plugin wants it to fire
/// (`due`, which a re-arm to a later time moves without touching the sleep: see
/// `calls::timers`).
#[derive(Debug)]
pub struct ArmedTimer {
    pub handle: SpawnHandle,
    /// When the running sleep ends.
    pub wakes: std::time::Instant,
    /// When the `TIMER` event is due (at or after `wakes`).
    pub due: std::time::Instant,
}

/// Everything one instance owns.
#[derive(Debug, Default)]
pub struct Resources {
    pub sockets: IdMap<UdpSock>,
    /// Sockets that sent from a file range during the current call into the plugin:
    /// their batches go out when it returns (`udp_send::flush_batches`).
    pub unflushed: Vec<u64>,
    pub conns: IdMap<Conn>,
    pub timers: IdMap<ArmedTimer>,
    pub files: IdMap<OpenFile>,
    /// `prefetch_file` reads in flight, cancelled with the instance (a restarted
    /// instance must not get its predecessor's `FILE_PREFETCHED`).
    pub prefetches: IdMap<SpawnHandle>,
    /// Temp files a direct receive writes (or wrote) into, by file id: the writer's
    /// end, to wait for before the plugin touches the file (see `calls::files::settle_direct`).
    pub direct_writers: IdMap<switchyard_direct_io::WriterDone>,
    /// What the instance said its sessions are doing (`session_update`).
    pub sessions: SessionTable,
    /// Units of the handler's shared counters the instance took (`counter_take`).
    pub counters: CounterHoldings,
    /// Storage operations in flight on an object store, cancelled with the instance
    /// (a restarted instance must not get its predecessor's `STORAGE_DONE`).
    pub storage_ops: IdMap<SpawnHandle>,
    /// The plugin's bus subscriptions (`bus_subscribe`), by token: the delivery on
    /// this thread and the subscription's task on the bus thread, both ended with the
    /// instance (a restarted instance must not get its predecessor's messages).
    pub bus_subs: IdMap<(SpawnHandle, tokio::task::AbortHandle)>,
    /// The plugin's key-value operations in flight (`bus_kv_begin`), cancelled with the
    /// instance.
    pub bus_kv_ops: IdMap<SpawnHandle>,
    /// Continued partials of an `s3` storage, by handle: their locks.
    pub object_partials: IdMap<crate::objects::PartialClaim>,
    /// `OPEN_PARTIAL`s in flight, by token: the spool temp each fills.
    pub partials_opening: IdMap<u64>,
    /// Uploads of an `s3` storage, by handle: the parts sent while they arrive
    /// (given up, and aborted, when the handle goes without a commit).
    pub object_uploads: IdMap<crate::objects::EarlyParts>,
    /// The entries of the listing that finished last, by its token (`storage_listing`
    /// reads them during the call it finished in).
    pub listing: Option<(u64, Vec<(String, switchyard_sdk::abi::SyStat)>)>,
}

impl Resources {
    /// Start receiving on a bound UDP socket under `id` (a listener's stable id, or a
    /// fresh one for a socket the instance opens); returns the id and local address.
    pub fn attach_udp<A>(
        &mut self,
        id: u64,
        sock: std::net::UdpSocket,
        listener: Option<Rc<str>>,
        ctx: &mut Context<A>,
    ) -> std::io::Result<(u64, SocketAddr)>
    where
        A: Actor<Context = Context<A>> + StreamHandler<UdpItem>,
    {
        let local = sock.local_addr()?;
        let sock = Rc::new(super::udp_io::register(sock)?);
        let gate = Gate::open();
        let handle = ctx.add_stream(UdpRecv::new(Rc::clone(&sock), id, gate.clone()));
        self.sockets.insert(
            id,
            UdpSock {
                sock,
                listener,
                local,
                handle,
                gate,
                queued: Rc::new(Cell::new(0)),
                backlog: VecDeque::new(),
                backlog_seq: 0,
                ahead: ReadAhead::default(),
                sent_in_call: false,
                batch: Vec::new(),
            },
        );
        Ok((id, local))
    }

    /// Close a socket the instance opened (listener sockets are not the instance's).
    pub fn close_socket<A: Actor<Context = Context<A>>>(
        &mut self,
        id: u64,
        ctx: &mut Context<A>,
    ) -> bool {
        match self.sockets.get(&id) {
            Some(s) if s.listener.is_none() => {
                let s = self.sockets.remove(&id).expect("present");
                s.stop_receiving(ctx);
                true
            }
            _ => false,
        }
    }

    /// Drop what the (dead or stopping) instance owned. Listener sockets stay.
    pub fn release_instance_resources<A: Actor<Context = Context<A>>>(
        &mut self,
        ctx: &mut Context<A>,
    ) {
        let timers = self.timers.drain().map(|(token, t)| (token, t.handle));
        for (_, handle) in timers.chain(self.prefetches.drain()) {
            ctx.cancel_future(handle);
        }
        let owned: Vec<u64> = self
            .sockets
            .iter()
            .filter(|(_, s)| s.listener.is_none())
            .map(|(id, _)| *id)
            .collect();
        for id in owned {
            self.close_socket(id, ctx);
        }
        for (_, conn) in self.conns.drain() {
            conn.cancel_io(ctx);
        }
        for (_, (delivery, task)) in self.bus_subs.drain() {
            ctx.cancel_future(delivery);
            task.abort();
        }
        for (_, op) in self.bus_kv_ops.drain() {
            ctx.cancel_future(op);
        }
        // A continued partial is kept, so its writer (abandoned with its connection
        // above) finishes before the file's lock goes; the wait is bounded by the few
        // MiB it has queued. Uncommitted temp files are deleted by `TempFile`'s drop.
        for (file, done) in self.direct_writers.drain() {
            if self
                .files
                .get(&file)
                .is_some_and(OpenFile::is_continued_temp)
            {
                done.wait();
            }
        }
        self.files.clear();
        self.sessions.clear();
        self.counters.release();
    }
}
