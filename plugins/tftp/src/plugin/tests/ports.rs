//! `single_port`: transfers on the listener told apart by client address and port,
//! with every guarantee of a normal transfer; repeats and superseding requests; a
//! reload. And `port_range`: transfer ports from the range until none is left.

use super::*;

/// A datagram sent: from which socket, to whom, what.
type Sent = (u64, SocketAddr, Vec<u8>);

/// Every datagram sent since last time, and the other actions.
fn take_sends(rig: &mut Rig) -> (Vec<Sent>, Vec<HostAction>) {
    let mut sends = Vec::new();
    let mut rest = Vec::new();
    for a in rig.host.take_actions() {
        match a {
            HostAction::SendDatagram { socket, to, data } => sends.push((socket, to, data)),
            other => rest.push(other),
        }
    }
    (sends, rest)
}

/// The one datagram sent: its socket, destination and packet.
fn only_send(sends: &[Sent]) -> (u64, SocketAddr, Packet<'_>) {
    assert_eq!(sends.len(), 1, "{sends:?}");
    let (socket, to, data) = &sends[0];
    (*socket, *to, Packet::parse(data).unwrap())
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The payload of DATA `block` sent to `to`, asserting it came from the listener.
fn data_to(sends: &[Sent], to: SocketAddr, block: u16) -> Vec<u8> {
    let found = sends
        .iter()
        .find_map(|(socket, dest, p)| match Packet::parse(p) {
            Ok(Packet::Data { block: b, data }) if *dest == to && b == block => {
                assert_eq!(*socket, LISTENER.0, "sent from the listener");
                Some(data.to_vec())
            }
            _ => None,
        });
    found.unwrap_or_else(|| panic!("no DATA {block} to {to} in {sends:?}"))
}

fn results(rest: &[HostAction]) -> Vec<String> {
    emitted(rest).into_iter().map(|t| t.result).collect()
}

/// Two clients at once, one of them from the same IP as the other on another port:
/// each gets its own file from the listener, block after block, with retransmission
/// after a lost ACK; nothing opens a socket; each is its own host session.
#[test]
fn two_clients_on_the_listener_are_told_apart_by_address_and_port() {
    let mut rig = Rig::new("(single_port: true)");
    let a_content: Vec<u8> = (0..700u32).map(|i| i as u8).collect();
    let b_content: Vec<u8> = (0..900u32).map(|i| (i * 7) as u8).collect();
    rig.host.files.insert("a.bin".into(), a_content.clone());
    rig.host.files.insert("b.bin".into(), b_content.clone());
    let (a, b) = (addr("127.0.0.1:5000"), addr("127.0.0.1:5001"));
    rig.deliver(0, LISTENER, a, &rrq("a.bin", &[]));
    rig.deliver(0, LISTENER, b, &rrq("b.bin", &[]));
    let (sends, rest) = take_sends(&mut rig);
    assert!(!rest.iter().any(|x| matches!(x, HostAction::OpenUdp { .. })));
    let mut got_a = data_to(&sends, a, 1);
    let mut got_b = data_to(&sends, b, 1);
    assert_eq!(rig.tftp.active_sessions(), 2);
    // A's ACK moves A only.
    rig.deliver(5, LISTENER, a, &ack(1));
    let (sends, _) = take_sends(&mut rig);
    assert_eq!(sends.len(), 1);
    got_a.extend(data_to(&sends, a, 2));
    // B's ACK is lost: B's block 1 comes again when its timer fires, A's does not.
    rig.timer(1000, 2);
    let (sends, _) = take_sends(&mut rig);
    assert_eq!(sends.len(), 1, "{sends:?}");
    assert_eq!(data_to(&sends, b, 1), got_b);
    rig.deliver(1001, LISTENER, b, &ack(1));
    let (sends, _) = take_sends(&mut rig);
    got_b.extend(data_to(&sends, b, 2));
    rig.deliver(1002, LISTENER, a, &ack(2));
    rig.deliver(1003, LISTENER, b, &ack(2));
    let (sends, rest) = take_sends(&mut rig);
    assert!(sends.is_empty(), "{sends:?}");
    assert_eq!((got_a, got_b), (a_content, b_content));
    assert_eq!(results(&rest), ["ok", "ok"]);
    assert!(
        !rest
            .iter()
            .any(|x| matches!(x, HostAction::CloseSocket { .. }))
    );
    let mut ended = rig.host.ended.clone();
    ended.sort();
    assert_eq!(
        ended,
        [(1 << 63 | 1, "ok".into()), (1 << 63 | 2, "ok".into())],
        "each its own session"
    );
    assert_eq!(rig.tftp.active_sessions(), 0);
    assert!(rig.tftp.by_peer.is_empty());
}

/// An upload on the listener: written once, committed before the final ACK, then the
/// final ACK repeated while it dallies, all from the listener.
#[test]
fn an_upload_on_the_listener_commits_and_dallies() {
    let mut rig = Rig::new("(single_port: true, allow_create: true)");
    let c = addr("127.0.0.1:7000");
    rig.deliver(
        0,
        LISTENER,
        c,
        &request::<&str>(RequestKind::Write, "up", "octet", &[]),
    );
    let (sends, _) = take_sends(&mut rig);
    assert_eq!(sends, [(LISTENER.0, c, ack(0).to_vec())]);
    rig.deliver(1, LISTENER, c, &data(1, b"short"));
    let (sends, rest) = take_sends(&mut rig);
    assert_eq!(sends, [(LISTENER.0, c, ack(1).to_vec())]);
    assert_eq!(rig.host.files["up"], b"short");
    assert_eq!(results(&rest), ["ok"]);
    rig.deliver(2, LISTENER, c, &data(1, b"short"));
    assert_eq!(take_sends(&mut rig).0, [(LISTENER.0, c, ack(1).to_vec())]);
}

/// A DATA or ACK from a client port without a transfer gets ERROR 5 from the listener;
/// the transfer of another port of the same client goes on undisturbed.
#[test]
fn a_stranger_gets_error_5_and_the_transfer_goes_on() {
    let mut rig = Rig::new("(single_port: true)");
    rig.host.files.insert("f".into(), vec![1; 600]);
    let (c, stranger) = (addr("127.0.0.1:5000"), addr("127.0.0.1:5999"));
    rig.deliver(0, LISTENER, c, &rrq("f", &[]));
    take_sends(&mut rig);
    rig.deliver(1, LISTENER, stranger, &ack(1));
    let (sends, _) = take_sends(&mut rig);
    let (socket, to, packet) = only_send(&sends);
    assert_eq!((socket, to), (LISTENER.0, stranger));
    assert!(
        matches!(packet, Packet::Error { code: 5, .. }),
        "{packet:?}"
    );
    rig.deliver(2, LISTENER, c, &ack(1));
    let (sends, _) = take_sends(&mut rig);
    assert_eq!(data_to(&sends, c, 2), vec![1; 88]);
}

/// The same request again while the transfer runs is a repeat: dropped, no second
/// transfer. Another request from that port supersedes it: the old one ends aborted
/// without an ERROR to the client, and the new one starts.
#[test]
fn a_repeat_is_dropped_and_a_new_request_supersedes_the_old_one() {
    let mut rig = Rig::new("(single_port: true)");
    rig.host.files.insert("one".into(), vec![1; 600]);
    rig.host.files.insert("two".into(), vec![2; 10]);
    let c = addr("127.0.0.1:5000");
    rig.deliver(0, LISTENER, c, &rrq("one", &[]));
    take_sends(&mut rig);
    rig.deliver(10, LISTENER, c, &rrq("one", &[]));
    let (sends, rest) = take_sends(&mut rig);
    assert!(sends.is_empty(), "{sends:?}");
    assert!(logs(&rest).join("\n").contains("repeated request"));
    assert_eq!(rig.tftp.active_sessions(), 1);

    // Other options: a new request, even for the same file.
    rig.deliver(20, LISTENER, c, &rrq("one", &[("blksize", "1024")]));
    let (sends, rest) = take_sends(&mut rig);
    let (_, _, packet) = only_send(&sends);
    assert!(
        matches!(packet, Packet::Oack { .. }),
        "only the new OACK: {packet:?}"
    );
    assert_eq!(results(&rest), ["aborted"]);
    assert!(logs(&rest).join("\n").contains("superseded"));
    assert_eq!(rig.tftp.active_sessions(), 1);

    rig.deliver(30, LISTENER, c, &rrq("two", &[]));
    let (sends, rest) = take_sends(&mut rig);
    assert_eq!(data_to(&sends, c, 1), vec![2; 10]);
    assert_eq!(results(&rest), ["aborted"]);
    rig.deliver(31, LISTENER, c, &ack(1));
    let (_, rest) = take_sends(&mut rig);
    assert_eq!(results(&rest), ["ok"]);
    assert_eq!(rig.tftp.active_sessions(), 0);
    assert_eq!(
        rig.tftp.admission.active(),
        0,
        "every transfer let go of its slot"
    );
    assert_eq!(rig.host.counters.get("transfers").copied().unwrap_or(0), 0);
}

/// A reload that replaces the instance: transfers on the listener are told to retry
/// (ERROR 0) and end aborted, since their next packets go to the successor.
#[test]
fn a_reload_tells_transfers_on_the_listener_to_retry() {
    let mut rig = Rig::new("(single_port: true)");
    rig.host.files.insert("f".into(), vec![1; 600]);
    let c = addr("127.0.0.1:5000");
    rig.deliver(0, LISTENER, c, &rrq("f", &[]));
    take_sends(&mut rig);
    rig.host.deliver(&mut rig.tftp, 5, Event::Replaced);
    let (sends, rest) = take_sends(&mut rig);
    let (socket, to, packet) = only_send(&sends);
    assert_eq!((socket, to), (LISTENER.0, c));
    assert_eq!(
        packet,
        Packet::Error {
            code: 0,
            message: b"server reloaded, please retry"
        }
    );
    assert_eq!(results(&rest), ["aborted"]);
    assert_eq!(rig.tftp.active_sessions(), 0);
}

/// `port_range`: each transfer on a free port of the range; with every port taken the
/// request gets ERROR 0 "no free transfer port" and holds nothing; a port freed by a
/// finished transfer serves the next one.
#[test]
fn transfer_ports_come_from_the_range_until_none_is_free() {
    let mut rig = Rig::new("(port_range: (50000, 50002))");
    rig.host.ports_taken_elsewhere.insert(50_001);
    rig.host.files.insert("f".into(), vec![1; 10]);
    let (a, b, c) = (
        addr("127.0.0.1:5000"),
        addr("127.0.0.2:5000"),
        addr("127.0.0.3:5000"),
    );
    rig.deliver(0, LISTENER, a, &rrq("f", &[]));
    rig.deliver(0, LISTENER, b, &rrq("f", &[]));
    let (sends, _) = take_sends(&mut rig);
    let tids: Vec<u64> = sends.iter().map(|(s, _, _)| *s).collect();
    let mut ports: Vec<u16> = tids.iter().map(|t| rig.host.udp_ports[t]).collect();
    ports.sort();
    assert_eq!(ports, [50_000, 50_002]);

    rig.deliver(1, LISTENER, c, &rrq("f", &[]));
    let (sends, rest) = take_sends(&mut rig);
    let (socket, to, packet) = only_send(&sends);
    assert_eq!((socket, to), (LISTENER.0, c));
    assert_eq!(
        packet,
        Packet::Error {
            code: 0,
            message: b"no free transfer port"
        }
    );
    assert_eq!(results(&rest), ["refused"]);
    assert_eq!(
        rig.host.open_files(),
        2,
        "the refused request's file was closed"
    );
    assert_eq!(rig.tftp.admission.active(), 2);

    rig.deliver(2, SocketId(tids[0]), a, &ack(1));
    take_sends(&mut rig);
    rig.deliver(3, LISTENER, c, &rrq("f", &[]));
    let (sends, _) = take_sends(&mut rig);
    let (socket, to, packet) = only_send(&sends);
    assert_eq!(
        (to, packet),
        (
            c,
            Packet::Data {
                block: 1,
                data: &[1; 10]
            }
        )
    );
    assert!((50_000..=50_002).contains(&rig.host.udp_ports[&socket]));
}
