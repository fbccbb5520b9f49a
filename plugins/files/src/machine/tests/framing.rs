//! Detection, split and coalesced input, malformed lines, timeouts, drain.

use super::*;
use crate::config::Config;
use crate::machine::Session;

#[test]
fn byte_by_byte_equals_coalesced() {
    let mut input = MAGIC.to_vec();
    input.extend_from_slice(b"STAT a\r\nLIST\nGET a\n");
    let run = |chunks: Vec<&[u8]>| {
        let mut st = Mem::new().with("a", b"xyz");
        let mut s = session();
        let mut outs = Vec::new();
        for (i, c) in chunks.into_iter().enumerate() {
            s.handle_bytes(i as u64, c, &mut st);
            outs.extend(drain(&mut s));
        }
        written(&outs)
    };
    let whole = run(vec![&input]);
    assert_eq!(whole, "OK f 3 1000\nOK 1 1\nf 3 1000 a\nOK 3 -\n");
    assert_eq!(run(input.chunks(1).collect()), whole);
    assert_eq!(run(input.chunks(3).collect()), whole);
}

#[test]
fn unknown_protocol_is_closed_without_a_reply() {
    for junk in [&b"GET / HTTP/1.1\r\n"[..], b"\x16\x03\x01", b"5:x", b"1x"] {
        let mut st = Mem::new();
        let mut s = session();
        s.handle_bytes(0, junk, &mut st);
        let outs = drain(&mut s);
        assert!(closed(&outs) && written(&outs).is_empty(), "{junk:?}");
    }
}

#[test]
fn long_lines_and_malformed_lines() {
    let mut st = Mem::new();
    let mut s = Session::new(
        Config {
            max_line_bytes: 64,
            ..Config::default()
        },
        "p".into(),
        0,
    );
    let outs = v2(&mut s, &mut st, 0, "GET \u{1}x\nSTAT a\x00\n");
    assert_eq!(
        written(&outs)
            .lines()
            .filter(|l| l.starts_with("ERR 400"))
            .count(),
        2
    );
    assert!(!closed(&outs));
    s.handle_bytes(1, &[b'a'; 100], &mut st);
    let outs = drain(&mut s);
    assert_eq!(written(&outs), "ERR 414 request line over 64 bytes\n");
    assert!(closed(&outs));
}

#[test]
fn idle_and_header_timeouts() {
    let mut st = Mem::new();
    // Nothing at all: closed after the idle timeout.
    let mut s = session();
    assert_eq!(s.poll_timeout(), Some(60_000));
    s.handle_timeout(59_999, &mut st);
    assert!(drain(&mut s).is_empty(), "early timer ignored");
    s.handle_timeout(60_000, &mut st);
    assert!(closed(&drain(&mut s)));
    // A partial request line: 408 after the header timeout, counted from its first byte.
    let mut s = session();
    v2(&mut s, &mut st, 1_000, "GET a");
    s.handle_bytes(5_000, b"b", &mut st);
    assert_eq!(s.poll_timeout(), Some(11_000));
    s.handle_timeout(11_000, &mut st);
    let outs = drain(&mut s);
    assert_eq!(
        written(&outs),
        "ERR 408 request line not completed in time\n"
    );
    assert!(closed(&outs));
    // Idle between requests.
    let mut s = session();
    v2(&mut s, &mut st, 0, "LIST\n");
    assert_eq!(s.poll_timeout(), Some(60_000));
    s.handle_timeout(60_000, &mut st);
    assert!(closed(&drain(&mut s)));
}

#[test]
fn a_stalled_transfer_is_bounded() {
    let mut st = Mem::new().with("a", &[0u8; 16 * 1024]);
    let mut s = session();
    v2(&mut s, &mut st, 0, "GET a\n");
    assert_eq!(s.poll_timeout(), Some(61_000), "idle + 16 KiB at 16 KiB/s");
    s.handle_timeout(61_000, &mut st);
    let outs = drain(&mut s);
    assert!(closed(&outs));
    assert_eq!(transfers(&outs)[0].result, "timeout");
    assert!(st.open.is_empty());
}

#[test]
fn drain_closes_idle_connections_and_refuses_new_uploads() {
    let mut st = Mem::new();
    let mut s = session();
    v2(&mut s, &mut st, 0, "");
    s.handle_drain(1);
    assert!(closed(&drain(&mut s)));
    let mut s = session();
    v2(&mut s, &mut st, 0, "PUT x 1");
    s.handle_drain(1);
    s.handle_bytes(2, b"\n", &mut st);
    let outs = drain(&mut s);
    assert_eq!(written(&outs), "ERR 503 server shutting down\n");
    assert!(closed(&outs));
}

#[test]
fn huge_timeouts_do_not_overflow() {
    let mut st = Mem::new();
    let cfg = Config {
        header_timeout_secs: u64::MAX,
        idle_timeout_secs: u64::MAX,
        ..Config::default()
    };
    let mut s = Session::new(cfg, "p".into(), 5);
    assert_eq!(s.poll_timeout(), Some(u64::MAX));
    s.handle_bytes(6, b"SYF", &mut st);
    assert_eq!(s.poll_timeout(), Some(u64::MAX));
    s.handle_timeout(u64::MAX - 1, &mut st);
    assert!(drain(&mut s).is_empty());
}
