//! [`Event`]: the safe, borrowed view of one [`abi::SyEvent`].

use std::net::SocketAddr;

use crate::abi::{self, SyEvent};
use crate::error::HostError;

/// A UDP socket the host owns for this handler (a listener's, or one from `open_udp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub u64);

/// A TCP connection the host owns for this handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

pub use crate::file_id::FileId;

/// One event from the host. Borrowed data lives only for the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// The instance exists; arm timers here if needed.
    Start,
    /// A datagram arrived on `socket`.
    Datagram {
        socket: SocketId,
        peer: SocketAddr,
        local: SocketAddr,
        listener: &'a str,
        data: &'a [u8],
    },
    /// A TCP connection was accepted.
    ConnOpened {
        conn: ConnId,
        peer: SocketAddr,
        local: SocketAddr,
        listener: &'a str,
    },
    /// Bytes arrived on a connection.
    Bytes { conn: ConnId, data: &'a [u8] },
    /// The peer closed its write side; we may still write.
    PeerEof { conn: ConnId },
    /// The connection is gone; `error` says why when it failed.
    ConnClosed {
        conn: ConnId,
        error: Option<HostError>,
    },
    /// A timer set with [`crate::Ctx::set_timer`] fired.
    Timer { token: u64 },
    /// Everything queued on `conn` before [`crate::Ctx::notify_drained`] was written.
    Drained { conn: ConnId, token: u64 },
    /// A [`crate::Ctx::send_file`] finished: bytes sent, or why not.
    FileSent {
        conn: ConnId,
        token: u64,
        result: Result<u64, HostError>,
    },
    /// A [`crate::Ctx::recv_to_file`] finished: bytes received and the digest of the
    /// whole file (when asked), or why not.
    FileReceived {
        conn: ConnId,
        token: u64,
        result: Result<(u64, Option<[u8; 32]>), HostError>,
    },
    /// A typed message arrived on input port `port`.
    Message {
        port: &'a str,
        /// The sender, as `handler.port`.
        from: &'a str,
        type_name: &'a str,
        data: &'a [u8],
    },
    /// The host is shutting down: finish in-flight work, start nothing new.
    Drain,
    /// A send on `socket` failed (e.g. an ICMP unreachable); the socket stays usable.
    SocketError { socket: SocketId, error: HostError },
    /// A [`crate::Ctx::prefetch_file`] finished: the range is cached, or why not.
    FilePrefetched {
        token: u64,
        result: Result<(), HostError>,
    },
    /// A reload replaced this instance, and its successor did not take its state.
    /// Sessions living on a listener socket (datagram peers of a shared socket) now
    /// reach the successor: tell them (sending on the listener socket still works).
    /// Sessions on the instance's own sockets and connections stay here until they
    /// end. [`Event::Drain`] follows.
    Replaced,
    /// The drain deadline passed: every session still open is cut when this call
    /// returns. Send each its protocol's goodbye now (TFTP ERROR, an error reply, a
    /// notice). File sends in flight were stopped where they were.
    DrainDeadline { cause: DrainCause },
    /// A [`crate::Ctx::storage_begin`] that waited is done: what it gave, or why not.
    /// A listing's entries: [`crate::Ctx::storage_listing`] during this call.
    StorageDone {
        token: u64,
        result: Result<crate::StoreDone, HostError>,
    },
    /// The operator cancelled session `session` (the key given to
    /// [`crate::Ctx::describe_session`]): tell the peer in protocol terms, end it.
    SessionCancel { session: u64 },
    /// A [`crate::Ctx::bus_subscribe`] is done: the server has the subscription
    /// ([`Event::BusMessage`]s of `token` follow), or why not.
    BusDone {
        token: u64,
        result: Result<(), HostError>,
    },
    /// A message on a subject subscribed as `token`.
    BusMessage {
        token: u64,
        /// The subject, as the plugin subscribed it (no prefix).
        subject: &'a str,
        /// The publisher's type with its schema version; empty when untyped.
        type_name: &'a str,
        /// The publisher, `host/handler`.
        from: &'a str,
        data: &'a [u8],
    },
    /// A [`crate::Ctx::bus_kv`] is done: the key's revision and (for a get) its value,
    /// or why not ([`HostError::NotFound`]: no live value; [`HostError::Exists`]: a
    /// create or compare-and-set lost to another writer).
    BusKvDone {
        token: u64,
        result: Result<(u64, &'a [u8]), HostError>,
    },
    /// The next message of a [`crate::Ctx::bus_stream_read`] `token`, in stream order.
    StreamMessage {
        token: u64,
        /// The message's stream sequence: it only grows; a gap means the stream no
        /// longer held those messages (its size or age bound removed them).
        sequence: u64,
        /// The subject, without the host's prefix.
        subject: &'a str,
        /// The publisher's type with its schema version; empty when untyped.
        type_name: &'a str,
        /// The publisher, `host/handler`.
        from: &'a str,
        data: &'a [u8],
    },
    /// An event tag this SDK does not know (sent by a newer host); ignore it.
    Unknown { tag: u32 },
}

/// Why a drain deadline cut sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainCause {
    /// The host is shutting down (`drain_timeout_secs` passed).
    Shutdown,
    /// A reload retired this instance and `reload_drain_timeout_secs` passed.
    Reload,
}

fn addr(a: &abi::SyAddr) -> SocketAddr {
    a.to_socket_addr()
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
}

fn result_of(status: u32) -> Result<(), HostError> {
    HostError::check(status)
}

impl<'a> Event<'a> {
    /// Decode a raw event. `ports` is the plugin's port list, to name input ports.
    ///
    /// # Safety
    /// Every pointer in `raw` must be valid for `'a`, as the host guarantees for the
    /// duration of a call.
    pub unsafe fn from_raw(raw: &'a SyEvent, ports: &'static [abi::SyPortDecl]) -> Event<'a> {
        // SAFETY (all below): the host lends these pointers for the call.
        let text = |s: &abi::SyStr| -> &'a str {
            std::str::from_utf8(unsafe { s.as_bytes() }).unwrap_or("")
        };
        let data = unsafe { raw.data.as_slice() };
        match raw.tag {
            abi::SY_EV_START => Event::Start,
            abi::SY_EV_DATAGRAM => Event::Datagram {
                socket: SocketId(raw.socket),
                peer: addr(&raw.peer),
                local: addr(&raw.local),
                listener: text(&raw.listener),
                data,
            },
            abi::SY_EV_CONN_OPENED => Event::ConnOpened {
                conn: ConnId(raw.conn),
                peer: addr(&raw.peer),
                local: addr(&raw.local),
                listener: text(&raw.listener),
            },
            abi::SY_EV_BYTES => Event::Bytes {
                conn: ConnId(raw.conn),
                data,
            },
            abi::SY_EV_PEER_EOF => Event::PeerEof {
                conn: ConnId(raw.conn),
            },
            abi::SY_EV_CONN_CLOSED => Event::ConnClosed {
                conn: ConnId(raw.conn),
                error: result_of(raw.status).err(),
            },
            abi::SY_EV_TIMER => Event::Timer { token: raw.token },
            abi::SY_EV_DRAINED => Event::Drained {
                conn: ConnId(raw.conn),
                token: raw.token,
            },
            abi::SY_EV_FILE_SENT => Event::FileSent {
                conn: ConnId(raw.conn),
                token: raw.token,
                result: result_of(raw.status).map(|()| raw.amount),
            },
            abi::SY_EV_FILE_RECEIVED => Event::FileReceived {
                conn: ConnId(raw.conn),
                token: raw.token,
                result: result_of(raw.status).map(|()| {
                    let digest = (raw.digest != [0; 32]).then_some(raw.digest);
                    (raw.amount, digest)
                }),
            },
            abi::SY_EV_MESSAGE => Event::Message {
                port: ports
                    .get(raw.port as usize)
                    .map(|p| std::str::from_utf8(unsafe { p.name.as_bytes() }).unwrap_or(""))
                    .unwrap_or(""),
                from: text(&raw.source),
                type_name: text(&raw.type_name),
                data,
            },
            abi::SY_EV_DRAIN => Event::Drain,
            abi::SY_EV_SOCKET_ERROR => Event::SocketError {
                socket: SocketId(raw.socket),
                error: HostError::from_status(raw.status),
            },
            abi::SY_EV_FILE_PREFETCHED => Event::FilePrefetched {
                token: raw.token,
                result: result_of(raw.status),
            },
            abi::SY_EV_REPLACED => Event::Replaced,
            abi::SY_EV_DRAIN_DEADLINE => Event::DrainDeadline {
                cause: if raw.status == abi::SY_CUT_RELOAD {
                    DrainCause::Reload
                } else {
                    DrainCause::Shutdown
                },
            },
            abi::SY_EV_STORAGE_DONE => Event::StorageDone {
                token: raw.token,
                result: result_of(raw.status).map(|()| {
                    let mut done = abi::SyStorageDone::default();
                    if data.len() >= std::mem::size_of::<abi::SyStorageDone>() {
                        // SAFETY: the host lends at least a whole SyStorageDone there;
                        // read unaligned, as the bytes carry no alignment promise.
                        done =
                            unsafe { data.as_ptr().cast::<abi::SyStorageDone>().read_unaligned() };
                    }
                    crate::StoreDone::from_raw(&done)
                }),
            },
            abi::SY_EV_SESSION_CANCEL => Event::SessionCancel { session: raw.token },
            abi::SY_EV_BUS_DONE => Event::BusDone {
                token: raw.token,
                result: result_of(raw.status),
            },
            abi::SY_EV_BUS_MESSAGE => Event::BusMessage {
                token: raw.token,
                subject: text(&raw.listener),
                type_name: text(&raw.type_name),
                from: text(&raw.source),
                data,
            },
            abi::SY_EV_BUS_KV_DONE => Event::BusKvDone {
                token: raw.token,
                result: result_of(raw.status).map(|()| (raw.amount, data)),
            },
            abi::SY_EV_BUS_STREAM_MESSAGE => Event::StreamMessage {
                token: raw.token,
                sequence: raw.amount,
                subject: text(&raw.listener),
                type_name: text(&raw.type_name),
                from: text(&raw.source),
                data,
            },
            tag => Event::Unknown { tag },
        }
    }
}
