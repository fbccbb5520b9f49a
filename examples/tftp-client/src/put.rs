//! `put`: upload LOCAL as REMOTE, reading the file by block (no whole-file buffer).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

use switchyard_tftp::netascii::{Encoder, encoded_len};
use switchyard_tftp::packet::{self, ErrorCode, RequestKind};
use switchyard_tftp::transfer::{Action, Sender};

use sha2::{Digest, Sha256};
use switchyard_client_support::progress::{self, Summary};
use switchyard_client_support::{Exit, Failure};

use crate::get::{asked, hex, mode_name, socket};
use crate::{Mode, Opts, addr, drive};

/// Read up to `buf.len()` bytes at `offset` (short only at end of file).
fn read_full(file: &File, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset + got as u64)? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

pub fn run(
    server: &str,
    local: &Path,
    remote: Option<String>,
    opts: &Opts,
) -> Result<Summary, Failure> {
    let addr = addr::resolve(server, crate::DEFAULT_PORT)?;
    let remote = match remote {
        Some(r) => r,
        None => local
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                Failure::new(Exit::Usage, format!("no file name in {}", local.display()))
            })?,
    };
    let read_err = |e: std::io::Error| Failure::read(local, &e);
    let file = File::open(local).map_err(read_err)?;
    let size = file.metadata().map_err(read_err)?.len();
    let total = match opts.mode {
        Mode::Octet => size,
        Mode::Netascii => {
            let mut buf = vec![0u8; 1 << 16];
            let (mut off, mut total) = (0u64, 0u64);
            loop {
                let n = read_full(&file, off, &mut buf).map_err(read_err)?;
                if n == 0 {
                    break total;
                }
                total += encoded_len(&buf[..n]);
                off += n as u64;
            }
        }
    };
    let sock = socket(addr, opts)?;
    let (asked, params) = asked(opts, total);
    let wrq = packet::request(RequestKind::Write, &remote, mode_name(opts.mode), &asked);
    let start = Instant::now();
    let mut first = Vec::new();
    let mut m = Sender::client(0, params, addr, total, wrq, asked, &mut first);
    let pb = progress::bar(Some(total), &remote, opts.quiet);
    let mut encoder = (opts.mode == Mode::Netascii).then(|| Encoder::new(size));
    let mut buf = vec![0u8; 4 + 65_536];
    let mut exec = |sock: &std::net::UdpSocket,
                    m: &Sender,
                    action: Action<'_>|
     -> Result<(), (ErrorCode, String)> {
        let io = |e: std::io::Error| (ErrorCode::NotDefined, format!("local read: {e}"));
        if let Action::SendBlock {
            to,
            block,
            offset,
            len,
        } = action
        {
            let len = len as usize;
            buf[..4].copy_from_slice(&packet::data_header(block));
            let n = match &mut encoder {
                Some(enc) => {
                    enc.release(m.acked_offset());
                    let mut read = |off: u64, b: &mut [u8]| read_full(&file, off, b);
                    let data = enc.get(offset, len, &mut read).map_err(io)?;
                    buf[4..4 + data.len()].copy_from_slice(data);
                    data.len()
                }
                None => read_full(&file, offset, &mut buf[4..4 + len]).map_err(io)?,
            };
            let _ = sock.send_to(&buf[..4 + n], to);
            pb.set_position(m.acked_offset());
        }
        Ok(())
    };
    let ended = drive::run(&sock, addr, &mut m, start, first, &mut exec);
    pb.finish_and_clear();
    let outcome = ended.map_err(|e| drive::network_failure(addr, &e))?;
    if !outcome.ok() {
        return Err(drive::failure(&remote, &outcome));
    }
    let seconds = start.elapsed().as_secs_f64();
    // Only `--json` shows it: a second read of the file, after the transfer.
    let sha256 = if opts.json {
        hash_file(&file, size).map_err(read_err)?
    } else {
        String::new()
    };
    Ok(Summary {
        name: remote,
        bytes: size,
        seconds,
        sha256,
        skipped: false,
    })
}

fn hash_file(file: &File, size: u64) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0;
    while off < size {
        let n = read_full(file, off, &mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        off += n as u64;
    }
    Ok(hex(&h.finalize()))
}
