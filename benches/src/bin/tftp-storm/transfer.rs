//! One lock-step TFTP download (RFC 1350) with the `blksize` option (RFC 2348), as a
//! PXE client does it: RRQ, OACK, then DATA/ACK one block at a time, each packet
//! retransmitted when nothing comes back in time. What arrives is hashed as it comes;
//! the caller compares the digest with the source's.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::net::UdpSocket;

const RRQ: u16 = 1;
const DATA: u16 = 3;
const ACK: u16 = 4;
const ERROR: u16 = 5;
const OACK: u16 = 6;

/// What one download is asked to do.
#[derive(Debug, Clone)]
pub struct Plan {
    pub server: SocketAddr,
    pub file: String,
    pub blksize: u16,
    /// Wait for an answer before sending the last packet again.
    pub timeout: Duration,
    /// Retransmissions of one packet before the download fails.
    pub retries: u32,
}

/// A finished download.
#[derive(Debug)]
pub struct Done {
    pub bytes: u64,
    pub sha256: [u8; 32],
    /// Since the storm started.
    pub finished: Duration,
    /// Packets sent again after a timeout.
    pub retransmits: u64,
    /// DATA blocks received twice (answered by the same ACK again).
    pub duplicates: u64,
}

fn packet(opcode: u16, rest: &[&[u8]]) -> Vec<u8> {
    let mut p = opcode.to_be_bytes().to_vec();
    for part in rest {
        p.extend_from_slice(part);
    }
    p
}

fn ack(block: u16) -> Vec<u8> {
    packet(ACK, &[&block.to_be_bytes()])
}

/// `RRQ file octet blksize N`, every string NUL-terminated.
fn rrq(file: &str, blksize: u16) -> Vec<u8> {
    let size = blksize.to_string();
    packet(
        RRQ,
        &[
            file.as_bytes(),
            b"\0octet\0blksize\0",
            size.as_bytes(),
            b"\0",
        ],
    )
}

/// The `blksize` an OACK grants; an error for an OACK without it or malformed.
fn granted_blksize(oack: &[u8]) -> Result<u16, String> {
    let mut fields = oack.split(|&b| b == 0);
    while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
        if name.eq_ignore_ascii_case(b"blksize") {
            return std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("OACK blksize {:?}", String::from_utf8_lossy(value)));
        }
    }
    Err("OACK without blksize".into())
}

/// Download `plan.file` on `sock`; `start` is when the storm began.
pub async fn download(sock: UdpSocket, plan: &Plan, start: Instant) -> Result<Done, String> {
    let mut last = rrq(&plan.file, plan.blksize);
    let mut dest = plan.server;
    sock.send_to(&last, dest)
        .await
        .map_err(|e| format!("sending RRQ: {e}"))?;
    let mut peer: Option<SocketAddr> = None;
    let mut next: u16 = 1;
    let (mut bytes, mut retransmits, mut duplicates, mut tries) = (0u64, 0u64, 0u64, 0u32);
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; usize::from(plan.blksize) + 4 + 1];
    loop {
        let (n, from) = match tokio::time::timeout(plan.timeout, sock.recv_from(&mut buf)).await {
            Err(_) => {
                tries += 1;
                if tries > plan.retries {
                    return Err(format!(
                        "no answer after {} retransmissions, waiting for block {next} ({bytes} bytes in)",
                        plan.retries
                    ));
                }
                sock.send_to(&last, dest)
                    .await
                    .map_err(|e| format!("retransmitting: {e}"))?;
                retransmits += 1;
                continue;
            }
            Ok(r) => r.map_err(|e| format!("receiving: {e}"))?,
        };
        // The server answers from a port of its own for this transfer (its TID).
        if from.ip() != plan.server.ip() {
            continue;
        }
        match peer {
            None => peer = Some(from),
            Some(p) if p != from => {
                let _ = sock
                    .send_to(
                        &packet(ERROR, &[&5u16.to_be_bytes(), b"unknown transfer ID\0"]),
                        from,
                    )
                    .await;
                continue;
            }
            Some(_) => {}
        }
        if n < 4 {
            return Err(format!("a {n}-byte packet"));
        }
        let opcode = u16::from_be_bytes([buf[0], buf[1]]);
        let block = u16::from_be_bytes([buf[2], buf[3]]);
        match opcode {
            OACK if next == 1 => {
                let granted = granted_blksize(&buf[2..n])?;
                if granted != plan.blksize {
                    return Err(format!("asked blksize {}, granted {granted}", plan.blksize));
                }
                last = ack(0);
                dest = from;
            }
            DATA if bytes == 0 && next == 1 && dest == plan.server => {
                return Err("DATA without an OACK: the server ignored the blksize option".into());
            }
            DATA if block == next => {
                let data = &buf[4..n];
                if data.len() > usize::from(plan.blksize) {
                    return Err(format!(
                        "block {block}: {} bytes, blksize {}",
                        data.len(),
                        plan.blksize
                    ));
                }
                hash.update(data);
                bytes += data.len() as u64;
                last = ack(block);
                sock.send_to(&last, dest)
                    .await
                    .map_err(|e| format!("sending ACK {block}: {e}"))?;
                tries = 0;
                if data.len() < usize::from(plan.blksize) {
                    return Ok(Done {
                        bytes,
                        sha256: hash.finalize().into(),
                        finished: start.elapsed(),
                        retransmits,
                        duplicates,
                    });
                }
                next = next.wrapping_add(1);
                continue;
            }
            // The previous block again: our ACK was lost or late; say it again.
            DATA if block == next.wrapping_sub(1) => duplicates += 1,
            DATA | OACK => continue,
            ERROR => {
                let msg = String::from_utf8_lossy(&buf[4..n]);
                return Err(format!(
                    "server ERROR {block}: {}",
                    msg.trim_end_matches('\0')
                ));
            }
            other => return Err(format!("unexpected opcode {other}")),
        }
        tries = 0;
        sock.send_to(&last, dest)
            .await
            .map_err(|e| format!("sending ACK: {e}"))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrq_and_oack_wire_forms() {
        assert_eq!(
            rrq("big.bin", 1468),
            b"\x00\x01big.bin\0octet\0blksize\x001468\0"
        );
        assert_eq!(granted_blksize(b"blksize\x001468\0"), Ok(1468));
        assert_eq!(granted_blksize(b"tsize\x009\0BLKSIZE\x00512\0"), Ok(512));
        assert!(granted_blksize(b"tsize\x009\0").is_err());
        assert!(granted_blksize(b"blksize\0x\0").is_err());
    }

    /// A tiny lock-step server on loopback that drops the first ACK of block 2 once,
    /// so the client must retransmit; the download must still be whole and exact.
    #[tokio::test]
    async fn downloads_exactly_and_retransmits_on_timeout() {
        let content: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
        let listen = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server = listen.local_addr().unwrap();
        let body = content.clone();
        tokio::spawn(async move {
            let mut b = [0u8; 600];
            let (n, client) = listen.recv_from(&mut b).await.unwrap();
            assert_eq!(&b[..n], rrq("f", 512).as_slice());
            // A port of its own for the transfer, as RFC 1350 says.
            let tid = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let wait_ack = |want: u16, drop_once: bool| {
                let tid = &tid;
                async move {
                    let mut b = [0u8; 16];
                    let mut dropped = !drop_once;
                    loop {
                        let n = tid.recv(&mut b).await.unwrap();
                        if b[..n] == ack(want)[..] {
                            if dropped {
                                return;
                            }
                            dropped = true;
                        }
                    }
                }
            };
            tid.connect(client).await.unwrap();
            tid.send(b"\x00\x06blksize\x00512\0").await.unwrap();
            wait_ack(0, false).await;
            for (i, chunk) in body.chunks(512).enumerate() {
                let block = i as u16 + 1;
                tid.send(&packet(DATA, &[&block.to_be_bytes(), chunk]))
                    .await
                    .unwrap();
                // The first ACK of block 2 is "lost": only a retransmission moves on.
                wait_ack(block, block == 2).await;
            }
        });
        let plan = Plan {
            server,
            file: "f".into(),
            blksize: 512,
            timeout: Duration::from_millis(100),
            retries: 5,
        };
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let done = download(sock, &plan, Instant::now()).await.unwrap();
        assert_eq!(done.bytes, content.len() as u64);
        assert_eq!(done.sha256, <[u8; 32]>::from(Sha256::digest(&content)));
        assert_eq!(done.retransmits, 1, "the dropped ACK was sent again once");
    }

    #[tokio::test]
    async fn a_silent_server_fails_after_the_retries() {
        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let plan = Plan {
            server: silent.local_addr().unwrap(),
            file: "f".into(),
            blksize: 1468,
            timeout: Duration::from_millis(20),
            retries: 2,
        };
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let err = download(sock, &plan, Instant::now()).await.unwrap_err();
        assert!(err.contains("2 retransmissions"), "{err}");
    }
}
