//! The adapter on a store that waits (`MockHost::storage_waits`): the session's steps
//! parked and run again on `StorageDone`, the deadline timer armed while one waits,
//! and a connection cut meanwhile.

use super::*;

fn waiting_host() -> MockHost {
    let mut host = MockHost::new();
    host.storage_waits = true;
    host.files.insert("a.txt".into(), b"hello".to_vec());
    host
}

#[test]
fn a_get_waits_for_its_open_then_goes_out() {
    let mut host = waiting_host();
    let mut p = open(&mut host, "");
    host.take_io();
    v2(&mut host, &mut p, 10, "GET a.txt\nSTAT a.txt\n");
    assert_eq!(writes(&host.take_io()), "", "nothing before the answer");
    assert_eq!(p.active_sessions(), 1, "a parked request is busy");
    assert_eq!(host.complete_storage(&mut p, 12), 1);
    let io = host.take_io();
    assert_eq!(writes(&io), "OK 5 -\n");
    let token = io
        .iter()
        .find_map(|a| match a {
            Action::SendFile { len: 5, token, .. } => Some(*token),
            _ => None,
        })
        .expect("send_file");
    host.deliver(
        &mut p,
        20,
        Event::FileSent {
            conn: CONN,
            token,
            result: Ok(5),
        },
    );
    // The STAT that waited behind the GET now waits for its own answer.
    assert_eq!(host.complete_storage(&mut p, 21), 1);
    assert_eq!(writes(&host.take_io()), "OK f 5 0\n");
    assert_eq!(host.open_files(), 0);
}

#[test]
fn a_store_that_never_answers_times_out_through_the_timer() {
    let mut host = waiting_host();
    let mut p = open(&mut host, "(idle_timeout_secs: 5)");
    host.take_io();
    v2(&mut host, &mut p, 1_000, "LIST\n");
    let io = host.take_io();
    assert!(
        io.contains(&Action::SetTimer {
            token: 1,
            delay_ms: 5_000
        }),
        "{io:?}"
    );
    host.deliver(&mut p, 6_000, Event::Timer { token: 1 });
    let io = host.take_actions();
    assert_eq!(writes(&io), "ERR 408 storage did not answer in time\n");
    assert!(io.contains(&Action::Close { conn: 7 }));
    assert!(logs(&io).iter().any(|l| l.contains("result=timeout")));
}

#[test]
fn a_connection_cut_while_a_put_waits_leaves_no_temp() {
    let mut host = waiting_host();
    let mut p = open(&mut host, "");
    v2(&mut host, &mut p, 0, "PUT x 3\n");
    // The stat answers; the temp is then being made when the connection goes.
    assert_eq!(host.complete_storage(&mut p, 1), 1);
    assert_eq!(host.storage_in_flight(), 1);
    host.deliver(
        &mut p,
        2,
        Event::ConnClosed {
            conn: CONN,
            error: Some(HostError::Closed),
        },
    );
    assert_eq!(host.complete_storage(&mut p, 3), 1);
    let io = host.take_io();
    assert_eq!(writes(&io), "");
    assert_eq!(
        host.open_files(),
        0,
        "the temp made after the cut is closed"
    );
    assert_eq!(host.files.len(), 1);
    assert_eq!(host.storage_in_flight(), 0);
}

fn prefetch_token(io: &[Action]) -> Option<u64> {
    io.iter().find_map(|a| match a {
        Action::PrefetchFile { token, .. } => Some(*token),
        _ => None,
    })
}

#[test]
fn a_hash_whose_reads_wait_prefetches_then_answers() {
    let mut host = waiting_host();
    host.cold_reads = true;
    let body: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    host.files.insert("big".into(), body.clone());
    let mut p = open(&mut host, "(hash_step_bytes: 4096)");
    host.take_io();
    v2(&mut host, &mut p, 1, "HASH big\n");
    assert_eq!(host.complete_storage(&mut p, 2), 1, "the open waited");
    let io = host.take_io();
    assert!(
        io.contains(&Action::PrefetchFile {
            file: 1,
            offset: 0,
            len: 10_000,
            token: 1
        }),
        "{io:?}"
    );
    assert_eq!(writes(&io), "");
    let ok = Event::FilePrefetched {
        token: 1,
        result: Ok(()),
    };
    host.deliver(&mut p, 3, ok);
    let mut text = String::new();
    for now in 4..20 {
        host.deliver(&mut p, now, Event::Timer { token: 1 });
        host.complete_storage(&mut p, now);
        text.push_str(&writes(&host.take_io()));
        if !text.is_empty() {
            break;
        }
    }
    use sha2::Digest;
    let sha = crate::cmd::hex(&sha2::Sha256::digest(&body));
    assert_eq!(text, format!("OK {sha}\n"));
    assert_eq!(host.open_files(), 0);
}

#[test]
fn a_hash_whose_prefetch_never_ends_times_out_and_the_connection_goes_on() {
    let mut host = waiting_host();
    host.cold_reads = true;
    host.storage_waits = false;
    let mut p = open(&mut host, "(idle_timeout_secs: 5)");
    host.take_io();
    v2(&mut host, &mut p, 1, "HASH a.txt\n");
    let io = host.take_io();
    assert!(prefetch_token(&io).is_some(), "{io:?}");
    assert!(
        io.contains(&Action::SetTimer {
            token: 1,
            delay_ms: 5_000
        }),
        "{io:?}"
    );
    host.deliver(&mut p, 5_001, Event::Timer { token: 1 });
    let io = host.take_io();
    assert_eq!(writes(&io), "ERR 408 storage did not answer in time\n");
    assert!(
        !io.contains(&Action::Close { conn: 7 }),
        "the connection goes on"
    );
    assert_eq!(host.open_files(), 0);
    // A late prefetch changes nothing.
    let late = Event::FilePrefetched {
        token: 1,
        result: Ok(()),
    };
    host.deliver(&mut p, 5_002, late);
    assert_eq!(writes(&host.take_io()), "");
}
