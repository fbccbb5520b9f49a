//! Socket helpers shared by `send` and `get`: connect, read one reply, and the resume
//! id.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};
use switchyard_bulk::codec::{CodecError, MAGIC, Reply, Status};
use switchyard_client_support::{Exit, Failure};

/// How long to wait for a reply once our side is done.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(120);

/// Connect to the first address that answers (refused, unreachable: exit 7).
pub fn connect(addrs: &[SocketAddr]) -> Result<TcpStream, Failure> {
    let mut last = Failure::new(Exit::Connect, "no address");
    for a in addrs {
        match TcpStream::connect_timeout(a, Duration::from_secs(10)) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Failure::network(format_args!("cannot connect to {a}"), &e),
        }
    }
    Err(last)
}

/// The exit status and message for a reply that is not the one hoped for.
pub fn refused(r: &Reply) -> Failure {
    let exit = match r.status {
        Status::NotFound => Exit::NotFound,
        Status::BadName | Status::NotAllowed => Exit::Denied,
        Status::DigestMismatch => Exit::Verify,
        Status::Timeout => Exit::Timeout,
        Status::Unavailable => Exit::Busy,
        _ => Exit::Failure,
    };
    Failure::new(exit, format!("refused: {}: {}", r.status.as_str(), r.text))
}

/// Read exactly one reply (bytes after it stay in the socket: a download follows).
/// Anything but a reply's magic first is the host's refusal line (a connection limit,
/// sent before any plugin saw the connection): exit 75 with its text.
pub fn read_reply(sock: &mut TcpStream) -> Result<Reply, Failure> {
    let _ = sock.set_read_timeout(Some(REPLY_TIMEOUT));
    let mut buf = Vec::with_capacity(64);
    let mut byte = [0u8; 64];
    let bad = |why: String| Failure::new(Exit::Failure, format!("bad reply: {why}"));
    loop {
        if !buf.is_empty() && !MAGIC.starts_with(&buf[..buf.len().min(MAGIC.len())]) {
            return Err(host_refusal(sock, buf));
        }
        match Reply::check(&buf) {
            Ok(_) => return Reply::parse(&buf).map_err(|e| bad(e.to_string())),
            Err(CodecError::Invalid(why)) => return Err(bad(why.to_string())),
            Err(CodecError::Incomplete) => {}
        }
        // Read no further than the reply can reach: the fixed part, then the text.
        let want = if buf.len() < 48 {
            48 - buf.len()
        } else {
            let text = u16::from_be_bytes([buf[6], buf[7]]) as usize;
            48 + text - buf.len()
        };
        match sock.read(&mut byte[..want.min(64)]) {
            Ok(0) => {
                return Err(Failure::new(
                    Exit::Failure,
                    "server closed the connection without a reply",
                ));
            }
            Ok(n) => buf.extend_from_slice(&byte[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Failure::network("reading the reply", &e)),
        }
    }
}

/// The host's one-line refusal, `line` being its first bytes.
fn host_refusal(sock: &mut TcpStream, mut line: Vec<u8>) -> Failure {
    let mut b = [0u8; 256];
    while !line.contains(&b'\n') && line.len() < 1024 {
        match sock.read(&mut b) {
            Ok(n) if n > 0 => line.extend_from_slice(&b[..n]),
            _ => break,
        }
    }
    let end = line.iter().position(|&c| c == b'\n').unwrap_or(line.len());
    let text = String::from_utf8_lossy(&line[..end]).trim().to_owned();
    Failure::new(Exit::Busy, format!("server refused the connection: {text}"))
}

/// The resume id of an upload: the same file (path, size, mtime) sent under the same
/// name to the same server gets the same id, so `--resume` needs no state file; a
/// changed file gets a new one and starts over.
pub fn upload_id(path: &Path, server: &str, name: &str) -> io::Result<[u8; 16]> {
    let meta = std::fs::metadata(path)?;
    let canon = std::fs::canonicalize(path)?;
    let mut h = Sha256::new();
    h.update(b"switchyard-bulk resume v1\0");
    h.update(canon.as_os_str().as_encoded_bytes());
    h.update(b"\0");
    h.update(server.as_bytes());
    h.update(b"\0");
    h.update(name.as_bytes());
    h.update(meta.size().to_be_bytes());
    h.update(meta.mtime().to_be_bytes());
    h.update(meta.mtime_nsec().to_be_bytes());
    let d = h.finalize();
    Ok(d[..16].try_into().expect("16 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_id_is_stable_and_depends_on_name_and_server() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let a = upload_id(f.path(), "s:1", "n").unwrap();
        assert_eq!(a, upload_id(f.path(), "s:1", "n").unwrap());
        assert_ne!(a, upload_id(f.path(), "s:1", "m").unwrap());
        assert_ne!(a, upload_id(f.path(), "s:2", "n").unwrap());
    }
}
