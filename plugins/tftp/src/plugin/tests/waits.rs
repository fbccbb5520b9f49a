//! On a store that waits: requests whose storage waits (`MockHost::storage_waits`),
//! blocks whose bytes are not in memory (`MockHost::cold_reads`), and commits that
//! wait. A window download is the same, packet for packet, as on a dir.

use super::*;

/// The prefetches asked for in `rest`, by token.
fn prefetches(rest: &[HostAction]) -> Vec<u64> {
    rest.iter()
        .filter_map(|a| match a {
            HostAction::PrefetchFile { token, .. } => Some(*token),
            _ => None,
        })
        .collect()
}

impl Rig {
    /// Answer whatever waits (storage operations, prefetches) until nothing does, as
    /// the host would; every datagram sent meanwhile, and how many answers there were.
    fn settle(&mut self, now: u64) -> (Vec<(u64, Vec<u8>)>, usize) {
        let mut sends = Vec::new();
        let mut answers = 0;
        loop {
            let done = self.host.complete_storage(&mut self.tftp, now);
            let (s, rest) = self.take();
            sends.extend(s);
            let tokens = prefetches(&rest);
            for &token in &tokens {
                let ev = Event::FilePrefetched {
                    token,
                    result: Ok(()),
                };
                self.host.deliver(&mut self.tftp, now, ev);
            }
            answers += done + tokens.len();
            if done == 0 && tokens.is_empty() {
                return (sends, answers);
            }
        }
    }
}

/// A window download of `size` bytes, the client acknowledging each window; the DATA
/// packets in order, and how many storage answers and prefetches it took.
fn window_download(storage_waits: bool, cold_reads: bool, size: usize) -> (Vec<Vec<u8>>, usize) {
    let mut rig = Rig::new("(max_windowsize: 4, max_blksize: 8192)");
    rig.host.storage_waits = storage_waits;
    rig.host.cold_reads = cold_reads;
    let content: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
    rig.host.files.insert("w.bin".into(), content.clone());
    let opts = [("windowsize", "4"), ("blksize", "8192")];
    rig.deliver(0, LISTENER, peer(), &rrq("w.bin", &opts));
    let (mut sends, mut answers) = rig.settle(0);
    let tid = sends[0].0;
    let mut packets = Vec::new();
    let mut got = Vec::new();
    let mut now = 0;
    loop {
        let mut last = None;
        for (_, p) in std::mem::take(&mut sends) {
            if let Packet::Data { block, data } = Packet::parse(&p).unwrap() {
                got.extend_from_slice(data);
                last = Some((block, data.len() < 8192));
            }
            packets.push(p);
        }
        now += 1;
        let (block, end) = last.unwrap_or((0, false));
        rig.deliver(now, SocketId(tid), peer(), &ack(block));
        let (more, n) = rig.settle(now);
        answers += n;
        sends = more;
        if end {
            break;
        }
        assert!(now < 10_000, "the download ends");
    }
    assert_eq!(got, content, "byte for byte");
    assert_eq!(rig.host.open_files(), 0);
    assert_eq!(rig.tftp.active_sessions(), 0);
    (packets, answers)
}

#[test]
fn a_window_download_is_the_same_on_a_store_that_waits() {
    let size = 2 * (1 << 20) + 12_345;
    let (dir, none) = window_download(false, false, size);
    assert_eq!(none, 0, "a dir answers at once");
    let (waited, answers) = window_download(true, false, size);
    assert_eq!(waited, dir, "the same packets when the open waited");
    assert!(answers >= 1);
    let (cold, prefetched) = window_download(true, true, size);
    assert_eq!(cold, dir, "the same packets when blocks were cold");
    // The first cold block, then reading ahead a MiB at a time.
    assert!((3..=6).contains(&prefetched), "{prefetched} answers");
}

#[test]
fn a_cold_block_is_sent_after_its_prefetch_and_never_before() {
    let mut rig = Rig::new("");
    rig.host.cold_reads = true;
    rig.host.files.insert("c".into(), vec![4u8; 700]);
    rig.deliver(0, LISTENER, peer(), &rrq("c", &[]));
    let (sends, rest) = rig.take();
    assert!(sends.is_empty(), "nothing sent from a range not in memory");
    let tokens = prefetches(&rest);
    assert_eq!(tokens.len(), 1);
    // The retransmission clock before the prefetch ends: still nothing, no second
    // prefetch.
    rig.timer(1000, 1);
    let (sends, rest) = rig.take();
    assert!(sends.is_empty() && prefetches(&rest).is_empty());
    let ev = Event::FilePrefetched {
        token: tokens[0],
        result: Ok(()),
    };
    rig.host.deliver(&mut rig.tftp, 1001, ev);
    let (sends, _) = rig.take();
    assert_eq!(sends.len(), 1, "block 1 once, though asked twice");
    assert!(matches!(
        Packet::parse(&sends[0].1).unwrap(),
        Packet::Data { block: 1, .. }
    ));
}

#[test]
fn a_repeated_request_while_its_open_waits_opens_nothing_more() {
    for config in ["", "(single_port: true)"] {
        let mut rig = Rig::new(config);
        rig.host.storage_waits = true;
        rig.host.files.insert("f".into(), vec![1u8; 100]);
        rig.deliver(0, LISTENER, peer(), &rrq("f", &[]));
        assert_eq!(rig.host.storage_in_flight(), 1, "{config}");
        assert_eq!(rig.tftp.active_sessions(), 1, "a waiting request counts");
        rig.deliver(500, LISTENER, peer(), &rrq("f", &[]));
        let (sends, _) = rig.take();
        assert!(sends.is_empty(), "{config}");
        assert_eq!(rig.host.storage_in_flight(), 1, "{config}: no second open");
        let (sends, _) = rig.settle(600);
        let data: Vec<_> = sends
            .iter()
            .filter(|s| matches!(Packet::parse(&s.1), Ok(Packet::Data { block: 1, .. })))
            .collect();
        assert_eq!(data.len(), 1, "{config}: one transfer");
    }
}

#[test]
fn a_request_whose_store_never_answers_ends_with_an_error() {
    let mut rig = Rig::new("");
    rig.host.storage_waits = true;
    rig.host.files.insert("f".into(), vec![1u8; 100]);
    rig.deliver(0, LISTENER, peer(), &rrq("f", &[]));
    let (_, rest) = rig.take();
    let patience = 16_000 * 6;
    let token = open::OPEN_TIMERS + 1;
    assert!(
        rest.contains(&HostAction::SetTimer {
            token,
            delay_ms: patience
        }),
        "{rest:?}"
    );
    rig.timer(patience, token);
    let (sends, rest) = rig.take();
    assert_eq!(sends[0].0, LISTENER.0);
    assert_eq!(
        Packet::parse(&sends[0].1).unwrap(),
        Packet::Error {
            code: 0,
            message: b"storage did not answer in time"
        }
    );
    assert_eq!(emitted(&rest)[0].result, "error");
    assert_eq!(rig.tftp.active_sessions(), 0, "its slot is free again");
    // The late answer opens the file: it is closed, nothing is sent.
    let (sends, _) = rig.settle(patience + 1);
    assert!(sends.is_empty());
    assert_eq!(rig.host.open_files(), 0);
}

#[test]
fn the_drain_deadline_refuses_a_request_whose_open_waits() {
    let mut rig = Rig::new("");
    rig.host.storage_waits = true;
    rig.host.files.insert("f".into(), vec![1u8; 100]);
    rig.deliver(0, LISTENER, peer(), &rrq("f", &[]));
    rig.take();
    let cause = switchyard_sdk::DrainCause::Shutdown;
    rig.host
        .deliver(&mut rig.tftp, 5, Event::DrainDeadline { cause });
    let (sends, _) = rig.take();
    assert!(matches!(
        Packet::parse(&sends[0].1).unwrap(),
        Packet::Error { code: 0, .. }
    ));
    rig.settle(6);
    assert_eq!(rig.host.open_files(), 0);
    assert_eq!(rig.tftp.active_sessions(), 0);
}

#[test]
fn an_upload_gets_its_last_ack_only_once_the_commit_is_done() {
    let mut rig = Rig::new("(allow_create: true)");
    rig.host.storage_waits = true;
    let wrq = request::<&str>(RequestKind::Write, "up.bin", "octet", &[]);
    rig.deliver(0, LISTENER, peer(), &wrq);
    let (sends, _) = rig.settle(1);
    assert_eq!(sends[0].1, ack(0), "after its stat and its temp");
    let tid = sends[0].0;
    rig.deliver(2, SocketId(tid), peer(), &data(1, &[5u8; 512]));
    assert_eq!(rig.take().0[0].1, ack(1));
    rig.deliver(3, SocketId(tid), peer(), &data(2, b"end"));
    let (sends, _) = rig.take();
    assert!(sends.is_empty(), "no last ACK before the commit");
    assert!(rig.host.files.is_empty());
    rig.deliver(900, SocketId(tid), peer(), &data(2, b"end"));
    assert!(rig.take().0.is_empty(), "nor for the last block sent again");
    let (sends, _) = rig.settle(1000);
    assert_eq!(sends[0].1, ack(2));
    let mut want = vec![5u8; 512];
    want.extend_from_slice(b"end");
    assert_eq!(rig.host.files["up.bin"], want);
    assert_eq!(rig.tftp.active_sessions(), 0);
}

#[test]
fn a_commit_that_never_answers_fails_the_upload_and_stores_nothing() {
    let mut rig = Rig::new("(allow_create: true, dally_ms: 0)");
    rig.host.storage_waits = true;
    let wrq = request::<&str>(RequestKind::Write, "up.bin", "octet", &[]);
    rig.deliver(0, LISTENER, peer(), &wrq);
    let (sends, _) = rig.settle(1);
    let tid = sends[0].0;
    rig.deliver(2, SocketId(tid), peer(), &data(1, b"short"));
    let (_, rest) = rig.take();
    let patience = 16_000 * 6;
    assert!(rest.contains(&HostAction::SetTimer {
        token: 1,
        delay_ms: patience
    }));
    rig.timer(2 + patience, 1);
    let (sends, rest) = rig.take();
    assert!(matches!(
        Packet::parse(&sends[0].1).unwrap(),
        Packet::Error { code: 0, .. }
    ));
    assert_eq!(emitted(&rest)[0].result, "error");
    rig.settle(3 + patience);
    assert!(rig.host.files.is_empty(), "the late commit finds no temp");
    assert_eq!(rig.host.open_files(), 0);
}

#[test]
fn an_upload_cut_while_its_commit_waits_ends_and_frees_its_slot() {
    let mut rig = Rig::new("(allow_create: true)");
    rig.host.storage_waits = true;
    let wrq = request::<&str>(RequestKind::Write, "up.bin", "octet", &[]);
    rig.deliver(0, LISTENER, peer(), &wrq);
    let (sends, _) = rig.settle(1);
    let tid = sends[0].0;
    rig.deliver(2, SocketId(tid), peer(), &data(1, b"short"));
    rig.take();
    assert_eq!(rig.tftp.active_sessions(), 1);
    let cause = switchyard_sdk::DrainCause::Shutdown;
    rig.host
        .deliver(&mut rig.tftp, 3, Event::DrainDeadline { cause });
    let (_, rest) = rig.take();
    assert_eq!(emitted(&rest)[0].result, "aborted");
    assert!(rest.contains(&HostAction::CloseSocket { socket: tid }));
    assert_eq!(rig.tftp.active_sessions(), 0, "its slot is free again");
    rig.settle(4);
    assert!(rig.host.files.is_empty(), "the late commit finds no temp");
    assert_eq!(rig.host.open_files(), 0);
}
