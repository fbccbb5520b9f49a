//! [`Sender`]: sends a stream of `total` bytes as DATA blocks, one window at a time.

use std::net::SocketAddr;

use super::burst::Burst;
use super::{
    Action, Ending, Outcome, Params, Peer, Rel, Retry, Role, block_of, peer_error, relative,
};
use crate::options;
use crate::packet::{self, ErrorCode, Packet};

/// The sending side of one transfer (the server for RRQ, the client for `put`).
///
/// Block indexes are 64-bit (`1..=last`); only the wire numbers wrap. `acked` is the
/// highest index the peer acknowledged, `sent` the highest sent in the current window,
/// which began after `window_start` and may leave in several bursts ([`Burst`]).
#[derive(Debug, Clone)]
pub struct Sender {
    p: Params,
    role: Role,
    peer: Peer,
    total: u64,
    last: u64,
    acked: u64,
    sent: u64,
    /// The highest index ever sent: after a timeout resends less than the window, a
    /// late ACK for what the first sending delivered is still news, not stale.
    sent_max: u64,
    window_start: u64,
    burst: Burst,
    /// The current window was sent again after a timeout.
    resent: bool,
    /// Sent (and re-sent on timeout) until the peer starts the transfer: the server's
    /// OACK, or the client's WRQ.
    start: Option<(SocketAddr, Vec<u8>)>,
    retry: Retry,
    retransmits: u64,
    done: bool,
    /// The server's OACK told the size (`tsize`): an ERROR 8 answering it is a size
    /// probe, not a failure ([`Sender::offer_size`]).
    size_told: bool,
}

fn last_index(total: u64, blksize: u16) -> u64 {
    total / u64::from(blksize) + 1
}

impl Sender {
    /// The server's side of an RRQ from `peer`: with an OACK to acknowledge first, or
    /// straight to DATA 1.
    pub fn server(
        now: u64,
        p: Params,
        peer: SocketAddr,
        total: u64,
        oack: Option<Vec<u8>>,
        out: &mut Vec<Action<'_>>,
    ) -> Sender {
        let mut s = Sender {
            p,
            role: Role::Server,
            peer: Peer {
                addr: peer,
                locked: true,
            },
            total,
            last: last_index(total, p.blksize),
            acked: 0,
            sent: 0,
            sent_max: 0,
            window_start: 0,
            resent: false,
            burst: Burst::new(p.windowsize, p.timeout_ms),
            start: oack.map(|o| (peer, o)),
            retry: Retry::new(&p),
            retransmits: 0,
            done: false,
            size_told: false,
        };
        s.begin(now, out);
        s
    }

    /// A client's `put`: send `wrq` to `server` and wait for ACK 0 or an OACK.
    pub fn client(
        now: u64,
        p: Params,
        server: SocketAddr,
        total: u64,
        wrq: Vec<u8>,
        asked: Vec<(String, String)>,
        out: &mut Vec<Action<'_>>,
    ) -> Sender {
        let mut s = Sender {
            p,
            role: Role::Client { asked },
            peer: Peer {
                addr: server,
                locked: false,
            },
            total,
            last: last_index(total, p.blksize),
            acked: 0,
            sent: 0,
            sent_max: 0,
            window_start: 0,
            resent: false,
            burst: Burst::new(p.windowsize, p.timeout_ms),
            start: Some((server, wrq)),
            retry: Retry::new(&p),
            retransmits: 0,
            done: false,
            size_told: false,
        };
        s.begin(now, out);
        s
    }

    fn begin(&mut self, now: u64, out: &mut Vec<Action<'_>>) {
        match &self.start {
            Some((to, pkt)) => {
                out.push(Action::Send {
                    to: *to,
                    packet: pkt.clone(),
                });
                self.retry.progress(now);
            }
            None => self.fill(now, out),
        }
    }

    /// The server's OACK carries `tsize`: a client that answers it with ERROR 8
    /// (option negotiation refused) before any DATA took what it asked, the size, and
    /// is done (UEFI firmware probes so, then asks again for the file). The transfer
    /// then ends [`Ending::Probe`], not `aborted`.
    pub fn offer_size(&mut self) {
        self.size_told = true;
    }

    /// The negotiated parameters (a client learns them from the OACK).
    pub fn params(&self) -> &Params {
        &self.p
    }

    /// When to call [`Sender::on_timeout`].
    pub fn deadline(&self) -> Option<u64> {
        if self.done {
            return None;
        }
        [self.retry.deadline, self.burst.next_at()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The block the next ACK will most likely have sent first, as `(offset, len)`:
    /// what a driver may read ahead while the peer is busy.
    pub fn next_block(&self) -> Option<(u64, u32)> {
        if self.done || self.sent >= self.last {
            return None;
        }
        let bs = u64::from(self.p.blksize);
        let offset = self.sent * bs;
        Some((offset, (self.total - offset.min(self.total)).min(bs) as u32))
    }

    /// Stream bytes the peer has acknowledged: nothing before this is asked again.
    pub fn acked_offset(&self) -> u64 {
        (self.acked * u64::from(self.p.blksize)).min(self.total)
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    fn outcome(&self, kind: Ending, reason: impl Into<String>) -> Outcome {
        Outcome {
            kind,
            reason: reason.into(),
            bytes: self.acked_offset(),
            retransmits: self.retransmits,
        }
    }

    fn end(&mut self, kind: Ending, reason: impl Into<String>, out: &mut Vec<Action<'_>>) {
        out.push(Action::Finished(self.outcome(kind, reason)));
        out.push(Action::Close);
        self.done = true;
        self.retry.deadline = None;
    }

    /// Send the window's next burst: the whole window unless earlier windows lost
    /// their tail ([`Burst`]); the rest follows at [`Sender::deadline`].
    fn fill(&mut self, now: u64, out: &mut Vec<Action<'_>>) {
        if self.sent == self.acked && self.acked != self.window_start {
            self.window_start = self.acked;
            self.resent = false;
        }
        let bs = u64::from(self.p.blksize);
        let end = self.window_end();
        let first = self.sent;
        let stop = end.min(self.sent + self.burst.allowance(now));
        while self.sent < stop {
            self.sent += 1;
            let offset = (self.sent - 1) * bs;
            out.push(Action::SendBlock {
                to: self.peer.addr,
                block: block_of(self.sent),
                offset,
                len: (self.total - offset.min(self.total)).min(bs) as u32,
            });
        }
        self.sent_max = self.sent_max.max(self.sent);
        self.burst.sent(now, self.sent - first, self.sent < end);
        self.retry.arm(now);
    }

    /// The index of the current window's last block.
    fn window_end(&self) -> u64 {
        (self.window_start + u64::from(self.p.windowsize)).min(self.last)
    }

    /// A datagram arrived on the transfer's socket.
    pub fn on_packet(
        &mut self,
        now: u64,
        from: SocketAddr,
        data: &[u8],
        out: &mut Vec<Action<'_>>,
    ) {
        if self.done || !self.peer.check(from, out) {
            return;
        }
        // Junk from the peer is dropped; the retransmission clock keeps running.
        let Ok(pkt) = Packet::parse(data) else { return };
        match pkt {
            Packet::Ack { block } => self.on_ack(now, block, out),
            Packet::Error { code, message }
                if self.size_told
                    && self.start.is_some()
                    && code == ErrorCode::OptionRefused.code() =>
            {
                let why = format!("size probe: {}", peer_error(code, message));
                self.end(Ending::Probe, why, out)
            }
            Packet::Error { code, message } => {
                self.end(Ending::Aborted, peer_error(code, message), out)
            }
            Packet::Oack { options } if self.start.is_some() => {
                let Role::Client { asked } = &self.role else {
                    return self.illegal("unexpected OACK", out);
                };
                match options::accept_oack(asked, &options) {
                    Ok(n) => {
                        self.p.blksize = n.blksize;
                        self.p.windowsize = n.windowsize;
                        self.burst = Burst::new(n.windowsize, self.p.timeout_ms);
                        if let Some(t) = n.timeout_ms {
                            self.p.timeout_ms = t;
                            self.retry = Retry::new(&self.p);
                        }
                        self.last = last_index(self.total, self.p.blksize);
                        self.start = None;
                        self.retry.progress(now);
                        self.fill(now, out);
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

    fn illegal(&mut self, why: &str, out: &mut Vec<Action<'_>>) {
        out.push(Action::Send {
            to: self.peer.addr,
            packet: packet::error(ErrorCode::IllegalOperation, why),
        });
        self.end(Ending::Invalid, why, out);
    }

    fn on_ack(&mut self, now: u64, block: u16, out: &mut Vec<Action<'_>>) {
        if self.start.is_some() {
            if block != 0 {
                return;
            }
            if matches!(self.role, Role::Client { .. }) {
                // ACK 0 to our WRQ: the server took none of our options.
                self.p.blksize = options::DEFAULT_BLKSIZE;
                self.p.windowsize = 1;
                self.burst = Burst::new(1, self.p.timeout_ms);
                self.last = last_index(self.total, self.p.blksize);
            }
            self.start = None;
            self.retry.progress(now);
            self.fill(now, out);
            return;
        }
        let index = match relative(block, self.acked) {
            // A duplicate ACK never triggers a send (Sorcerer's Apprentice).
            Rel::Same | Rel::Behind => return,
            Rel::Ahead(n) => self.acked + n,
        };
        if index > self.sent_max {
            return; // acknowledges something never sent: stale, from an earlier wrap
        }
        if index >= self.window_end() {
            if !self.resent {
                self.burst.clean_window(now);
            }
        } else if index < self.sent || self.resent {
            let delivered = index - self.window_start;
            self.burst.lost_tail(now, delivered, self.resent);
        }
        self.acked = index;
        self.retry.progress(now);
        if self.acked == self.last {
            return self.end(Ending::Ok, "ok", out);
        }
        // An ACK inside the window means the peer lost the rest: resume after it.
        self.sent = self.acked;
        self.fill(now, out);
    }

    /// The deadline passed: resend the window (or the start packet), or give up.
    pub fn on_timeout(&mut self, now: u64, out: &mut Vec<Action<'_>>) {
        if self.done {
            return;
        }
        let retry_due = self.retry.deadline.is_some_and(|d| now >= d);
        if !retry_due && self.burst.next_at().is_some_and(|t| now >= t) {
            return self.fill(now, out); // the window's next burst
        }
        if !retry_due {
            return;
        }
        if !self.retry.backoff(now) {
            out.push(Action::Send {
                to: self.peer.addr,
                packet: packet::error(ErrorCode::NotDefined, "timeout"),
            });
            return self.end(Ending::Timeout, "timeout", out);
        }
        if let Some((to, pkt)) = &self.start {
            out.push(Action::Send {
                to: *to,
                packet: pkt.clone(),
            });
            self.retransmits += 1;
            return;
        }
        self.retransmits += self.sent - self.acked;
        self.burst.timed_out(now);
        self.resent = true;
        self.sent = self.acked;
        let deadline = self.retry.deadline;
        self.fill(now, out);
        self.retry.deadline = deadline; // keep the backed-off deadline
    }

    /// The driver could not do an action (file read error, ...): tell the peer, end.
    pub fn fail(&mut self, code: ErrorCode, why: &str, out: &mut Vec<Action<'_>>) {
        if self.done {
            return;
        }
        out.push(Action::Send {
            to: self.peer.addr,
            packet: packet::error(code, why),
        });
        self.end(Ending::Error, why, out);
    }

    /// The server cuts the transfer (the drain deadline): ERROR 0 with `why` to the
    /// peer, so it stops at once instead of waiting for its own timeout; the transfer
    /// ends `aborted`.
    pub fn cut(&mut self, why: &str, out: &mut Vec<Action<'_>>) {
        if self.done {
            return;
        }
        out.push(Action::Send {
            to: self.peer.addr,
            packet: packet::error(ErrorCode::NotDefined, why),
        });
        self.end(Ending::Aborted, why, out);
    }
}
