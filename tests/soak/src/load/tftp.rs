//! A TFTP client (RFC 1350, options per RFC 2347/2348/7440), written here from the
//! RFCs rather than borrowed from the server's crate, so the two cannot share a
//! misreading. Downloads of fixtures with assorted block and window sizes (some with
//! no options at all), and uploads of fresh files that are then downloaded and
//! compared. Every transfer uses its own socket, as a real client's would.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use super::verify::{check, pick_fixture};
use super::{Busy, Ctx};
use crate::data::{Rng, content, sha256_hex};
use crate::stats::Fail;

const RRQ: u16 = 1;
const WRQ: u16 = 2;
const DATA: u16 = 3;
const ACK: u16 = 4;
const ERROR: u16 = 5;
const OACK: u16 = 6;
/// Wait for a packet before retransmitting. The server's own first timeout is 1 s;
/// under soak load a reply can take a while, and duplicates only add load.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Retransmissions of one packet before the transfer counts as failed.
const RETRIES: u32 = 6;
/// TFTP uploads are capped lower than TCP ones: lock-step at 512 bytes is slow.
const UPLOAD_MAX: u64 = 256 * 1024;

/// Options asked for: `None` for a plain RFC 1350 transfer.
#[derive(Debug, Clone, Copy)]
struct Opts {
    blksize: Option<u16>,
    windowsize: Option<u16>,
}

pub fn client(ctx: &Ctx, id: usize, mut rng: Rng) {
    let mut n = 0u64;
    while ctx.running() {
        let _busy = Busy::new(&ctx.busy_tftp);
        if rng.chance(ctx.shape.tftp_upload_percent) {
            n += 1;
            let r = put_get(ctx, &format!("soak-t-{id}-{n}.bin"), &mut rng);
            ctx.record("tftp.put_get", r);
        } else {
            let (name, (size, digest)) = pick_fixture(ctx, &mut rng);
            let r = download(ctx, name, opts(&mut rng)).and_then(|got| {
                check(&got, *size, digest, name)?;
                Ok(got.len() as u64)
            });
            ctx.record("tftp.get", r);
        }
    }
}

fn opts(rng: &mut Rng) -> Opts {
    if rng.chance(20) {
        return Opts {
            blksize: None,
            windowsize: None,
        };
    }
    Opts {
        blksize: Some([512, 1024, 1468, 8192][rng.below(4) as usize]),
        windowsize: Some([1, 1, 4, 8][rng.below(4) as usize]),
    }
}

/// Upload a fresh file (lock-step), download it, compare, remove it from disk.
fn put_get(ctx: &Ctx, name: &str, rng: &mut Rng) -> Result<u64, Fail> {
    let data = content(rng.next_u64(), rng.size(ctx.shape.max_size.min(UPLOAD_MAX)));
    let blksize = [512u16, 1468, 8192][rng.below(3) as usize];
    upload(ctx, name, &data, blksize)?;
    let back = download(ctx, name, opts(rng))?;
    check(&back, data.len(), &sha256_hex(&data), name)?;
    std::fs::remove_file(ctx.data.join(name))
        .map_err(|e| Fail::new("cleanup", format!("{name}: {e}")))?;
    Ok(2 * data.len() as u64)
}

/// A transfer's socket and the server's transfer id (its port), once known.
struct Conn {
    sock: UdpSocket,
    server: SocketAddr,
    tid: Option<SocketAddr>,
    buf: Vec<u8>,
}

enum Got {
    Packet(usize),
    Timeout,
}

impl Conn {
    fn new(ctx: &Ctx) -> Result<Conn, Fail> {
        let sock = UdpSocket::bind((ctx.tftp.ip(), 0))?;
        sock.set_read_timeout(Some(TIMEOUT))?;
        Ok(Conn {
            sock,
            server: ctx.tftp,
            tid: None,
            buf: vec![0; 65_536],
        })
    }

    fn send(&self, packet: &[u8]) -> Result<(), Fail> {
        self.sock.send_to(packet, self.tid.unwrap_or(self.server))?;
        Ok(())
    }

    /// The next packet from the transfer's peer (the first one fixes the TID;
    /// strays from elsewhere are ignored).
    fn recv(&mut self, ctx: &Ctx) -> Result<Got, Fail> {
        loop {
            if std::time::Instant::now() >= ctx.hard_stop {
                return Err(Fail::new("unfinished", "still running at the hard stop"));
            }
            match self.sock.recv_from(&mut self.buf) {
                Ok((n, from)) => {
                    // A refusal may come from the listener's port itself.
                    let refusal = from == self.server
                        && self.tid.is_none()
                        && n >= 4
                        && opcode(&self.buf) == ERROR;
                    if !refusal {
                        if from.ip() != self.server.ip() || from == self.server {
                            continue;
                        }
                        if *self.tid.get_or_insert(from) != from {
                            continue;
                        }
                    }
                    if n >= 4 && opcode(&self.buf) == ERROR {
                        let code = u16::from_be_bytes([self.buf[2], self.buf[3]]);
                        let msg = String::from_utf8_lossy(&self.buf[4..n]);
                        return Err(Fail::new(
                            "tftp_error",
                            format!("ERROR {code} {}", msg.trim_end_matches('\0')),
                        ));
                    }
                    if n < 4 {
                        return Err(Fail::new("tftp_packet", "packet under 4 bytes"));
                    }
                    return Ok(Got::Packet(n));
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(Got::Timeout);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

fn opcode(p: &[u8]) -> u16 {
    u16::from_be_bytes([p[0], p[1]])
}

fn request(op: u16, name: &str, opts: &[(&str, String)]) -> Vec<u8> {
    let mut p = op.to_be_bytes().to_vec();
    for part in [name, "octet"] {
        p.extend_from_slice(part.as_bytes());
        p.push(0);
    }
    for (k, v) in opts {
        p.extend_from_slice(k.as_bytes());
        p.push(0);
        p.extend_from_slice(v.as_bytes());
        p.push(0);
    }
    p
}

fn ack(block: u16) -> [u8; 4] {
    let b = block.to_be_bytes();
    [0, ACK as u8, b[0], b[1]]
}

/// Granted options from an OACK: (blksize, windowsize), defaults when absent.
fn oack_options(p: &[u8]) -> Result<(usize, u16), Fail> {
    let mut parts = p[2..].split(|&b| b == 0);
    let (mut blksize, mut window) = (512usize, 1u16);
    while let (Some(k), Some(v)) = (parts.next(), parts.next()) {
        let v: u64 = std::str::from_utf8(v)
            .ok()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| Fail::new("tftp_packet", "bad OACK value"))?;
        match &*String::from_utf8_lossy(k).to_ascii_lowercase() {
            "blksize" => blksize = v as usize,
            "windowsize" => window = v as u16,
            _ => {}
        }
    }
    Ok((blksize, window.max(1)))
}

/// RRQ `name` and collect the file. A window's last block (or the file's) is ACKed;
/// a gap is answered with the last in-order block (RFC 7440).
fn download(ctx: &Ctx, name: &str, opts: Opts) -> Result<Vec<u8>, Fail> {
    let mut c = Conn::new(ctx)?;
    let mut asked = Vec::new();
    if let Some(b) = opts.blksize {
        asked.push(("blksize", b.to_string()));
    }
    if let Some(w) = opts.windowsize {
        asked.push(("windowsize", w.to_string()));
    }
    let rrq = request(RRQ, name, &asked);
    c.send(&rrq)?;
    let (mut blksize, mut window) = (512usize, 1u16);
    let mut got = Vec::new();
    let (mut last, mut since_ack, mut retries) = (0u16, 0u16, 0u32);
    let mut started = false;
    loop {
        let n = match c.recv(ctx)? {
            Got::Packet(n) => n,
            Got::Timeout => {
                retries += 1;
                if retries > RETRIES {
                    return Err(Fail::new("tftp_timeout", format!("RRQ {name}: no data")));
                }
                if started {
                    c.send(&ack(last))?;
                } else {
                    c.send(&rrq)?;
                }
                continue;
            }
        };
        let p = &c.buf[..n];
        match opcode(p) {
            // Repeated while our ACK 0 is lost; a stray one later is ignored.
            OACK if last == 0 => {
                (blksize, window) = oack_options(p)?;
                started = true;
                c.send(&ack(0))?;
            }
            OACK => {}
            DATA => {
                started = true;
                let block = u16::from_be_bytes([p[2], p[3]]);
                if block != last.wrapping_add(1) {
                    // A gap or a duplicate: say where we are; the server resends.
                    since_ack = 0;
                    c.send(&ack(last))?;
                    continue;
                }
                retries = 0;
                got.extend_from_slice(&p[4..]);
                last = block;
                since_ack += 1;
                if n - 4 < blksize {
                    c.send(&ack(last))?;
                    return Ok(got);
                }
                if since_ack >= window {
                    since_ack = 0;
                    c.send(&ack(last))?;
                }
            }
            other => {
                return Err(Fail::new(
                    "tftp_packet",
                    format!("RRQ {name}: opcode {other}"),
                ));
            }
        }
    }
}

/// WRQ `name` and send `data` lock-step; done when the last block is ACKed (the
/// server ACKs it only after the file is committed).
fn upload(ctx: &Ctx, name: &str, data: &[u8], blksize: u16) -> Result<(), Fail> {
    let mut c = Conn::new(ctx)?;
    let wrq = request(
        WRQ,
        name,
        &[
            ("blksize", blksize.to_string()),
            ("tsize", data.len().to_string()),
        ],
    );
    c.send(&wrq)?;
    let mut blksize = 512usize;
    let mut retries = 0u32;
    // Wait for the OACK or ACK 0.
    loop {
        match c.recv(ctx)? {
            Got::Timeout => {
                retries += 1;
                if retries > RETRIES {
                    return Err(Fail::new("tftp_timeout", format!("WRQ {name}: no answer")));
                }
                c.send(&wrq)?;
            }
            Got::Packet(n) => {
                let p = &c.buf[..n];
                match opcode(p) {
                    OACK => {
                        blksize = oack_options(p)?.0;
                        break;
                    }
                    ACK if p[2..4] == [0, 0] => break,
                    other => {
                        return Err(Fail::new(
                            "tftp_packet",
                            format!("WRQ {name}: opcode {other}"),
                        ));
                    }
                }
            }
        }
    }
    // Blocks 1..=k; the last is shorter than blksize (empty when it divides evenly).
    let blocks = data.len() / blksize + 1;
    for i in 0..blocks {
        let block = (i as u16).wrapping_add(1);
        let chunk = &data[(i * blksize).min(data.len())..((i + 1) * blksize).min(data.len())];
        let mut packet = vec![0, DATA as u8];
        packet.extend_from_slice(&block.to_be_bytes());
        packet.extend_from_slice(chunk);
        c.send(&packet)?;
        retries = 0;
        loop {
            match c.recv(ctx)? {
                Got::Timeout => {
                    retries += 1;
                    if retries > RETRIES {
                        return Err(Fail::new(
                            "tftp_timeout",
                            format!("WRQ {name}: no ACK {block}"),
                        ));
                    }
                    c.send(&packet)?;
                }
                Got::Packet(n) => {
                    let p = &c.buf[..n];
                    if opcode(p) == ACK && u16::from_be_bytes([p[2], p[3]]) == block {
                        break;
                    }
                    // An older ACK (a duplicate): wait for ours.
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_oack_wire_forms() {
        let p = request(RRQ, "f", &[("blksize", "1468".into())]);
        assert_eq!(p, b"\0\x01f\0octet\0blksize\x001468\0");
        assert_eq!(
            oack_options(b"\0\x06BLKSIZE\x001468\0windowsize\x008\0").unwrap(),
            (1468, 8)
        );
        assert_eq!(oack_options(b"\0\x06tsize\x0012\0").unwrap(), (512, 1));
        assert_eq!(ack(258), [0, 4, 1, 2]);
    }
}
