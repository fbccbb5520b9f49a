//! The adapter against `MockHost`: events in, host calls out, as the real host sees them.
//!
//! # Layout
//! - this file: helpers, and the adapter on a dir.
//! - `waits`: the adapter on a store that waits.

use switchyard_sdk::messages::TransferCompleted;
use switchyard_sdk::prelude::*;
use switchyard_sdk::testing::{Action, MockHost};
use switchyard_sdk::{Direction, DrainCause};

use super::FilesPlugin;
use crate::codec::MAGIC;

const CONN: ConnId = ConnId(7);

fn addr() -> std::net::SocketAddr {
    "127.0.0.1:5000".parse().unwrap()
}

fn open(host: &mut MockHost, config: &str) -> FilesPlugin {
    let mut p = host.create::<FilesPlugin>(config).unwrap();
    host.deliver(&mut p, 0, Event::Start);
    host.deliver(
        &mut p,
        0,
        Event::ConnOpened {
            conn: CONN,
            peer: addr(),
            local: addr(),
            listener: "files",
        },
    );
    p
}

fn v2(host: &mut MockHost, p: &mut FilesPlugin, now: u64, line: &str) {
    let mut data = MAGIC.to_vec();
    data.extend_from_slice(line.as_bytes());
    host.deliver(
        p,
        now,
        Event::Bytes {
            conn: CONN,
            data: &data,
        },
    );
}

fn writes(actions: &[Action]) -> String {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Write { data, .. } => Some(String::from_utf8_lossy(data).into_owned()),
            _ => None,
        })
        .collect()
}

fn emitted(actions: &[Action]) -> Vec<TransferCompleted> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Emit { port: 0, data } => Some(serde_json::from_slice(data).unwrap()),
            _ => None,
        })
        .collect()
}

fn logs(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| {
            if let Action::Log { msg, .. } = a {
                Some(msg.clone())
            } else {
                None
            }
        })
        .collect()
}

#[test]
fn declarations() {
    assert_eq!(FilesPlugin::NAME, "files");
    assert_eq!(FilesPlugin::MODE, InstanceMode::PerConnection);
    assert_eq!(FilesPlugin::LISTENERS, Listeners::TCP);
    assert_eq!(FilesPlugin::PORTS[0].name_str(), "transfers");
}

#[test]
fn config_is_checked() {
    let mut host = MockHost::new();
    assert!(
        host.create::<FilesPlugin>("(idle_timeout_secs: 0)")
            .unwrap_err()
            .contains("idle_timeout_secs")
    );
    assert!(
        host.create::<FilesPlugin>("(allow_everything: true)")
            .unwrap_err()
            .contains("allow_everything")
    );
    assert!(
        host.create::<FilesPlugin>("(allow_delete: true, max_line_bytes: 8192)")
            .is_ok()
    );
}

#[test]
fn get_goes_out_with_sendfile_and_is_reported() {
    let mut host = MockHost::new();
    host.files.insert("a.txt".into(), b"hello".to_vec());
    let mut p = open(&mut host, "");
    assert_eq!(
        host.take_io(),
        vec![Action::SetTimer {
            token: 1,
            delay_ms: 60_000
        }]
    );
    v2(&mut host, &mut p, 10, "GET a.txt\n");
    let io = host.take_io();
    assert_eq!(writes(&io), "OK 5 -\n");
    let (file, token) = io
        .iter()
        .find_map(|a| match a {
            Action::SendFile {
                conn: 7,
                file,
                offset: 0,
                len: 5,
                token,
            } => Some((*file, *token)),
            _ => None,
        })
        .expect("send_file");
    assert_eq!(p.active_sessions(), 1);
    host.deliver(
        &mut p,
        25,
        Event::FileSent {
            conn: CONN,
            token,
            result: Ok(5),
        },
    );
    let actions = host.take_actions();
    let t = emitted(&actions);
    assert_eq!(t.len(), 1);
    assert_eq!(
        (
            t[0].protocol.as_str(),
            t[0].file.as_str(),
            t[0].bytes,
            t[0].duration_ms
        ),
        ("files", "a.txt", 5, 15)
    );
    assert_eq!(t[0].peer, "127.0.0.1:5000");
    let lines = logs(&actions);
    assert_eq!(lines.len(), 1, "one log line per command: {lines:?}");
    assert!(
        lines[0].contains("cmd=GET") && lines[0].contains("result=ok"),
        "{}",
        lines[0]
    );
    // A GET that went as asked costs no log write at the usual level: its record is
    // the host's access log line.
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Log { level, msg }
            if *level == switchyard_sdk::abi::SY_LOG_DEBUG && msg.contains("cmd=GET"))),
        "{actions:?}"
    );
    assert_eq!(host.open_files(), 0, "file {file} closed");
    assert_eq!(p.active_sessions(), 0);
}

#[test]
fn put_receives_through_the_host_and_commits() {
    let mut host = MockHost::new();
    let mut p = open(&mut host, "");
    host.take_io();
    v2(&mut host, &mut p, 0, "PUT new.bin 3\n");
    let io = host.take_io();
    assert_eq!(writes(&io), "CONTINUE\n");
    let token = io
        .iter()
        .find_map(|a| match a {
            Action::RecvToFile {
                conn: 7,
                len: 3,
                sha256: true,
                token,
                ..
            } => Some(*token),
            _ => None,
        })
        .expect("recv_to_file with sha256");
    assert!(host.files.is_empty());
    let digest = [0xab; 32];
    host.deliver(
        &mut p,
        5,
        Event::FileReceived {
            conn: CONN,
            token,
            result: Ok((3, Some(digest))),
        },
    );
    let io = host.take_io();
    assert!(io.contains(&Action::Commit {
        path: "new.bin".into()
    }));
    assert_eq!(writes(&io), format!("OK new.bin 3 {}\n", "ab".repeat(32)));
    assert!(host.files.contains_key("new.bin"));
    assert!(host.files.contains_key(".new.bin.sha256"));
    assert_eq!(
        emitted(&io)[0].sha256.as_deref(),
        Some("ab".repeat(32).as_str())
    );
    assert_eq!(host.open_files(), 0);
}

#[test]
fn closed_mid_upload_leaves_no_file_and_no_handle() {
    let mut host = MockHost::new();
    let mut p = open(&mut host, "");
    v2(&mut host, &mut p, 0, "PUT x 100\n");
    host.take_io();
    assert_eq!(host.open_files(), 1);
    host.deliver(
        &mut p,
        1,
        Event::ConnClosed {
            conn: CONN,
            error: Some(HostError::Closed),
        },
    );
    let io = host.take_io();
    assert_eq!(host.open_files(), 0);
    assert!(host.files.is_empty());
    assert_eq!(emitted(&io)[0].result, "aborted");
    assert!(
        !io.iter()
            .any(|a| matches!(a, Action::Write { .. } | Action::Close { .. })),
        "{io:?}"
    );
}

#[test]
fn deadline_timer_closes_an_idle_connection() {
    let mut host = MockHost::new();
    let mut p = open(&mut host, "(idle_timeout_secs: 5)");
    v2(&mut host, &mut p, 1_000, "");
    let io = host.take_io();
    assert!(
        io.contains(&Action::SetTimer {
            token: 1,
            delay_ms: 5_000
        }),
        "{io:?}"
    );
    host.deliver(&mut p, 6_000, Event::Timer { token: 1 });
    assert_eq!(host.take_io(), vec![Action::Close { conn: 7 }]);
}

#[test]
fn seed_upload_through_the_adapter() {
    let mut host = MockHost::new();
    let mut p = open(&mut host, "");
    host.deliver(
        &mut p,
        0,
        Event::Bytes {
            conn: CONN,
            data: "2:第一行\r\n:second".as_bytes(),
        },
    );
    host.deliver(&mut p, 1, Event::PeerEof { conn: CONN });
    let io = host.take_io();
    let name = io
        .iter()
        .find_map(|a| {
            if let Action::Commit { path } = a {
                Some(path.clone())
            } else {
                None
            }
        })
        .expect("committed");
    assert_eq!(host.files[&name], "第一行\r\n:second".as_bytes());
    assert_eq!(writes(&io), format!("{name}\n"));
    assert!(io.contains(&Action::Close { conn: 7 }));
}

#[test]
fn drain_closes_an_idle_connection() {
    let mut host = MockHost::new();
    let mut p = open(&mut host, "");
    host.take_io();
    host.deliver(&mut p, 1, Event::Drain);
    let io = host.take_io();
    assert!(io.contains(&Action::Close { conn: 7 }), "{io:?}");
}

/// A GET under way is a session on its connection; at the drain deadline the client
/// gets the tail after the bytes sent, the connection closes, and the session ends
/// as `aborted` (what `switchyard_transfers_total` counts).
#[test]
fn drain_deadline_mid_get_sends_the_tail_closes_and_ends_the_session() {
    let mut host = MockHost::new();
    host.files.insert("big.bin".into(), vec![3u8; 10_000]);
    let mut p = open(&mut host, "");
    v2(&mut host, &mut p, 10, "GET big.bin\n");
    let s = &host.sessions[&CONN.0];
    assert_eq!(
        (s.conn, s.resource.as_str(), s.bytes_total),
        (Some(CONN.0), "big.bin", Some(10_000))
    );
    assert_eq!((s.direction, s.peer), (Direction::Send, Some(addr())));
    host.take_actions();
    let deadline = Event::DrainDeadline {
        cause: DrainCause::Shutdown,
    };
    host.deliver(&mut p, 20, deadline);
    let io = host.take_io();
    assert_eq!(writes(&io), "\nERR 503 server shutting down\n");
    let close = io.iter().position(|a| *a == Action::Close { conn: CONN.0 });
    let write = io.iter().position(|a| matches!(a, Action::Write { .. }));
    assert!(
        write < close && close.is_some(),
        "the goodbye, then the close: {io:?}"
    );
    assert_eq!(
        io.iter()
            .filter(|a| matches!(a, Action::Close { .. }))
            .count(),
        1
    );
    assert!(host.sessions.is_empty());
    assert_eq!(host.ended, [(CONN.0, "aborted".to_owned())]);
}

/// A refused request ends a session never described: it is counted all the same.
#[test]
fn a_refusal_ends_its_session_with_its_outcome() {
    let mut host = MockHost::new();
    let mut p = open(&mut host, "");
    v2(&mut host, &mut p, 10, "GET missing.bin\n");
    assert!(host.sessions.is_empty());
    assert_eq!(host.ended, [(CONN.0, "not_found".to_owned())]);
}

mod waits;
