//! Hidden names (a component starting with `.`): never served, written, deleted or
//! listed, in v1 and v2, unless `serve_hidden`.

use super::*;
use crate::config::Config;
use crate::machine::Session;

fn storage() -> Mem {
    let mut st = Mem::new()
        .with("a", b"1")
        .with(".a.sha256", b"secret-digest")
        .with(".partial.0123456789abcdef0123456789abcdef", b"kept")
        .with("d/.x.sha256", b"secret-digest");
    st.dirs.insert("d".into());
    st
}

fn session_with(serve_hidden: bool) -> Session {
    let cfg = Config {
        serve_hidden,
        allow_delete: true,
        allow_overwrite: true,
        ..Config::default()
    };
    Session::new(cfg, "127.0.0.1:5000".into(), 0)
}

#[test]
fn v2_refuses_every_command_on_a_hidden_name_and_lists_none() {
    let mut st = storage();
    let mut s = session_with(false);
    let outs = v2(
        &mut s,
        &mut st,
        0,
        "GET .a.sha256\nGET d/.x.sha256\nSTAT .a.sha256\nHASH .a.sha256\nDELETE .a.sha256\n\
         PUT .a.sha256 1 - overwrite\nLIST .git\nLIST\nLIST d\n",
    );
    let text = written(&outs);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..7],
        ["ERR 403 hidden names are reserved"; 7],
        "{text}"
    );
    assert_eq!(
        lines[7..],
        ["OK 2 2", "f 1 1000 a", "d 0 1000 d", "OK 0 0"],
        "{text}"
    );
    assert!(!outs.iter().any(|o| matches!(o, Output::SendFile { .. })));
    assert!(!text.contains("secret"));
    assert!(st.files.contains_key(".a.sha256"), "deleted a side file");
}

#[test]
fn v1_download_of_a_hidden_name_closes_without_serving() {
    let mut st = storage();
    for req in [&b"1:.a.sha256\n"[..], b"1:d/.x.sha256\n"] {
        let mut s = session_with(false);
        s.handle_bytes(0, req, &mut st);
        let outs = drain(&mut s);
        assert!(closed(&outs), "{req:?}");
        assert!(!outs.iter().any(|o| matches!(o, Output::SendFile { .. })));
    }
    assert!(st.open.is_empty());
}

#[test]
fn serve_hidden_serves_and_lists_them() {
    let mut st = storage();
    let mut s = session_with(true);
    let outs = v2(&mut s, &mut st, 0, "LIST d\nGET d/.x.sha256\n");
    assert_eq!(written(&outs), "OK 1 1\nf 13 1000 .x.sha256\nOK 13 -\n");
    assert_eq!(send_file(&outs).2, 13);

    let mut s = session_with(true);
    s.handle_bytes(0, b"1:.a.sha256\n", &mut st);
    assert_eq!(send_file(&drain(&mut s)).2, 13);
}
