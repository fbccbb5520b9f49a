//! A [`Sender`] and a [`Receiver`] talking through a simulated network that loses,
//! duplicates, delays and reorders datagrams, on a manual clock. Deterministic (seeded
//! PRNG): every run of a seed is the same run. The file must arrive whole and once.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;

use super::*;
use crate::packet::{self, Packet};

/// xorshift64*: small, deterministic, good enough to pick losses.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

#[derive(Clone, Copy, Default)]
struct Net {
    loss: u64,
    dup: u64,
    max_delay_ms: u64,
    /// Datagrams the receiver's socket buffer holds (0: unbounded). It is read empty
    /// every millisecond: more datagrams for the receiver in one millisecond are lost,
    /// as a burst overflowing a real socket buffer is.
    rx_capacity: usize,
}

/// A datagram in flight: (deliver at, sequence, to, from, bytes).
type InFlight = (u64, u64, SocketAddr, SocketAddr, Vec<u8>);

struct Sim {
    rng: Rng,
    net: Net,
    /// Earliest first, FIFO among equals.
    queue: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    sent_packets: u64,
    /// (millisecond, datagrams delivered to the receiver in it).
    rx_fill: (u64, usize),
}

const S: &str = "10.0.0.1:69";
const R: &str = "10.0.0.2:5000";

impl Sim {
    fn push(&mut self, now: u64, from: SocketAddr, to: SocketAddr, pkt: Vec<u8>) {
        self.sent_packets += 1;
        if self.rng.chance(self.net.loss) {
            return;
        }
        let copies = if self.rng.chance(self.net.dup) { 2 } else { 1 };
        for _ in 0..copies {
            let at = now + self.rng.next() % (self.net.max_delay_ms + 1);
            self.seq += 1;
            self.queue
                .push(Reverse((at, self.seq, to, from, pkt.clone())));
        }
    }
}

/// Move `file` from a sender to a receiver; returns (received bytes, sender outcome,
/// receiver outcome, datagrams sent).
fn transfer(file: &[u8], p: Params, net: Net, seed: u64) -> (Vec<u8>, Outcome, Outcome, u64) {
    let (got, s, r, packets, _) = transfer_timed(file, p, net, seed);
    (got, s, r, packets)
}

/// [`transfer`], also returning the simulated milliseconds it took.
fn transfer_timed(
    file: &[u8],
    p: Params,
    net: Net,
    seed: u64,
) -> (Vec<u8>, Outcome, Outcome, u64, u64) {
    let (s_addr, r_addr): (SocketAddr, SocketAddr) = (S.parse().unwrap(), R.parse().unwrap());
    let mut sim = Sim {
        rng: Rng(seed | 1),
        net,
        queue: BinaryHeap::new(),
        seq: 0,
        sent_packets: 0,
        rx_fill: (0, 0),
    };
    let mut got = Vec::new();
    let mut committed = false;
    let (mut s_out, mut r_out) = (None, None);
    let mut now = 0u64;

    let mut out = Vec::new();
    let mut sender = Sender::server(now, p, r_addr, file.len() as u64, None, &mut out);
    let mut actions: Vec<(SocketAddr, Action<'_>)> = out.into_iter().map(|a| (s_addr, a)).collect();
    let mut out = Vec::new();
    let mut receiver = Receiver::server(now, p, s_addr, None, &mut out);
    actions.extend(out.into_iter().map(|a| (r_addr, a)));

    loop {
        for (from, action) in actions.drain(..) {
            match action {
                Action::Send { to, packet } => sim.push(now, from, to, packet),
                Action::SendBlock {
                    to,
                    block,
                    offset,
                    len,
                } => {
                    let start = offset as usize;
                    let pkt = packet::data(block, &file[start..start + len as usize]);
                    sim.push(now, from, to, pkt);
                }
                Action::Write(data) => {
                    assert!(!committed, "write after commit");
                    got.extend_from_slice(data);
                }
                Action::Commit => committed = true,
                Action::Finished(o) if from == s_addr => s_out = Some(o),
                Action::Finished(o) => r_out = Some(o),
                Action::Close => {}
            }
        }
        if sender.is_done() && receiver.is_done() {
            break;
        }
        // The next event: a delivery or a deadline.
        let next_packet = sim.queue.peek().map(|Reverse((at, ..))| *at);
        let next = [next_packet, sender.deadline(), receiver.deadline()]
            .into_iter()
            .flatten()
            .min()
            .expect("something must be pending");
        assert!(next >= now);
        now = next;
        assert!(now < 10_000_000, "simulation did not converge");
        if next_packet == Some(now) {
            let Reverse((_, _, to, from, pkt)) = sim.queue.pop().unwrap();
            if to == r_addr && sim.net.rx_capacity > 0 {
                if sim.rx_fill.0 != now {
                    sim.rx_fill = (now, 0);
                }
                sim.rx_fill.1 += 1;
                if sim.rx_fill.1 > sim.net.rx_capacity {
                    continue; // the receiver's buffer is full
                }
            }
            // A packet's bytes must outlive the actions that borrow them.
            let pkt: &'static [u8] = Box::leak(pkt.into_boxed_slice());
            let mut out = Vec::new();
            if to == s_addr {
                sender.on_packet(now, from, pkt, &mut out);
                actions.extend(out.into_iter().map(|a| (s_addr, a)));
            } else {
                receiver.on_packet(now, from, pkt, &mut out);
                actions.extend(out.into_iter().map(|a| (r_addr, a)));
            }
            assert!(Packet::parse(pkt).is_ok());
        } else {
            let mut out = Vec::new();
            sender.on_timeout(now, &mut out);
            actions.extend(out.into_iter().map(|a| (s_addr, a)));
            let mut out = Vec::new();
            receiver.on_timeout(now, &mut out);
            actions.extend(out.into_iter().map(|a| (r_addr, a)));
        }
    }
    assert!(committed || r_out.as_ref().is_some_and(|o| !o.ok()));
    (
        got,
        s_out.expect("sender result"),
        r_out.expect("receiver result"),
        sim.sent_packets,
        now,
    )
}

fn file(n: usize) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
        .collect()
}

fn params(blksize: u16, windowsize: u16) -> Params {
    Params {
        blksize,
        windowsize,
        timeout_ms: 50,
        max_timeout_ms: 400,
        max_retries: 12,
        dally_ms: 2000,
        max_bytes: u64::MAX,
    }
}

#[test]
fn perfect_network_sends_each_block_once() {
    let data = file(10_000);
    let net = Net {
        loss: 0,
        dup: 0,
        max_delay_ms: 0,
        ..Net::default()
    };
    let (got, s, r, packets) = transfer(&data, params(512, 1), net, 1);
    assert_eq!(got, data);
    assert!(s.ok() && r.ok());
    assert_eq!((s.retransmits, r.retransmits), (0, 0));
    // 20 DATA + 20 ACK + the receiver's ACK 0.
    assert_eq!(packets, 41);
}

#[test]
fn lossy_duplicating_reordering_network_lock_step_and_windows() {
    let net = Net {
        loss: 10,
        dup: 10,
        max_delay_ms: 30,
        ..Net::default()
    };
    for (blksize, windowsize, size) in [
        (512, 1, 20_000),
        (100, 4, 9_999),
        (64, 16, 30_000),
        (8, 64, 4_000),
    ] {
        for seed in 1..=8u64 {
            let data = file(size);
            let (got, s, r, _) = transfer(&data, params(blksize, windowsize), net, seed * 7919);
            assert!(r.ok(), "bs {blksize} ws {windowsize} seed {seed}: {r:?}");
            assert_eq!(got, data, "bs {blksize} ws {windowsize} seed {seed}");
            // The sender may miss the last ACK for good only if the dally ends first.
            assert!(s.ok() || s.kind == Ending::Timeout, "{s:?}");
            assert_eq!(r.bytes, size as u64);
        }
    }
}

#[test]
fn rollover_through_a_lossy_network() {
    // 70,000 blocks of 8 bytes: block numbers wrap past 65535 while packets are lost.
    let data = file(70_000 * 8 + 5);
    let net = Net {
        loss: 2,
        dup: 2,
        max_delay_ms: 3,
        ..Net::default()
    };
    let (got, s, r, _) = transfer(&data, params(8, 8), net, 42);
    assert!(r.ok() && s.ok(), "{s:?} {r:?}");
    assert_eq!(got, data);
}

#[test]
fn total_loss_ends_both_sides_by_timeout() {
    let data = file(2000);
    let net = Net {
        loss: 100,
        dup: 0,
        max_delay_ms: 0,
        ..Net::default()
    };
    let (got, s, r, _) = transfer(&data, params(512, 1), net, 3);
    assert!(got.is_empty());
    assert_eq!(
        (s.kind, s.reason.as_str(), r.kind, r.reason.as_str()),
        (Ending::Timeout, "timeout", Ending::Timeout, "timeout")
    );
    assert_eq!(s.retransmits, 12);
}

/// Random datagrams (mostly well-formed headers with random numbers and lengths) thrown
/// at both machines and at the parser: nothing panics, nothing is written out of order.
#[test]
fn random_datagrams_never_panic_or_corrupt() {
    let mut rng = Rng(0x5eed);
    let peer: SocketAddr = R.parse().unwrap();
    let stranger: SocketAddr = "10.0.0.3:7".parse().unwrap();
    let mut gate = crate::admission::Admission::new(&crate::config::Config::default());
    for round in 0..200u64 {
        let mut out = Vec::new();
        let mut s = Sender::server(0, params(16, 4), peer, 1000, None, &mut out);
        let mut r = Receiver::server(0, params(16, 4), peer, None, &mut out);
        let mut written = 0u64;
        for i in 0..200u64 {
            let op = (rng.next() % 8) as u8;
            let len = (rng.next() % 24) as usize;
            let mut pkt = vec![0, op];
            pkt.extend((0..len).map(|_| rng.next() as u8));
            let _ = Packet::parse(&pkt);
            let _ = gate.check(round, stranger, &pkt);
            let from = if rng.chance(10) { stranger } else { peer };
            let now = round * 1000 + i * 7;
            let mut out = Vec::new();
            s.on_packet(now, from, &pkt, &mut out);
            r.on_packet(now, from, &pkt, &mut out);
            s.on_timeout(now, &mut out);
            r.on_timeout(now, &mut out);
            for a in &out {
                match a {
                    Action::Write(d) => {
                        assert!(d.len() <= 16);
                        written += d.len() as u64;
                    }
                    Action::SendBlock { offset, len, .. } => {
                        assert!(offset + u64::from(*len) <= 1000);
                    }
                    Action::Send { to, packet } => {
                        assert!(Packet::parse(packet).is_ok());
                        assert!(*to == peer || *to == stranger);
                    }
                    _ => {}
                }
            }
            assert_eq!(written, r.bytes());
        }
    }
}

/// A receiver whose socket buffer holds 3 datagrams, asked for windows of 4 and 16
/// (atftp's 208 KiB against 64 KiB or 8 KiB blocks): every window sent back to back
/// loses its tail, and sending it again loses it again. The sender learns the burst
/// the receiver takes and sends each window in such bursts: the file arrives whole,
/// with a few retransmissions, in about one millisecond per burst.
#[test]
fn windows_into_a_small_receive_buffer_do_not_collapse() {
    let net = Net {
        rx_capacity: 3,
        ..Net::default()
    };
    let mut p = params(512, 1);
    p.timeout_ms = 1000;
    p.max_timeout_ms = 16_000;
    let data = file(400 * 512 + 7);
    for windowsize in [4u16, 16] {
        p.windowsize = windowsize;
        let (got, s, r, _, ms) = transfer_timed(&data, p, net, 5);
        assert_eq!(got, data, "ws {windowsize}");
        assert!(s.ok() && r.ok(), "ws {windowsize}: {s:?} {r:?}");
        // 401 blocks in bursts of at most 3, one burst a millisecond, one or two
        // sender timeouts (1 s) to learn the size, and the receiver's dally (2 s):
        // without the adaptation every window costs a timeout (100 s and more).
        let bursts = 401u64.div_ceil(3);
        assert!(ms < p.dally_ms + bursts + 2_000, "ws {windowsize}: {ms} ms");
        assert!(
            s.retransmits <= u64::from(windowsize),
            "ws {windowsize}: {}",
            s.retransmits
        );
    }
}
