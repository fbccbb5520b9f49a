//! Socket helpers shared by `send` and `get`: connect, read one reply, and the resume
//! id.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};
use switchyard_bulk::codec::{CodecError, Reply};

/// How long to wait for a reply once our side is done.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(120);

/// Connect to the first address that answers.
pub fn connect(addrs: &[SocketAddr]) -> Result<TcpStream, String> {
    let mut last = String::from("no address");
    for a in addrs {
        match TcpStream::connect_timeout(a, Duration::from_secs(10)) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = format!("{a}: {e}"),
        }
    }
    Err(format!("cannot connect: {last}"))
}

/// Read exactly one reply (bytes after it stay in the socket: a download follows).
pub fn read_reply(sock: &mut TcpStream) -> Result<Reply, String> {
    let _ = sock.set_read_timeout(Some(REPLY_TIMEOUT));
    let mut buf = Vec::with_capacity(64);
    let mut byte = [0u8; 64];
    loop {
        match Reply::check(&buf) {
            Ok(_) => return Reply::parse(&buf).map_err(|e| format!("bad reply: {e}")),
            Err(CodecError::Invalid(why)) => return Err(format!("bad reply: {why}")),
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
            Ok(0) => return Err("server closed the connection without a reply".into()),
            Ok(n) => buf.extend_from_slice(&byte[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("reading the reply: {e}")),
        }
    }
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
