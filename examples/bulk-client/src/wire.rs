//! Socket helpers shared by `send` and `get`: connect, read one reply, hash a file,
//! and the resume id.

use std::fs::File;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::{FileExt, MetadataExt};
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

/// sha256 of a whole file, on a thread of its own (runs beside the transfer).
pub fn hash_file_in_background(file: File) -> std::thread::JoinHandle<io::Result<[u8; 32]>> {
    std::thread::spawn(move || hash_range(&file, 0, u64::MAX))
}

/// sha256 of `file` from `from` up to `to` (or its end).
pub fn hash_range(file: &File, from: u64, to: u64) -> io::Result<[u8; 32]> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 128 << 10];
    let mut at = from;
    while at < to {
        let want = ((to - at).min(buf.len() as u64)) as usize;
        let n = file.read_at(&mut buf[..want], at)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        at += n as u64;
    }
    Ok(h.finalize().into())
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
    use std::io::Write;

    #[test]
    fn range_hash_matches_one_shot() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 13) as u8).collect();
        f.write_all(&data).unwrap();
        let file = f.reopen().unwrap();
        let want: [u8; 32] = Sha256::digest(&data).into();
        assert_eq!(hash_range(&file, 0, u64::MAX).unwrap(), want);
        let part: [u8; 32] = Sha256::digest(&data[10..2_000_000]).into();
        assert_eq!(hash_range(&file, 10, 2_000_000).unwrap(), part);
        assert_eq!(hash_file_in_background(file).join().unwrap().unwrap(), want);
    }

    #[test]
    fn upload_id_is_stable_and_depends_on_name_and_server() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let a = upload_id(f.path(), "s:1", "n").unwrap();
        assert_eq!(a, upload_id(f.path(), "s:1", "n").unwrap());
        assert_ne!(a, upload_id(f.path(), "s:1", "m").unwrap());
        assert_ne!(a, upload_id(f.path(), "s:2", "n").unwrap());
    }
}
