//! `get`: download a file from the server's incoming directory.
//!
//! Bytes go to a hidden `.NAME.part` beside the output and are hashed as they arrive;
//! the part is renamed into place only when complete and (if the server remembered
//! the file's digest) verified. A broken download keeps its part, so `--resume` asks
//! for the rest only and still checks the digest of the whole file.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};
use switchyard_bulk::codec::{Get, Request, Status, hex};

use crate::progress;
use crate::wire;

/// Bytes per read/write/hash step.
const BUF: usize = 4 << 20;
/// Buffers in flight between the receiving and the hashing thread.
const IN_FLIGHT: usize = 4;

/// sha256 on a second thread: the receiving thread hands over each buffer after
/// writing it, and gets it back for reuse, so hashing overlaps the next receive and no
/// byte is copied for it.
struct Hashing {
    full: Option<SyncSender<(Vec<u8>, usize)>>,
    empty: Receiver<Vec<u8>>,
    thread: Option<JoinHandle<[u8; 32]>>,
}

impl Hashing {
    fn start(mut h: Sha256) -> Hashing {
        let (full, full_rx) = sync_channel::<(Vec<u8>, usize)>(IN_FLIGHT);
        let (empty_tx, empty) = sync_channel::<Vec<u8>>(IN_FLIGHT + 1);
        for _ in 0..IN_FLIGHT {
            let _ = empty_tx.send(vec![0; BUF]);
        }
        let thread = std::thread::spawn(move || {
            for (buf, len) in full_rx {
                h.update(&buf[..len]);
                let _ = empty_tx.send(buf);
            }
            h.finalize().into()
        });
        Hashing {
            full: Some(full),
            empty,
            thread: Some(thread),
        }
    }

    /// A free buffer of `BUF` bytes (waits while all are being hashed).
    fn buffer(&self) -> Vec<u8> {
        self.empty.recv().unwrap_or_else(|_| vec![0; BUF])
    }

    /// Hash the first `len` bytes of `buf`, then recycle it.
    fn push(&self, buf: Vec<u8>, len: usize) {
        if let Some(tx) = &self.full {
            let _ = tx.send((buf, len));
        }
    }

    fn finish(mut self) -> Result<[u8; 32], String> {
        drop(self.full.take());
        self.thread
            .take()
            .expect("joined once")
            .join()
            .map_err(|_| "hashing thread panicked".to_owned())
    }
}

/// What to fetch, and where to.
#[derive(Debug)]
pub struct GetOpts {
    pub addrs: Vec<SocketAddr>,
    pub name: String,
    pub out: Option<PathBuf>,
    pub resume: bool,
    pub quiet: bool,
}

fn part_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    out.with_file_name(format!(".{name}.part"))
}

/// Download and print one summary line on stdout.
pub fn run(o: &GetOpts) -> Result<(), String> {
    switchyard_bulk::codec::check_name(&o.name).map_err(|e| format!("name {:?}: {e}", o.name))?;
    let out = o.out.clone().unwrap_or_else(|| PathBuf::from(&o.name));
    if out.exists() {
        return Err(format!("{} exists; not overwriting it", out.display()));
    }
    let part = part_path(&out);
    let mut hasher = Sha256::new();
    let offset = if o.resume && part.exists() {
        let f = File::open(&part).map_err(|e| format!("{}: {e}", part.display()))?;
        let len = f.metadata().map_err(|e| e.to_string())?.len();
        // Hash what is already there: the check covers the whole file.
        let mut buf = vec![0u8; 1 << 20];
        let mut r = f.take(len);
        loop {
            let n = r.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        len
    } else {
        0
    };
    let mut sock = wire::connect(&o.addrs)?;
    let req = Request::Get(Get {
        name: o.name.clone(),
        offset,
    })
    .encode()
    .map_err(|e| e.to_string())?;
    sock.write_all(&req)
        .map_err(|e| format!("sending the request: {e}"))?;
    let r = wire::read_reply(&mut sock)?;
    if r.status != Status::Ok {
        return Err(format!("refused: {}: {}", r.status.as_str(), r.text));
    }
    let total = offset + r.value;
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .append(offset > 0)
        .truncate(offset == 0)
        .open(&part)
        .map_err(|e| format!("{}: {e}", part.display()))?;
    let bar = progress::bar(total, "get", o.quiet);
    bar.set_position(offset);
    let started = Instant::now();
    let hashing = Hashing::start(hasher);
    let mut got = 0u64;
    while got < r.value {
        let mut buf = hashing.buffer();
        let want = ((r.value - got).min(BUF as u64)) as usize;
        // Fill the buffer (fewer, larger writes and hash steps).
        let mut len = 0;
        while len < want {
            match sock.read(&mut buf[len..want]) {
                Ok(0) => {
                    // Keep what arrived: a later --resume continues from it.
                    let _ = file.write_all(&buf[..len]);
                    return Err(format!(
                        "server closed after {} of {total} bytes; the part is kept in {}: \
                         run again with --resume",
                        offset + got + len as u64,
                        part.display()
                    ));
                }
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = file.write_all(&buf[..len]);
                    return Err(format!("receiving: {e}; run again with --resume"));
                }
            }
        }
        file.write_all(&buf[..len])
            .map_err(|e| format!("{}: {e}", part.display()))?;
        got += len as u64;
        hashing.push(buf, len);
        bar.set_position(offset + got);
    }
    bar.finish_and_clear();
    let ours = hashing.finish()?;
    let verified = match r.digest {
        Some(d) if d != ours => {
            let _ = std::fs::remove_file(&part);
            return Err(format!(
                "digest mismatch: server says {}, received {}",
                hex(&d),
                hex(&ours)
            ));
        }
        Some(_) => "verified",
        None => "not verified: the server has no digest for it",
    };
    drop(file);
    std::fs::rename(&part, &out).map_err(|e| format!("{}: {e}", out.display()))?;
    let secs = started.elapsed().as_secs_f64().max(1e-6);
    println!(
        "saved {} ({total} bytes) sha256 {} ({verified}, {:.1} MiB/s)",
        out.display(),
        hex(&ours),
        got as f64 / secs / (1024.0 * 1024.0)
    );
    Ok(())
}
