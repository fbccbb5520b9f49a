//! The plain data that crosses the boundary: strings, bytes, addresses, file stats,
//! sessions, events, port declarations, the opaque context and instance.

use std::ffi::c_void;

use super::constants::*;

/// A borrowed UTF-8 string (not NUL-terminated). `ptr` may be null when `len` is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SyStr {
    pub ptr: *const u8,
    pub len: usize,
}

/// A borrowed byte slice. `ptr` may be null when `len` is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SyBytes {
    pub ptr: *const u8,
    pub len: usize,
}

/// A socket address. `family` is 4 or 6; for IPv4 only `ip[0..4]` is used.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyAddr {
    pub family: u16,
    pub port: u16,
    pub flowinfo: u32,
    pub scope_id: u32,
    pub ip: [u8; 16],
}

/// What a session is doing, as a plugin describes it with `session_update`. The host
/// keeps a copy (strings included): for the lines it logs about a session it cuts,
/// for metrics and for the operator's view.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SySession {
    pub struct_size: u32,
    /// `SY_DIR_*`.
    pub direction: u32,
    /// The peer (family 0: none).
    pub peer: SyAddr,
    /// The connection the session runs on (0: none). The host then counts the bytes
    /// it moves on it for the session, file sends and receives included.
    pub conn: u64,
    /// What the session works on (a file name), or empty.
    pub resource: SyStr,
    /// A short word for its state ("sending", "waiting", "joined"), or empty.
    pub state: SyStr,
    pub bytes_done: u64,
    /// 0: unknown.
    pub bytes_total: u64,
}

/// Metadata of a file under the handler's root.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SyStat {
    pub struct_size: u32,
    /// 1 = regular file, 2 = directory, 3 = other.
    pub kind: u32,
    pub size: u64,
    /// Seconds since the Unix epoch.
    pub modified_unix: i64,
}

/// A storage operation for `storage_begin`; the host copies what it needs.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SyStorageOp {
    pub struct_size: u32,
    /// `SY_STORE_*`.
    pub kind: u32,
    /// Relative, `/`-separated, as for the synchronous calls.
    pub path: SyStr,
    /// `SY_STORE_COMMIT`: the temp or partial handle; else 0.
    pub file: u64,
    /// `SY_STORE_COMMIT`: `SY_COMMIT_*`; else 0.
    pub flags: u32,
    pub reserved0: u32,
}

/// A key-value operation on the bus (`bus_kv_begin`); the host copies what it needs.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SyBusKvOp {
    pub struct_size: u32,
    /// `SY_BUS_KV_*`.
    pub kind: u32,
    /// One token (`A-Z a-z 0-9 _ -`); the host prefixes it.
    pub bucket: SyStr,
    /// Dotted tokens of `A-Z a-z 0-9 - _ / =`.
    pub key: SyStr,
    /// `PUT`, `CREATE`, `UPDATE`.
    pub value: SyBytes,
    /// `UPDATE`: the revision the key must still be at.
    pub revision: u64,
    /// The bucket's expiry in seconds (0: never).
    pub max_age_secs: u32,
    pub reserved0: u32,
}

/// What a storage operation gave: `storage_begin`'s out, or `SY_EV_STORAGE_DONE`'s data.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SyStorageDone {
    pub struct_size: u32,
    /// The `SY_STORE_*` that finished.
    pub kind: u32,
    /// `OPEN_READ`, `CREATE_TEMP`, `OPEN_PARTIAL`: the new handle.
    pub file: u64,
    /// `OPEN_READ`, `OPEN_PARTIAL`, `STAT` (`struct_size` 0: none).
    pub stat: SyStat,
}

/// One event delivered to a plugin instance. Which fields are set depends on `tag`
/// (see the `SY_EV_*` constants); the others are zero.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SyEvent {
    pub struct_size: u32,
    pub tag: u32,
    /// Milliseconds on the host's monotonic clock. Plugins read time only from here.
    pub now_ms: u64,
    pub socket: u64,
    pub conn: u64,
    pub token: u64,
    /// Bytes sent or received (`FILE_SENT`, `FILE_RECEIVED`).
    pub amount: u64,
    pub status: u32,
    /// Input port index (`MESSAGE`).
    pub port: u32,
    pub peer: SyAddr,
    pub local: SyAddr,
    /// Listener name (`CONN_OPENED`, `DATAGRAM`).
    pub listener: SyStr,
    pub type_name: SyStr,
    pub data: SyBytes,
    /// sha256 of the received bytes (`FILE_RECEIVED` with `SY_RECV_SHA256`).
    pub digest: [u8; 32],
    /// Wall-clock milliseconds since the Unix epoch, for records and logs (never for
    /// timeouts: use `now_ms`, which cannot jump).
    pub wall_ms: u64,
    /// Where a typed message came from, as `handler.port` (`MESSAGE`).
    pub source: SyStr,
}

/// A typed message port a plugin declares.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SyPortDecl {
    pub direction: u32,
    pub name: SyStr,
    /// Type name, e.g. `switchyard.TransferCompleted/1`, or `*` for an input accepting all.
    pub type_name: SyStr,
}

/// Opaque host context passed to every call; only the host reads it.
#[repr(C)]
#[derive(Debug)]
pub struct SyHostCtx {
    _private: [u8; 0],
}

/// Opaque plugin instance; only the plugin reads it.
#[repr(C)]
#[derive(Debug)]
pub struct SyInstance {
    _private: [u8; 0],
}

/// Callback of [`SyHostApi::list_dir`], called once per entry during the call.
pub type SyListFn = unsafe extern "C" fn(user: *mut c_void, name: SyStr, stat: *const SyStat);

// SAFETY: port declarations are immutable static data.
unsafe impl Sync for SyPortDecl {}
unsafe impl Send for SyPortDecl {}

impl SyStr {
    pub const EMPTY: SyStr = SyStr {
        ptr: std::ptr::null(),
        len: 0,
    };

    pub const fn from_str(s: &str) -> SyStr {
        SyStr {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// # Safety
    /// `ptr` must point to `len` readable bytes valid for `'a`.
    pub unsafe fn as_bytes<'a>(&self) -> &'a [u8] {
        if self.ptr.is_null() || self.len == 0 {
            &[]
        } else {
            // SAFETY: guaranteed by the caller.
            unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
        }
    }

    /// Lossy UTF-8 view (a C plugin may hand over anything).
    ///
    /// # Safety
    /// As [`SyStr::as_bytes`].
    pub unsafe fn to_string_lossy<'a>(&self) -> std::borrow::Cow<'a, str> {
        // SAFETY: guaranteed by the caller.
        String::from_utf8_lossy(unsafe { self.as_bytes() })
    }
}

impl SyBytes {
    pub const EMPTY: SyBytes = SyBytes {
        ptr: std::ptr::null(),
        len: 0,
    };

    pub fn from_slice(s: &[u8]) -> SyBytes {
        SyBytes {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// # Safety
    /// `ptr` must point to `len` readable bytes valid for `'a`.
    pub unsafe fn as_slice<'a>(&self) -> &'a [u8] {
        if self.ptr.is_null() || self.len == 0 {
            &[]
        } else {
            // SAFETY: guaranteed by the caller.
            unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
        }
    }
}

// SAFETY: a SyStr in a static vtable points to static string data.
unsafe impl Sync for SyStr {}
unsafe impl Send for SyStr {}

impl SyEvent {
    /// An event with every field zeroed but the size, tag and clock.
    pub fn new(tag: u32, now_ms: u64) -> SyEvent {
        SyEvent {
            struct_size: std::mem::size_of::<SyEvent>() as u32,
            tag,
            now_ms,
            socket: 0,
            conn: 0,
            token: 0,
            amount: 0,
            status: SY_OK,
            port: 0,
            peer: SyAddr::default(),
            local: SyAddr::default(),
            listener: SyStr::EMPTY,
            type_name: SyStr::EMPTY,
            data: SyBytes::EMPTY,
            digest: [0; 32],
            wall_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            source: SyStr::EMPTY,
        }
    }
}

impl From<std::net::SocketAddr> for SyAddr {
    fn from(addr: std::net::SocketAddr) -> SyAddr {
        match addr {
            std::net::SocketAddr::V4(a) => {
                let mut ip = [0u8; 16];
                ip[..4].copy_from_slice(&a.ip().octets());
                SyAddr {
                    family: 4,
                    port: a.port(),
                    flowinfo: 0,
                    scope_id: 0,
                    ip,
                }
            }
            std::net::SocketAddr::V6(a) => SyAddr {
                family: 6,
                port: a.port(),
                flowinfo: a.flowinfo(),
                scope_id: a.scope_id(),
                ip: a.ip().octets(),
            },
        }
    }
}

impl SyAddr {
    /// The standard address, or `None` for an unknown family.
    pub fn to_socket_addr(&self) -> Option<std::net::SocketAddr> {
        use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
        match self.family {
            4 => {
                let ip = Ipv4Addr::new(self.ip[0], self.ip[1], self.ip[2], self.ip[3]);
                Some(SocketAddr::V4(SocketAddrV4::new(ip, self.port)))
            }
            6 => Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(self.ip),
                self.port,
                self.flowinfo,
                self.scope_id,
            ))),
            _ => None,
        }
    }
}
