//! v2 `GET`: headers, sendfile, offsets, digests, failures, pipelining.

use sha2::{Digest, Sha256};
use switchyard_sdk::HostError;

use super::*;
use crate::cmd::hex;
use crate::config::Config;
use crate::machine::{Output, Session};

#[test]
fn get_sends_header_then_the_file_with_sendfile() {
    let mut st = Mem::new().with("a.txt", b"hello");
    let mut s = session();
    let outs = v2(&mut s, &mut st, 1, "GET a.txt\n");
    assert_eq!(written(&outs), "OK 5 -\n");
    let (file, offset, len, token) = send_file(&outs);
    assert_eq!((offset, len), (0, 5));
    assert!(s.busy());
    s.handle_file_sent(7, token, Ok(5), &mut st);
    let outs = drain(&mut s);
    let t = transfers(&outs);
    assert_eq!(t.len(), 1);
    assert_eq!(
        (
            t[0].direction.as_str(),
            t[0].bytes,
            t[0].duration_ms,
            t[0].result.as_str()
        ),
        ("download", 5, 6, "ok")
    );
    assert!(
        !st.open.contains_key(&file.0),
        "the handle is closed after the send"
    );
    assert!(!closed(&outs) && !s.busy());
}

#[test]
fn get_with_offset_and_empty_file() {
    let mut st = Mem::new().with("a", b"0123456789").with("empty", b"");
    let mut s = session();
    let outs = v2(&mut s, &mut st, 0, "GET a 4\n");
    assert_eq!(written(&outs), "OK 6 -\n");
    let (_, offset, len, token) = send_file(&outs);
    assert_eq!((offset, len), (4, 6));
    s.handle_file_sent(1, token, Ok(6), &mut st);
    drain(&mut s);
    s.handle_bytes(2, b"GET empty\nGET a 10\nGET a 11\n", &mut st);
    let outs = drain(&mut s);
    assert_eq!(
        written(&outs),
        "OK 0 -\nOK 0 -\nERR 416 offset past the end of the file\n"
    );
    assert!(
        !outs.iter().any(|o| matches!(o, Output::SendFile { .. })),
        "nothing to send for 0 bytes"
    );
    assert!(st.open.is_empty());
}

#[test]
fn errors_keep_the_connection_usable() {
    let mut st = Mem::new().with("ok", b"x");
    st.dirs.insert("sub".into());
    let mut s = session();
    let outs = v2(
        &mut s,
        &mut st,
        0,
        "GET missing\nGET ../etc/passwd\nGET /etc/passwd\nGET a%2F..%2F..%2Fx\nGET sub\nFETCH x\nGET .ok.sha256\nSTAT ok\n",
    );
    let text = written(&outs);
    let codes: Vec<&str> = text
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap_or(""))
        .collect();
    assert_eq!(
        codes,
        ["404", "403", "403", "403", "412", "400", "403", "f"],
        "{text}"
    );
    assert!(!closed(&outs));
}

#[test]
fn get_digest_comes_from_the_side_file_while_it_matches() {
    let body = b"some bytes";
    let digest = hex(&Sha256::digest(body));
    let mut st = Mem::new()
        .with("f", body)
        .with(".f.sha256", format!("{digest} 10 1000\n").as_bytes());
    let mut s = session();
    let outs = v2(&mut s, &mut st, 0, "GET f\n");
    assert_eq!(written(&outs), format!("OK 10 {digest}\n"));
    // A stale side file (size differs) is not trusted.
    st.files.insert("f".into(), b"changed!".to_vec());
    let (_, _, _, token) = send_file(&outs);
    s.handle_file_sent(1, token, Ok(10), &mut st);
    drain(&mut s);
    s.handle_bytes(2, b"GET f\n", &mut st);
    assert_eq!(written(&drain(&mut s)), "OK 8 -\n");
}

#[test]
fn failed_send_closes_and_records_the_failure() {
    let mut st = Mem::new().with("a", b"abc");
    let mut s = session();
    let (_, _, _, token) = send_file(&v2(&mut s, &mut st, 0, "GET a\n"));
    s.handle_file_sent(5, token, Err(HostError::Closed), &mut st);
    let outs = drain(&mut s);
    assert!(closed(&outs));
    assert_eq!(transfers(&outs)[0].result, "aborted");
    assert!(logged(&outs, "result=aborted reason=\"closed\""));
    assert!(st.open.is_empty());
    // A stale completion is ignored.
    s.handle_file_sent(6, token, Ok(3), &mut st);
    assert!(drain(&mut s).is_empty());
}

#[test]
fn pipelined_requests_wait_for_the_transfer() {
    let mut st = Mem::new().with("a", b"abc");
    let mut s = session();
    let outs = v2(&mut s, &mut st, 0, "GET a\nSTAT a\nQUIT\n");
    assert_eq!(written(&outs), "OK 3 -\n");
    let (_, _, _, token) = send_file(&outs);
    s.handle_file_sent(1, token, Ok(3), &mut st);
    let outs = drain(&mut s);
    assert_eq!(written(&outs), "OK f 3 1000\nOK bye\n");
    assert!(closed(&outs));
}

#[test]
fn reading_pauses_when_pipelined_requests_pile_up() {
    let mut st = Mem::new().with("a", b"abc");
    let cfg = Config {
        max_line_bytes: 64,
        ..Config::default()
    };
    let mut s = Session::new(cfg, "p".into(), 0);
    let (_, _, _, token) = send_file(&v2(&mut s, &mut st, 0, "GET a\n"));
    s.handle_bytes(1, "STAT a\n".repeat(10).as_bytes(), &mut st);
    assert_eq!(drain(&mut s), vec![Output::SetReading(false)]);
    s.handle_file_sent(2, token, Ok(3), &mut st);
    let outs = drain(&mut s);
    assert_eq!(written(&outs).lines().count(), 10);
    assert!(outs.contains(&Output::SetReading(true)));
}
