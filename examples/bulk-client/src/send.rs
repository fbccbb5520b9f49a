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

use switchyard_bulk::codec::{Put, Request, Status, V1Header, hex};

use crate::wire::{self, REPLY_TIMEOUT};
use crate::{hash, progress};

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
    pub quiet: bool,
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

/// Upload and print one summary line on stdout.
pub fn run(o: &SendOpts) -> Result<(), String> {
    let file = File::open(&o.file).map_err(|e| format!("{}: {e}", o.file.display()))?;
    let size = file
        .metadata()
        .map_err(|e| format!("{}: {e}", o.file.display()))?
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
            .ok_or("the file name is not UTF-8: give one with --name")?
            .to_owned(),
    };
    switchyard_bulk::codec::check_name(&name).map_err(|e| format!("name {name:?}: {e}"))?;
    let upload_id = if o.resume {
        Some(wire::upload_id(&o.file, &o.server, &name).map_err(|e| e.to_string())?)
    } else {
        None
    };
    let (first, hasher) = match o.digest {
        Digest::Known(d) => (Some(d), None),
        Digest::HashFirst => {
            let d = hash::hash_range(&file, 0, u64::MAX).map_err(|e| format!("hashing: {e}"))?;
            (Some(d), None)
        }
        Digest::HashWhileSending => {
            let f = file.try_clone().map_err(|e| e.to_string())?;
            (None, Some(hash::hash_file_in_background(f)))
        }
    };
    let req = Request::Put(Put {
        name,
        len: size,
        digest: first,
        digest_last: first.is_none(),
        upload_id,
    })
    .encode()
    .map_err(|e| e.to_string())?;

    let mut sock = wire::connect(&o.addrs)?;
    sock.write_all(&req)
        .map_err(|e| format!("sending the request: {e}"))?;
    let offset = if upload_id.is_some() {
        let r = wire::read_reply(&mut sock)?;
        if r.status != Status::Continue {
            return Err(format!("refused: {}: {}", r.status.as_str(), r.text));
        }
        if r.value > size {
            return Err(format!(
                "server kept {} bytes of a {size}-byte file",
                r.value
            ));
        }
        r.value
    } else {
        0
    };
    let started = Instant::now();
    if let Err(e) = send_body(&mut sock, &file, offset, size, o.quiet) {
        // The server may have said why before closing: a refusal (limit, space), or
        // `UNAVAILABLE` when it shut down mid-body (`docs/bulk-protocol.md`).
        return Err(match wire::read_reply(&mut sock) {
            Ok(r) if r.status == Status::Unavailable => format!(
                "cut by the server: {}: {}{}",
                r.status.as_str(),
                r.text,
                resume_hint(o.resume)
            ),
            Ok(r) if r.status != Status::Ok => {
                format!("refused: {}: {}", r.status.as_str(), r.text)
            }
            _ => format!("sending: {e}{}", resume_hint(o.resume)),
        });
    }
    let ours = match hasher {
        Some(h) => {
            let d = h
                .join()
                .map_err(|_| "hashing thread panicked")?
                .map_err(|e| format!("hashing: {e}"))?;
            sock.write_all(&d)
                .map_err(|e| format!("sending the digest: {e}"))?;
            d
        }
        None => first.expect("digest first"),
    };
    let r = wire::read_reply(&mut sock)?;
    let secs = started.elapsed().as_secs_f64().max(1e-6);
    if r.status != Status::Ok {
        return Err(format!("failed: {}: {}", r.status.as_str(), r.text));
    }
    if r.digest != Some(ours) {
        return Err(format!(
            "digest mismatch: sent {}, server stored {}",
            hex(&ours),
            r.digest.map_or("nothing".into(), |d| hex(&d))
        ));
    }
    let sent = size - offset;
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
    Ok(())
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
    quiet: bool,
) -> io::Result<()> {
    let bar = progress::bar(Some(size), "send", quiet);
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
fn legacy(o: &SendOpts, file: File, size: u64) -> Result<(), String> {
    let Some(header) = V1Header::encode(size) else {
        return Err(format!(
            "{} is {size} bytes: --legacy (v1) cannot send 2 GiB or more, its length is a \
             signed 32-bit number; drop --legacy to use v2",
            o.file.display()
        ));
    };
    let hasher = hash::hash_file_in_background(file.try_clone().map_err(|e| e.to_string())?);
    let mut sock = wire::connect(&o.addrs)?;
    let started = Instant::now();
    sock.write_all(&header)
        .map_err(|e| format!("sending the header: {e}"))?;
    send_body(&mut sock, &file, 0, size, o.quiet).map_err(|e| format!("sending: {e}"))?;
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
            Err(e) => return Err(format!("waiting for the server to close: {e}")),
        }
    }
    let d = hasher
        .join()
        .map_err(|_| "hashing thread panicked")?
        .map_err(|e| format!("hashing: {e}"))?;
    let secs = started.elapsed().as_secs_f64().max(1e-6);
    println!(
        "sent {size} bytes (v1: no acknowledgement or stored name) sha256 {} ({:.1} MiB/s)",
        hex(&d),
        size as f64 / secs / (1024.0 * 1024.0)
    );
    Ok(())
}
