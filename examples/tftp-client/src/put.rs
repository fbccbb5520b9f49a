//! `put`: upload LOCAL as REMOTE, reading the file by block (no whole-file buffer).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

use switchyard_tftp::netascii::{Encoder, encoded_len};
use switchyard_tftp::packet::{self, ErrorCode, RequestKind};
use switchyard_tftp::transfer::{Action, Sender};

use crate::get::{asked, mode_name, socket_for};
use crate::{Failure, Mode, Opts, addr, drive, progress};

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

pub fn run(server: &str, local: &Path, remote: Option<String>, opts: &Opts) -> Result<(), Failure> {
    let addr = addr::resolve(server, crate::DEFAULT_PORT)?;
    let remote = match remote {
        Some(r) => r,
        None => local
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| Failure::Usage(format!("no file name in {}", local.display())))?,
    };
    let file =
        File::open(local).map_err(|e| Failure::Usage(format!("{}: {e}", local.display())))?;
    let size = file.metadata()?.len();
    let total = match opts.mode {
        Mode::Octet => size,
        Mode::Netascii => {
            let mut buf = vec![0u8; 1 << 16];
            let (mut off, mut total) = (0u64, 0u64);
            loop {
                let n = read_full(&file, off, &mut buf)?;
                if n == 0 {
                    break total;
                }
                total += encoded_len(&buf[..n]);
                off += n as u64;
            }
        }
    };
    let sock = socket_for(addr)?;
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
    let outcome = drive::run(&sock, &mut m, start, first, &mut exec);
    pb.finish_and_clear();
    if outcome.ok() {
        Ok(())
    } else {
        Err(Failure::Transfer(format!("{remote}: {}", outcome.reason)))
    }
}
