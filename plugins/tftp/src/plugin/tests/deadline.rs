//! Transfers as host sessions (described, updated, ended), and the drain deadline:
//! every peer gets ERROR 0 "server shutting down" from its transfer's socket.

use switchyard_sdk::{Direction, DrainCause};

use super::*;
use crate::packet::{Packet, ack};

fn deadline(rig: &mut Rig, now: u64) {
    let ev = Event::DrainDeadline {
        cause: DrainCause::Shutdown,
    };
    rig.host.deliver(&mut rig.tftp, now, ev);
}

#[test]
fn a_download_is_described_as_it_goes_and_ended_with_its_outcome() {
    let mut rig = Rig::new("");
    let content = vec![9u8; 100 * 512];
    rig.host.files.insert("f.bin".into(), content);
    rig.deliver(0, LISTENER, peer(), &rrq("f.bin", &[]));
    let (_, rest) = rig.take();
    let tid = opened(&rest);
    let s = &rig.host.sessions[&tid];
    assert_eq!(
        (s.direction, s.resource.as_str(), s.state.as_str()),
        (Direction::Send, "f.bin", "sending blksize=512 window=1")
    );
    assert_eq!((s.peer, s.conn), (Some(peer()), None));
    assert_eq!((s.bytes_done, s.bytes_total), (0, Some(100 * 512)));
    for block in 1..=40u16 {
        rig.deliver(u64::from(block), SocketId(tid), peer(), &ack(block));
    }
    // Every 16 KiB, not every block: 40 blocks of 512 were described once more.
    assert_eq!(rig.host.sessions[&tid].bytes_done, 32 * 512);
    for block in 41..=100u16 {
        rig.deliver(u64::from(block), SocketId(tid), peer(), &ack(block));
    }
    rig.deliver(200, SocketId(tid), peer(), &ack(101));
    assert!(rig.host.sessions.is_empty());
    assert_eq!(rig.host.ended, [(tid, "ok".to_owned())]);
}

#[test]
fn at_the_drain_deadline_every_peer_gets_error_0_and_uploads_are_dropped() {
    let mut rig = Rig::new("(allow_create: true)");
    rig.host.files.insert("f.bin".into(), vec![1u8; 10_000]);
    rig.deliver(0, LISTENER, peer(), &rrq("f.bin", &[]));
    let (_, rest) = rig.take();
    let down = opened(&rest);
    let uploader: SocketAddr = "127.0.0.1:6000".parse().unwrap();
    let wrq = request::<&str>(RequestKind::Write, "up.bin", "octet", &[]);
    rig.deliver(1, LISTENER, uploader, &wrq);
    let (_, rest) = rig.take();
    let up = opened(&rest);
    rig.deliver(2, SocketId(up), uploader, &data(1, &[5u8; 512]));
    rig.take();
    assert_eq!(rig.host.sessions.len(), 2);

    deadline(&mut rig, 3);
    let (sends, rest) = rig.take();
    let mut errors: Vec<(u64, Packet<'_>)> = sends
        .iter()
        .map(|(socket, d)| (*socket, Packet::parse(d).unwrap()))
        .collect();
    errors.sort_by_key(|(s, _)| *s);
    let want = |socket| {
        (
            socket,
            Packet::Error {
                code: 0,
                message: &b"server shutting down"[..],
            },
        )
    };
    assert_eq!(errors, [want(down), want(up)]);
    for socket in [down, up] {
        assert!(rest.contains(&HostAction::CloseSocket { socket }));
    }
    let results: Vec<String> = emitted(&rest).into_iter().map(|t| t.result).collect();
    assert_eq!(results, ["aborted", "aborted"]);
    assert!(rig.host.sessions.is_empty());
    let mut ended = rig.host.ended.clone();
    ended.sort();
    assert_eq!(ended, [(down, "aborted".into()), (up, "aborted".into())]);
    assert_eq!(rig.host.open_files(), 0, "the upload's temp is dropped");
    assert!(!rig.host.files.contains_key("up.bin"));
    assert_eq!(rig.tftp.active_sessions(), 0);
    // A second deadline finds nothing to cut.
    deadline(&mut rig, 4);
    assert!(rig.take().0.is_empty());
}

#[test]
fn a_refused_request_ends_a_session_it_never_described() {
    let mut rig = Rig::new("");
    rig.deliver(0, LISTENER, peer(), &rrq("missing.bin", &[]));
    assert!(rig.host.sessions.is_empty());
    assert_eq!(rig.host.ended, [(0, "not_found".to_owned())]);
}

#[test]
fn an_operator_cancel_sends_error_0_to_that_peer_only_and_ends_its_session() {
    let mut rig = Rig::new("");
    rig.host.files.insert("f.bin".into(), vec![1u8; 10_000]);
    rig.deliver(0, LISTENER, peer(), &rrq("f.bin", &[]));
    let (_, rest) = rig.take();
    let one = opened(&rest);
    let other: SocketAddr = "127.0.0.1:6001".parse().unwrap();
    rig.deliver(1, LISTENER, other, &rrq("f.bin", &[]));
    let (_, rest) = rig.take();
    let two = opened(&rest);

    let cancel = Event::SessionCancel { session: one };
    rig.host.deliver(&mut rig.tftp, 2, cancel);
    let (sends, rest) = rig.take();
    let packets: Vec<(u64, Packet<'_>)> = sends
        .iter()
        .map(|(socket, d)| (*socket, Packet::parse(d).unwrap()))
        .collect();
    let told = Packet::Error {
        code: 0,
        message: &b"transfer cancelled by the server's operator"[..],
    };
    assert_eq!(packets, [(one, told)]);
    assert!(rest.contains(&HostAction::CloseSocket { socket: one }));
    assert_eq!(rig.host.ended, [(one, "aborted".to_owned())]);
    assert!(rig.host.sessions.contains_key(&two), "the other goes on");
    // Ended already: a second cancel finds nothing.
    rig.host
        .deliver(&mut rig.tftp, 3, Event::SessionCancel { session: one });
    assert!(rig.take().0.is_empty());
}
