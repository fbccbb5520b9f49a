//! The seed protocol: downloads, uploads, names, refusals.

use switchyard_sdk::{HostError, Level};

use super::*;
use crate::config::Config;
use crate::machine::{Output, Session};

#[test]
fn v1_download_after_the_settle_time() {
    let mut st = Mem::new().with("hello.txt", "中文 text\n".as_bytes());
    let mut s = session();
    s.handle_bytes(0, b"1:hello", &mut st);
    s.handle_bytes(30, b".txt", &mut st);
    assert!(drain(&mut s).is_empty());
    assert_eq!(s.poll_timeout(), Some(130));
    s.handle_timeout(130, &mut st);
    let outs = drain(&mut s);
    let (_, offset, len, token) = send_file(&outs);
    assert_eq!((offset, len), (0, "中文 text\n".len() as u64));
    assert!(written(&outs).is_empty(), "v1 sends the bare bytes");
    s.handle_file_sent(140, token, Ok(len), &mut st);
    let outs = drain(&mut s);
    assert!(closed(&outs));
    assert_eq!(transfers(&outs)[0].result, "ok");
}

#[test]
fn v1_name_ends_at_a_line_end_or_eof() {
    let mut st = Mem::new().with("a", b"1");
    let mut s = session();
    s.handle_bytes(0, b"1:a\r\n", &mut st);
    assert_eq!(send_file(&drain(&mut s)).2, 1);
    let mut s = session();
    s.handle_bytes(0, b"1:a", &mut st);
    s.handle_eof(1, &mut st);
    assert_eq!(send_file(&drain(&mut s)).2, 1);
}

#[test]
fn v1_refusals_close_without_serving() {
    let mut st = Mem::new().with("a", b"1");
    for req in [
        &b"1:../../etc/passwd\n"[..],
        b"1:/etc/passwd\n",
        b"1:missing\n",
        b"1:\n",
        b"1:\xff\n",
    ] {
        let mut s = session();
        s.handle_bytes(0, req, &mut st);
        let outs = drain(&mut s);
        assert!(closed(&outs), "{req:?}");
        assert!(!outs.iter().any(|o| matches!(o, Output::SendFile { .. })));
        assert!(written(&outs).is_empty());
    }
    assert!(st.open.is_empty());
}

#[test]
fn v1_upload_is_byte_exact_and_named_on_close() {
    let mut st = Mem::new();
    let mut s = session();
    s.handle_bytes(0, b"2:a:b:c\r\n", &mut st);
    s.handle_bytes(1, b"\x00\xff more", &mut st);
    assert!(st.visible().is_empty());
    s.handle_eof(2, &mut st);
    let outs = drain(&mut s);
    let names = st.visible();
    assert_eq!(names.len(), 1);
    let name = &names[0];
    assert!(name.len() == 8 && name.ends_with(".txt"), "{name}");
    assert_eq!(st.files[name], b"a:b:c\r\n\x00\xff more");
    assert_eq!(written(&outs), format!("{name}\n"));
    assert!(closed(&outs));
}

#[test]
fn v1_upload_ends_after_idle_silence_too() {
    let mut st = Mem::new();
    let mut s = session();
    s.handle_bytes(0, b"2:data", &mut st);
    assert_eq!(s.poll_timeout(), Some(60_000));
    s.handle_timeout(60_000, &mut st);
    assert!(closed(&drain(&mut s)));
    assert_eq!(st.visible().len(), 1);
}

#[test]
fn v1_uploads_never_share_a_name() {
    let mut st = Mem::new();
    let mut a = session();
    let mut b = session();
    a.handle_bytes(0, b"2:first", &mut st);
    b.handle_bytes(0, b"2:second", &mut st);
    a.handle_eof(1, &mut st);
    // Pretend b listed the root before a's commit: the no-replace commit still saves it.
    st.unlisted = st.files.keys().cloned().collect();
    b.handle_eof(1, &mut st);
    let mut bodies: Vec<Vec<u8>> = st.files.values().cloned().collect();
    bodies.sort();
    assert_eq!(bodies, [b"first".to_vec(), b"second".to_vec()]);
}

#[test]
fn v1_upload_reset_or_failure_leaves_nothing() {
    let mut st = Mem::new();
    let mut s = session();
    s.handle_bytes(0, b"2:partial", &mut st);
    s.handle_closed(1, "connection closed", &mut st);
    assert!(st.visible().is_empty() && st.open.is_empty());

    let mut s = Session::new(
        Config {
            max_upload_bytes: 4,
            ..Config::default()
        },
        "p".into(),
        0,
    );
    s.handle_bytes(0, b"2:12345", &mut st);
    assert!(closed(&drain(&mut s)));
    assert!(st.visible().is_empty() && st.open.is_empty());

    st.fail_writes = Some(HostError::NoSpace);
    let mut s = session();
    s.handle_bytes(0, b"2:x", &mut st);
    let outs = drain(&mut s);
    assert!(closed(&outs));
    assert_eq!(transfers(&outs)[0].result, "error");
    assert!(logged(&outs, "result=error reason=\"no space left\""));
    assert!(st.visible().is_empty() && st.open.is_empty());
}

#[test]
fn v1_quit_is_logged() {
    let mut st = Mem::new();
    let mut s = session();
    s.handle_bytes(0, "0:客户端已退出".as_bytes(), &mut st);
    s.handle_eof(1, &mut st);
    let outs = drain(&mut s);
    assert!(
        outs.iter()
            .any(|o| matches!(o, Output::Log(Level::Info, l) if l.contains("客户端已退出")))
    );
    assert!(closed(&outs));
}

#[test]
fn v1_can_be_disabled() {
    let mut st = Mem::new().with("a", b"1");
    let mut s = Session::new(
        Config {
            v1: false,
            ..Config::default()
        },
        "p".into(),
        0,
    );
    s.handle_bytes(0, b"1:a\n", &mut st);
    let outs = drain(&mut s);
    assert!(closed(&outs) && !outs.iter().any(|o| matches!(o, Output::SendFile { .. })));
}
