//! `tftp_transfer`: one TFTP transfer machine ([`Sender`] or [`Receiver`], server or
//! client side) driven by an arbitrary sequence of datagrams (well-formed or not, from
//! the peer or a stranger), clock steps, timeouts and driver failures.
//!
//! Invariants: a sender never has more than `windowsize` blocks outstanding and never
//! asks for bytes outside the stream or already acknowledged; a receiver writes each
//! byte once, never more than `blksize` at a time, nothing after its commit and
//! nothing over `max_bytes`; every packet sent parses; the result is reported once;
//! once a machine says it is done it produces nothing more and has no deadline; and a
//! failed action (as the plugin's driver reports one: the rest of that step is
//! skipped, then `fail`) still ends with a result and a `Close`.

use std::net::SocketAddr;

use arbitrary::{Arbitrary, Unstructured};
use switchyard_tftp::packet::{self, ErrorCode, Packet, RequestKind};
use switchyard_tftp::transfer::{Action, Params, Receiver, Sender, block_of};

#[derive(Debug, Arbitrary)]
struct Input {
    machine: Machine,
    blksize: u16,
    windowsize: u8,
    timeout_ms: u16,
    max_timeout_ms: u16,
    max_retries: u8,
    dally_ms: u16,
    max_bytes: u32,
    /// Stream length for a sender.
    total: u32,
    oack: bool,
    events: Vec<Event>,
}

#[derive(Debug, Arbitrary)]
enum Machine {
    ServerSender,
    ServerReceiver,
    ClientSender,
    ClientReceiver,
}

#[derive(Debug, Arbitrary)]
enum Event {
    Packet {
        from: From,
        pkt: Pkt,
    },
    Advance(u16),
    /// Jump to the deadline (if any) and fire it.
    Deadline,
    /// The driver could not do the `n`th fallible action (block read, write, commit)
    /// of the previous step: it skips the rest of that step and calls `fail`.
    Fail(u8),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum From {
    Peer,
    /// Same address as the peer, another port (a client's server answers from one).
    OtherPort,
    Stranger,
}

#[derive(Debug, Arbitrary)]
enum Pkt {
    Ack(u16),
    /// DATA `block` of `len` filler bytes (len taken modulo 2 * blksize + 1).
    Data(u16, u16),
    /// DATA relative to the last block seen: -2..=5 around it.
    NearData(i8, bool),
    NearAck(i8),
    Error(u16, String),
    Oack(Vec<(String, String)>),
    Raw(Vec<u8>),
}

const SERVER: &str = "10.0.0.1:69";
const CLIENT: &str = "10.0.0.2:5000";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("a literal address")
}

/// What the fuzzer's peer sends, as bytes.
fn encode(pkt: &Pkt, p: &Params, last_block: u16) -> Vec<u8> {
    let bs = usize::from(p.blksize);
    match pkt {
        Pkt::Ack(b) => packet::ack(*b).to_vec(),
        Pkt::Data(b, len) => packet::data(*b, &vec![b'x'; usize::from(*len) % (2 * bs + 1)]),
        Pkt::NearData(d, short) => {
            let block = last_block.wrapping_add_signed(i16::from(*d % 8 - 2));
            let len = if *short { bs / 2 } else { bs };
            packet::data(block, &vec![b'y'; len])
        }
        Pkt::NearAck(d) => {
            packet::ack(last_block.wrapping_add_signed(i16::from(*d % 8 - 2))).to_vec()
        }
        Pkt::Error(code, msg) => {
            let mut out = vec![0, 5];
            out.extend_from_slice(&code.to_be_bytes());
            out.extend_from_slice(msg.as_bytes());
            out.push(0);
            out
        }
        Pkt::Oack(opts) => packet::oack(opts),
        Pkt::Raw(bytes) => bytes.clone(),
    }
}

/// One action as executed by the driver, kept past the borrow of its datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Did {
    Send { parses: bool, ack: Option<u16> },
    Block { block: u16, offset: u64, len: u32 },
    Write(usize),
    Commit,
    Finished { ok: bool, bytes: u64 },
    Close,
}

impl Did {
    fn of(a: &Action<'_>) -> Did {
        match a {
            Action::Send { packet, .. } => {
                let pkt = Packet::parse(packet);
                Did::Send {
                    parses: pkt.is_ok(),
                    ack: match pkt {
                        Ok(Packet::Ack { block }) => Some(block),
                        _ => None,
                    },
                }
            }
            Action::SendBlock {
                block, offset, len, ..
            } => Did::Block {
                block: *block,
                offset: *offset,
                len: *len,
            },
            Action::Write(d) => Did::Write(d.len()),
            Action::Commit => Did::Commit,
            Action::Finished(o) => Did::Finished {
                ok: o.ok(),
                bytes: o.bytes,
            },
            Action::Close => Did::Close,
        }
    }

    /// Whether the driver can fail doing it (sends are fire-and-forget).
    fn fallible(self) -> bool {
        matches!(self, Did::Block { .. } | Did::Write(_) | Did::Commit)
    }
}

/// What a run has seen so far, to check each step's actions against.
#[derive(Debug, Default)]
struct Seen {
    finished: bool,
    closed: bool,
    committed: bool,
    written: u64,
    /// The last block number the machine sent or acknowledged (to aim near it).
    last_block: u16,
}

/// The machine under test, behind one interface.
enum M {
    S(Sender),
    R(Receiver),
}

impl M {
    fn deadline(&self) -> Option<u64> {
        match self {
            M::S(s) => s.deadline(),
            M::R(r) => r.deadline(),
        }
    }
    fn is_done(&self) -> bool {
        match self {
            M::S(s) => s.is_done(),
            M::R(r) => r.is_done(),
        }
    }
    fn params(&self) -> Params {
        match self {
            M::S(s) => *s.params(),
            M::R(r) => *r.params(),
        }
    }
    fn on_timeout(&mut self, now: u64, out: &mut Vec<Action<'_>>) {
        match self {
            M::S(s) => s.on_timeout(now, out),
            M::R(r) => r.on_timeout(now, out),
        }
    }
}

fn owned(out: &[Action<'_>]) -> Vec<Did> {
    out.iter().map(Did::of).collect()
}

pub fn tftp_transfer(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let timeout_ms = u64::from(input.timeout_ms.max(1));
    let p = Params {
        // Small blocks keep runs fast; the RFC minimum is 8.
        blksize: input.blksize % 1024 + 8,
        windowsize: u16::from(input.windowsize % 32) + 1,
        timeout_ms,
        max_timeout_ms: u64::from(input.max_timeout_ms).max(timeout_ms),
        max_retries: u32::from(input.max_retries % 8) + 1,
        dally_ms: u64::from(input.dally_ms),
        max_bytes: u64::from(input.max_bytes),
    };
    let total = u64::from(input.total % (1 << 20));
    let peer = match input.machine {
        Machine::ServerSender | Machine::ServerReceiver => addr(CLIENT),
        Machine::ClientSender | Machine::ClientReceiver => addr(SERVER),
    };
    let asked = vec![
        ("blksize".to_owned(), p.blksize.to_string()),
        ("windowsize".to_owned(), p.windowsize.to_string()),
        ("tsize".to_owned(), total.to_string()),
    ];
    let oack = input.oack.then(|| packet::oack(&asked[..2]));
    let mut out = Vec::new();
    let mut m = match input.machine {
        Machine::ServerSender => M::S(Sender::server(0, p, peer, total, oack, &mut out)),
        Machine::ServerReceiver => M::R(Receiver::server(0, p, peer, oack, &mut out)),
        Machine::ClientSender => {
            let wrq = packet::request(RequestKind::Write, "f", "octet", &asked);
            M::S(Sender::client(
                0,
                p,
                peer,
                total,
                wrq,
                asked.clone(),
                &mut out,
            ))
        }
        Machine::ClientReceiver => {
            let rrq = packet::request(RequestKind::Read, "f", "octet", &asked);
            M::R(Receiver::client(0, p, peer, rrq, asked.clone(), &mut out))
        }
    };
    let mut pending = owned(&out);
    let mut seen = Seen::default();
    let mut now = 0u64;
    let stranger = addr("10.0.0.9:7");
    let mut other_port = peer;
    other_port.set_port(peer.port().wrapping_add(1));

    for event in &input.events {
        if let Event::Fail(n) = event {
            let fallible: Vec<usize> = (0..pending.len())
                .filter(|&i| pending[i].fallible())
                .collect();
            if fallible.is_empty() {
                continue;
            }
            let cut = fallible[usize::from(*n) % fallible.len()];
            check(&m, &pending[..cut], total, &mut seen, false);
            let mut out = Vec::new();
            match &mut m {
                M::S(s) => s.fail(ErrorCode::NotDefined, "read error", &mut out),
                M::R(r) => r.fail(ErrorCode::DiskFull, "write error", &mut out),
            }
            pending = owned(&out);
            continue;
        }
        check(&m, &pending, total, &mut seen, true);
        let was_done = m.is_done();
        let mut out = Vec::new();
        match event {
            Event::Packet { from, pkt } => {
                let from = match from {
                    From::Peer => peer,
                    From::OtherPort => other_port,
                    From::Stranger => stranger,
                };
                let bytes = encode(pkt, &m.params(), seen.last_block);
                match &mut m {
                    M::S(s) => s.on_packet(now, from, &bytes, &mut out),
                    M::R(r) => r.on_packet(now, from, &bytes, &mut out),
                }
                pending = owned(&out);
            }
            Event::Advance(ms) => {
                now += u64::from(*ms);
                m.on_timeout(now, &mut out);
                pending = owned(&out);
            }
            Event::Deadline => {
                if let Some(d) = m.deadline() {
                    now = now.max(d);
                }
                m.on_timeout(now, &mut out);
                pending = owned(&out);
            }
            Event::Fail(_) => unreachable!("handled above"),
        }
        if was_done {
            // Done means done: no packet, no write, no second result, for any input.
            assert!(pending.is_empty(), "output after done: {pending:?}");
        }
    }
    check(&m, &pending, total, &mut seen, true);
}

/// Check the actions the driver executed; `whole` when that is the entire step (not
/// cut short by a failure), so the machine's state must agree with them.
fn check(m: &M, did: &[Did], total: u64, seen: &mut Seen, whole: bool) {
    let p = m.params();
    let bs = u64::from(p.blksize);
    let mut blocks = 0u64;
    for &d in did {
        assert!(!seen.closed, "action after Close: {d:?}");
        match d {
            Did::Send { parses, ack } => {
                assert!(parses, "sent a packet that does not parse");
                if let Some(block) = ack {
                    seen.last_block = block;
                }
            }
            Did::Block { block, offset, len } => {
                let M::S(s) = m else {
                    panic!("a receiver sent a block")
                };
                blocks += 1;
                assert_eq!(offset % bs, 0, "unaligned block {d:?}");
                assert_eq!(block, block_of(offset / bs + 1), "{d:?}");
                assert!(offset <= total, "block past the end {d:?}");
                assert_eq!(u64::from(len), (total - offset).min(bs), "{d:?}");
                // Never more than a window ahead of what the peer acknowledged, and
                // never what it already has.
                let acked = s.acked_offset();
                assert!(
                    offset >= acked,
                    "re-sent acknowledged data: {d:?}, acked {acked}"
                );
                assert!(
                    offset <= acked + (u64::from(p.windowsize) - 1) * bs,
                    "outstanding past the window: {d:?}, acked {acked}, {p:?}"
                );
                seen.last_block = block;
            }
            Did::Write(n) => {
                assert!(!seen.committed, "write after commit");
                assert!(n > 0, "empty write");
                assert!(n as u64 <= bs, "write larger than a block");
                seen.written += n as u64;
            }
            Did::Commit => {
                assert!(!seen.committed, "second commit");
                seen.committed = true;
            }
            Did::Finished { ok, bytes } => {
                assert!(!seen.finished, "second result");
                seen.finished = true;
                if ok {
                    match m {
                        M::S(_) => assert_eq!(bytes, total),
                        M::R(_) => assert!(seen.committed, "ok without a commit"),
                    }
                }
            }
            Did::Close => seen.closed = true,
        }
    }
    assert!(
        blocks <= u64::from(p.windowsize),
        "more than a window in one step"
    );
    if !whole {
        return;
    }
    if let M::R(r) = m {
        assert!(r.bytes() <= p.max_bytes, "over max_bytes");
        assert!(seen.written <= r.bytes());
    }
    assert_eq!(seen.closed, m.is_done(), "Close and is_done disagree");
    if m.is_done() {
        assert_eq!(m.deadline(), None);
        assert!(seen.finished, "done without a result");
    }
}
