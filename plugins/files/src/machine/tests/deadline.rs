//! The drain deadline: `ERR 503` (or the mid-body tail) before the close, the cut
//! recorded as `aborted`, nothing stored; the transfers described to the host; and a
//! draining connection closed once its last transfer is done.

use switchyard_sdk::{Direction, DrainCause};

use super::*;

const CAUSE: DrainCause = DrainCause::Shutdown;

fn described(outs: &[Output]) -> Vec<(Direction, String, u64, Option<u64>)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Describe(i) => {
                Some((i.direction, i.resource.clone(), i.bytes_done, i.bytes_total))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn mid_get_body_the_tail_follows_the_bytes_sent_and_the_connection_closes() {
    let mut st = Mem::new().with("big.bin", &[7u8; 4096]);
    let mut s = session();
    let outs = v2(&mut s, &mut st, 1, "GET big.bin\n");
    assert_eq!(
        described(&outs),
        [(Direction::Send, "big.bin".into(), 0, Some(4096))],
        "described before the sendfile, so the host counts its bytes"
    );
    let pos = |f: fn(&Output) -> bool| outs.iter().position(f).unwrap();
    assert!(
        pos(|o| matches!(o, Output::Describe(_))) < pos(|o| matches!(o, Output::SendFile { .. }))
    );
    let (file, ..) = send_file(&outs);
    s.handle_drain_deadline(5, CAUSE, &mut st);
    let outs = drain(&mut s);
    assert_eq!(written(&outs), "\nERR 503 server shutting down\n");
    assert!(matches!(outs.last(), Some(Output::Close)), "{outs:?}");
    let t = transfers(&outs);
    assert_eq!(
        (t.len(), t[0].result.as_str(), t[0].file.as_str()),
        (1, "aborted", "big.bin")
    );
    assert!(!st.open.contains_key(&file.0), "the file is released");
    assert!(s.is_done() && !s.busy());
    // Nothing more: a late deadline or close says nothing twice.
    s.handle_drain_deadline(6, CAUSE, &mut st);
    s.handle_closed(7, "connection closed", &mut st);
    assert!(drain(&mut s).is_empty());
}

#[test]
fn mid_put_the_client_reads_err_503_and_nothing_is_stored() {
    let mut st = Mem::new();
    let mut s = session();
    let outs = v2(&mut s, &mut st, 1, "PUT up.bin 1000\nabc");
    assert_eq!(
        described(&outs),
        [(Direction::Receive, "up.bin".into(), 3, Some(1000))],
        "the bytes that came with the request are done already"
    );
    let (file, _, _) = recv_to_file(&outs);
    st.receive(file, &[1u8; 500]);
    s.handle_drain_deadline(2, DrainCause::Reload, &mut st);
    let outs = drain(&mut s);
    assert_eq!(written(&outs), "ERR 503 server shutting down\n");
    assert!(closed(&outs));
    assert_eq!(transfers(&outs)[0].result, "aborted");
    assert!(st.visible().is_empty() && st.open.is_empty());
}

#[test]
fn between_requests_only_a_request_begun_is_answered() {
    let mut st = Mem::new();
    let mut s = session();
    v2(&mut s, &mut st, 1, "");
    s.handle_drain_deadline(2, CAUSE, &mut st);
    let outs = drain(&mut s);
    assert_eq!(
        written(&outs),
        "",
        "an idle client is not sent a reply it did not ask for"
    );
    assert!(closed(&outs) && transfers(&outs).is_empty());

    let mut s = session();
    v2(&mut s, &mut st, 1, "STAT a.t");
    s.handle_drain_deadline(2, CAUSE, &mut st);
    assert_eq!(written(&drain(&mut s)), "ERR 503 server shutting down\n");
}

#[test]
fn v1_has_no_error_channel_the_download_just_closes() {
    let mut st = Mem::new().with("seed.txt", &[1u8; 100]);
    let mut s = session();
    s.handle_bytes(1, b"1:seed.txt\n", &mut st);
    let outs = drain(&mut s);
    send_file(&outs);
    s.handle_drain_deadline(2, CAUSE, &mut st);
    let outs = drain(&mut s);
    assert_eq!(written(&outs), "");
    assert!(closed(&outs));
    assert_eq!(transfers(&outs)[0].result, "aborted");
    assert!(st.open.is_empty());
}

#[test]
fn draining_a_get_in_flight_finishes_then_the_idle_connection_closes() {
    let mut st = Mem::new().with("a.bin", &[1u8; 100]);
    let mut s = session();
    let outs = v2(&mut s, &mut st, 1, "GET a.bin\n");
    let (_, _, _, token) = send_file(&outs);
    s.handle_drain(2);
    assert!(!closed(&drain(&mut s)), "the transfer in flight goes on");
    s.handle_file_sent(3, token, Ok(100), &mut st);
    let outs = drain(&mut s);
    assert_eq!(transfers(&outs)[0].result, "ok");
    assert!(
        closed(&outs),
        "nothing new starts: a retired instance need not wait for it"
    );
}
