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

use sha2::{Digest, Sha256};
use switchyard_bulk::codec::{Get, Request, Status, hex};

use crate::progress;
use crate::wire;

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
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0u64;
    while got < r.value {
        let want = ((r.value - got).min(buf.len() as u64)) as usize;
        let n = match sock.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(format!(
                    "server closed after {} of {total} bytes; the part is kept in {}: run \
                     again with --resume",
                    offset + got,
                    part.display()
                ));
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("receiving: {e}; run again with --resume")),
        };
        file.write_all(&buf[..n])
            .map_err(|e| format!("{}: {e}", part.display()))?;
        hasher.update(&buf[..n]);
        got += n as u64;
        bar.set_position(offset + got);
    }
    bar.finish_and_clear();
    let ours: [u8; 32] = hasher.finalize().into();
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
