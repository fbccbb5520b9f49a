//! v2 `PUT`: receive into a temp, digests, refusals, failures.

use sha2::{Digest, Sha256};
use switchyard_sdk::HostError;

use super::*;
use crate::cmd::hex;
use crate::config::Config;
use crate::machine::{Output, Session};

#[test]
fn put_receives_into_a_temp_and_commits_with_the_digest() {
    let mut st = Mem::new();
    let mut s = session();
    let body = b"bin\0ary\r\n:colons:";
    let outs = v2(&mut s, &mut st, 0, &format!("PUT up.bin {}\n", body.len()));
    assert_eq!(written(&outs), "CONTINUE\n");
    let (file, len, token) = recv_to_file(&outs);
    assert_eq!(len, body.len() as u64);
    assert!(st.visible().is_empty(), "nothing visible before the commit");
    st.receive(file, body);
    let digest = st.sha_of(file);
    s.handle_file_received(9, token, Ok((len, Some(digest))), &mut st);
    let outs = drain(&mut s);
    let hexd = hex(&digest);
    assert_eq!(written(&outs), format!("OK up.bin {} {hexd}\n", body.len()));
    assert_eq!(st.files["up.bin"], body);
    assert!(
        st.files.contains_key(".up.bin.sha256"),
        "digest remembered for GET"
    );
    let t = transfers(&outs);
    assert_eq!(
        (t[0].direction.as_str(), t[0].sha256.as_deref()),
        ("upload", Some(hexd.as_str()))
    );
    // And a GET now announces it.
    s.handle_bytes(10, b"GET up.bin\n", &mut st);
    assert_eq!(
        written(&drain(&mut s)),
        format!("OK {} {hexd}\n", body.len())
    );
}

#[test]
fn put_bytes_sent_with_the_request_go_to_the_file_first() {
    let mut st = Mem::new();
    let mut s = session();
    let outs = v2(&mut s, &mut st, 0, "PUT x 10\nhello");
    let (file, len, token) = recv_to_file(&outs);
    assert_eq!(len, 5, "5 of 10 bytes already came with the request");
    assert_eq!(st.open[&file.0].0, b"hello");
    st.receive(file, b"world");
    let d = st.sha_of(file);
    s.handle_file_received(1, token, Ok((5, Some(d))), &mut st);
    drain(&mut s);
    assert_eq!(st.files["x"], b"helloworld");
}

#[test]
fn put_of_zero_bytes_still_goes_through_the_host_for_the_digest() {
    let mut st = Mem::new();
    let mut s = session();
    let (file, len, token) = recv_to_file(&v2(&mut s, &mut st, 0, "PUT empty 0\n"));
    assert_eq!(len, 0);
    let d = st.sha_of(file);
    s.handle_file_received(1, token, Ok((0, Some(d))), &mut st);
    assert_eq!(
        written(&drain(&mut s)),
        format!("OK empty 0 {}\n", hex(&Sha256::digest(b"")))
    );
    assert_eq!(st.files["empty"], b"");
}

#[test]
fn put_with_a_wrong_digest_stores_nothing_and_goes_on() {
    let mut st = Mem::new();
    let mut s = session();
    let wrong = "0".repeat(64);
    let (file, _, token) = recv_to_file(&v2(&mut s, &mut st, 0, &format!("PUT x 3 {wrong}\n")));
    st.receive(file, b"abc");
    let d = st.sha_of(file);
    s.handle_file_received(1, token, Ok((3, Some(d))), &mut st);
    let outs = drain(&mut s);
    assert_eq!(written(&outs), "ERR 422 sha256 mismatch\n");
    assert!(!closed(&outs));
    assert!(
        st.visible().is_empty() && st.open.is_empty(),
        "temp deleted"
    );
}

#[test]
fn put_refusals_come_before_any_byte_is_sent() {
    let mut st = Mem::new().with("exists", b"old");
    st.free = 100 << 20;
    let cfg = Config {
        max_upload_bytes: 1 << 30,
        ..Config::default()
    };
    let mut s = Session::new(cfg, "p".into(), 0);
    let outs = v2(
        &mut s,
        &mut st,
        0,
        "PUT exists 1\nPUT exists 1 - overwrite\nPUT big 2000000000\nPUT roomy 50000000\nPUT nodir/x 1\nPUT ../x 1\n",
    );
    assert_eq!(
        written(&outs),
        "ERR 409 already exists\n\
         ERR 405 overwriting is disabled on this server\n\
         ERR 413 size over the limit of 1073741824 bytes\n\
         ERR 507 not enough free space for this size\n\
         ERR 404 no such file\n\
         ERR 400 dot path component\n"
            .replace("ERR 400 dot", "ERR 403 dot")
    );
    assert!(!outs.iter().any(|o| matches!(o, Output::RecvToFile { .. })));
    assert_eq!(st.files["exists"], b"old");
    // Each refused PUT is a transfer record (naming no file); the unparsable one not.
    let recorded: Vec<(&str, &str, &str)> = transfers(&outs)
        .iter()
        .map(|t| (t.direction.as_str(), t.file.as_str(), t.result.as_str()))
        .collect();
    let refused = ("upload", "", "refused");
    assert_eq!(
        recorded,
        [
            refused,
            refused,
            refused,
            refused,
            ("upload", "", "not_found")
        ]
    );
    assert!(logged(
        &outs,
        "cmd=PUT proto=v2 peer=p file=\"big\" result=refused code=413"
    ));
}

#[test]
fn put_overwrite_when_allowed() {
    let mut st = Mem::new().with("f", b"old");
    let cfg = Config {
        allow_overwrite: true,
        ..Config::default()
    };
    let mut s = Session::new(cfg, "p".into(), 0);
    let (file, _, token) = recv_to_file(&v2(&mut s, &mut st, 0, "PUT f 3 - overwrite\n"));
    st.receive(file, b"new");
    let d = st.sha_of(file);
    s.handle_file_received(1, token, Ok((3, Some(d))), &mut st);
    assert!(written(&drain(&mut s)).starts_with("OK f 3 "));
    assert_eq!(st.files["f"], b"new");
}

#[test]
fn client_gone_mid_upload_leaves_nothing() {
    let mut st = Mem::new();
    let mut s = session();
    let (file, _, token) = recv_to_file(&v2(&mut s, &mut st, 0, "PUT x 1000\n"));
    st.receive(file, b"partial");
    s.handle_eof(1, &mut st);
    assert!(
        drain(&mut s).is_empty(),
        "EOF alone waits for the host's verdict"
    );
    s.handle_file_received(2, token, Err(HostError::Closed), &mut st);
    let outs = drain(&mut s);
    assert!(closed(&outs));
    assert_eq!(transfers(&outs)[0].result, "aborted");
    assert!(logged(
        &outs,
        "result=aborted code=500 reason=\"client closed mid-upload\""
    ));
    assert!(st.visible().is_empty() && st.open.is_empty());
}

#[test]
fn connection_reset_mid_upload_releases_the_temp() {
    let mut st = Mem::new();
    let mut s = session();
    recv_to_file(&v2(&mut s, &mut st, 0, "PUT x 1000\n"));
    s.handle_closed(1, "connection closed", &mut st);
    assert!(st.open.is_empty() && st.visible().is_empty());
    assert!(s.is_done());
}

/// EIO while the host writes the body (a failing disk): `ERR 500`, nothing visible,
/// the temp released, the failure recorded.
#[test]
fn an_io_error_mid_upload_is_err_500_and_stores_nothing() {
    let mut st = Mem::new();
    let mut s = session();
    let (file, _, token) = recv_to_file(&v2(&mut s, &mut st, 0, "PUT x 1000\n"));
    st.receive(file, &[1; 500]);
    s.handle_file_received(1, token, Err(HostError::Io), &mut st);
    let outs = drain(&mut s);
    assert!(written(&outs).starts_with("ERR 500 "), "{}", written(&outs));
    assert_ne!(transfers(&outs)[0].result, "ok");
    assert!(st.open.is_empty() && st.visible().is_empty());
}
