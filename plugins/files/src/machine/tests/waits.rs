//! The machine on the SDK's `MockHost` through a `StorageWaits`, as `ConnAdapter` runs
//! it: every command, pipelined, on a storage that answers at once (a dir) and on one
//! whose every operation waits (an object store), with the same outputs (replies, log
//! lines, transfer records) and the same files, byte for byte. Then what only a store
//! that waits can do: a connection cut, and a store that never answers, while a step
//! is parked.

use sha2::{Digest, Sha256};
use switchyard_sdk::DrainCause;
use switchyard_sdk::testing::MockHost;
use switchyard_sdk::testing::steps::StepDriver;

use super::*;
use crate::cmd::hex;
use crate::config::Config;
use crate::machine::{Output, Session};

/// A session's storage on the mock, waiting or not (the SDK's driver, with this
/// plugin's scenarios on top).
struct Hosted(StepDriver);

impl std::ops::Deref for Hosted {
    type Target = StepDriver;
    fn deref(&self) -> &StepDriver {
        &self.0
    }
}

impl std::ops::DerefMut for Hosted {
    fn deref_mut(&mut self) -> &mut StepDriver {
        &mut self.0
    }
}

impl Hosted {
    fn new(wait: bool) -> Hosted {
        let mut host = MockHost::new();
        host.storage_waits = wait;
        host.files.insert("a".into(), b"hello".to_vec());
        host.files.insert("d/x".into(), b"1".to_vec());
        host.files
            .insert("big".into(), (0..10_000u32).map(|i| i as u8).collect());
        Hosted(StepDriver::new(host))
    }

    /// One input, answered: its outputs.
    fn input(
        &mut self,
        s: &mut Session,
        now: u64,
        f: impl FnOnce(&mut Session, &mut dyn Storage),
    ) -> Vec<Output> {
        self.hold(s, now, f);
        self.answer(s, now);
        drain(s)
    }

    /// Bytes from the client, then every download finished in full at `now + 1`.
    fn bytes(&mut self, s: &mut Session, now: u64, data: &[u8]) -> Vec<Output> {
        let mut outs = self.input(s, now, |s, st| s.handle_bytes(now, data, st));
        let mut seen = 0;
        while let Some((len, token)) = outs[seen..].iter().find_map(|o| match o {
            Output::SendFile { len, token, .. } => Some((*len, *token)),
            _ => None,
        }) {
            seen = outs.len();
            let more = self.input(s, now + 1, |s, st| {
                s.handle_file_sent(now + 1, token, Ok(len), st)
            });
            outs.extend(more);
        }
        outs
    }

    /// A `PUT`'s body, all sent with its request line: the host's receive of the rest
    /// (none) ends with the body's digest.
    fn put(&mut self, s: &mut Session, now: u64, line: &str, body: &[u8]) -> Vec<Output> {
        let mut data = line.as_bytes().to_vec();
        data.extend_from_slice(body);
        let mut outs = self.bytes(s, now, &data);
        if let Some((_, len, token)) = outs.iter().find_map(|o| match o {
            Output::RecvToFile { file, len, token } => Some((*file, *len, *token)),
            _ => None,
        }) {
            let sha: [u8; 32] = Sha256::digest(body).into();
            let r = Ok((len, Some(sha)));
            outs.extend(self.input(s, now + 1, |s, st| {
                s.handle_file_received(now + 1, token, r, st)
            }));
        }
        outs
    }
}

/// Run `script` on a dir and on a store that waits; the same outputs and files, the
/// waiting run having parked. The dir run's outputs, for the script's own checks.
fn same_on_both(
    cfg: &Config,
    script: impl Fn(&mut Hosted, &mut Session) -> Vec<Output>,
) -> Vec<Output> {
    let run = |wait: bool| {
        let mut h = Hosted::new(wait);
        let mut s = Session::new(cfg.clone(), "127.0.0.1:5000".into(), 0);
        let outs = script(&mut h, &mut s);
        (outs, h)
    };
    let (dir_outs, dir) = run(false);
    let (wait_outs, waited) = run(true);
    assert_eq!(dir.reruns, 0);
    assert!(waited.reruns > 0, "the store that waits made steps wait");
    assert_eq!(wait_outs, dir_outs, "outputs differ");
    assert_eq!(waited.host.files, dir.host.files, "files differ");
    assert_eq!(waited.host.open_files(), 0, "a handle left open");
    assert_eq!(dir.host.open_files(), 0, "a handle left open");
    assert_eq!(waited.host.storage_in_flight(), 0);
    dir_outs
}

fn v2_line(lines: &str) -> Vec<u8> {
    let mut data = MAGIC.to_vec();
    data.extend_from_slice(lines.as_bytes());
    data
}

#[test]
fn every_v2_command_answers_the_same_on_a_store_that_waits() {
    let cfg = Config {
        allow_delete: true,
        allow_overwrite: true,
        ..Config::default()
    };
    let outs = same_on_both(&cfg, |h, s| {
        let mut outs = h.bytes(s, 1, &v2_line("STAT a\nLIST\nLIST d\nGET a 1\nSTAT d\n"));
        outs.extend(h.put(s, 10, "PUT b 3\n", b"abc"));
        outs.extend(h.put(s, 20, "PUT b 2 - overwrite\n", b"xy"));
        outs.extend(h.bytes(
            s,
            30,
            b"GET b\nHASH a\nHASH b\nGET zz\nGET a 99\nSTAT nope\nDELETE b\nSTAT b\nDELETE d\nQUIT\n",
        ));
        outs
    });
    let text = written(&outs);
    let sha_xy = hex(&Sha256::digest(b"xy"));
    let sha_a = hex(&Sha256::digest(b"hello"));
    for want in [
        "OK f 5 0\n",
        "OK 4 -\nOK d 0 0\n",
        "CONTINUE\nOK b 3 ",
        &format!("OK b 2 {sha_xy}\n"),
        &format!("OK 2 {sha_xy}\nOK {sha_a}\nOK {sha_xy}\nERR 404 no such file\nERR 416 "),
        "ERR 404 no such file\nOK\nERR 404 no such file\nERR 412 not a file\nOK bye\n",
    ] {
        assert!(text.contains(want), "{want:?} in {text}");
    }
    assert!(closed(&outs));
}

#[test]
fn put_refusals_and_failures_are_the_same_on_a_store_that_waits() {
    let outs = same_on_both(&Config::default(), |h, s| {
        let mut outs = h.put(s, 1, &String::from_utf8(v2_line("PUT a 1\n")).unwrap(), b"");
        outs.extend(h.put(s, 2, &format!("PUT n 2 {}\n", "00".repeat(32)), b"no"));
        outs.extend(h.put(s, 3, "PUT nodir/n 1\n", b"z"));
        outs.extend(h.put(s, 4, "PUT e 0\n", b""));
        outs
    });
    let text = written(&outs);
    assert!(
        text.starts_with("ERR 409 already exists\nCONTINUE\nERR 422 sha256 mismatch\n"),
        "{text}"
    );
    assert!(text.contains("OK e 0 "), "{text}");
}

#[test]
fn a_hash_in_steps_is_the_same_on_a_store_that_waits() {
    let cfg = Config {
        hash_step_bytes: 4096,
        ..Config::default()
    };
    let outs = same_on_both(&cfg, |h, s| {
        let mut outs = h.bytes(s, 1, &v2_line("HASH big\nHASH big\n"));
        while let Some(t) = s.poll_timeout().filter(|_| s.busy()) {
            outs.extend(h.input(s, t, |s, st| s.handle_timeout(t, st)));
        }
        outs
    });
    let sha = hex(&Sha256::digest(
        (0..10_000u32).map(|i| i as u8).collect::<Vec<u8>>(),
    ));
    assert_eq!(written(&outs), format!("OK {sha}\nOK {sha}\n"));
}

#[test]
fn v1_requests_are_the_same_on_a_store_that_waits() {
    let outs = same_on_both(&Config::default(), |h, s| {
        let mut outs = h.bytes(s, 1, b"1:a\n");
        let mut up = Session::new(Config::default(), "127.0.0.1:5001".into(), 0);
        outs.extend(h.bytes(&mut up, 2, b"2:some "));
        outs.extend(h.bytes(&mut up, 3, b"bytes"));
        outs.extend(h.input(&mut up, 4, |s, st| s.handle_eof(4, st)));
        let mut missing = Session::new(Config::default(), "127.0.0.1:5002".into(), 0);
        outs.extend(h.bytes(&mut missing, 5, b"1:zz\n"));
        outs
    });
    let text = written(&outs);
    assert!(text.ends_with(".txt\n") && text.len() == 9, "{text:?}");
    assert_eq!(transfers(&outs).len(), 3);
}

#[test]
fn requests_sent_while_a_step_waits_run_after_it_in_order() {
    let mut h = Hosted::new(true);
    let mut s = session();
    h.hold(&mut s, 1, |s, st| {
        s.handle_bytes(1, &v2_line("STAT a\n"), st)
    });
    assert!(drain(&mut s).is_empty(), "nothing said before the answer");
    assert!(s.busy());
    h.hold(&mut s, 2, |s, st| {
        s.handle_bytes(2, b"STAT d/x\nQUIT\n", st)
    });
    assert!(drain(&mut s).is_empty(), "later requests wait");
    h.answer(&mut s, 3);
    let outs = drain(&mut s);
    assert_eq!(written(&outs), "OK f 5 0\nOK f 1 0\nOK bye\n");
}

#[test]
fn a_connection_cut_while_a_step_waits_leaves_no_handle_and_no_file() {
    for line in ["GET a\n", "PUT n 3\nabc", "HASH a\n"] {
        let mut h = Hosted::new(true);
        let mut s = session();
        h.hold(&mut s, 1, |s, st| s.handle_bytes(1, &v2_line(line), st));
        assert_eq!(h.host.storage_in_flight(), 1, "{line}");
        h.hold(&mut s, 2, |s, st| {
            s.handle_closed(2, "connection reset", st)
        });
        let outs = drain(&mut s);
        assert!(logged(&outs, "result=aborted"), "{line}: {outs:?}");
        assert!(written(&outs).is_empty());
        // The answer comes after the cut: what it opened is closed.
        h.answer(&mut s, 3);
        assert!(drain(&mut s).is_empty(), "{line}: nothing more is said");
        assert_eq!(h.host.open_files(), 0, "{line}: a handle left open");
        assert!(!h.host.files.contains_key("n"), "{line}");
        assert!(s.is_done());
    }
}

#[test]
fn a_connection_cut_while_a_commit_waits_stores_nothing() {
    let mut h = Hosted::new(true);
    let mut s = session();
    let outs = h.bytes(&mut s, 1, &v2_line("PUT n 3\nabc"));
    let token = recv_to_file(&outs).2;
    let sha: [u8; 32] = Sha256::digest(b"abc").into();
    h.hold(&mut s, 2, |s, st| {
        s.handle_file_received(2, token, Ok((0, Some(sha))), st)
    });
    assert_eq!(h.host.storage_in_flight(), 1, "the commit waits");
    h.hold(&mut s, 3, |s, st| {
        s.handle_closed(3, "connection reset", st)
    });
    let outs = drain(&mut s);
    assert_eq!(transfers(&outs)[0].result, "aborted");
    h.answer(&mut s, 4);
    assert_eq!(h.host.open_files(), 0);
    assert!(
        !h.host.files.contains_key("n"),
        "the cut upload is not stored"
    );
}

#[test]
fn a_store_that_never_answers_ends_in_a_timeout_error() {
    let mut h = Hosted::new(true);
    let mut s = session();
    h.hold(&mut s, 1, |s, st| {
        s.handle_bytes(1, &v2_line("LIST\nSTAT a\n"), st)
    });
    let deadline = s.poll_timeout().expect("a deadline while parked");
    assert_eq!(deadline, 1 + Config::default().idle_ms());
    h.hold(&mut s, deadline - 1, |s, st| {
        s.handle_timeout(deadline - 1, st)
    });
    assert!(drain(&mut s).is_empty(), "not before the deadline");
    h.hold(&mut s, deadline, |s, st| s.handle_timeout(deadline, st));
    let outs = drain(&mut s);
    assert_eq!(written(&outs), "ERR 408 storage did not answer in time\n");
    assert!(closed(&outs));
    assert!(logged(&outs, "cmd=LIST") && logged(&outs, "result=timeout"));
    assert_eq!(s.poll_timeout(), None);
    // A late answer changes nothing.
    h.answer(&mut s, deadline + 5);
    assert!(drain(&mut s).is_empty());
    assert_eq!(h.host.open_files(), 0);
}

#[test]
fn a_v1_upload_whose_commit_never_answers_is_cut_without_a_name() {
    let mut h = Hosted::new(true);
    let mut s = session();
    h.bytes(&mut s, 1, b"2:data");
    h.hold(&mut s, 2, |s, st| s.handle_eof(2, st));
    drain(&mut s);
    let deadline = s.poll_timeout().expect("a deadline while parked");
    h.hold(&mut s, deadline, |s, st| s.handle_timeout(deadline, st));
    let outs = drain(&mut s);
    assert!(written(&outs).is_empty(), "v1 has no error channel");
    assert!(closed(&outs));
    assert_eq!(transfers(&outs)[0].result, "timeout");
    h.answer(&mut s, deadline + 1);
    assert_eq!(h.host.open_files(), 0);
    assert_eq!(h.host.files.len(), 3, "nothing stored");
}

#[test]
fn the_drain_deadline_while_a_step_waits_says_goodbye() {
    let mut h = Hosted::new(true);
    let mut s = session();
    h.hold(&mut s, 1, |s, st| {
        s.handle_bytes(1, &v2_line("GET a\n"), st)
    });
    s.handle_drain(2);
    assert!(s.busy(), "a parked request is waited for");
    h.hold(&mut s, 3, |s, st| {
        s.handle_drain_deadline(3, DrainCause::Shutdown, st)
    });
    let outs = drain(&mut s);
    assert_eq!(written(&outs), "ERR 503 server shutting down\n");
    assert!(closed(&outs));
    h.answer(&mut s, 4);
    assert_eq!(h.host.open_files(), 0);
}
