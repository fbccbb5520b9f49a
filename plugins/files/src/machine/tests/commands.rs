//! v2 `LIST`, `STAT`, `DELETE`, `HASH`, `QUIT`.

use sha2::{Digest, Sha256};

use super::*;
use crate::cmd::hex;
use crate::config::Config;
use crate::machine::Session;

#[test]
fn list_stat_and_hidden_names() {
    let mut st = Mem::new()
        .with("b", b"12")
        .with("a b", b"")
        .with(".a.sha256", b"x")
        .with("sub/in", b"1");
    st.dirs.insert("sub".into());
    let mut s = session();
    let outs = v2(
        &mut s,
        &mut st,
        0,
        "LIST\nLIST sub\nSTAT sub\nLIST nope/..\n",
    );
    let text = written(&outs);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("OK 3 3"));
    let mut entries: Vec<&str> = lines.by_ref().take(3).collect();
    entries.sort();
    assert_eq!(entries, ["d 0 1000 sub", "f 0 1000 a%20b", "f 2 1000 b"]);
    assert_eq!(lines.next(), Some("OK 1 1"));
    assert_eq!(lines.next(), Some("f 1 1000 in"));
    assert_eq!(lines.next(), Some("OK d 0 1000"));
    assert_eq!(lines.next(), Some("ERR 403 dot path component"));
}

#[test]
fn list_is_capped() {
    let mut st = Mem::new();
    for i in 0..5 {
        st.files.insert(format!("f{i}"), vec![]);
    }
    let mut s = Session::new(
        Config {
            max_list_entries: 2,
            ..Config::default()
        },
        "p".into(),
        0,
    );
    assert_eq!(
        written(&v2(&mut s, &mut st, 0, "LIST\n")).lines().count(),
        3
    );
}

#[test]
fn delete_only_when_allowed() {
    let mut st = Mem::new().with("f", b"1").with(".f.sha256", b"x");
    let mut s = session();
    assert_eq!(
        written(&v2(&mut s, &mut st, 0, "DELETE f\n")),
        "ERR 405 deleting is disabled on this server\n"
    );
    assert!(st.files.contains_key("f"));
    let mut s = Session::new(
        Config {
            allow_delete: true,
            ..Config::default()
        },
        "p".into(),
        0,
    );
    assert_eq!(
        written(&v2(&mut s, &mut st, 0, "DELETE f\nDELETE f\n")),
        "OK\nERR 404 no such file\n"
    );
    assert!(st.files.is_empty(), "side file removed too");
}

#[test]
fn hash_runs_in_steps_and_is_remembered() {
    let body: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    let mut st = Mem::new().with("big", &body);
    let mut s = Session::new(
        Config {
            hash_step_bytes: 4096,
            ..Config::default()
        },
        "p".into(),
        0,
    );
    let outs = v2(&mut s, &mut st, 0, "HASH big\n");
    assert_eq!(written(&outs), "", "first step only");
    assert_eq!(s.poll_timeout(), Some(0), "next step at once");
    s.handle_timeout(0, &mut st);
    assert_eq!(written(&drain(&mut s)), "");
    s.handle_timeout(0, &mut st);
    let want = hex(&Sha256::digest(&body));
    assert_eq!(written(&drain(&mut s)), format!("OK {want}\n"));
    assert!(st.open.is_empty());
    s.handle_bytes(1, b"HASH big\n", &mut st);
    assert_eq!(
        written(&drain(&mut s)),
        format!("OK {want}\n"),
        "answered from the side file"
    );
    assert!(st.files.contains_key(".big.sha256"));
}

#[test]
fn quit_says_bye_and_closes() {
    let mut st = Mem::new();
    let mut s = session();
    let outs = v2(&mut s, &mut st, 0, "QUIT\nSTAT x\n");
    assert_eq!(written(&outs), "OK bye\n");
    assert!(closed(&outs) && s.is_done());
}
