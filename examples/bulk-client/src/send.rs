//! `send`: upload a file, v2 (verified, resumable) or the seed's v1 (`--legacy`).
//!
//! The body goes out with `sendfile` (std's `io::copy` from a `File` to a
//! `TcpStream`), in steps so the bar moves; the digest is computed on a second thread
//! from a map of the same file (`hash`), so hashing and sending run on two cores at once.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::Instant;

use switchyard_bulk::codec::{Put, Reply, Request, Status, V1Header, hex};
use switchyard_client_support::progress::Summary;
use switchyard_client_support::{Exit, Failure};

use crate::probe::{self, Remote};
use crate::wire::{self, REPLY_TIMEOUT};
use crate::{hash, progress};

/// A failure of no more precise kind (exit 1).
fn fail(msg: impl Into<String>) -> Failure {
    Failure::new(Exit::Failure, msg)
}

/// Bytes sent per step (one bar update).
const STEP: u64 = 8 << 20;

/// What to send, and how.
#[derive(Debug)]
pub struct SendOpts {
    pub addrs: Vec<SocketAddr>,
    /// The server as the user typed it (part of the resume id).
    pub server: String,
    pub file: PathBuf,
    pub name: Option<String>,
    pub resume: bool,
    pub legacy: bool,
    pub digest: Digest,
    /// Skip the upload when the server holds the name with the same sha256.
    pub checksum: bool,
    /// Replace a file the server holds under the name (flag `0x08`); without it a
    /// taken name is refused here, before anything is sent (exit 73).
    pub force: bool,
    /// No progress bar.
    pub quiet: bool,
    /// The `--json` line replaces the human summary line.
    pub json: bool,
}

/// Where the upload's sha256 comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    /// Hashed on a second thread while the body goes out; sent after it (the default).
    HashWhileSending,
    /// Hashed before sending and sent up front (`--digest-first`; reads the file twice).
    HashFirst,
    /// Given by the user (`--sha256`): sent up front, the file is not hashed here. The
    /// server verifies what it received against it, which is an end-to-end check
    /// against the user's own source of truth, at one sha256 pass fewer.
    Known([u8; 32]),
}

/// Upload and print one summary line on stdout (unless quiet); the `--json` summary.
pub fn run(o: &SendOpts) -> Result<Summary, Failure> {
    let file = File::open(&o.file).map_err(|e| Failure::read(&o.file, &e))?;
    let size = file
        .metadata()
        .map_err(|e| Failure::read(&o.file, &e))?
        .len();
    if o.legacy {
        return legacy(o, file, size);
    }
    let name = match &o.name {
        Some(n) => n.clone(),
        None => o
            .file
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                Failure::new(
                    Exit::Usage,
                    "the file name is not UTF-8: give one with --name",
                )
            })?
            .to_owned(),
    };
    switchyard_bulk::codec::check_name(&name)
        .map_err(|e| Failure::new(Exit::Usage, format!("name {name:?}: {e}")))?;
    let started = Instant::now();
    let hashing_err = |e: io::Error| Failure::read(&o.file, &e);
    if let Some(skipped) = before_sending(o, &file, &name, size, started)? {
        return Ok(skipped);
    }
    let upload_id = if o.resume {
        Some(wire::upload_id(&o.file, &o.server, &name).map_err(hashing_err)?)
    } else {
        None
    };
    let (first, hasher) = match o.digest {
        Digest::Known(d) => (Some(d), None),
        Digest::HashFirst => {
            let d = hash::hash_range(&file, 0, u64::MAX).map_err(hashing_err)?;
            (Some(d), None)
        }
        Digest::HashWhileSending => {
            let f = file.try_clone().map_err(hashing_err)?;
            (None, Some(hash::hash_file_in_background(f)))
        }
    };
    let req = Request::Put(Put {
        name: name.clone(),
        len: size,
        digest: first,
        digest_last: first.is_none(),
        upload_id,
        replace: o.force,
    })
    .encode()
    .map_err(|e| Failure::new(Exit::Usage, e.to_string()))?;

    let mut sock = wire::connect(&o.addrs)?;
    sock.write_all(&req)
        .map_err(|e| Failure::network("sending the request", &e))?;
    let offset = if upload_id.is_some() {
        let r = wire::read_reply(&mut sock)?;
        if r.status != Status::Continue {
            return Err(refused(&r, o.force));
        }
        if r.value > size {
            return Err(fail(format!(
                "server kept {} bytes of a {size}-byte file",
                r.value
            )));
        }
        r.value
    } else {
        0
    };
    if let Err(e) = send_body(&mut sock, &file, offset, size, &name, o.quiet) {
        return Err(cut(&mut sock, "sending", &e, o));
    }
    let ours = match hasher {
        Some(h) => {
            let d = h
                .join()
                .map_err(|_| fail("hashing thread panicked"))?
                .map_err(hashing_err)?;
            // A refusal that came while the body still fit in the socket's buffers
            // shows here, as a broken pipe.
            if let Err(e) = sock.write_all(&d) {
                return Err(cut(&mut sock, "sending the digest", &e, o));
            }
            d
        }
        None => first.expect("digest first"),
    };
    let r = wire::read_reply(&mut sock)?;
    let secs = started.elapsed().as_secs_f64().max(1e-6);
    if r.status != Status::Ok {
        return Err(refused(&r, o.force));
    }
    if r.digest != Some(ours) {
        return Err(Failure::new(
            Exit::Verify,
            format!(
                "digest mismatch: sent {}, server stored {}",
                hex(&ours),
                r.digest.map_or("nothing".into(), |d| hex(&d))
            ),
        ));
    }
    let sent = size - offset;
    let summary = Summary {
        name: r.text.clone(),
        bytes: size,
        seconds: secs,
        sha256: hex(&ours),
        skipped: false,
    };
    if o.json {
        return Ok(summary);
    }
    println!(
        "stored {} bytes as {} sha256 {} ({} sent{}, {:.1} MiB/s)",
        r.value,
        r.text,
        hex(&ours),
        sent,
        if offset > 0 {
            format!(", resumed at {offset}")
        } else {
            String::new()
        },
        sent as f64 / secs / (1024.0 * 1024.0)
    );
    Ok(summary)
}

/// The questions asked before any body goes out: `--checksum` (skip when the server
/// holds these bytes: the summary of the skip) and, without `--force`, whether the
/// name is taken (exit 73, nothing sent). Neither starts a body (`probe`).
fn before_sending(
    o: &SendOpts,
    file: &File,
    name: &str,
    size: u64,
    started: Instant,
) -> Result<Option<Summary>, Failure> {
    if o.force && !o.checksum {
        return Ok(None);
    }
    let remote = probe::remote(&o.addrs, name)?;
    if o.checksum && remote == Remote::Taken(size) {
        let d = match o.digest {
            Digest::Known(d) => d,
            _ => hash::hash_range(file, 0, u64::MAX).map_err(|e| Failure::read(&o.file, &e))?,
        };
        if probe::holds(&o.addrs, name, size, &d)? {
            if !o.json {
                println!(
                    "{name}: the server has these bytes (sha256 {}): skipped",
                    hex(&d)
                );
            }
            return Ok(Some(Summary {
                name: name.to_owned(),
                bytes: size,
                seconds: started.elapsed().as_secs_f64(),
                sha256: hex(&d),
                skipped: true,
            }));
        }
    }
    match remote {
        Remote::Taken(n) if !o.force => Err(Failure::new(
            Exit::Exists,
            format!("the server already holds {name:?} ({n} bytes): not sent; --force replaces it"),
        )),
        Remote::Unknown(why) if !o.force => {
            // Safe to go on: without the replace flag a taken name is never
            // overwritten, the server picks `stem-1.ext` and the summary names it.
            eprintln!(
                "switchyard-bulk: cannot ask whether {name:?} is taken ({why}); sending: \
                 a taken name gets a new one"
            );
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// A refusal; with `--force`, a `BAD_REQUEST` is a server from before the replace
/// flag (it calls the flag unknown), said as such rather than "bad request".
fn refused(r: &Reply, force: bool) -> Failure {
    if force && r.status == Status::BadRequest {
        return Failure::new(
            Exit::Denied,
            format!(
                "the server cannot replace files (it predates the replace flag and said \
                 \"{}\"): send under another --name, or upgrade the server",
                r.text
            ),
        );
    }
    wire::refused(r)
}

/// Sending failed (`what`, `e`): the server may have said why before closing, a
/// refusal (limit, space, replace), or `UNAVAILABLE` when it shut down mid-body
/// (`docs/bulk-protocol.md`), or the host's line for a connection limit.
fn cut(sock: &mut TcpStream, what: &str, e: &io::Error, o: &SendOpts) -> Failure {
    match wire::read_reply(sock) {
        Ok(r) if r.status == Status::Unavailable => Failure::new(
            Exit::Busy,
            format!(
                "cut by the server: {}: {}{}",
                r.status.as_str(),
                r.text,
                resume_hint(o.resume)
            ),
        ),
        Ok(r) if r.status != Status::Ok => refused(&r, o.force),
        Err(f) if f.exit == Exit::Busy => f,
        _ => Failure::network(format_args!("{what}{}", resume_hint(o.resume)), e),
    }
}

fn resume_hint(resume: bool) -> &'static str {
    if resume {
        "; run the same command again to continue"
    } else {
        ""
    }
}

/// Send `file[offset..size]` with `sendfile(2)`, step by step (one bar update each).
fn send_body(
    sock: &mut TcpStream,
    file: &File,
    offset: u64,
    size: u64,
    name: &str,
    quiet: bool,
) -> io::Result<()> {
    let bar = progress::bar(Some(size), name, quiet);
    bar.set_position(offset);
    let mut at = offset;
    while at < size {
        let step = (size - at).min(STEP) as usize;
        match rustix::fs::sendfile(sock.as_fd(), file.as_fd(), Some(&mut at), step) {
            Ok(0) => return Err(io::Error::other("the file shrank while sending")),
            Ok(_) => bar.set_position(at),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// The seed's v1: a signed 32-bit length, the body, close. No reply exists, so the
/// best sign of success is the server closing after we half-close.
fn legacy(o: &SendOpts, file: File, size: u64) -> Result<Summary, Failure> {
    let Some(header) = V1Header::encode(size) else {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "{} is {size} bytes: --legacy (v1) cannot send 2 GiB or more, its length \
                 is a signed 32-bit number; drop --legacy to use v2",
                o.file.display()
            ),
        ));
    };
    let read_err = |e: io::Error| Failure::read(&o.file, &e);
    let hasher = hash::hash_file_in_background(file.try_clone().map_err(read_err)?);
    let mut sock = wire::connect(&o.addrs)?;
    let started = Instant::now();
    sock.write_all(&header)
        .map_err(|e| Failure::network("sending the header", &e))?;
    let label = o.file.file_name().map_or_else(
        || o.file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    send_body(&mut sock, &file, 0, size, &label, o.quiet)
        .map_err(|e| Failure::network("sending", &e))?;
    let _ = sock.shutdown(Shutdown::Write);
    // Wait (bounded by the read timeout) for the server to close: it does once the
    // file is stored. v1 servers send nothing, so any byte is unexpected but harmless.
    let _ = sock.set_read_timeout(Some(REPLY_TIMEOUT));
    let mut sink = [0u8; 256];
    loop {
        match sock.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::network("waiting for the server to close", &e)),
        }
    }
    let d = hasher
        .join()
        .map_err(|_| fail("hashing thread panicked"))?
        .map_err(read_err)?;
    let secs = started.elapsed().as_secs_f64().max(1e-6);
    if !o.json {
        println!(
            "sent {size} bytes (v1: no acknowledgement or stored name) sha256 {} ({:.1} MiB/s)",
            hex(&d),
            size as f64 / secs / (1024.0 * 1024.0)
        );
    }
    Ok(Summary {
        name: label,
        bytes: size,
        seconds: secs,
        sha256: hex(&d),
        skipped: false,
    })
}
