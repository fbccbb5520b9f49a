//! [`HostEvent`]: what the host tells a plugin, typed, and its one lowering to the
//! ABI's [`SyEvent`].
//!
//! Why: an `SyEvent` is a flat C struct where each tag uses some fields and leaves the
//! rest zero. Filled by hand at every place an event arises, a field set for the wrong
//! tag (or forgotten) would go unnoticed; here each event names exactly its fields and
//! [`HostEvent::lower`] is the only place that knows the layout.

use std::net::SocketAddr;

use switchyard_sdk::DrainCause;
use switchyard_sdk::abi::{self, SyBytes, SyEvent, SyStr};

/// An event for a plugin instance, borrowing its bytes and names for the delivery.
#[derive(Debug, Clone, Copy)]
pub enum HostEvent<'a> {
    /// The instance was created.
    Start,
    /// The handler drains: finish what is in flight.
    Drain,
    /// A reload replaced the instance and its successor did not take its state.
    Replaced,
    /// The drain deadline passed: every session left is cut when this call returns.
    DrainDeadline {
        cause: DrainCause,
    },
    Timer {
        token: u64,
    },
    /// The operator cancelled session `key` (`SY_EV_SESSION_CANCEL`).
    SessionCancel {
        key: u64,
    },
    Datagram {
        socket: u64,
        peer: SocketAddr,
        local: SocketAddr,
        /// The listener's name, for a listener socket.
        listener: Option<&'a str>,
        data: &'a [u8],
    },
    /// An ICMP error from an earlier send: the socket stays usable.
    SocketError {
        socket: u64,
        status: u32,
    },
    ConnOpened {
        conn: u64,
        peer: SocketAddr,
        local: SocketAddr,
        listener: &'a str,
    },
    Bytes {
        conn: u64,
        data: &'a [u8],
    },
    PeerEof {
        conn: u64,
    },
    ConnClosed {
        conn: u64,
        status: u32,
    },
    /// Everything queued before `notify_drained` was written.
    Drained {
        conn: u64,
        token: u64,
    },
    FileSent {
        conn: u64,
        token: u64,
        sent: u64,
        status: u32,
    },
    /// A `recv_to_file` ended: the digest (when asked) or a status.
    FileReceived {
        conn: u64,
        token: u64,
        received: u64,
        result: Result<Option<[u8; 32]>, u32>,
    },
    FilePrefetched {
        token: u64,
        status: u32,
    },
    /// A storage operation that waited is done: what it gave (for `SY_OK`).
    StorageDone {
        token: u64,
        status: u32,
        done: &'a abi::SyStorageDone,
    },
    Message {
        port: u32,
        type_name: &'a str,
        source: &'a str,
        data: &'a [u8],
    },
    /// A plugin's bus subscription is made (`SY_OK`), or why not.
    BusDone {
        token: u64,
        status: u32,
    },
    /// A plugin's key-value operation is done: the revision and (a get) the value.
    BusKvDone {
        token: u64,
        status: u32,
        revision: u64,
        value: &'a [u8],
    },
    /// A message on a plugin's bus subscription.
    BusMessage {
        token: u64,
        subject: &'a str,
        type_name: &'a str,
        source: &'a str,
        data: &'a [u8],
    },
    /// The next message of a plugin's stream read, with its stream sequence.
    BusStreamMessage {
        token: u64,
        sequence: u64,
        subject: &'a str,
        type_name: &'a str,
        source: &'a str,
        data: &'a [u8],
    },
}

impl HostEvent<'_> {
    /// The ABI event at `now_ms`. It points into what `self` borrows: deliver it
    /// while that lives.
    pub fn lower(self, now_ms: u64) -> SyEvent {
        let tag = match self {
            HostEvent::Start => abi::SY_EV_START,
            HostEvent::Drain => abi::SY_EV_DRAIN,
            HostEvent::Replaced => abi::SY_EV_REPLACED,
            HostEvent::DrainDeadline { .. } => abi::SY_EV_DRAIN_DEADLINE,
            HostEvent::Timer { .. } => abi::SY_EV_TIMER,
            HostEvent::SessionCancel { .. } => abi::SY_EV_SESSION_CANCEL,
            HostEvent::Datagram { .. } => abi::SY_EV_DATAGRAM,
            HostEvent::SocketError { .. } => abi::SY_EV_SOCKET_ERROR,
            HostEvent::ConnOpened { .. } => abi::SY_EV_CONN_OPENED,
            HostEvent::Bytes { .. } => abi::SY_EV_BYTES,
            HostEvent::PeerEof { .. } => abi::SY_EV_PEER_EOF,
            HostEvent::ConnClosed { .. } => abi::SY_EV_CONN_CLOSED,
            HostEvent::Drained { .. } => abi::SY_EV_DRAINED,
            HostEvent::FileSent { .. } => abi::SY_EV_FILE_SENT,
            HostEvent::FileReceived { .. } => abi::SY_EV_FILE_RECEIVED,
            HostEvent::FilePrefetched { .. } => abi::SY_EV_FILE_PREFETCHED,
            HostEvent::StorageDone { .. } => abi::SY_EV_STORAGE_DONE,
            HostEvent::Message { .. } => abi::SY_EV_MESSAGE,
            HostEvent::BusDone { .. } => abi::SY_EV_BUS_DONE,
            HostEvent::BusKvDone { .. } => abi::SY_EV_BUS_KV_DONE,
            HostEvent::BusMessage { .. } => abi::SY_EV_BUS_MESSAGE,
            HostEvent::BusStreamMessage { .. } => abi::SY_EV_BUS_STREAM_MESSAGE,
        };
        let mut ev = SyEvent::new(tag, now_ms);
        match self {
            HostEvent::Start | HostEvent::Drain | HostEvent::Replaced => {}
            HostEvent::DrainDeadline { cause } => {
                ev.status = match cause {
                    DrainCause::Shutdown => abi::SY_CUT_SHUTDOWN,
                    DrainCause::Reload => abi::SY_CUT_RELOAD,
                }
            }
            HostEvent::Timer { token } | HostEvent::SessionCancel { key: token } => {
                ev.token = token
            }
            HostEvent::Datagram {
                socket,
                peer,
                local,
                listener,
                data,
            } => {
                ev.socket = socket;
                ev.peer = peer.into();
                ev.local = local.into();
                ev.listener = listener.map_or(SyStr::EMPTY, SyStr::from_str);
                ev.data = SyBytes::from_slice(data);
            }
            HostEvent::SocketError { socket, status } => {
                ev.socket = socket;
                ev.status = status;
            }
            HostEvent::ConnOpened {
                conn,
                peer,
                local,
                listener,
            } => {
                ev.conn = conn;
                ev.peer = peer.into();
                ev.local = local.into();
                ev.listener = SyStr::from_str(listener);
            }
            HostEvent::Bytes { conn, data } => {
                ev.conn = conn;
                ev.data = SyBytes::from_slice(data);
            }
            HostEvent::PeerEof { conn } => ev.conn = conn,
            HostEvent::ConnClosed { conn, status } => {
                ev.conn = conn;
                ev.status = status;
            }
            HostEvent::Drained { conn, token } => {
                ev.conn = conn;
                ev.token = token;
            }
            HostEvent::FileSent {
                conn,
                token,
                sent,
                status,
            } => {
                ev.conn = conn;
                ev.token = token;
                ev.amount = sent;
                ev.status = status;
            }
            HostEvent::FileReceived {
                conn,
                token,
                received,
                result,
            } => {
                ev.conn = conn;
                ev.token = token;
                ev.amount = received;
                match result {
                    Ok(Some(digest)) => ev.digest = digest,
                    Ok(None) => {}
                    Err(status) => ev.status = status,
                }
            }
            HostEvent::FilePrefetched { token, status } => {
                ev.token = token;
                ev.status = status;
            }
            HostEvent::StorageDone {
                token,
                status,
                done,
            } => {
                ev.token = token;
                ev.status = status;
                ev.amount = done.stat.size;
                // SAFETY: `done` is a plain `repr(C)` struct borrowed for the delivery.
                ev.data = SyBytes::from_slice(unsafe {
                    std::slice::from_raw_parts(
                        (done as *const abi::SyStorageDone).cast::<u8>(),
                        std::mem::size_of::<abi::SyStorageDone>(),
                    )
                });
            }
            HostEvent::Message {
                port,
                type_name,
                source,
                data,
            } => {
                ev.port = port;
                ev.type_name = SyStr::from_str(type_name);
                ev.source = SyStr::from_str(source);
                ev.data = SyBytes::from_slice(data);
            }
            HostEvent::BusDone { token, status } => {
                ev.token = token;
                ev.status = status;
            }
            HostEvent::BusKvDone {
                token,
                status,
                revision,
                value,
            } => {
                ev.token = token;
                ev.status = status;
                ev.amount = revision;
                ev.data = SyBytes::from_slice(value);
            }
            HostEvent::BusMessage {
                token,
                subject,
                type_name,
                source,
                data,
            }
            | HostEvent::BusStreamMessage {
                token,
                subject,
                type_name,
                source,
                data,
                ..
            } => {
                if let HostEvent::BusStreamMessage { sequence, .. } = self {
                    ev.amount = sequence;
                }
                ev.token = token;
                ev.listener = SyStr::from_str(subject);
                ev.type_name = SyStr::from_str(type_name);
                ev.source = SyStr::from_str(source);
                ev.data = SyBytes::from_slice(data);
            }
        }
        ev
    }
}
