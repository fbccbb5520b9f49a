//! `get`: download a file from the server's incoming directory.
//!
//! Bytes go to a hidden `.NAME.part` beside the output; the part is renamed into place
//! only when complete and (if the server remembered the file's digest) verified. A
//! broken download keeps its part, so `--resume` asks for the rest only and still
//! checks the digest of the whole file.
//!
//! The socket is read straight into the buffers of a [`DirectSink`]: a writer thread
//! stores them (with `O_DIRECT` where the file system takes it: writing through the page
//! cache was the slowest step on the VMs we measure on) while a hasher thread hashes
//! them, so receiving, writing and hashing overlap and no byte is copied for them.

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use switchyard_bulk::codec::{Get, Request, Status, hex};
use switchyard_direct_io::DirectSink;

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
    let resume = o.resume && part.exists();
    // Read and write: the sink's hasher reads back a resumed part's kept bytes.
    let part_file = OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .truncate(!resume)
        .open(&part)
        .map_err(|e| format!("{}: {e}", part.display()))?;
    let offset = if resume {
        part_file.metadata().map_err(|e| e.to_string())?.len()
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
    let mut sink = DirectSink::open(&part_file, r.value, true)
        .map_err(|e| format!("{}: {e}", part.display()))?;
    let bar = progress::bar(Some(total), "get", o.quiet);
    bar.set_position(offset);
    let started = Instant::now();
    let mut got = 0u64;
    while got < r.value {
        let read = sock.read(sink.spare_blocking());
        let why = match read {
            Ok(0) => format!("server closed after {} of {total} bytes", offset + got),
            Ok(n) => {
                sink.filled(n);
                got += n as u64;
                bar.set_position(offset + got);
                match sink.take_error() {
                    None => continue,
                    Some(e) => format!("writing {}: {e}", part.display()),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => format!("receiving: {e}"),
        };
        // Keep what arrived (the writer stores all of it, or what it could): a later
        // --resume continues from it.
        let _ = sink.finish_blocking();
        return Err(format!(
            "{why}; the part is kept in {}: run again with --resume",
            part.display()
        ));
    }
    bar.finish_and_clear();
    let done = sink
        .finish_blocking()
        .map_err(|e| format!("{}: {e}", part.display()))?;
    let ours = done.digest.expect("asked for a digest");
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
    drop(part_file);
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
