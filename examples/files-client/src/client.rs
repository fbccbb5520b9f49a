//! One v2 connection: the magic line, then requests and replies in order.
//!
//! Replies are read with the same [`Frame`] codec the server uses; bytes that arrive
//! behind a reply line (the start of a `GET`'s data) stay in the buffer and are
//! consumed first.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use switchyard_client_support::Exit;

use sha2::{Digest, Sha256};
use switchyard_client_support::progress::ProgressBar;
use switchyard_files::cmd::get::{Get, GetOk};
use switchyard_files::cmd::list::Entry;
use switchyard_files::cmd::put::{Put, PutOk};
use switchyard_files::cmd::stat::StatOk;
use switchyard_files::cmd::{Command, delete, hash, list, quit, stat};
use switchyard_files::codec::{CodecError, Frame, MAGIC, Reply};

use crate::cut::{self, MAX_TAIL};
pub use crate::error::ClientError;
use crate::hasher::FileHasher;

/// Longest reply line we accept (the server's are short; LIST entries hold one name).
const MAX_REPLY_LINE: usize = 16 * 1024;
/// Socket read size for downloads.
const CHUNK: usize = 1 << 20;
/// Bodies up to this size are hashed inline.
const INLINE_HASH: usize = 256 * 1024;
/// Bytes per `sendfile` call in uploads (progress is updated between calls).
const SEND_STEP: u64 = 16 << 20;

pub type Result<T> = std::result::Result<T, ClientError>;

/// A connected v2 client.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    /// A reply was read: a line we cannot parse is no longer the host's refusal.
    answered: bool,
}

impl Client {
    /// Connect to the first address that answers and send the magic line.
    pub fn connect(addrs: &[SocketAddr], timeout: Duration) -> Result<Client> {
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(addr, timeout) {
                Ok(stream) => {
                    stream.set_read_timeout(Some(timeout))?;
                    stream.set_write_timeout(Some(timeout))?;
                    stream.set_nodelay(true)?;
                    let mut c = Client {
                        stream,
                        buf: Vec::new(),
                        answered: false,
                    };
                    c.stream.write_all(MAGIC)?;
                    return Ok(c);
                }
                Err(e) => {
                    last = Some(ClientError::Io {
                        exit: switchyard_client_support::exit::network_exit(&e),
                        msg: format!("cannot connect to {addr}: {e}"),
                    })
                }
            }
        }
        Err(last.unwrap_or_else(|| ClientError::Protocol("no address".into())))
    }

    fn send(&mut self, cmd: &Command) -> Result<()> {
        self.stream.write_all(&cmd.to_frame().to_bytes())?;
        Ok(())
    }

    fn read_frame(&mut self) -> Result<Frame> {
        loop {
            match Frame::next(&self.buf, MAX_REPLY_LINE) {
                Ok((frame, used)) => {
                    self.buf.drain(..used);
                    return Ok(frame);
                }
                Err(CodecError::Incomplete) => {
                    let mut tmp = [0u8; 16 * 1024];
                    let n = match self.stream.read(&mut tmp) {
                        // A reset right after the host's refusal line: the line was
                        // read (or not) already.
                        Err(e) if !self.answered && !self.buf.is_empty() => {
                            return Err(self.refusal().unwrap_or_else(|| e.into()));
                        }
                        r => r?,
                    };
                    if n == 0 {
                        return Err(self.refusal().unwrap_or(ClientError::Io {
                            msg: "server closed the connection".into(),
                            exit: Exit::Failure,
                        }));
                    }
                    self.buf.extend_from_slice(&tmp[..n]);
                }
                Err(e) => return Err(self.refusal().unwrap_or_else(|| e.into())),
            }
        }
    }

    /// Before any reply, a line that is not one is the host's refusal (a connection
    /// limit, `docs/operations.md`), sent before it closed: its text.
    fn refusal(&self) -> Option<ClientError> {
        if self.answered || self.buf.is_empty() {
            return None;
        }
        let end = self
            .buf
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(self.buf.len());
        let text = String::from_utf8_lossy(&self.buf[..end.min(1024)]);
        let text = text.trim();
        (!text.is_empty() && !text.starts_with("OK") && !text.starts_with("ERR"))
            .then(|| ClientError::Refused(text.to_owned()))
    }

    /// The next reply; `ERR` becomes [`ClientError::Server`].
    fn read_reply(&mut self) -> Result<Reply> {
        let frame = self.read_frame()?;
        let first = !std::mem::replace(&mut self.answered, true);
        let text = first.then(|| frame.tokens.join(" "));
        let reply = match (Reply::from_frame(frame), text) {
            (Err(_), Some(line)) => return Err(ClientError::Refused(line)),
            (reply, _) => reply?,
        };
        match reply {
            Reply::Err { code, message } => Err(ClientError::Server { code, message }),
            other => Ok(other),
        }
    }

    fn read_ok(&mut self) -> Result<Vec<String>> {
        match self.read_reply()? {
            Reply::Ok(fields) => Ok(fields),
            other => Err(ClientError::Protocol(format!("expected OK, got {other:?}"))),
        }
    }

    fn simple(&mut self, cmd: Command) -> Result<Vec<String>> {
        self.send(&cmd)?;
        self.read_ok()
    }

    pub fn stat(&mut self, name: &str) -> Result<StatOk> {
        let fields = self.simple(Command::Stat(stat::Stat { name: name.into() }))?;
        Ok(StatOk::from_fields(&fields)?)
    }

    /// Entries of `dir`, and how many there were in all.
    pub fn list(&mut self, dir: &str) -> Result<(Vec<Entry>, u64)> {
        let fields = self.simple(Command::List(list::List { dir: dir.into() }))?;
        let (count, total) = match fields.as_slice() {
            [c, t] => (
                switchyard_files::cmd::number_arg("count", c)?,
                switchyard_files::cmd::number_arg("total", t)?,
            ),
            _ => {
                return Err(ClientError::Protocol(
                    "LIST reply needs count and total".into(),
                ));
            }
        };
        let mut entries = Vec::new();
        for _ in 0..count {
            entries.push(Entry::from_frame(&self.read_frame()?)?);
        }
        Ok((entries, total))
    }

    pub fn delete(&mut self, name: &str) -> Result<()> {
        self.simple(Command::Delete(delete::Delete { name: name.into() }))
            .map(|_| ())
    }

    pub fn hash(&mut self, name: &str) -> Result<String> {
        let fields = self.simple(Command::Hash(hash::Hash { name: name.into() }))?;
        match fields.as_slice() {
            [h] => switchyard_files::cmd::sha_arg(h)?
                .ok_or_else(|| ClientError::Protocol("HASH without digest".into())),
            _ => Err(ClientError::Protocol("HASH reply needs one digest".into())),
        }
    }

    pub fn quit(&mut self) -> Result<()> {
        self.simple(Command::Quit(quit::Quit)).map(|_| ())
    }

    /// Download `name` into `out` and verify it: against the digest in the reply, or
    /// (when the server has none remembered) against a `HASH` asked afterwards.
    /// Returns the bytes and the verified digest.
    pub fn get(&mut self, name: &str, out: &mut File, bar: &ProgressBar) -> Result<(u64, String)> {
        let header = self.get_start(name)?;
        self.get_body(name, &header, out, bar)
    }

    /// Ask for `name`: the server's header (length, maybe digest). The body follows:
    /// read it with [`Client::get_body`] (only now is the file known to exist).
    pub fn get_start(&mut self, name: &str) -> Result<GetOk> {
        self.send(&Command::Get(Get {
            name: name.into(),
            offset: 0,
        }))?;
        let fields = self.read_ok()?;
        Ok(GetOk::from_fields(&fields)?)
    }

    /// The body announced by `header` into `out`, verified; bytes and digest.
    pub fn get_body(
        &mut self,
        name: &str,
        header: &GetOk,
        out: &mut File,
        bar: &ProgressBar,
    ) -> Result<(u64, String)> {
        switchyard_client_support::progress::set_size(bar, header.len);
        let ours = if header.len <= INLINE_HASH as u64 {
            self.get_small(header.len as usize, out, bar)?
        } else {
            self.get_large(header.len, out, bar)?
        };
        let theirs = match header.sha256.clone() {
            Some(h) => h,
            None => self.hash(name)?,
        };
        if ours != theirs {
            return Err(ClientError::Verify(format!(
                "received sha256 {ours}, server has {theirs}"
            )));
        }
        Ok((header.len, ours))
    }

    /// A small body: read whole, hashed here (a thread would cost more than the hash).
    fn get_small(&mut self, len: usize, out: &mut File, bar: &ProgressBar) -> Result<String> {
        while self.buf.len() < len {
            let mut tmp = [0u8; 16 * 1024];
            let n = self.stream.read(&mut tmp)?;
            if n == 0 {
                let from = self.buf.len().saturating_sub(MAX_TAIL);
                return Err(ended_early(
                    &self.buf[from..],
                    self.buf.len() as u64,
                    len as u64,
                ));
            }
            self.buf.extend_from_slice(&tmp[..n]);
        }
        let body: Vec<u8> = self.buf.drain(..len).collect();
        out.write_all(&body).map_err(ClientError::local_write)?;
        bar.inc(len as u64);
        Ok(switchyard_files::cmd::hex(&Sha256::digest(&body)))
    }

    /// A large body: socket -> pipe -> file with `splice(2)` (no copy through this
    /// process), hashed by a second thread trailing the writes.
    fn get_large(&mut self, len: u64, out: &mut File, bar: &ProgressBar) -> Result<String> {
        use rustix::pipe::{SpliceFlags, fcntl_setpipe_size, pipe, splice};
        let hasher = FileHasher::new(out.try_clone()?);
        let mut written = 0u64;
        // Bytes that came behind the reply line.
        let early = (len.min(self.buf.len() as u64)) as usize;
        if early > 0 {
            out.write_all(&self.buf[..early])
                .map_err(ClientError::local_write)?;
            self.buf.drain(..early);
            written = early as u64;
            hasher.advance(written);
            bar.inc(written);
        }
        let (from_pipe, to_pipe) = pipe().map_err(io::Error::from)?;
        // A bigger pipe means fewer splices; the default (64 KiB) works too.
        let _ = fcntl_setpipe_size(&to_pipe, CHUNK);
        let io_err = |what: &str, e: rustix::io::Errno| ClientError::Io {
            exit: switchyard_client_support::exit::network_exit(&e.into()),
            msg: format!("{what}: {e}"),
        };
        while written < len {
            let want = ((len - written).min(CHUNK as u64)) as usize;
            let n = match splice(&self.stream, None, &to_pipe, None, want, SpliceFlags::MOVE) {
                Ok(0) => {
                    let mut end = vec![0u8; (written.min(MAX_TAIL as u64)) as usize];
                    let at = written - end.len() as u64;
                    std::os::unix::fs::FileExt::read_exact_at(&*out, &mut end, at)?;
                    return Err(ended_early(&end, written, len));
                }
                Ok(n) => n,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(io_err("receiving", e)),
            };
            let mut moved = 0;
            while moved < n {
                match splice(&from_pipe, None, &*out, None, n - moved, SpliceFlags::MOVE) {
                    Ok(0) => {
                        let stuck = io::Error::other("no progress");
                        return Err(ClientError::local_write(stuck));
                    }
                    Ok(k) => moved += k,
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => return Err(ClientError::local_write(e.into())),
                }
            }
            written += n as u64;
            hasher.advance(written);
            bar.inc(n as u64);
        }
        Ok(hasher.finish()?)
    }

    /// Upload `file` (of `size` bytes) as `name`; the bytes go with `sendfile(2)` (no
    /// copy through this process) while a second thread hashes the file; the server's
    /// digest must match ours.
    pub fn put(
        &mut self,
        name: &str,
        file: &File,
        size: u64,
        overwrite: bool,
        bar: &ProgressBar,
    ) -> Result<PutOk> {
        self.send(&Command::Put(Put {
            name: name.into(),
            size,
            sha256: None,
            overwrite,
        }))?;
        match self.read_reply()? {
            Reply::Continue => {}
            other => {
                return Err(ClientError::Protocol(format!(
                    "expected CONTINUE, got {other:?}"
                )));
            }
        }
        bar.set_length(size);
        let reader = file.try_clone()?;
        let ours = std::thread::scope(|scope| -> Result<String> {
            let hashing = scope.spawn(move || crate::hasher::hash_file(&reader, size));
            let mut sent = 0u64;
            while sent < size {
                let step = (size - sent).min(SEND_STEP) as usize;
                let mut offset = sent;
                let n = match rustix::fs::sendfile(&self.stream, file, Some(&mut offset), step) {
                    Ok(n) => n as u64,
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => {
                        return Err(ClientError::Io {
                            exit: switchyard_client_support::exit::network_exit(&e.into()),
                            msg: format!("sending: {e}"),
                        });
                    }
                };
                if n == 0 {
                    return Err(ClientError::local_read(format!(
                        "local file shrank to {sent} of {size} bytes"
                    )));
                }
                sent += n;
                bar.inc(n);
            }
            hashing
                .join()
                .map_err(|_| ClientError::local_read("hashing thread failed".into()))?
        })?;
        let ok = PutOk::from_fields(&self.read_ok()?)?;
        if ok.sha256 != ours || ok.size != size {
            return Err(ClientError::Verify(format!(
                "sent {size} bytes with sha256 {ours}, server stored {} bytes with {}",
                ok.size, ok.sha256
            )));
        }
        Ok(ok)
    }
}

/// Why a `GET` body of `len` bytes stopped after `received`, `end` being its last
/// bytes: the server's error tail, or a bare close.
fn ended_early(end: &[u8], received: u64, len: u64) -> ClientError {
    match cut::server_error(end) {
        Some((code, message, tail)) => ClientError::Cut {
            code,
            message,
            received: received - tail as u64,
            len,
        },
        None => ClientError::Io {
            msg: format!("connection closed after {received} of {len} bytes"),
            exit: Exit::Failure,
        },
    }
}
