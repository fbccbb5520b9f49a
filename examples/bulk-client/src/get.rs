//! `get`: download a file from the server's incoming directory.
//!
//! Bytes go to a hidden `.NAME.part` beside the output, created only once the server
//! said the file exists; the part is renamed into place only when complete and (if the
//! server remembered the file's digest) verified. A failure or a signal removes the
//! part, unless `--resume` or `--keep-partial` keeps it: `--resume` then asks for the
//! rest only and still checks the digest of the whole file.
//!
//! The socket is read straight into the buffers of a [`DirectSink`]: a writer thread
//! stores them (with `O_DIRECT` where the file system takes it: writing through the page
//! cache was the slowest step on the VMs we measure on) while a hasher thread hashes
//! them, so receiving, writing and hashing overlap and no byte is copied for them.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use switchyard_bulk::codec::{Get, Request, Status, hex};
use switchyard_client_support::partial::{self, Partial};
use switchyard_client_support::progress::Summary;
use switchyard_client_support::{Exit, Failure};
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
    pub keep_partial: bool,
    pub force: bool,
    /// No progress bar.
    pub quiet: bool,
    /// The `--json` line replaces the human summary line.
    pub json: bool,
}

/// Download; the summary for `--json` (a human line is printed unless quiet).
pub fn run(o: &GetOpts) -> Result<Summary, Failure> {
    switchyard_bulk::codec::check_name(&o.name)
        .map_err(|e| Failure::new(Exit::Usage, format!("name {:?}: {e}", o.name)))?;
    let out = o.out.clone().unwrap_or_else(|| PathBuf::from(&o.name));
    partial::check_target(&out, o.force)?;
    // An earlier part is only looked at with --resume; it exists already.
    let kept = if o.resume && partial::part_path(&out).exists() {
        Some(Partial::resume(&out)?)
    } else {
        None
    };
    let offset = kept.as_ref().map_or(0, |(_, n)| *n);
    let mut sock = wire::connect(&o.addrs)?;
    let req = Request::Get(Get {
        name: o.name.clone(),
        offset,
    })
    .encode()
    .map_err(|e| Failure::new(Exit::Usage, e.to_string()))?;
    sock.write_all(&req)
        .map_err(|e| Failure::network("sending the request", &e))?;
    let r = wire::read_reply(&mut sock)?;
    if r.status != Status::Ok {
        return Err(wire::refused(&r));
    }
    // Only now is the file known to exist.
    let mut part = match kept {
        Some((p, _)) => p,
        None => Partial::create(&out, o.keep_partial || o.resume)?,
    };
    let part_path = part.path().to_path_buf();
    let total = offset + r.value;
    let mut sink =
        DirectSink::open(part.file(), r.value, true).map_err(|e| Failure::write(&part_path, &e))?;
    let bar = progress::bar(Some(total), &o.name, o.quiet);
    bar.set_position(offset);
    let started = Instant::now();
    let mut got = 0u64;
    while got < r.value {
        let read = sock.read(sink.spare_blocking());
        let failure = match read {
            Ok(0) => Failure::new(
                Exit::Failure,
                format!("server closed after {} of {total} bytes", offset + got),
            ),
            Ok(n) => {
                sink.filled(n);
                got += n as u64;
                bar.set_position(offset + got);
                match sink.take_error() {
                    None => continue,
                    Some(e) => Failure::write(&part_path, &e),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Failure::network("receiving", &e),
        };
        // Keep what arrived (the writer stores all of it, or what it could): a later
        // --resume continues from it, if the part is kept.
        let _ = sink.finish_blocking();
        bar.finish_and_clear();
        let hint = if o.resume || o.keep_partial {
            format!(
                "; the part is kept in {}: run again with --resume",
                part_path.display()
            )
        } else {
            String::new()
        };
        return Err(Failure::new(failure.exit, format!("{}{hint}", failure.msg)));
    }
    bar.finish_and_clear();
    let done = sink
        .finish_blocking()
        .map_err(|e| Failure::write(&part_path, &e))?;
    let ours = done.digest.expect("asked for a digest");
    let verified = match r.digest {
        Some(d) if d != ours => {
            drop(part);
            let _ = std::fs::remove_file(&part_path); // a bad part is never resumed
            return Err(Failure::new(
                Exit::Verify,
                format!(
                    "digest mismatch: server says {}, received {}",
                    hex(&d),
                    hex(&ours)
                ),
            ));
        }
        Some(_) => "verified",
        None => "not verified: the server has no digest for it",
    };
    part.persist(&out, o.force)?;
    let secs = started.elapsed().as_secs_f64().max(1e-6);
    if !o.json {
        println!(
            "saved {} ({total} bytes) sha256 {} ({verified}, {:.1} MiB/s)",
            out.display(),
            hex(&ours),
            got as f64 / secs / (1024.0 * 1024.0)
        );
    }
    Ok(Summary {
        name: o.name.clone(),
        bytes: total,
        seconds: secs,
        sha256: hex(&ours),
        skipped: false,
    })
}
