//! [`Receiver`]: receives DATA blocks into a file, acknowledging per window.

use std::net::SocketAddr;

use super::{
    Action, Ending, Outcome, Params, Peer, Rel, Retry, Role, block_of, peer_error, relative,
};
use crate::options;
use crate::packet::{self, ErrorCode, Packet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Receiving,
    /// The last block is in and acknowledged; a repeated last DATA is re-ACKed.
    Dally,
    Done,
}

/// The receiving side of one transfer (the server for WRQ, the client for `get`).
#[derive(Debug, Clone)]
pub struct Receiver {
    p: Params,
    role: Role,
    peer: Peer,
    /// Highest block index received in order (and written).
    received: u64,
    /// In-order blocks since our last ACK (we ACK once per window).
    since_ack: u64,
    bytes: u64,
    /// Re-sent on timeout until the first DATA: ACK 0 or OACK (server), RRQ and then
    /// ACK 0 (client).
    start: Option<(SocketAddr, Vec<u8>)>,
    /// A client still waiting for the server's first answer.
    awaiting_first: bool,
    /// A gap was already reported for the current `received`.
    gap_acked: bool,
    retry: Retry,
    retransmits: u64,
    phase: Phase,
    /// The size the server announced in its OACK (`tsize`), for a client's progress.
    announced: Option<u64>,
    /// The last call ended the transfer outright (last block, no dally). Its write or
    /// commit may still fail in the driver, which then skips the rest of that call's
    /// actions (result and `Close` included): [`Receiver::fail`] must still end it.
    ended_by_last_call: bool,
}

impl Receiver {
    /// The server's side of a WRQ from `peer`; `start` is the OACK, or `None` for ACK 0.
    pub fn server(
        now: u64,
        p: Params,
        peer: SocketAddr,
        oack: Option<Vec<u8>>,
        out: &mut Vec<Action<'_>>,
    ) -> Receiver {
        let start = oack.unwrap_or_else(|| packet::ack(0).to_vec());
        Receiver::new(
            now,
            p,
            Role::Server,
            Peer {
                addr: peer,
                locked: true,
            },
            start,
            false,
            out,
        )
    }

    /// A client's `get`: send `rrq` to `server`, then receive.
    pub fn client(
        now: u64,
        p: Params,
        server: SocketAddr,
        rrq: Vec<u8>,
        asked: Vec<(String, String)>,
        out: &mut Vec<Action<'_>>,
    ) -> Receiver {
        Receiver::new(
            now,
            p,
            Role::Client { asked },
            Peer {
                addr: server,
                locked: false,
            },
            rrq,
            true,
            out,
        )
    }

    fn new(
        now: u64,
        p: Params,
        role: Role,
        peer: Peer,
        start: Vec<u8>,
        awaiting_first: bool,
        out: &mut Vec<Action<'_>>,
    ) -> Receiver {
        out.push(Action::Send {
            to: peer.addr,
            packet: start.clone(),
        });
        let mut retry = Retry::new(&p);
        retry.progress(now);
        Receiver {
            p,
            role,
            start: Some((peer.addr, start)),
            peer,
            received: 0,
            since_ack: 0,
            bytes: 0,
            awaiting_first,
            gap_acked: false,
            retry,
            retransmits: 0,
            phase: Phase::Receiving,
            announced: None,
            ended_by_last_call: false,
        }
    }

    /// The negotiated parameters (a client learns them from the OACK).
    pub fn params(&self) -> &Params {
        &self.p
    }

    /// When to call [`Receiver::on_timeout`].
    pub fn deadline(&self) -> Option<u64> {
        match self.phase {
            Phase::Done => None,
            _ => self.retry.deadline,
        }
    }

    /// True once the result is known (the machine may still dally).
    pub fn is_finished(&self) -> bool {
        self.phase != Phase::Receiving
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The file size the server announced (`tsize` in its OACK).
    pub fn announced_size(&self) -> Option<u64> {
        self.announced
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    fn outcome(&self, kind: Ending, reason: impl Into<String>) -> Outcome {
        Outcome {
            kind,
            reason: reason.into(),
            bytes: self.bytes,
            retransmits: self.retransmits,
        }
    }

    fn end(&mut self, kind: Ending, reason: impl Into<String>, out: &mut Vec<Action<'_>>) {
        out.push(Action::Finished(self.outcome(kind, reason)));
        out.push(Action::Close);
        self.phase = Phase::Done;
        self.retry.deadline = None;
    }

    fn ack(&mut self, out: &mut Vec<Action<'_>>) {
        out.push(Action::Send {
            to: self.peer.addr,
            packet: packet::ack(block_of(self.received)).to_vec(),
        });
        self.since_ack = 0;
    }

    fn illegal(&mut self, why: &str, out: &mut Vec<Action<'_>>) {
        out.push(Action::Send {
            to: self.peer.addr,
            packet: packet::error(ErrorCode::IllegalOperation, why),
        });
        self.end(Ending::Invalid, why, out);
    }

    /// A datagram arrived on the transfer's socket.
    pub fn on_packet<'a>(
        &mut self,
        now: u64,
        from: SocketAddr,
        data: &'a [u8],
        out: &mut Vec<Action<'a>>,
    ) {
        self.ended_by_last_call = false;
        if self.phase == Phase::Done || !self.peer.check(from, out) {
            return;
        }
        let Ok(pkt) = Packet::parse(data) else { return };
        if self.phase == Phase::Dally {
            match pkt {
                // Our final ACK was lost: say it again (dally).
                Packet::Data { block, .. } if relative(block, self.received) == Rel::Same => {
                    self.ack(out)
                }
                Packet::Error { .. } => {
                    out.push(Action::Close);
                    self.phase = Phase::Done;
                }
                _ => {}
            }
            return;
        }
        match pkt {
            Packet::Data { block, data } => self.on_data(now, block, data, out),
            Packet::Error { code, message } => {
                self.end(Ending::Aborted, peer_error(code, message), out)
            }
            Packet::Oack { options } if self.awaiting_first => {
                self.awaiting_first = false;
                let Role::Client { asked } = &self.role else {
                    return self.illegal("unexpected OACK", out);
                };
                match options::accept_oack(asked, &options) {
                    Ok(n) => {
                        self.p.blksize = n.blksize;
                        self.p.windowsize = n.windowsize;
                        self.announced = n.tsize;
                        if let Some(t) = n.timeout_ms {
                            self.p.timeout_ms = t;
                            self.retry = Retry::new(&self.p);
                        }
                        let ack0 = packet::ack(0).to_vec();
                        out.push(Action::Send {
                            to: self.peer.addr,
                            packet: ack0.clone(),
                        });
                        self.start = Some((self.peer.addr, ack0));
                        self.retry.progress(now);
                    }
                    Err(why) => {
                        out.push(Action::Send {
                            to: self.peer.addr,
                            packet: packet::error(ErrorCode::OptionRefused, &why),
                        });
                        self.end(Ending::Invalid, why, out);
                    }
                }
            }
            _ => self.illegal("unexpected packet", out),
        }
    }

    fn on_data<'a>(&mut self, now: u64, block: u16, data: &'a [u8], out: &mut Vec<Action<'a>>) {
        if std::mem::take(&mut self.awaiting_first) {
            // DATA straight after our RRQ: the server took none of our options.
            self.p.blksize = options::DEFAULT_BLKSIZE;
            self.p.windowsize = 1;
        }
        if data.len() > usize::from(self.p.blksize) {
            return self.illegal("block larger than blksize", out);
        }
        match relative(block, self.received) {
            Rel::Ahead(1) => {}
            // A repeat of the last block written: our ACK was lost. Re-ACK, don't write.
            Rel::Same if self.received > 0 => return self.ack(out),
            Rel::Ahead(_) => {
                // A gap inside a window: tell the sender where we are, once (RFC 7440).
                if !self.gap_acked {
                    self.gap_acked = true;
                    self.ack(out);
                }
                return;
            }
            Rel::Same | Rel::Behind => return,
        }
        if self.bytes + data.len() as u64 > self.p.max_bytes {
            out.push(Action::Send {
                to: self.peer.addr,
                packet: packet::error(ErrorCode::DiskFull, "file too large"),
            });
            return self.end(Ending::Refused, "file too large", out);
        }
        self.received += 1;
        self.bytes += data.len() as u64;
        self.start = None;
        self.gap_acked = false;
        self.retry.progress(now);
        if data.len() < usize::from(self.p.blksize) {
            // The last block: written and committed (durable, visible) before its ACK,
            // which is the promise that the whole file is stored.
            if !data.is_empty() {
                out.push(Action::Write(data));
            }
            out.push(Action::Commit);
            self.ack(out);
            out.push(Action::Finished(self.outcome(Ending::Ok, "ok")));
            if self.p.dally_ms == 0 {
                out.push(Action::Close);
                self.phase = Phase::Done;
                self.retry.deadline = None;
                self.ended_by_last_call = true;
            } else {
                self.phase = Phase::Dally;
                self.retry.deadline = Some(now + self.p.dally_ms);
            }
            return;
        }
        // Any other block is acknowledged first and written after: the peer sends the
        // next block while we write this one. A write that fails ends the transfer with
        // an ERROR before the last ACK, so nothing is ever claimed stored that is not.
        self.since_ack += 1;
        if self.since_ack >= u64::from(self.p.windowsize) {
            self.ack(out);
        }
        out.push(Action::Write(data));
    }

    /// The deadline passed: re-send our last word, end the dally, or give up.
    pub fn on_timeout(&mut self, now: u64, out: &mut Vec<Action<'_>>) {
        self.ended_by_last_call = false;
        if self.retry.deadline.is_none_or(|d| now < d) {
            return;
        }
        match self.phase {
            Phase::Done => {}
            Phase::Dally => {
                out.push(Action::Close);
                self.phase = Phase::Done;
                self.retry.deadline = None;
            }
            Phase::Receiving => {
                if !self.retry.backoff(now) {
                    out.push(Action::Send {
                        to: self.peer.addr,
                        packet: packet::error(ErrorCode::NotDefined, "timeout"),
                    });
                    return self.end(Ending::Timeout, "timeout", out);
                }
                self.retransmits += 1;
                match &self.start {
                    Some((to, pkt)) => out.push(Action::Send {
                        to: *to,
                        packet: pkt.clone(),
                    }),
                    None => self.ack(out),
                }
            }
        }
    }

    /// The driver could not write or commit: tell the peer, end (the temp is dropped).
    /// Called right after the call whose action failed, even if that call ended the
    /// transfer: the driver skipped its result and `Close`, so they are given again.
    pub fn fail(&mut self, code: ErrorCode, why: &str, out: &mut Vec<Action<'_>>) {
        if self.phase == Phase::Done && !std::mem::take(&mut self.ended_by_last_call) {
            return;
        }
        out.push(Action::Send {
            to: self.peer.addr,
            packet: packet::error(code, why),
        });
        self.end(Ending::Error, why, out);
    }

    /// The server cuts the transfer (the drain deadline): ERROR 0 with `why` to the
    /// peer; the transfer ends `aborted` (the temp is dropped). Nothing is sent once
    /// the result is known (a receiver dallying after its last ACK just stops).
    pub fn cut(&mut self, why: &str, out: &mut Vec<Action<'_>>) {
        if self.is_finished() {
            return;
        }
        out.push(Action::Send {
            to: self.peer.addr,
            packet: packet::error(ErrorCode::NotDefined, why),
        });
        self.end(Ending::Aborted, why, out);
    }
}
