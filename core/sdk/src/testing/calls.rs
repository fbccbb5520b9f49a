//! What the mock does for each host call, once the shared table has decoded and checked
//! the plugin's arguments: record an [`Action`], or act on the in-memory storage the way
//! the real host acts on a root (hidden temps, commit by rename, partials locked while
//! continued).

use std::net::SocketAddr;

use super::waits::OwnedOp;
use super::{Action, MockHost, OpenFile};
use crate::abi::SyStorageDone;
use crate::abi::{self, SyStat};
use crate::host::{HostCalls, answer_at_once};
use crate::store_op::StoreOp;

/// What the real host's storage would accept as a path under the root.
pub(super) fn valid_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != ".." && c != ".")
}

pub(super) fn stat_of(data: &[u8]) -> SyStat {
    SyStat {
        struct_size: std::mem::size_of::<SyStat>() as u32,
        kind: abi::SY_FILE_REGULAR,
        size: data.len() as u64,
        modified_unix: 0,
    }
}

/// A directory: the mock has none of its own, every prefix of a file's path is one.
pub(super) fn dir_stat() -> SyStat {
    SyStat {
        kind: abi::SY_FILE_DIR,
        size: 0,
        ..stat_of(&[])
    }
}

impl MockHost {
    /// Whether an `open_partial` handle continues `path` (it is locked, as on the host).
    pub(super) fn continued(&self, path: &str) -> bool {
        self.open
            .values()
            .any(|f| f.continues.as_deref() == Some(path))
    }

    /// Register an open file: its id and size.
    pub(super) fn hand_out(&mut self, file: OpenFile) -> (u64, u64) {
        self.next_id += 1;
        let size = file.data.len() as u64;
        self.open.insert(self.next_id, file);
        (self.next_id, size)
    }

    fn record(&mut self, action: Action) -> u32 {
        self.actions.push(action);
        abi::SY_OK
    }
}

impl HostCalls for MockHost {
    fn log(&mut self, level: u32, msg: &str) {
        let msg = msg.to_owned();
        self.record(Action::Log { level, msg });
    }
    fn config_error(&mut self, msg: &str, line: u32, col: u32) {
        let msg = msg.to_owned();
        self.record(Action::ConfigError { msg, line, col });
    }
    /// As the host, which logs a WARN line (and counts it).
    fn malformed(&mut self, call: &'static str) {
        let msg = format!("plugin call refused: malformed arguments (call {call})");
        self.log(abi::SY_LOG_WARN, &msg);
    }
    fn send_datagram(&mut self, socket: u64, to: SocketAddr, data: &[u8]) -> u32 {
        let data = data.to_vec();
        self.record(Action::SendDatagram { socket, to, data })
    }
    fn send_datagram_file(
        &mut self,
        socket: u64,
        to: SocketAddr,
        header: &[u8],
        file: u64,
        offset: u64,
        len: u32,
    ) -> Result<u32, u32> {
        let Some(f) = self.open.get(&file) else {
            return Err(abi::SY_ERR_INVALID);
        };
        let start = (offset as usize).min(f.data.len());
        let end = (start + len as usize).min(f.data.len());
        if !self.is_warm(file, start as u64, (end - start) as u64) {
            return Err(abi::SY_PENDING);
        }
        // Like the host: only a whole range is sent.
        if end - start == len as usize {
            let mut data = header.to_vec();
            data.extend_from_slice(&f.data[start..end]);
            self.record(Action::SendDatagram { socket, to, data });
        }
        Ok((end - start) as u32)
    }
    fn open_udp(&mut self, _like_socket: u64) -> Result<(u64, SocketAddr), u32> {
        self.next_id += 1;
        let socket = 1000 + self.next_id;
        let local = SocketAddr::from(([127, 0, 0, 1], 40000 + (socket % 20000) as u16));
        self.record(Action::OpenUdp { socket });
        Ok((socket, local))
    }
    /// Deterministic where the host is random: the lowest free port of `ports`.
    fn open_udp_in(
        &mut self,
        _like_socket: u64,
        ports: std::ops::RangeInclusive<u16>,
    ) -> Result<(u64, SocketAddr), u32> {
        let taken = |p: &u16| {
            self.ports_taken_elsewhere.contains(p) || self.udp_ports.values().any(|q| q == p)
        };
        let Some(port) = ports.clone().find(|p| !taken(p)) else {
            return Err(abi::SY_ERR_BUSY);
        };
        self.next_id += 1;
        let socket = 1000 + self.next_id;
        self.udp_ports.insert(socket, port);
        self.record(Action::OpenUdp { socket });
        Ok((socket, SocketAddr::from(([127, 0, 0, 1], port))))
    }
    fn close_socket(&mut self, socket: u64) -> u32 {
        self.udp_ports.remove(&socket);
        self.record(Action::CloseSocket { socket })
    }
    fn write(&mut self, conn: u64, data: &[u8]) -> u32 {
        if let Some(e) = self.fail_writes {
            return e.status();
        }
        if let Some(cap) = self.write_capacity {
            let queued = self.queued.entry(conn).or_default();
            if *queued + data.len() > cap {
                return abi::SY_ERR_LIMIT;
            }
            *queued += data.len();
        }
        let data = data.to_vec();
        self.record(Action::Write { conn, data })
    }
    fn notify_drained(&mut self, conn: u64, token: u64) -> u32 {
        self.record(Action::NotifyDrained { conn, token })
    }
    fn shutdown_write(&mut self, conn: u64) -> u32 {
        self.record(Action::ShutdownWrite { conn })
    }
    fn close(&mut self, conn: u64) -> u32 {
        self.record(Action::Close { conn })
    }
    fn set_reading(&mut self, conn: u64, on: bool) -> u32 {
        self.record(Action::SetReading { conn, on })
    }
    fn send_file(&mut self, conn: u64, file: u64, offset: u64, len: u64, token: u64) -> u32 {
        self.record(Action::SendFile {
            conn,
            file,
            offset,
            len,
            token,
        })
    }
    fn recv_to_file(&mut self, conn: u64, file: u64, len: u64, sha256: bool, token: u64) -> u32 {
        self.record(Action::RecvToFile {
            conn,
            file,
            len,
            sha256,
            token,
        })
    }
    fn set_timer(&mut self, token: u64, delay_ms: u64) -> u32 {
        self.record(Action::SetTimer { token, delay_ms })
    }
    fn cancel_timer(&mut self, token: u64) -> u32 {
        self.record(Action::CancelTimer { token })
    }
    fn emit(&mut self, port: u32, data: &[u8]) -> u32 {
        if let Some(decl) = self.ports.get(port as usize) {
            // SAFETY: port declarations are static data.
            let type_name = unsafe { decl.type_name.to_string_lossy() }.into_owned();
            self.messages.push(super::Emitted {
                port: decl.name_str().to_owned(),
                type_name,
                data: data.to_vec(),
            });
        }
        let data = data.to_vec();
        self.record(Action::Emit { port, data })
    }
    fn open_read(&mut self, path: &str) -> Result<(u64, u64), u32> {
        if !valid_path(path) {
            return Err(abi::SY_ERR_ACCESS);
        }
        let Some(data) = self.files.get(path).cloned() else {
            return Err(abi::SY_ERR_NOT_FOUND);
        };
        Ok(self.hand_out(OpenFile {
            data,
            temp: false,
            continues: None,
            read_from: Some(path.to_owned()),
        }))
    }
    fn read_file(&mut self, file: u64, offset: u64, buf: &mut [u8]) -> Result<usize, u32> {
        self.reads += 1;
        let Some(f) = self.open.get(&file) else {
            return Err(abi::SY_ERR_INVALID);
        };
        let start = (offset as usize).min(f.data.len());
        let n = buf.len().min(f.data.len() - start);
        if !self.is_warm(file, start as u64, n as u64) {
            return Err(abi::SY_PENDING);
        }
        buf[..n].copy_from_slice(&f.data[start..start + n]);
        Ok(n)
    }
    fn create_temp(&mut self, path: &str) -> Result<u64, u32> {
        if !valid_path(path) {
            return Err(abi::SY_ERR_ACCESS);
        }
        let (id, _) = self.hand_out(OpenFile {
            data: Vec::new(),
            temp: true,
            continues: None,
            read_from: None,
        });
        Ok(id)
    }
    fn write_file(&mut self, file: u64, data: &[u8]) -> u32 {
        let Some(f) = self.open.get_mut(&file).filter(|f| f.temp) else {
            return abi::SY_ERR_INVALID;
        };
        if data.len() as u64 > self.free_space {
            return abi::SY_ERR_NO_SPACE;
        }
        self.free_space -= data.len() as u64;
        f.data.extend_from_slice(data);
        abi::SY_OK
    }
    fn commit_file(&mut self, file: u64, path: &str, overwrite: bool) -> u32 {
        if !valid_path(path) {
            return abi::SY_ERR_ACCESS;
        }
        if self.files.contains_key(path) && !overwrite {
            return abi::SY_ERR_EXISTS;
        }
        let Some(f) = self.open.get(&file).filter(|f| f.temp) else {
            return abi::SY_ERR_INVALID;
        };
        // A continued partial is renamed: gone from under its name, the rename fails.
        if let Some(from) = &f.continues {
            if !self.files.contains_key(from) {
                return abi::SY_ERR_NOT_FOUND;
            }
        }
        let f = self.open.remove(&file).expect("checked above");
        if let Some(from) = f.continues.as_ref().filter(|from| *from != path) {
            self.files.remove(from); // renamed, not copied
        }
        self.files.insert(path.to_owned(), f.data);
        self.record(Action::Commit {
            path: path.to_owned(),
        })
    }
    fn close_file(&mut self, file: u64) -> u32 {
        match self.open.remove(&file) {
            Some(OpenFile {
                data,
                continues: Some(path),
                ..
            }) => {
                // A continued partial keeps what was appended (if it was not removed).
                if let Some(kept) = self.files.get_mut(&path) {
                    *kept = data;
                }
                abi::SY_OK
            }
            Some(_) => abi::SY_OK,
            None => abi::SY_ERR_INVALID,
        }
    }
    fn stat(&mut self, path: &str) -> Result<SyStat, u32> {
        self.files_stat(path)
    }
    fn list_dir(&mut self, path: &str) -> Result<Vec<(String, SyStat)>, u32> {
        self.files_list_dir(path)
    }
    fn remove_file(&mut self, path: &str) -> u32 {
        self.files_remove_file(path)
    }
    fn open_partial(&mut self, path: &str) -> Result<(u64, u64), u32> {
        self.files_open_partial(path)
    }
    fn file_digest(&mut self, file: u64) -> Result<[u8; 32], u32> {
        self.files_file_digest(file)
    }
    fn free_space(&mut self) -> Result<u64, u32> {
        Ok(self.free_space)
    }
    fn prefetch_file(&mut self, file: u64, offset: u64, len: u64, token: u64) -> u32 {
        if self.open.get(&file).is_none_or(|f| f.temp) {
            return abi::SY_ERR_INVALID;
        }
        self.warming(token, file, offset, len);
        self.record(Action::PrefetchFile {
            file,
            offset,
            len,
            token,
        })
    }
    fn session_update(&mut self, session: u64, info: &crate::Session<'_>) -> u32 {
        self.sessions.insert(
            session,
            super::SessionRecord {
                direction: info.direction,
                peer: info.peer,
                conn: info.conn.map(|c| c.0),
                resource: info.resource.to_owned(),
                state: info.state.to_owned(),
                bytes_done: info.bytes_done,
                bytes_total: info.bytes_total,
            },
        );
        abi::SY_OK
    }
    fn session_end(&mut self, session: u64, result: &str) -> u32 {
        let described = self.sessions.remove(&session);
        self.ended.push((session, result.to_owned()));
        self.ended_as.push(described);
        abi::SY_OK
    }
    fn hand_over_state(&mut self, version: u32, data: &[u8]) -> u32 {
        self.handed_over = Some((version, data.to_vec()));
        abi::SY_OK
    }
    fn counter_take(&mut self, name: &str, limit: u64) -> Result<u64, u32> {
        let n = self.counters.entry(name.to_owned()).or_insert(0);
        if *n >= limit {
            return Err(abi::SY_ERR_LIMIT);
        }
        *n += 1;
        Ok(*n)
    }
    fn counter_give(&mut self, name: &str) -> u32 {
        match self.counters.get_mut(name) {
            Some(n) if *n > 0 => {
                *n -= 1;
                abi::SY_OK
            }
            _ => abi::SY_ERR_INVALID,
        }
    }
    /// At once, as a dir; or, with [`MockHost::storage_waits`], later: in flight until
    /// [`MockHost::complete_storage`].
    fn storage_begin(&mut self, op: StoreOp<'_>, token: u64) -> Result<Option<SyStorageDone>, u32> {
        if self.storage_waits {
            self.in_flight.push((token, OwnedOp::from(op)));
            return Ok(None);
        }
        let (done, listing) = answer_at_once(self, op)?;
        if let Some(entries) = listing {
            self.listings.insert(token, entries);
        }
        Ok(Some(done))
    }
    fn storage_listing(&mut self, token: u64) -> Result<Vec<(String, SyStat)>, u32> {
        self.listings
            .get(&token)
            .cloned()
            .ok_or(abi::SY_ERR_INVALID)
    }
    fn bus_publish(&mut self, subject: &str, type_name: &str, data: &[u8]) -> u32 {
        super::bus::publish(self, subject, type_name, data)
    }
    fn bus_subscribe(&mut self, subject: &str, own: bool, token: u64) -> u32 {
        super::bus::subscribe(self, subject, own, token)
    }
    fn bus_unsubscribe(&mut self, token: u64) -> u32 {
        super::bus::unsubscribe(self, token)
    }
    fn bus_kv_begin(&mut self, op: crate::KvOp<'_>, token: u64) -> u32 {
        self.bus_kv_in_flight
            .push((token, super::bus::OwnedKvOp::from(op)));
        abi::SY_PENDING
    }
    fn bus_identity(&mut self) -> Result<String, u32> {
        self.bus_identity.clone().ok_or(abi::SY_ERR_UNSUPPORTED)
    }
    fn bus_stream_read(&mut self, stream: &str, start: u64, token: u64) -> u32 {
        super::bus::stream_read(self, stream, start, token)
    }
}
