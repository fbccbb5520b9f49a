//! The adapter against `MockHost`: in-memory files, recorded datagrams, manual time.
//! `deadline`: transfers as host sessions, and the drain deadline's ERROR.
//! `names`: name mapping, per-client roots and case folding against the mock's files;
//! size probes.
//! `ports`: transfers on the listener (`single_port`), and `port_range`.
//! `waits`: on a store that waits: requests parked, cold blocks, commits that wait.

mod deadline;
mod names;
mod ports;
mod waits;

use std::net::SocketAddr;

use switchyard_sdk::abi;
use switchyard_sdk::testing::{Action as HostAction, MockHost};

use super::*;
use crate::packet::{Packet, ack, data, request};

const LISTENER: SocketId = SocketId(1);

fn peer() -> SocketAddr {
    "127.0.0.1:5000".parse().unwrap()
}

struct Rig {
    host: MockHost,
    tftp: Tftp,
}

impl Rig {
    fn new(config: &str) -> Rig {
        let mut host = MockHost::new();
        let tftp = host.create::<Tftp>(config).unwrap();
        Rig { host, tftp }
    }

    fn deliver(&mut self, now: u64, socket: SocketId, from: SocketAddr, data: &[u8]) {
        let ev = Event::Datagram {
            socket,
            peer: from,
            local: "127.0.0.1:69".parse().unwrap(),
            listener: "tftp_udp",
            data,
        };
        self.host.deliver(&mut self.tftp, now, ev);
    }

    fn timer(&mut self, now: u64, token: u64) {
        self.host
            .deliver(&mut self.tftp, now, Event::Timer { token });
    }

    /// The actions since last time, split into (socket, packet) sends and the rest.
    fn take(&mut self) -> (Vec<(u64, Vec<u8>)>, Vec<HostAction>) {
        let mut sends = Vec::new();
        let mut rest = Vec::new();
        for a in self.host.take_actions() {
            match a {
                HostAction::SendDatagram { socket, data, .. } => sends.push((socket, data)),
                other => rest.push(other),
            }
        }
        (sends, rest)
    }
}

fn rrq(name: &str, opts: &[(&str, &str)]) -> Vec<u8> {
    request(RequestKind::Read, name, "octet", opts)
}

fn logs(rest: &[HostAction]) -> Vec<String> {
    rest.iter()
        .filter_map(|a| match a {
            HostAction::Log { msg, .. } => Some(msg.clone()),
            _ => None,
        })
        .collect()
}

fn emitted(rest: &[HostAction]) -> Vec<TransferCompleted> {
    rest.iter()
        .filter_map(|a| match a {
            HostAction::Emit { port, data } => {
                assert_eq!(*port, 0);
                Some(serde_json::from_slice(data).unwrap())
            }
            _ => None,
        })
        .collect()
}

fn opened(rest: &[HostAction]) -> u64 {
    rest.iter()
        .find_map(|a| match a {
            HostAction::OpenUdp { socket } => Some(*socket),
            _ => None,
        })
        .expect("a transfer socket")
}

#[test]
fn download_with_options_from_a_new_tid() {
    let mut rig = Rig::new("");
    let content: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    rig.host.files.insert("dir/f.bin".into(), content.clone());
    rig.deliver(
        0,
        LISTENER,
        peer(),
        &rrq("dir/f.bin", &[("blksize", "1024"), ("tsize", "0")]),
    );
    let (sends, rest) = rig.take();
    let tid = opened(&rest);
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].0, tid, "answered from the transfer's own socket");
    assert_eq!(
        Packet::parse(&sends[0].1).unwrap(),
        Packet::Oack {
            options: vec![("blksize", "1024"), ("tsize", "3000")]
        }
    );
    assert!(rest.contains(&HostAction::SetTimer {
        token: 1,
        delay_ms: 1000
    }));
    let mut got = Vec::new();
    for block in 0..3u16 {
        rig.deliver(10 + u64::from(block), SocketId(tid), peer(), &ack(block));
        let (sends, _) = rig.take();
        assert_eq!(sends.len(), 1);
        match Packet::parse(&sends[0].1).unwrap() {
            Packet::Data { block: b, data } => {
                assert_eq!(b, block + 1);
                got.extend_from_slice(data);
            }
            other => panic!("{other:?}"),
        }
    }
    rig.deliver(20, SocketId(tid), peer(), &ack(3));
    let (sends, rest) = rig.take();
    assert!(sends.is_empty());
    assert_eq!(got, content);
    assert!(rest.contains(&HostAction::CloseSocket { socket: tid }));
    assert!(rest.contains(&HostAction::CancelTimer { token: 1 }));
    let line = logs(&rest).join("\n");
    for field in [
        "peer=127.0.0.1:5000",
        "file=dir/f.bin",
        "direction=download",
        "bytes=3000",
        "options=\"blksize=1024,tsize=3000\"",
        "duration_ms=20",
        "retransmits=0",
        "result=ok",
        "rate=",
    ] {
        assert!(line.contains(field), "{field} in {line}");
    }
    let ev = emitted(&rest);
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (ev[0].direction.as_str(), ev[0].bytes, ev[0].result.as_str()),
        ("download", 3000, "ok")
    );
    assert_eq!(rig.host.open_files(), 0);
    assert_eq!(rig.tftp.active_sessions(), 0);
}

#[test]
fn seed_request_gets_data_block_one() {
    let mut rig = Rig::new("");
    rig.host.files.insert("hello.txt".into(), b"hello".to_vec());
    rig.deliver(0, LISTENER, peer(), b"\x00\x01hello.txt\x00octet\x00");
    let (sends, _) = rig.take();
    assert_eq!(sends[0].1, data(1, b"hello"));
}

#[test]
fn refusals_come_from_the_listener_with_the_right_code() {
    let mut rig = Rig::new("(allow_create: true)");
    rig.host.files.insert("exists".into(), b"x".to_vec());
    // The outcome recorded: a refused request is a transfer record, a stray packet not.
    let cases: Vec<(Vec<u8>, u16, Option<&str>)> = vec![
        (rrq("missing", &[]), 1, Some("not_found")),
        (rrq("../etc/passwd", &[]), 2, Some("refused")),
        (rrq("//etc/passwd", &[]), 2, Some("refused")),
        // A leading `/` is the root: `etc/passwd` under it, which does not exist.
        (rrq("/etc/passwd", &[]), 1, Some("not_found")),
        (
            request::<&str>(RequestKind::Write, "exists", "octet", &[]),
            6,
            Some("refused"),
        ),
        (
            request::<&str>(RequestKind::Read, "exists", "mail", &[]),
            4,
            Some("refused"),
        ),
        (b"\x00\x01noterm".to_vec(), 4, None),
        (
            request(
                RequestKind::Write,
                "big",
                "octet",
                &[("tsize", "99999999999")],
            ),
            3,
            Some("refused"),
        ),
    ];
    for (pkt, code, outcome) in cases {
        rig.deliver(0, LISTENER, peer(), &pkt);
        let (sends, rest) = rig.take();
        assert_eq!(sends.len(), 1, "{pkt:?}");
        assert_eq!(sends[0].0, LISTENER.0);
        match Packet::parse(&sends[0].1).unwrap() {
            Packet::Error { code: c, .. } => assert_eq!(c, code, "{pkt:?}"),
            other => panic!("{other:?}"),
        }
        assert!(!rest.iter().any(|a| matches!(a, HostAction::OpenUdp { .. })));
        let recorded: Vec<String> = emitted(&rest).into_iter().map(|t| t.result).collect();
        assert_eq!(
            recorded,
            Vec::from_iter(outcome.map(String::from)),
            "{pkt:?}"
        );
        if let Some(outcome) = outcome {
            let line = logs(&rest).join("\n");
            assert!(
                line.contains(&format!("result={outcome} reason=")),
                "{line}"
            );
        }
    }
    assert_eq!(rig.host.open_files(), 0);
}

#[test]
fn uploads_are_refused_unless_allowed() {
    let mut rig = Rig::new("");
    rig.deliver(
        0,
        LISTENER,
        peer(),
        &request::<&str>(RequestKind::Write, "up", "octet", &[]),
    );
    let (sends, _) = rig.take();
    assert!(matches!(
        Packet::parse(&sends[0].1).unwrap(),
        Packet::Error { code: 2, .. }
    ));
    assert!(rig.host.files.is_empty());
}

fn upload_start(rig: &mut Rig, name: &str) -> u64 {
    rig.deliver(
        0,
        LISTENER,
        peer(),
        &request::<&str>(RequestKind::Write, name, "octet", &[]),
    );
    let (sends, rest) = rig.take();
    assert_eq!(sends[0].1, ack(0));
    opened(&rest)
}

#[test]
fn upload_is_invisible_until_complete_then_dallies() {
    let mut rig = Rig::new("(allow_create: true)");
    let tid = upload_start(&mut rig, "up.bin");
    rig.deliver(1, SocketId(tid), peer(), &data(1, &[5u8; 512]));
    assert!(rig.host.files.is_empty(), "nothing visible mid-upload");
    rig.deliver(2, SocketId(tid), peer(), &data(1, &[5u8; 512]));
    let (sends, _) = rig.take();
    assert_eq!(
        sends.iter().map(|s| s.1.clone()).collect::<Vec<_>>(),
        vec![ack(1), ack(1)]
    );
    rig.deliver(3, SocketId(tid), peer(), &data(2, b"end"));
    let (sends, rest) = rig.take();
    assert_eq!(sends[0].1, ack(2));
    assert!(rest.contains(&HostAction::Commit {
        path: "up.bin".into()
    }));
    let mut want = vec![5u8; 512];
    want.extend_from_slice(b"end");
    assert_eq!(
        rig.host.files["up.bin"], want,
        "written once, duplicates ignored"
    );
    assert_eq!(emitted(&rest)[0].direction, "upload");
    assert_eq!(rig.tftp.active_sessions(), 0, "dallying is not a session");
    // Dally: the last DATA again gets the final ACK again.
    rig.deliver(100, SocketId(tid), peer(), &data(2, b"end"));
    assert_eq!(rig.take().0[0].1, ack(2));
    rig.timer(3003, 1);
    let (_, rest) = rig.take();
    assert!(rest.contains(&HostAction::CloseSocket { socket: tid }));
}

#[test]
fn vanished_uploader_leaves_nothing() {
    let mut rig = Rig::new("(allow_create: true)");
    let tid = upload_start(&mut rig, "half.bin");
    rig.deliver(1, SocketId(tid), peer(), &data(1, &[1u8; 512]));
    rig.take();
    // Fire the timer whenever asked, as the host would.
    let mut now = 1;
    let mut resent = 0;
    for _ in 0..20 {
        now += 20_000;
        rig.timer(now, 1);
        let (sends, rest) = rig.take();
        resent += sends.iter().filter(|s| s.1 == ack(1)).count();
        if rest.contains(&HostAction::CloseSocket { socket: tid }) {
            let line = logs(&rest).join("\n");
            assert!(line.contains("result=timeout"), "{line}");
            break;
        }
    }
    assert_eq!(resent, 5);
    assert!(rig.host.files.is_empty());
    assert_eq!(rig.host.open_files(), 0, "temp file closed (deleted)");
}

#[test]
fn disk_full_gives_error_3_and_no_file() {
    let mut rig = Rig::new("(allow_create: true, reserve_free_bytes: 0)");
    rig.host.free_space = 600;
    let tid = upload_start(&mut rig, "full.bin");
    rig.deliver(1, SocketId(tid), peer(), &data(1, &[1u8; 512]));
    rig.deliver(2, SocketId(tid), peer(), &data(2, &[1u8; 512]));
    let (sends, rest) = rig.take();
    assert!(matches!(
        Packet::parse(&sends.last().unwrap().1).unwrap(),
        Packet::Error { code: 3, .. }
    ));
    assert!(rest.contains(&HostAction::CloseSocket { socket: tid }));
    assert!(rig.host.files.is_empty());
    assert_eq!(rig.host.open_files(), 0);
    assert_eq!(emitted(&rest)[0].result, "refused");
    let line = logs(&rest).join("\n");
    assert!(
        line.contains("result=refused reason=\"file too large\""),
        "{line}"
    );
}

#[test]
fn foreign_tid_gets_error_5_and_the_download_goes_on() {
    let mut rig = Rig::new("");
    rig.host.files.insert("f".into(), vec![0u8; 600]);
    rig.deliver(0, LISTENER, peer(), &rrq("f", &[]));
    let (_, rest) = rig.take();
    let tid = opened(&rest);
    let stranger: SocketAddr = "127.0.0.1:6000".parse().unwrap();
    rig.deliver(1, SocketId(tid), stranger, &ack(1));
    let (sends, _) = rig.take();
    assert!(matches!(
        Packet::parse(&sends[0].1).unwrap(),
        Packet::Error { code: 5, .. }
    ));
    rig.deliver(2, SocketId(tid), peer(), &ack(1));
    let (sends, _) = rig.take();
    assert!(matches!(
        Packet::parse(&sends[0].1).unwrap(),
        Packet::Data { block: 2, .. }
    ));
}

#[test]
fn netascii_both_ways() {
    let mut rig = Rig::new("(allow_create: true)");
    let text = b"one\ntwo\rthree\n".repeat(60); // 840 bytes, 960 on the wire
    rig.host.files.insert("t.txt".into(), text.clone());
    rig.deliver(
        0,
        LISTENER,
        peer(),
        &request::<&str>(RequestKind::Read, "t.txt", "netascii", &[]),
    );
    let token = prefetched_after_nothing_read(&mut rig, text.len() as u64);
    rig.host.deliver(
        &mut rig.tftp,
        0,
        Event::FilePrefetched {
            token,
            result: Ok(()),
        },
    );
    let (sends, rest) = rig.take();
    let tid = opened(&rest);
    let mut wire = Vec::new();
    let mut last = sends[0].1.clone();
    let mut block = 1u16;
    loop {
        let Packet::Data { data, .. } = Packet::parse(&last).unwrap() else {
            panic!()
        };
        wire.extend_from_slice(data);
        if data.len() < 512 {
            break;
        }
        rig.deliver(1, SocketId(tid), peer(), &ack(block));
        block += 1;
        last = rig.take().0[0].1.clone();
    }
    assert_eq!(wire, crate::netascii::encode(&text));
    // And back up: the server stores local line ends.
    rig.deliver(
        2,
        LISTENER,
        peer(),
        &request::<&str>(RequestKind::Write, "u.txt", "NETASCII", &[]),
    );
    let (_, rest) = rig.take();
    let up = opened(&rest);
    for (i, chunk) in wire.chunks(512).enumerate() {
        rig.deliver(3, SocketId(up), peer(), &data(i as u16 + 1, chunk));
    }
    assert_eq!(rig.host.files["u.txt"], text);
}

/// A netascii RRQ only asks the host to prefetch the file: no byte is read (on the
/// handler thread) and nothing is sent until the prefetch is done. Returns its token.
fn prefetched_after_nothing_read(rig: &mut Rig, len: u64) -> u64 {
    let (sends, rest) = rig.take();
    assert!(sends.is_empty(), "nothing sent before the file is cached");
    assert_eq!(rig.host.reads, 0, "no read before the file is cached");
    rest.iter()
        .find_map(|a| match *a {
            HostAction::PrefetchFile {
                offset: 0,
                len: l,
                token,
                ..
            } if l == len => Some(token),
            _ => None,
        })
        .expect("a prefetch of the whole file")
}

#[test]
fn a_netascii_download_whose_prefetch_fails_is_refused_and_frees_its_slot() {
    let mut rig = Rig::new("(max_transfers_per_client: 1)");
    rig.host.files.insert("t.txt".into(), b"a\nb\n".to_vec());
    let rrq = request::<&str>(RequestKind::Read, "t.txt", "netascii", &[]);
    rig.deliver(0, LISTENER, peer(), &rrq);
    let token = prefetched_after_nothing_read(&mut rig, 4);
    assert_eq!(rig.tftp.active_sessions(), 1, "a parked request counts");
    // The client's retransmitted RRQ starts nothing new meanwhile.
    rig.deliver(1, LISTENER, peer(), &rrq);
    let (sends, rest) = rig.take();
    assert!(sends.is_empty());
    assert!(
        !rest
            .iter()
            .any(|a| matches!(a, HostAction::PrefetchFile { .. }))
    );

    rig.host.deliver(
        &mut rig.tftp,
        2,
        Event::FilePrefetched {
            token,
            result: Err(HostError::Io),
        },
    );
    let (sends, _) = rig.take();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].0, LISTENER.0, "refused from the listener");
    assert!(matches!(
        Packet::parse(&sends[0].1).unwrap(),
        Packet::Error { code: 0, .. }
    ));
    assert_eq!(rig.tftp.active_sessions(), 0);
    assert_eq!(rig.host.open_files(), 0, "the file was closed");
    // The slot is free again: the same request is taken.
    rig.deliver(3, LISTENER, peer(), &rrq);
    prefetched_after_nothing_read(&mut rig, 4);
}

#[test]
fn windowed_download_sends_a_window_per_ack() {
    let mut rig = Rig::new("(max_windowsize: 4)");
    rig.host.files.insert("w".into(), vec![9u8; 100 * 512]);
    rig.deliver(0, LISTENER, peer(), &rrq("w", &[("windowsize", "16")]));
    let (sends, rest) = rig.take();
    let tid = opened(&rest);
    assert_eq!(
        Packet::parse(&sends[0].1).unwrap(),
        Packet::Oack {
            options: vec![("windowsize", "4")]
        }
    );
    rig.deliver(1, SocketId(tid), peer(), &ack(0));
    assert_eq!(rig.take().0.len(), 4);
}

#[test]
fn repeated_request_does_not_start_a_second_transfer_and_drain_refuses_new_ones() {
    let mut rig = Rig::new("");
    rig.host.files.insert("f".into(), vec![0u8; 600]);
    rig.deliver(0, LISTENER, peer(), &rrq("f", &[]));
    rig.take();
    rig.deliver(500, LISTENER, peer(), &rrq("f", &[]));
    let (sends, rest) = rig.take();
    assert!(sends.is_empty() && !rest.iter().any(|a| matches!(a, HostAction::OpenUdp { .. })));
    assert_eq!(rig.tftp.active_sessions(), 1);
    rig.host.deliver(&mut rig.tftp, 600, Event::Drain);
    rig.deliver(
        700,
        LISTENER,
        "127.0.0.1:5001".parse().unwrap(),
        &rrq("f", &[]),
    );
    let (sends, _) = rig.take();
    assert!(matches!(
        Packet::parse(&sends[0].1).unwrap(),
        Packet::Error { code: 0, .. }
    ));
}

#[test]
fn bad_config_is_refused() {
    let mut host = MockHost::new();
    assert!(
        host.create::<Tftp>("(max_blksize: 4)")
            .unwrap_err()
            .contains("max_blksize")
    );
    assert!(host.create::<Tftp>("(allow_uploads: true)").is_err());
    assert_eq!(Tftp::PORTS[0].direction, abi::SY_PORT_OUT);
}

#[test]
fn netascii_is_refused_beyond_its_size_limit() {
    let mut rig = Rig::new("(max_netascii_bytes: 10)");
    rig.host
        .files
        .insert("t.txt".into(), b"0123456789ab".to_vec());
    let pkt = request::<&str>(RequestKind::Read, "t.txt", "netascii", &[]);
    rig.deliver(0, LISTENER, peer(), &pkt);
    let (sends, _) = rig.take();
    match Packet::parse(&sends[0].1).unwrap() {
        Packet::Error { code, message } => {
            assert_eq!(code, 0);
            assert!(String::from_utf8_lossy(message).contains("octet"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(rig.host.open_files(), 0);
    // The same file in octet mode is served.
    rig.deliver(1, LISTENER, peer(), &rrq("t.txt", &[]));
    assert_eq!(rig.take().0[0].1, data(1, b"0123456789ab"));
}

#[test]
fn dallying_uploads_are_bounded_by_max_transfers() {
    let mut rig = Rig::new("(allow_create: true, max_transfers: 2)");
    let mut socks = Vec::new();
    for i in 0..3u16 {
        let from: SocketAddr = format!("127.0.0.1:{}", 5000 + i).parse().unwrap();
        let pkt = request::<&str>(RequestKind::Write, &format!("u{i}"), "octet", &[]);
        rig.deliver(0, LISTENER, from, &pkt);
        let (_, rest) = rig.take();
        let tid = opened(&rest);
        rig.deliver(1, SocketId(tid), from, &data(1, b"x"));
        let (_, rest) = rig.take();
        socks.push((tid, rest.contains(&HostAction::CloseSocket { socket: tid })));
    }
    // Two may dally; the third finishes without holding its socket.
    assert_eq!(
        socks.iter().map(|s| s.1).collect::<Vec<_>>(),
        vec![false, false, true]
    );
    assert_eq!(rig.host.files.len(), 3);
}
