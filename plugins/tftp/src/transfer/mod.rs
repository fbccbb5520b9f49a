//! One transfer as a deterministic state machine: packets and a clock in, actions out.
//!
//! Nothing here touches a socket, a file or a real clock. Each call takes `now` (ms)
//! and appends [`Action`]s; [`Sender::deadline`] / [`Receiver::deadline`] say when to
//! call `on_timeout`. The server plugin and the client drive the same two machines:
//! - [`Sender`] sends a file as DATA (server: RRQ; client: `put`),
//! - [`Receiver`] receives DATA (server: WRQ; client: `get`).
//!
//! Rules carried by both (RFC 1350, 1123, 2347, 7440): lock-step or windowed blocks;
//! block numbers wrap from 65535 to 0; retransmission on timeout with a doubling backoff
//! and a retry limit; duplicate ACKs never trigger a send (Sorcerer's Apprentice);
//! duplicate DATA is re-ACKed, never written twice; a peer's ERROR ends the transfer at
//! once; a packet from any other address gets ERROR 5 and the transfer goes on.
//!
//! # Layout
//! - this file: [`Params`], [`Action`], [`Outcome`], the retry clock and block mapping.
//! - `send`: [`Sender`]. `recv`: [`Receiver`]. `tests`: both, with a manual clock.
//! - `burst`: how many blocks of a window the sender sends at once, learned from
//!   windows that lost their tail in a receiver's full socket buffer.
//! - `sim`: the two talking through a lossy, duplicating, reordering simulated network.

pub use switchyard_sdk::messages::Outcome as Ending;
mod burst;
mod recv;
mod send;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;

pub use recv::Receiver;
pub use send::Sender;

use crate::packet::{self, ErrorCode};

/// The negotiated parameters of one transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    pub blksize: u16,
    pub windowsize: u16,
    /// First retransmission timeout.
    pub timeout_ms: u64,
    /// Backoff ceiling.
    pub max_timeout_ms: u64,
    /// Retransmissions of one state before giving up.
    pub max_retries: u32,
    /// Receiver only: how long to keep answering a repeated last DATA.
    pub dally_ms: u64,
    /// Receiver only: most bytes accepted.
    pub max_bytes: u64,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            blksize: 512,
            windowsize: 1,
            timeout_ms: 1000,
            max_timeout_ms: 16_000,
            max_retries: 5,
            dally_ms: 0,
            max_bytes: u64::MAX,
        }
    }
}

/// Which side of the exchange a machine plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The server: the peer's address is known from its request.
    Server,
    /// A client: the server answers from a new port, learnt from its first answer;
    /// `asked` are the options of our request, to check an OACK against.
    Client { asked: Vec<(String, String)> },
}

/// One thing for the driver to do, in order. If one fails, the driver stops and calls
/// `fail` on the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action<'a> {
    /// Send a whole packet.
    Send { to: SocketAddr, packet: Vec<u8> },
    /// Send DATA `block` made of the stream bytes `[offset, offset + len)`.
    SendBlock {
        to: SocketAddr,
        block: u16,
        offset: u64,
        len: u32,
    },
    /// Append received bytes to the file.
    Write(&'a [u8]),
    /// The last block is written: make the file durable and visible before the final
    /// ACK goes out.
    Commit,
    /// The transfer's result is known (log it, emit it); the machine may linger (dally).
    Finished(Outcome),
    /// Nothing more will happen: release the socket, the file and the timer.
    Close,
}

/// How a transfer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The kind of ending, from the SDK's fixed set: what the server reports in
    /// `TransferCompleted` and the metrics count.
    pub kind: Ending,
    /// `ok`, or a short reason (`timeout`, `peer error 1: ...`, `disk full`, ...), for
    /// people: the log line, the client's error message.
    pub reason: String,
    /// Payload bytes acknowledged (sender) or written (receiver).
    pub bytes: u64,
    /// Packets sent again after a timeout.
    pub retransmits: u64,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.kind.is_ok()
    }
}

/// The retransmission clock: a deadline with doubling backoff and a retry budget.
#[derive(Debug, Clone)]
struct Retry {
    base_ms: u64,
    max_ms: u64,
    max_retries: u32,
    current_ms: u64,
    retries: u32,
    deadline: Option<u64>,
}

impl Retry {
    fn new(p: &Params) -> Retry {
        Retry {
            base_ms: p.timeout_ms,
            max_ms: p.max_timeout_ms.max(p.timeout_ms),
            max_retries: p.max_retries,
            current_ms: p.timeout_ms,
            retries: 0,
            deadline: None,
        }
    }

    /// Progress was made: back to the base timeout, full budget.
    fn progress(&mut self, now: u64) {
        self.retries = 0;
        self.current_ms = self.base_ms;
        self.deadline = Some(now + self.current_ms);
    }

    /// Wait for an answer without resetting the backoff.
    fn arm(&mut self, now: u64) {
        self.deadline = Some(now + self.current_ms);
    }

    /// A timeout fired: `false` when the budget is spent; otherwise back off and re-arm.
    fn backoff(&mut self, now: u64) -> bool {
        if self.retries >= self.max_retries {
            self.deadline = None;
            return false;
        }
        self.retries += 1;
        self.current_ms = (self.current_ms * 2).min(self.max_ms);
        self.deadline = Some(now + self.current_ms);
        true
    }
}

/// The 16-bit block number of 64-bit block index `index` (wraps 65535 -> 0).
pub fn block_of(index: u64) -> u16 {
    index as u16
}

/// Where a received 16-bit block number lies relative to 64-bit index `base`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rel {
    Same,
    /// `base + n`, n in 1..32768.
    Ahead(u64),
    /// Before `base` (an old, delayed packet).
    Behind,
}

fn relative(block: u16, base: u64) -> Rel {
    match block.wrapping_sub(block_of(base)) {
        0 => Rel::Same,
        d if d < 0x8000 => Rel::Ahead(u64::from(d)),
        _ => Rel::Behind,
    }
}

/// The peer's address and whether it is settled yet (a client learns the server's
/// transfer port from its first answer).
#[derive(Debug, Clone)]
struct Peer {
    addr: SocketAddr,
    locked: bool,
}

impl Peer {
    /// Accept `from` as the peer, or answer it with ERROR 5 (`false`).
    fn check(&mut self, from: SocketAddr, out: &mut Vec<Action<'_>>) -> bool {
        if self.locked {
            if from == self.addr {
                return true;
            }
            out.push(Action::Send {
                to: from,
                packet: packet::error(ErrorCode::UnknownTid, "Unknown transfer ID"),
            });
            return false;
        }
        if from.ip() == self.addr.ip() {
            self.addr = from;
            self.locked = true;
            return true;
        }
        false
    }
}

/// The reason string for a peer's ERROR packet.
fn peer_error(code: u16, message: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(message)
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    format!("peer error {code}: {text}")
}
