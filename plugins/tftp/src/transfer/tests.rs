//! Both machines with a manual clock: loss, duplication, reordering, timeouts with
//! backoff and a retry limit, windows, rollover past 65535 blocks, foreign TIDs.
//! `probe`: a size probe (ERROR 8 answering an OACK that told the size).

mod probe;

use std::net::SocketAddr;

use super::*;
use crate::packet::{Packet, RequestKind, ack, data, error, oack, request};

fn client() -> SocketAddr {
    "127.0.0.1:5000".parse().unwrap()
}
fn server() -> SocketAddr {
    "127.0.0.1:69".parse().unwrap()
}
fn tid() -> SocketAddr {
    "127.0.0.1:40001".parse().unwrap()
}

fn params(blksize: u16, windowsize: u16) -> Params {
    Params {
        blksize,
        windowsize,
        timeout_ms: 1000,
        max_timeout_ms: 16_000,
        max_retries: 5,
        dally_ms: 3000,
        max_bytes: u64::MAX,
    }
}

/// DATA block numbers asked for, with their lengths.
fn blocks(out: &[Action<'_>]) -> Vec<(u16, u32)> {
    out.iter()
        .filter_map(|a| match a {
            Action::SendBlock { block, len, .. } => Some((*block, *len)),
            _ => None,
        })
        .collect()
}

/// Parsed packets sent, with their destination.
fn sent(out: &[Action<'_>]) -> Vec<(SocketAddr, String)> {
    out.iter()
        .filter_map(|a| match a {
            Action::Send { to, packet } => {
                Some((*to, format!("{:?}", Packet::parse(packet).unwrap())))
            }
            _ => None,
        })
        .collect()
}

fn acks(out: &[Action<'_>]) -> Vec<u16> {
    out.iter()
        .filter_map(|a| match a {
            Action::Send { packet, .. } => match Packet::parse(packet).unwrap() {
                Packet::Ack { block } => Some(block),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn writes(out: &[Action<'_>]) -> Vec<usize> {
    out.iter()
        .filter_map(|a| match a {
            Action::Write(d) => Some(d.len()),
            _ => None,
        })
        .collect()
}

fn outcome(out: &[Action<'_>]) -> Option<Outcome> {
    out.iter().find_map(|a| match a {
        Action::Finished(o) => Some(o.clone()),
        _ => None,
    })
}

fn closed(out: &[Action<'_>]) -> bool {
    out.contains(&Action::Close)
}

fn ack_to(s: &mut Sender, now: u64, block: u16) -> Vec<Action<'static>> {
    let mut out = Vec::new();
    s.on_packet(now, client(), &ack(block), &mut out);
    out
}

// ---- sender ---------------------------------------------------------------------------

#[test]
fn lock_step_download() {
    let mut out = Vec::new();
    let mut s = Sender::server(0, params(512, 1), client(), 1000, None, &mut out);
    assert_eq!(blocks(&out), vec![(1, 512)]);
    assert_eq!(s.deadline(), Some(1000));
    let out = ack_to(&mut s, 10, 1);
    assert_eq!(blocks(&out), vec![(2, 488)]);
    assert_eq!(s.deadline(), Some(1010));
    let out = ack_to(&mut s, 20, 2);
    let o = outcome(&out).unwrap();
    assert_eq!((o.kind, o.bytes, o.retransmits), (Ending::Ok, 1000, 0));
    assert!(closed(&out) && s.is_done());
    assert_eq!(s.deadline(), None);
}

#[test]
fn exact_multiple_ends_with_an_empty_block_and_empty_file_is_one_block() {
    let mut out = Vec::new();
    let mut s = Sender::server(0, params(512, 1), client(), 1024, None, &mut out);
    ack_to(&mut s, 1, 1);
    assert_eq!(blocks(&ack_to(&mut s, 2, 2)), vec![(3, 0)]);
    assert!(outcome(&ack_to(&mut s, 3, 3)).unwrap().ok());

    let mut out = Vec::new();
    let mut s = Sender::server(0, params(512, 1), client(), 0, None, &mut out);
    assert_eq!(blocks(&out), vec![(1, 0)]);
    assert!(outcome(&ack_to(&mut s, 3, 1)).unwrap().ok());
}

#[test]
fn duplicate_ack_never_triggers_a_send() {
    let mut out = Vec::new();
    let mut s = Sender::server(0, params(512, 1), client(), 5000, None, &mut out);
    assert_eq!(blocks(&ack_to(&mut s, 1, 1)), vec![(2, 512)]);
    // The Sorcerer's Apprentice: the duplicate ACK 1 must not send block 2 again.
    assert!(ack_to(&mut s, 2, 1).is_empty());
    assert!(ack_to(&mut s, 3, 0).is_empty());
    // An ACK for a block never sent is ignored too.
    assert!(ack_to(&mut s, 4, 9).is_empty());
    assert_eq!(blocks(&ack_to(&mut s, 5, 2)), vec![(3, 512)]);
}

#[test]
fn timeouts_back_off_then_give_up() {
    let mut out = Vec::new();
    let mut s = Sender::server(0, params(512, 1), client(), 5000, None, &mut out);
    let mut now = 0;
    let mut gaps = Vec::new();
    // Early timer: nothing happens.
    let mut early = Vec::new();
    s.on_timeout(999, &mut early);
    assert!(early.is_empty());
    loop {
        let d = s.deadline().unwrap();
        gaps.push(d - now);
        now = d;
        let mut out = Vec::new();
        s.on_timeout(now, &mut out);
        if let Some(o) = outcome(&out) {
            assert_eq!((o.kind, o.reason.as_str()), (Ending::Timeout, "timeout"));
            assert_eq!(o.retransmits, 5);
            assert_eq!(sent(&out).len(), 1, "one ERROR to the peer");
            assert!(closed(&out));
            break;
        }
        assert_eq!(blocks(&out), vec![(1, 512)], "the block is re-sent");
    }
    assert_eq!(gaps, vec![1000, 2000, 4000, 8000, 16000, 16000]);
}

#[test]
fn progress_resets_the_backoff() {
    let mut out = Vec::new();
    let mut s = Sender::server(0, params(512, 1), client(), 5000, None, &mut out);
    let mut out = Vec::new();
    s.on_timeout(1000, &mut out);
    assert_eq!(s.deadline(), Some(3000));
    ack_to(&mut s, 1500, 1);
    assert_eq!(s.deadline(), Some(2500));
}

#[test]
fn oack_is_acknowledged_by_ack_zero_and_resent_on_loss() {
    let o = oack(&[("blksize", "1024")]);
    let mut out = Vec::new();
    let mut s = Sender::server(
        0,
        params(1024, 1),
        client(),
        3000,
        Some(o.clone()),
        &mut out,
    );
    assert_eq!(
        out,
        vec![Action::Send {
            to: client(),
            packet: o.clone()
        }]
    );
    let mut out = Vec::new();
    s.on_timeout(1000, &mut out);
    assert_eq!(
        out,
        vec![Action::Send {
            to: client(),
            packet: o
        }]
    );
    assert!(
        ack_to(&mut s, 1100, 5).is_empty(),
        "only ACK 0 starts the transfer"
    );
    assert_eq!(blocks(&ack_to(&mut s, 1200, 0)), vec![(1, 1024)]);
    assert!(
        ack_to(&mut s, 1300, 0).is_empty(),
        "duplicate ACK 0 ignored"
    );
}

#[test]
fn windowed_download_with_loss_and_reordering() {
    let mut out = Vec::new();
    let mut s = Sender::server(0, params(100, 4), client(), 1050, None, &mut out);
    assert_eq!(
        blocks(&out).iter().map(|b| b.0).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    let out = ack_to(&mut s, 1, 4);
    assert_eq!(
        blocks(&out).iter().map(|b| b.0).collect::<Vec<_>>(),
        vec![5, 6, 7, 8]
    );
    // The client lost 7 and 8: it acknowledges 6, we resume after it, in bursts of
    // the two blocks that got through, one pace apart (`burst.rs`).
    let out = ack_to(&mut s, 2, 6);
    assert_eq!(
        blocks(&out).iter().map(|b| b.0).collect::<Vec<_>>(),
        vec![7, 8]
    );
    assert_eq!(s.deadline(), Some(3));
    let mut out = Vec::new();
    s.on_timeout(3, &mut out);
    assert_eq!(
        blocks(&out).iter().map(|b| b.0).collect::<Vec<_>>(),
        vec![9, 10]
    );
    // A reordered, older ACK is ignored.
    assert!(ack_to(&mut s, 3, 5).is_empty());
    let out = ack_to(&mut s, 4, 10);
    assert_eq!(blocks(&out), vec![(11, 50)]);
    // Timeout: the window from the last ACK is sent again.
    let mut out = Vec::new();
    s.on_timeout(1004, &mut out);
    assert_eq!(blocks(&out), vec![(11, 50)]);
    let out = ack_to(&mut s, 1005, 11);
    let o = outcome(&out).unwrap();
    assert_eq!((o.bytes, o.retransmits), (1050, 1));
}

#[test]
fn rollover_beyond_65535_blocks_wraps_to_zero() {
    let bs = 8u16;
    let total = 70_000u64 * u64::from(bs) + 3;
    let mut out = Vec::new();
    let mut s = Sender::server(0, params(bs, 16), client(), total, None, &mut out);
    let mut seen = blocks(&out);
    let mut numbers = Vec::new();
    let mut now = 0;
    while !s.is_done() {
        now += 1;
        let last = seen.last().unwrap().0;
        numbers.extend(seen.iter().map(|b| b.0));
        // Duplicate every ACK: it must change nothing.
        let out = ack_to(&mut s, now, last);
        assert!(ack_to(&mut s, now, last).is_empty());
        if let Some(o) = outcome(&out) {
            assert_eq!(o.bytes, total);
            break;
        }
        seen = blocks(&out);
    }
    assert_eq!(numbers.len(), 70_001);
    assert_eq!(numbers[65_534], 65_535);
    assert_eq!(numbers[65_535], 0, "wraps to 0");
    assert_eq!(numbers[65_536], 1);
    assert_eq!(*numbers.last().unwrap(), (70_001u64 % 65_536) as u16);
}

#[test]
fn foreign_tid_gets_error_5_and_the_transfer_goes_on() {
    let mut out = Vec::new();
    let mut s = Sender::server(0, params(512, 1), client(), 2000, None, &mut out);
    let stranger: SocketAddr = "127.0.0.1:5001".parse().unwrap();
    let mut out = Vec::new();
    s.on_packet(1, stranger, &ack(1), &mut out);
    assert_eq!(
        sent(&out),
        vec![(
            stranger,
            format!(
                "{:?}",
                Packet::Error {
                    code: 5,
                    message: b"Unknown transfer ID"
                }
            )
        )]
    );
    assert!(!s.is_done());
    assert_eq!(blocks(&ack_to(&mut s, 2, 1)), vec![(2, 512)]);
}

#[test]
fn peer_error_ends_at_once_and_junk_is_ignored() {
    let mut out = Vec::new();
    let mut s = Sender::server(0, params(512, 1), client(), 2000, None, &mut out);
    let mut out = Vec::new();
    s.on_packet(1, client(), b"\x00", &mut out);
    assert!(out.is_empty());
    s.on_packet(
        1,
        client(),
        &error(crate::packet::ErrorCode::DiskFull, "full"),
        &mut out,
    );
    let o = outcome(&out).unwrap();
    assert_eq!(
        (o.kind, o.reason.as_str()),
        (Ending::Aborted, "peer error 3: full")
    );
    assert!(
        closed(&out) && sent(&out).is_empty(),
        "an ERROR is not answered"
    );
}

#[test]
fn unexpected_packet_is_an_illegal_operation() {
    let mut out = Vec::new();
    let mut s = Sender::server(0, params(512, 1), client(), 2000, None, &mut out);
    let mut out = Vec::new();
    s.on_packet(1, client(), &data(1, b"x"), &mut out);
    assert!(sent(&out)[0].1.contains("code: 4"));
    assert!(closed(&out));
}

// ---- receiver -------------------------------------------------------------------------

fn data_to<'a>(r: &mut Receiver, now: u64, block: u16, payload: &'a [u8]) -> Vec<Action<'a>> {
    let pkt: &'a [u8] = Box::leak(data(block, payload).into_boxed_slice());
    let mut out = Vec::new();
    r.on_packet(now, client(), pkt, &mut out);
    out
}

#[test]
fn lock_step_upload_commits_before_the_final_ack_then_dallies() {
    let mut out = Vec::new();
    let mut r = Receiver::server(0, params(512, 1), client(), None, &mut out);
    assert_eq!(acks(&out), vec![0]);
    let full = [7u8; 512];
    let out = data_to(&mut r, 1, 1, &full);
    // Not the last block: ACK first, so the peer sends on while we write.
    assert_eq!(
        out,
        vec![
            Action::Send {
                to: client(),
                packet: ack(1).to_vec()
            },
            Action::Write(&full[..]),
        ]
    );
    let out = data_to(&mut r, 2, 2, b"tail");
    assert_eq!(
        out,
        vec![
            Action::Write(b"tail"),
            Action::Commit,
            Action::Send {
                to: client(),
                packet: ack(2).to_vec()
            },
            Action::Finished(Outcome {
                kind: Ending::Ok,
                reason: "ok".into(),
                bytes: 516,
                retransmits: 0
            }),
        ]
    );
    assert!(r.is_finished() && !r.is_done());
    // Dally: the final ACK was lost, the client repeats the last DATA.
    let out = data_to(&mut r, 500, 2, b"tail");
    assert_eq!((writes(&out), acks(&out)), (vec![], vec![2]));
    assert_eq!(r.deadline(), Some(3002));
    let mut out = Vec::new();
    r.on_timeout(3002, &mut out);
    assert_eq!(out, vec![Action::Close]);
    assert!(r.is_done());
}

/// Found by fuzzing (`tftp_transfer`): without a dally, the last block's step ends
/// the machine (`Close` included). If its write or commit failed, the driver calls
/// `fail`, which did nothing on a finished machine: no ERROR to the peer, no result,
/// no `Close`, so the plugin kept the transfer's socket, slot and temp file forever.
#[test]
fn a_failed_commit_without_dally_still_ends_with_an_error_and_a_close() {
    let mut p = params(512, 1);
    p.dally_ms = 0;
    let mut out = Vec::new();
    let mut r = Receiver::server(0, p, client(), None, &mut out);
    let out = data_to(&mut r, 1, 1, b"tail");
    assert_eq!(out[..2], [Action::Write(b"tail"), Action::Commit]);
    assert!(closed(&out) && r.is_done());
    // The driver fails at the commit: the ACK, the result and the Close are not done.
    let mut out = Vec::new();
    r.fail(ErrorCode::DiskFull, "disk full", &mut out);
    assert_eq!(
        sent(&out),
        vec![(
            client(),
            format!(
                "{:?}",
                Packet::parse(&error(ErrorCode::DiskFull, "disk full")).unwrap()
            )
        )]
    );
    let o = outcome(&out).unwrap();
    assert_eq!((o.kind, o.reason.as_str()), (Ending::Error, "disk full"));
    assert!(closed(&out) && r.is_done());
    // Only the step that ended the machine may fail: after it, `fail` is a no-op.
    let mut out = Vec::new();
    r.on_timeout(99_999, &mut out);
    r.fail(ErrorCode::DiskFull, "again", &mut out);
    assert!(out.is_empty());
}

#[test]
fn duplicate_data_is_reacked_not_written() {
    let mut out = Vec::new();
    let mut r = Receiver::server(0, params(4, 1), client(), None, &mut out);
    assert_eq!(writes(&data_to(&mut r, 1, 1, b"abcd")), vec![4]);
    let out = data_to(&mut r, 2, 1, b"abcd");
    assert_eq!((writes(&out), acks(&out)), (vec![], vec![1]));
    // An old block (before the last) gets nothing; DATA 0 before anything neither.
    assert!(data_to(&mut r, 3, 0, b"abcd").is_empty());
    assert_eq!(r.bytes(), 4);
}

#[test]
fn windowed_upload_acks_per_window_and_reports_gaps_once() {
    let mut out = Vec::new();
    let mut r = Receiver::server(
        0,
        params(4, 4),
        client(),
        Some(oack(&[("windowsize", "4")])),
        &mut out,
    );
    for b in 1..=3 {
        assert!(acks(&data_to(&mut r, b.into(), b, b"abcd")).is_empty());
    }
    assert_eq!(acks(&data_to(&mut r, 4, 4, b"abcd")), vec![4]);
    assert_eq!(writes(&data_to(&mut r, 5, 5, b"abcd")), vec![4]);
    // 6 is lost: 7 and 8 arrive. One ACK 5, not two; nothing written.
    let out = data_to(&mut r, 6, 7, b"abcd");
    assert_eq!((writes(&out), acks(&out)), (vec![], vec![5]));
    assert!(data_to(&mut r, 7, 8, b"abcd").is_empty());
    // The sender resumes at 6.
    assert_eq!(writes(&data_to(&mut r, 8, 6, b"abcd")), vec![4]);
    assert_eq!(r.bytes(), 24);
}

#[test]
fn receiver_timeouts_resend_the_last_ack_then_give_up() {
    let mut out = Vec::new();
    let mut r = Receiver::server(0, params(4, 1), client(), None, &mut out);
    // Before any DATA, the start packet (ACK 0) is what gets re-sent.
    let mut out = Vec::new();
    r.on_timeout(1000, &mut out);
    assert_eq!(acks(&out), vec![0]);
    data_to(&mut r, 1500, 1, b"abcd");
    let mut now;
    let mut n = 0;
    loop {
        now = r.deadline().unwrap();
        let mut out = Vec::new();
        r.on_timeout(now, &mut out);
        if let Some(o) = outcome(&out) {
            assert_eq!(o.kind, Ending::Timeout);
            assert!(closed(&out));
            break;
        }
        assert_eq!(acks(&out), vec![1]);
        n += 1;
    }
    assert_eq!(n, 5);
    assert_eq!(now, 1500 + 1000 + 2000 + 4000 + 8000 + 16000 + 16000);
}

#[test]
fn oversized_upload_and_oversized_block_are_refused() {
    let mut p = params(4, 1);
    p.max_bytes = 6;
    let mut out = Vec::new();
    let mut r = Receiver::server(0, p, client(), None, &mut out);
    data_to(&mut r, 1, 1, b"abcd");
    let out = data_to(&mut r, 2, 2, b"efgh");
    assert!(sent(&out)[0].1.contains("code: 3"));
    let o = outcome(&out).unwrap();
    assert_eq!(
        (o.kind, o.reason.as_str()),
        (Ending::Refused, "file too large")
    );
    assert!(writes(&out).is_empty());

    let mut out = Vec::new();
    let mut r = Receiver::server(0, params(4, 1), client(), None, &mut out);
    let out = data_to(&mut r, 1, 1, b"abcde");
    assert!(sent(&out)[0].1.contains("code: 4"));
    assert!(closed(&out));
}

#[test]
fn upload_rollover_beyond_65535_blocks() {
    let mut out = Vec::new();
    let mut p = params(8, 1);
    p.dally_ms = 0;
    let mut r = Receiver::server(0, p, client(), None, &mut out);
    let payload = [1u8; 8];
    for i in 1..=70_000u64 {
        let out = data_to(&mut r, i, i as u16, &payload);
        assert_eq!(acks(&out), vec![i as u16], "block {i}");
    }
    let out = data_to(&mut r, 70_001, 70_001u64 as u16, b"");
    assert_eq!(outcome(&out).unwrap().bytes, 560_000);
    assert!(closed(&out));
}

// ---- client roles -----------------------------------------------------------------------

#[test]
fn client_get_follows_the_oack_and_locks_the_server_port() {
    let asked = vec![("blksize".to_string(), "1024".to_string())];
    let rrq = request(RequestKind::Read, "f", "octet", &asked);
    let mut out = Vec::new();
    let mut r = Receiver::client(0, params(1024, 1), server(), rrq.clone(), asked, &mut out);
    assert_eq!(
        out,
        vec![Action::Send {
            to: server(),
            packet: rrq.clone()
        }]
    );
    // Lost answer: the RRQ goes again, to port 69.
    let mut out = Vec::new();
    r.on_timeout(1000, &mut out);
    assert_eq!(
        out,
        vec![Action::Send {
            to: server(),
            packet: rrq
        }]
    );
    let o = oack(&[("blksize", "512")]);
    assert_eq!(r.announced_size(), None);
    let mut out = Vec::new();
    r.on_packet(1100, tid(), &o, &mut out);
    assert_eq!(
        out,
        vec![Action::Send {
            to: tid(),
            packet: ack(0).to_vec()
        }]
    );
    assert_eq!(r.params().blksize, 512);
    // Another port of the server is a foreign TID now.
    let mut out = Vec::new();
    let other: SocketAddr = "127.0.0.1:40002".parse().unwrap();
    let stray = data(1, b"x");
    r.on_packet(1200, other, &stray, &mut out);
    assert_eq!(out.len(), 1);
    assert!(sent(&out)[0].1.contains("code: 5"));
    let pkt = data(1, b"short");
    let mut out = Vec::new();
    r.on_packet(1300, tid(), &pkt, &mut out);
    assert_eq!(writes(&out), vec![5]);
    assert!(outcome(&out).unwrap().ok());
}

#[test]
fn client_get_without_oack_falls_back_to_512() {
    let asked = vec![("blksize".to_string(), "1024".to_string())];
    let rrq = request(RequestKind::Read, "f", "octet", &asked);
    let mut out = Vec::new();
    let mut r = Receiver::client(0, params(1024, 1), server(), rrq, asked, &mut out);
    let pkt = data(1, &[0u8; 512]);
    let mut out = Vec::new();
    r.on_packet(1, tid(), &pkt, &mut out);
    assert_eq!((writes(&out), acks(&out)), (vec![512], vec![1]));
    assert!(outcome(&out).is_none(), "512 bytes is a full block now");
}

#[test]
fn client_put_starts_on_ack_zero_or_oack_and_refuses_unasked_options() {
    let wrq = request::<&str>(RequestKind::Write, "f", "octet", &[]);
    let mut out = Vec::new();
    let mut s = Sender::client(
        0,
        params(512, 1),
        server(),
        600,
        wrq.clone(),
        vec![],
        &mut out,
    );
    let mut out = Vec::new();
    s.on_packet(1, tid(), &ack(0), &mut out);
    assert_eq!(blocks(&out), vec![(1, 512)]);
    assert!(matches!(&out[0], Action::SendBlock { to, .. } if *to == tid()));

    let asked = vec![("windowsize".to_string(), "4".to_string())];
    let mut out = Vec::new();
    let mut s = Sender::client(
        0,
        params(100, 4),
        server(),
        1000,
        wrq.clone(),
        asked.clone(),
        &mut out,
    );
    let mut out = Vec::new();
    s.on_packet(1, tid(), &oack(&[("windowsize", "2")]), &mut out);
    assert_eq!(blocks(&out).len(), 2);

    let mut out = Vec::new();
    let mut s = Sender::client(0, params(100, 4), server(), 1000, wrq, asked, &mut out);
    let mut out = Vec::new();
    s.on_packet(1, tid(), &oack(&[("blksize", "100")]), &mut out);
    assert!(sent(&out)[0].1.contains("code: 8"));
    assert!(closed(&out));
}
