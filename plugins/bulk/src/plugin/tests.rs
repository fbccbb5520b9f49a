//! The adapter against `MockHost`: events in, host calls out, as the real host sees
//! them. Completions (`FileReceived`, `FileSent`, `Timer`) are delivered by hand.

use switchyard_sdk::messages::TransferCompleted;
use switchyard_sdk::prelude::*;
use switchyard_sdk::testing::{Action, MockHost};
use switchyard_sdk::{Direction, DrainCause};

use super::BulkPlugin;
use crate::codec::{Get, Put, Reply, Request, Status, V1Header};

const CONN: ConnId = ConnId(7);

fn open(host: &mut MockHost, config: &str) -> BulkPlugin {
    let mut p = host.create::<BulkPlugin>(config).unwrap();
    let addr = "127.0.0.1:5000".parse().unwrap();
    host.deliver(&mut p, 0, Event::Start);
    host.deliver(
        &mut p,
        0,
        Event::ConnOpened {
            conn: CONN,
            peer: addr,
            local: addr,
            listener: "bulk_tcp",
        },
    );
    p
}

fn bytes(host: &mut MockHost, p: &mut BulkPlugin, now: u64, data: &[u8]) {
    host.deliver(p, now, Event::Bytes { conn: CONN, data });
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

fn reply(actions: &[Action]) -> Reply {
    let data: Vec<u8> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Write { data, .. } => Some(data.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    Reply::parse(&data).unwrap()
}

#[test]
fn header_timer_is_armed_on_open() {
    let mut host = MockHost::new();
    let _p = open(&mut host, "(header_timeout_secs: 3)");
    assert_eq!(
        host.take_io(),
        vec![Action::SetTimer {
            token: 1,
            delay_ms: 3000
        }]
    );
}

#[test]
fn v1_upload_is_received_by_the_host_and_committed() {
    let mut host = MockHost::new();
    let mut p = open(&mut host, "");
    host.take_actions();
    let mut wire = V1Header::encode(10).unwrap().to_vec();
    wire.extend_from_slice(b"0123");
    bytes(&mut host, &mut p, 5, &wire);
    let io = host.take_io();
    let Some(Action::RecvToFile {
        conn,
        file,
        len,
        sha256,
        token,
    }) = io
        .iter()
        .find(|a| matches!(a, Action::RecvToFile { .. }))
        .cloned()
    else {
        panic!("no recv_to_file: {io:?}");
    };
    assert_eq!((conn, len, sha256), (CONN.0, 6, true));
    assert!(file > 0);
    // The transfer budget replaces the header timer.
    assert!(
        io.iter()
            .any(|a| matches!(a, Action::SetTimer { token: 1, .. }))
    );
    assert_eq!(p.active_sessions(), 1);

    host.deliver(
        &mut p,
        9,
        Event::FileReceived {
            conn: CONN,
            token,
            result: Ok((6, Some([0xAA; 32]))),
        },
    );
    let actions = host.take_actions();
    assert!(actions.contains(&Action::Commit {
        path: "incoming/v1-000001.bin".into()
    }));
    // The mock's file holds what the plugin wrote itself (the host wrote the rest).
    assert_eq!(host.files["incoming/v1-000001.bin"], b"0123");
    let t = emitted(&actions);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].protocol, "bulk");
    assert_eq!(t[0].file, "incoming/v1-000001.bin");
    assert_eq!(t[0].sha256.as_deref(), Some("aa".repeat(32).as_str()));
    assert!(actions.contains(&Action::Close { conn: CONN.0 }));
    assert!(actions.contains(&Action::CancelTimer { token: 1 }));
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Log { msg, .. } if msg.starts_with("transfer proto=v1")))
    );
    assert_eq!(p.active_sessions(), 0);
    // Only the digest side file's handle was opened and committed: nothing left open.
    assert_eq!(host.open_files(), 0);
}

#[test]
fn reset_mid_upload_leaves_nothing() {
    let mut host = MockHost::new();
    let mut p = open(&mut host, "");
    bytes(&mut host, &mut p, 1, &V1Header::encode(1000).unwrap());
    assert_eq!(host.open_files(), 1);
    host.deliver(
        &mut p,
        2,
        Event::ConnClosed {
            conn: CONN,
            error: Some(HostError::Closed),
        },
    );
    let actions = host.take_actions();
    assert_eq!(host.open_files(), 0, "temp closed, so deleted");
    assert!(host.files.is_empty());
    assert_eq!(emitted(&actions)[0].result, "aborted");
    // No connection calls after the connection is gone.
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::Write { .. } | Action::Close { .. }))
    );
}

#[test]
fn v2_get_uses_sendfile() {
    let mut host = MockHost::new();
    host.files
        .insert("incoming/f.bin".into(), b"hello".to_vec());
    let mut p = open(&mut host, "");
    host.take_actions();
    let g = Request::Get(Get {
        name: "f.bin".into(),
        offset: 1,
    });
    bytes(&mut host, &mut p, 1, &g.encode().unwrap());
    let io = host.take_io();
    let r = reply(&io);
    assert_eq!((r.status, r.value), (Status::Ok, 4));
    let Some(Action::SendFile {
        offset, len, token, ..
    }) = io
        .iter()
        .find(|a| matches!(a, Action::SendFile { .. }))
        .cloned()
    else {
        panic!("{io:?}");
    };
    assert_eq!((offset, len), (1, 4));
    host.deliver(
        &mut p,
        3,
        Event::FileSent {
            conn: CONN,
            token,
            result: Ok(4),
        },
    );
    let actions = host.take_actions();
    assert_eq!(emitted(&actions)[0].direction, "download");
    assert!(actions.contains(&Action::Close { conn: CONN.0 }));
    assert_eq!(host.open_files(), 0);
}

#[test]
fn an_early_timer_only_re_arms() {
    // A timer that fires before the deadline (re-armed race) changes nothing.
    let mut host = MockHost::new();
    let mut p = open(&mut host, "");
    let put = Request::Put(Put {
        name: "x".into(),
        len: 5,
        digest: None,
        digest_last: false,
        upload_id: None,
        replace: false,
    });
    bytes(&mut host, &mut p, 1, &put.encode().unwrap());
    let io = host.take_io();
    assert!(
        io.iter()
            .any(|a| matches!(a, Action::RecvToFile { len: 5, .. }))
    );
    host.deliver(&mut p, 2, Event::Timer { token: 1 });
    // Not due yet at t=2: the same deadline (t=30001) is armed again.
    assert_eq!(
        host.take_io(),
        vec![Action::SetTimer {
            token: 1,
            delay_ms: 29_999
        }]
    );
}

#[test]
fn deadline_timer_closes_a_slowloris() {
    let mut host = MockHost::new();
    let mut p = open(&mut host, "(header_timeout_secs: 2)");
    bytes(&mut host, &mut p, 100, &[0]);
    host.take_actions();
    host.deliver(&mut p, 2000, Event::Timer { token: 1 });
    let actions = host.take_actions();
    assert!(actions.contains(&Action::Close { conn: CONN.0 }));
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Log { msg, .. } if msg.contains("header timeout")))
    );
}

#[test]
fn bad_configs_are_refused() {
    let mut host = MockHost::new();
    assert!(host.create::<BulkPlugin>("(idle_timeout_secs: 0)").is_err());
    assert!(host.create::<BulkPlugin>("(no_such_field: 1)").is_err());
    assert!(host.create::<BulkPlugin>("").is_ok());
}

/// A v2 upload under way is a session on its connection; at the drain deadline the
/// client is told `UNAVAILABLE`, the connection closes, nothing is stored, and the
/// session ends as `aborted`.
#[test]
fn drain_deadline_mid_upload_replies_unavailable_then_closes() {
    let mut host = MockHost::new();
    let mut p = open(&mut host, "");
    let put = Request::Put(Put {
        name: "disk.img".into(),
        len: 1 << 20,
        digest: None,
        digest_last: true,
        upload_id: None,
        replace: false,
    });
    bytes(&mut host, &mut p, 1, &put.encode().unwrap());
    let s = &host.sessions[&CONN.0];
    assert_eq!(
        (s.direction, s.conn, s.resource.as_str(), s.bytes_total),
        (Direction::Receive, Some(CONN.0), "disk.img", Some(1 << 20))
    );
    host.take_actions();
    let deadline = Event::DrainDeadline {
        cause: DrainCause::Reload,
    };
    host.deliver(&mut p, 2, deadline);
    let io = host.take_io();
    let r = reply(&io);
    assert_eq!(
        (r.status, r.text.as_str()),
        (Status::Unavailable, "server shutting down")
    );
    let close = io.iter().position(|a| *a == Action::Close { conn: CONN.0 });
    let write = io.iter().position(|a| matches!(a, Action::Write { .. }));
    assert!(
        close.is_some() && write < close,
        "the reply, then the close: {io:?}"
    );
    assert!(!io.iter().any(|a| matches!(a, Action::Commit { .. })));
    assert_eq!(host.open_files(), 0, "the temp is dropped");
    assert_eq!(host.ended, [(CONN.0, "aborted".to_owned())]);
    assert!(host.sessions.is_empty());
}

/// v1 has no error channel: the connection just closes, and nothing is stored.
#[test]
fn drain_deadline_mid_v1_upload_just_closes() {
    let mut host = MockHost::new();
    let mut p = open(&mut host, "");
    let mut wire = V1Header::encode(100).unwrap().to_vec();
    wire.extend_from_slice(b"0123");
    bytes(&mut host, &mut p, 1, &wire);
    host.take_actions();
    let deadline = Event::DrainDeadline {
        cause: DrainCause::Shutdown,
    };
    host.deliver(&mut p, 2, deadline);
    let io = host.take_io();
    assert!(
        !io.iter().any(|a| matches!(a, Action::Write { .. })),
        "{io:?}"
    );
    assert!(io.contains(&Action::Close { conn: CONN.0 }));
    assert_eq!(host.open_files(), 0);
    assert_eq!(host.ended, [(CONN.0, "aborted".to_owned())]);
}

#[test]
fn on_a_store_that_waits_an_upload_is_committed_after_its_answers() {
    let vtable = switchyard_sdk::trampoline::vtable::<BulkPlugin>();
    assert_eq!(
        vtable.storage_calls,
        switchyard_sdk::abi::SY_STORAGE_CALLS_WAIT,
        "declared ready for a store that waits"
    );
    let mut host = MockHost::new();
    host.storage_waits = true;
    let mut p = open(&mut host, "");
    host.take_actions();
    let mut w = Request::Put(Put {
        name: "w.bin".into(),
        len: 3,
        digest: None,
        digest_last: false,
        upload_id: None,
        replace: false,
    })
    .encode()
    .unwrap();
    w.extend_from_slice(b"abc");
    bytes(&mut host, &mut p, 1, &w);
    assert_eq!(p.active_sessions(), 1, "a parked admission is busy");
    let mut rounds = 0;
    while host.complete_storage(&mut p, 2) > 0 {
        rounds += 1;
    }
    assert!(rounds >= 2, "the temp, then the name and the commit waited");
    let actions = host.take_actions();
    let r = reply(&actions);
    assert_eq!((r.status, r.text.as_str()), (Status::Ok, "w.bin"));
    assert_eq!(host.files["incoming/w.bin"], b"abc");
    assert!(actions.contains(&Action::Close { conn: CONN.0 }));
    assert_eq!(host.open_files(), 0);
}
