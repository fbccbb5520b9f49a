//! A recording host for unit tests of a [`Protocol`] implementation — no sockets,
//! no files, no clock: feed events with a chosen `now`, then assert on [`Action`]s.
//!
//! ```ignore
//! let mut host = MockHost::new();
//! let mut echo = host.create::<Echo>("()").unwrap();
//! host.deliver(&mut echo, 0, Event::Bytes { conn: ConnId(1), data: b"hi" });
//! assert_eq!(host.take_actions(), vec![Action::Write { conn: 1, data: b"hi".to_vec() }]);
//! ```
//!
//! Storage is an in-memory map of path -> bytes; temp files become visible only on
//! commit, as with the real host.

use std::collections::BTreeMap;
use std::ffi::c_void;
use std::net::SocketAddr;

use crate::abi::{self, SyAddr, SyBytes, SyHostApi, SyHostCtx, SyStat, SyStr};
use crate::config::parse_config;
use crate::ctx::Ctx;
use crate::event::Event;
use crate::protocol::Protocol;

/// One thing the plugin asked the host to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Log {
        level: u32,
        msg: String,
    },
    ConfigError {
        msg: String,
        line: u32,
        col: u32,
    },
    SendDatagram {
        socket: u64,
        to: SocketAddr,
        data: Vec<u8>,
    },
    OpenUdp {
        socket: u64,
    },
    CloseSocket {
        socket: u64,
    },
    Write {
        conn: u64,
        data: Vec<u8>,
    },
    NotifyDrained {
        conn: u64,
        token: u64,
    },
    ShutdownWrite {
        conn: u64,
    },
    Close {
        conn: u64,
    },
    SetReading {
        conn: u64,
        on: bool,
    },
    SendFile {
        conn: u64,
        file: u64,
        offset: u64,
        len: u64,
        token: u64,
    },
    RecvToFile {
        conn: u64,
        file: u64,
        len: u64,
        sha256: bool,
        token: u64,
    },
    SetTimer {
        token: u64,
        delay_ms: u64,
    },
    CancelTimer {
        token: u64,
    },
    Emit {
        port: u32,
        data: Vec<u8>,
    },
    Commit {
        path: String,
    },
    PrefetchFile {
        file: u64,
        offset: u64,
        len: u64,
        token: u64,
    },
}

#[derive(Debug)]
struct OpenFile {
    data: Vec<u8>,
    temp: bool,
    /// `open_partial`: the path it continues, where `close_file` puts it back.
    continues: Option<String>,
}

/// The recording host. Plain data: inspect `files` and the actions freely.
#[derive(Debug, Default)]
pub struct MockHost {
    actions: Vec<Action>,
    /// Committed files, by path.
    pub files: BTreeMap<String, Vec<u8>>,
    open: BTreeMap<u64, OpenFile>,
    next_id: u64,
    /// Answer for `free_space`.
    pub free_space: u64,
    /// `read_file` calls so far (to check when a plugin reads).
    pub reads: u64,
    /// The wall clock at `now_ms == 0` (`Ctx::now_unix_ms` is this plus `now_ms`).
    pub wall_origin_ms: u64,
}

fn host(ctx: *mut SyHostCtx) -> &'static mut MockHost {
    // SAFETY: every ctx this module hands out is a `&mut MockHost` alive for the call.
    unsafe { &mut *(ctx as *mut MockHost) }
}

fn text(s: SyStr) -> String {
    // SAFETY: the plugin lends the string for the call.
    unsafe { s.to_string_lossy() }.into_owned()
}

fn bytes(b: SyBytes) -> Vec<u8> {
    // SAFETY: the plugin lends the bytes for the call.
    unsafe { b.as_slice() }.to_vec()
}

fn valid_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != ".." && c != ".")
}

unsafe extern "C" fn m_log(ctx: *mut SyHostCtx, level: u32, msg: SyStr) {
    host(ctx).actions.push(Action::Log {
        level,
        msg: text(msg),
    });
}
unsafe extern "C" fn m_config_error(ctx: *mut SyHostCtx, msg: SyStr, line: u32, col: u32) {
    host(ctx).actions.push(Action::ConfigError {
        msg: text(msg),
        line,
        col,
    });
}
unsafe extern "C" fn m_send_datagram(
    ctx: *mut SyHostCtx,
    socket: u64,
    to: *const SyAddr,
    data: SyBytes,
) -> u32 {
    // SAFETY: lent for the call.
    let Some(to) = (unsafe { to.as_ref() }).and_then(SyAddr::to_socket_addr) else {
        return abi::SY_ERR_INVALID;
    };
    host(ctx).actions.push(Action::SendDatagram {
        socket,
        to,
        data: bytes(data),
    });
    abi::SY_OK
}
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn m_send_datagram_file(
    ctx: *mut SyHostCtx,
    socket: u64,
    to: *const SyAddr,
    header: SyBytes,
    file: u64,
    offset: u64,
    len: u32,
    out_sent: *mut u32,
) -> u32 {
    let h = host(ctx);
    // SAFETY: lent for the call.
    let Some(to) = (unsafe { to.as_ref() }).and_then(SyAddr::to_socket_addr) else {
        return abi::SY_ERR_INVALID;
    };
    let Some(f) = h.open.get(&file) else {
        return abi::SY_ERR_INVALID;
    };
    let start = (offset as usize).min(f.data.len());
    let end = (start + len as usize).min(f.data.len());
    // SAFETY: out-pointer from the plugin.
    if let Some(out) = unsafe { out_sent.as_mut() } {
        *out = (end - start) as u32;
    }
    // Like the host: only a whole range is sent.
    if end - start == len as usize {
        let mut data = bytes(header);
        data.extend_from_slice(&f.data[start..end]);
        h.actions.push(Action::SendDatagram { socket, to, data });
    }
    abi::SY_OK
}
unsafe extern "C" fn m_open_udp(
    ctx: *mut SyHostCtx,
    _like: u64,
    out: *mut u64,
    local: *mut SyAddr,
) -> u32 {
    let h = host(ctx);
    h.next_id += 1;
    let id = 1000 + h.next_id;
    // SAFETY: out-pointers from the plugin.
    unsafe {
        if let Some(o) = out.as_mut() {
            *o = id;
        }
        if let Some(l) = local.as_mut() {
            *l = SyAddr::from(SocketAddr::from((
                [127, 0, 0, 1],
                40000 + (id % 20000) as u16,
            )));
        }
    }
    h.actions.push(Action::OpenUdp { socket: id });
    abi::SY_OK
}
unsafe extern "C" fn m_close_socket(ctx: *mut SyHostCtx, socket: u64) -> u32 {
    host(ctx).actions.push(Action::CloseSocket { socket });
    abi::SY_OK
}
unsafe extern "C" fn m_write(ctx: *mut SyHostCtx, conn: u64, data: SyBytes) -> u32 {
    host(ctx).actions.push(Action::Write {
        conn,
        data: bytes(data),
    });
    abi::SY_OK
}
unsafe extern "C" fn m_notify_drained(ctx: *mut SyHostCtx, conn: u64, token: u64) -> u32 {
    host(ctx)
        .actions
        .push(Action::NotifyDrained { conn, token });
    abi::SY_OK
}
unsafe extern "C" fn m_shutdown_write(ctx: *mut SyHostCtx, conn: u64) -> u32 {
    host(ctx).actions.push(Action::ShutdownWrite { conn });
    abi::SY_OK
}
unsafe extern "C" fn m_close(ctx: *mut SyHostCtx, conn: u64) -> u32 {
    host(ctx).actions.push(Action::Close { conn });
    abi::SY_OK
}
unsafe extern "C" fn m_set_reading(ctx: *mut SyHostCtx, conn: u64, on: u32) -> u32 {
    host(ctx)
        .actions
        .push(Action::SetReading { conn, on: on != 0 });
    abi::SY_OK
}
unsafe extern "C" fn m_send_file(
    ctx: *mut SyHostCtx,
    conn: u64,
    file: u64,
    offset: u64,
    len: u64,
    token: u64,
) -> u32 {
    host(ctx).actions.push(Action::SendFile {
        conn,
        file,
        offset,
        len,
        token,
    });
    abi::SY_OK
}
unsafe extern "C" fn m_recv_to_file(
    ctx: *mut SyHostCtx,
    conn: u64,
    file: u64,
    len: u64,
    flags: u32,
    token: u64,
) -> u32 {
    let sha256 = flags & abi::SY_RECV_SHA256 != 0;
    host(ctx).actions.push(Action::RecvToFile {
        conn,
        file,
        len,
        sha256,
        token,
    });
    abi::SY_OK
}
unsafe extern "C" fn m_set_timer(ctx: *mut SyHostCtx, token: u64, delay_ms: u64) -> u32 {
    host(ctx).actions.push(Action::SetTimer { token, delay_ms });
    abi::SY_OK
}
unsafe extern "C" fn m_cancel_timer(ctx: *mut SyHostCtx, token: u64) -> u32 {
    host(ctx).actions.push(Action::CancelTimer { token });
    abi::SY_OK
}
unsafe extern "C" fn m_emit(ctx: *mut SyHostCtx, port: u32, data: SyBytes) -> u32 {
    host(ctx).actions.push(Action::Emit {
        port,
        data: bytes(data),
    });
    abi::SY_OK
}
unsafe extern "C" fn m_open_read(
    ctx: *mut SyHostCtx,
    path: SyStr,
    out: *mut u64,
    size: *mut u64,
) -> u32 {
    let h = host(ctx);
    let path = text(path);
    if !valid_path(&path) {
        return abi::SY_ERR_ACCESS;
    }
    let Some(data) = h.files.get(&path).cloned() else {
        return abi::SY_ERR_NOT_FOUND;
    };
    let file = OpenFile {
        data,
        temp: false,
        continues: None,
    };
    // SAFETY: out-pointers from the plugin.
    unsafe { hand_out(h, file, out, size) }
}
impl MockHost {
    /// Whether an `open_partial` handle continues `path` (it is locked, as on the host).
    fn continued(&self, path: &str) -> bool {
        self.open
            .values()
            .any(|f| f.continues.as_deref() == Some(path))
    }
}

/// Register an open file and write its id and size to the plugin's out-pointers.
///
/// # Safety
/// `out` and `size` are null or valid for writes.
unsafe fn hand_out(h: &mut MockHost, file: OpenFile, out: *mut u64, size: *mut u64) -> u32 {
    h.next_id += 1;
    // SAFETY: as the caller promises.
    unsafe {
        if let Some(o) = out.as_mut() {
            *o = h.next_id;
        }
        if let Some(s) = size.as_mut() {
            *s = file.data.len() as u64;
        }
    }
    h.open.insert(h.next_id, file);
    abi::SY_OK
}
unsafe extern "C" fn m_read_file(
    ctx: *mut SyHostCtx,
    file: u64,
    offset: u64,
    buf: *mut u8,
    len: usize,
    out: *mut usize,
) -> u32 {
    let h = host(ctx);
    h.reads += 1;
    let Some(f) = h.open.get(&file) else {
        return abi::SY_ERR_INVALID;
    };
    let start = (offset as usize).min(f.data.len());
    let n = len.min(f.data.len() - start);
    // SAFETY: `buf` is writable for `len` bytes, as the plugin promises.
    unsafe {
        std::ptr::copy_nonoverlapping(f.data[start..].as_ptr(), buf, n);
        if let Some(o) = out.as_mut() {
            *o = n;
        }
    }
    abi::SY_OK
}
unsafe extern "C" fn m_create_temp(ctx: *mut SyHostCtx, path: SyStr, out: *mut u64) -> u32 {
    let h = host(ctx);
    let path = text(path);
    if !valid_path(&path) {
        return abi::SY_ERR_ACCESS;
    }
    h.next_id += 1;
    let id = h.next_id;
    // SAFETY: out-pointer from the plugin.
    if let Some(o) = unsafe { out.as_mut() } {
        *o = id;
    }
    h.open.insert(
        id,
        OpenFile {
            data: Vec::new(),
            temp: true,
            continues: None,
        },
    );
    abi::SY_OK
}
unsafe extern "C" fn m_write_file(ctx: *mut SyHostCtx, file: u64, data: SyBytes) -> u32 {
    let h = host(ctx);
    let Some(f) = h.open.get_mut(&file).filter(|f| f.temp) else {
        return abi::SY_ERR_INVALID;
    };
    let data = bytes(data);
    if data.len() as u64 > h.free_space {
        return abi::SY_ERR_NO_SPACE;
    }
    h.free_space -= data.len() as u64;
    f.data.extend_from_slice(&data);
    abi::SY_OK
}
unsafe extern "C" fn m_commit_file(ctx: *mut SyHostCtx, file: u64, path: SyStr, flags: u32) -> u32 {
    let h = host(ctx);
    let path = text(path);
    if !valid_path(&path) {
        return abi::SY_ERR_ACCESS;
    }
    if h.files.contains_key(&path) && flags & abi::SY_COMMIT_OVERWRITE == 0 {
        return abi::SY_ERR_EXISTS;
    }
    let Some(f) = h.open.get(&file).filter(|f| f.temp) else {
        return abi::SY_ERR_INVALID;
    };
    // A continued partial is renamed: gone from under its name, the rename fails.
    if let Some(from) = &f.continues {
        if !h.files.contains_key(from) {
            return abi::SY_ERR_NOT_FOUND;
        }
    }
    let f = h.open.remove(&file).expect("checked above");
    if let Some(from) = f.continues.as_ref().filter(|from| **from != path) {
        h.files.remove(from); // renamed, not copied
    }
    h.files.insert(path.clone(), f.data);
    h.actions.push(Action::Commit { path });
    abi::SY_OK
}
unsafe extern "C" fn m_open_partial(
    ctx: *mut SyHostCtx,
    path: SyStr,
    out: *mut u64,
    size: *mut u64,
) -> u32 {
    let h = host(ctx);
    let path = text(path);
    if !valid_path(&path) || !path.rsplit('/').next().unwrap_or("").starts_with('.') {
        return abi::SY_ERR_ACCESS;
    }
    if h.continued(&path) {
        return abi::SY_ERR_BUSY;
    }
    let Some(data) = h.files.get(&path).cloned() else {
        return abi::SY_ERR_NOT_FOUND;
    };
    let file = OpenFile {
        data,
        temp: true,
        continues: Some(path),
    };
    // SAFETY: out-pointers from the plugin.
    unsafe { hand_out(h, file, out, size) }
}
unsafe extern "C" fn m_close_file(ctx: *mut SyHostCtx, file: u64) -> u32 {
    let h = host(ctx);
    match h.open.remove(&file) {
        Some(OpenFile {
            data,
            continues: Some(path),
            ..
        }) => {
            // A continued partial keeps what was appended (if it was not removed).
            if let Some(kept) = h.files.get_mut(&path) {
                *kept = data;
            }
            abi::SY_OK
        }
        Some(_) => abi::SY_OK,
        None => abi::SY_ERR_INVALID,
    }
}
fn stat_of(data: &[u8]) -> SyStat {
    SyStat {
        struct_size: std::mem::size_of::<SyStat>() as u32,
        kind: abi::SY_FILE_REGULAR,
        size: data.len() as u64,
        modified_unix: 0,
    }
}
unsafe extern "C" fn m_stat(ctx: *mut SyHostCtx, path: SyStr, out: *mut SyStat) -> u32 {
    let path = text(path);
    if !valid_path(&path) {
        return abi::SY_ERR_ACCESS;
    }
    let Some(data) = host(ctx).files.get(&path) else {
        return abi::SY_ERR_NOT_FOUND;
    };
    // SAFETY: out-pointer from the plugin.
    if let Some(o) = unsafe { out.as_mut() } {
        *o = stat_of(data);
    }
    abi::SY_OK
}
unsafe extern "C" fn m_list_dir(
    ctx: *mut SyHostCtx,
    path: SyStr,
    each: abi::SyListFn,
    user: *mut c_void,
) -> u32 {
    let prefix = text(path);
    let prefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    };
    for (name, data) in &host(ctx).files {
        if let Some(rest) = name.strip_prefix(&prefix).filter(|r| !r.contains('/')) {
            let st = stat_of(data);
            // SAFETY: the plugin's callback, with values lent for the call.
            unsafe { each(user, SyStr::from_str(rest), &st) };
        }
    }
    abi::SY_OK
}
unsafe extern "C" fn m_remove_file(ctx: *mut SyHostCtx, path: SyStr) -> u32 {
    let h = host(ctx);
    let path = text(path);
    // As the host: a partial being continued is locked against removal.
    if h.continued(&path) {
        return abi::SY_ERR_BUSY;
    }
    match h.files.remove(&path) {
        Some(_) => abi::SY_OK,
        None => abi::SY_ERR_NOT_FOUND,
    }
}
unsafe extern "C" fn m_free_space(ctx: *mut SyHostCtx, out: *mut u64) -> u32 {
    let free = host(ctx).free_space;
    // SAFETY: out-pointer from the plugin.
    if let Some(o) = unsafe { out.as_mut() } {
        *o = free;
    }
    abi::SY_OK
}

unsafe extern "C" fn m_prefetch_file(
    ctx: *mut SyHostCtx,
    file: u64,
    offset: u64,
    len: u64,
    token: u64,
) -> u32 {
    let h = host(ctx);
    if h.open.get(&file).is_none_or(|f| f.temp) {
        return abi::SY_ERR_INVALID;
    }
    h.actions.push(Action::PrefetchFile {
        file,
        offset,
        len,
        token,
    });
    abi::SY_OK
}

static MOCK_API: SyHostApi = SyHostApi {
    struct_size: std::mem::size_of::<SyHostApi>() as u32,
    abi_version: abi::SY_ABI_VERSION,
    log: m_log,
    config_error: m_config_error,
    send_datagram: m_send_datagram,
    send_datagram_file: m_send_datagram_file,
    open_udp: m_open_udp,
    close_socket: m_close_socket,
    write: m_write,
    notify_drained: m_notify_drained,
    shutdown_write: m_shutdown_write,
    close: m_close,
    set_reading: m_set_reading,
    send_file: m_send_file,
    recv_to_file: m_recv_to_file,
    set_timer: m_set_timer,
    cancel_timer: m_cancel_timer,
    emit: m_emit,
    open_read: m_open_read,
    read_file: m_read_file,
    create_temp: m_create_temp,
    write_file: m_write_file,
    commit_file: m_commit_file,
    close_file: m_close_file,
    stat: m_stat,
    list_dir: m_list_dir,
    remove_file: m_remove_file,
    free_space: m_free_space,
    prefetch_file: m_prefetch_file,
    open_partial: m_open_partial,
};

impl MockHost {
    /// An empty host with 1 GiB of free space.
    pub fn new() -> MockHost {
        MockHost {
            free_space: 1 << 30,
            wall_origin_ms: 1_700_000_000_000,
            ..Default::default()
        }
    }

    /// The host API table the mock hands to plugins (usable to drive a raw vtable).
    pub fn api() -> &'static SyHostApi {
        &MOCK_API
    }

    /// This host as the opaque context pointer of the raw API.
    pub fn raw_ctx(&mut self) -> *mut SyHostCtx {
        self as *mut MockHost as *mut SyHostCtx
    }

    /// Parse `config` (RON) and create `P`, as the real host does.
    pub fn create<P: Protocol>(&mut self, config: &str) -> Result<P, String> {
        let config = parse_config::<P::Config>(config).map_err(|e| e.to_string())?;
        let raw = self.raw_ctx();
        // SAFETY: `raw` is `self`, alive for the call.
        let mut cx = unsafe { Ctx::from_raw(&MOCK_API, raw, 0, self.wall_origin_ms, P::PORTS) };
        P::new(config, &mut cx)
    }

    /// Deliver one event at time `now_ms`.
    pub fn deliver<P: Protocol>(&mut self, proto: &mut P, now_ms: u64, event: Event<'_>) {
        let raw = self.raw_ctx();
        // SAFETY: `raw` is `self`, alive for the call.
        let mut cx = unsafe {
            Ctx::from_raw(
                &MOCK_API,
                raw,
                now_ms,
                self.wall_origin_ms + now_ms,
                P::PORTS,
            )
        };
        proto.on_event(&mut cx, event);
    }

    /// Run `f` with a `Ctx` on this host at `now_ms`, as during an event. A plugin's
    /// inner state machine takes its storage as `&mut dyn Storage` (which `Ctx` is), so
    /// this drives such a machine directly over the in-memory storage (tests, fuzzing)
    /// without a `Protocol` wrapper around it.
    pub fn with_ctx<R>(&mut self, now_ms: u64, f: impl FnOnce(&mut Ctx<'_>) -> R) -> R {
        let raw = self.raw_ctx();
        let wall = self.wall_origin_ms + now_ms;
        // SAFETY: `raw` is `self`, borrowed for the whole call of `f`.
        let mut cx = unsafe { Ctx::from_raw(&MOCK_API, raw, now_ms, wall, &[]) };
        f(&mut cx)
    }

    /// The actions recorded since the last call, logs included.
    pub fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    /// The actions recorded since the last call, without log lines.
    pub fn take_io(&mut self) -> Vec<Action> {
        self.take_actions()
            .into_iter()
            .filter(|a| !matches!(a, Action::Log { .. }))
            .collect()
    }

    /// How many handles (files or temps) are still open.
    pub fn open_files(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Storage;

    #[test]
    fn with_ctx_is_the_hosts_storage() {
        let mut host = MockHost::new();
        host.files.insert("a.txt".into(), b"hello".to_vec());
        let stored = host.with_ctx(5, |cx| {
            assert_eq!(cx.now_ms(), 5);
            let st: &mut dyn Storage = cx;
            let (file, len) = st.open_read("a.txt")?;
            let mut buf = [0u8; 8];
            let n = st.read_file(file, 1, &mut buf)?;
            st.close_file(file)?;
            let temp = st.create_temp("b.txt")?;
            st.write_file(temp, &buf[..n])?;
            st.commit_file(temp, "b.txt", false)?;
            Ok::<_, crate::HostError>(len)
        });
        assert_eq!(stored, Ok(5));
        assert_eq!(host.files["b.txt"], b"ello");
        assert_eq!(host.open_files(), 0);
        assert_eq!(
            host.take_io(),
            vec![Action::Commit {
                path: "b.txt".into()
            }]
        );
    }
}
