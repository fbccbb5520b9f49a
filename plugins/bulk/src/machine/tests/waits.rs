//! The machine on the SDK's `MockHost` through a `StorageWaits`, as `ConnAdapter` runs
//! it: v1 and v2 uploads, resume, downloads and probes on a storage that answers at
//! once (a dir) and on one whose every operation waits (an object store), with the
//! same outputs (replies, log lines, records) and the same files, byte for byte. Then
//! what only a store that waits can do: a cut, a timeout and the drain deadline while
//! a step is parked, and body bytes that arrive meanwhile.

use switchyard_sdk::DrainCause;
use switchyard_sdk::testing::MockHost;
use switchyard_sdk::testing::steps::StepDriver;

use super::*;

/// A connection's storage on the mock, waiting or not (the SDK's driver, with this
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
        host.files
            .insert("incoming/old.bin".into(), b"old".to_vec());
        host.files
            .insert("incoming/v1-000004.bin".into(), b"v1".to_vec());
        Hosted(StepDriver::new(host))
    }

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

    /// A transfer on a new connection: `head` sent, then the host receives `rest`
    /// into the temp (whose whole content is then `whole`) or sends the file.
    fn transfer(&mut self, config: &str, head: &[u8], rest: &[u8], whole: &[u8]) -> Vec<Output> {
        let mut s = session(config);
        let mut out = self.input(&mut s, 1, |s, st| s.handle_bytes(1, head, st));
        if let Some((file, len, token)) = recv_of(&out) {
            assert_eq!(len, rest.len() as u64);
            self.host
                .with_ctx(2, |cx| cx.write_file(file, rest))
                .unwrap();
            let r = Ok((len, Some(sha(whole))));
            out.extend(self.input(&mut s, 2, |s, st| s.handle_file_received(2, token, r, st)));
        }
        if let Some((len, token)) = out.iter().find_map(|o| match o {
            Output::SendFile { len, token, .. } => Some((*len, *token)),
            _ => None,
        }) {
            out.extend(self.input(&mut s, 3, |s, st| s.handle_file_sent(3, token, Ok(len), st)));
        }
        assert!(s.is_done(), "the transfer ended");
        out
    }
}

/// Run `script` on a dir and on a store that waits; the same outputs and files, the
/// waiting run having parked. The dir run's outputs, for the script's own checks.
fn same_on_both(script: impl Fn(&mut Hosted) -> Vec<Output>) -> Vec<Output> {
    let run = |wait: bool| {
        let mut h = Hosted::new(wait);
        let out = script(&mut h);
        (out, h)
    };
    let (dir_out, dir) = run(false);
    let (wait_out, waited) = run(true);
    assert_eq!(dir.reruns, 0);
    assert!(waited.reruns > 0, "the store that waits made steps wait");
    assert_eq!(wait_out, dir_out, "outputs differ");
    assert_eq!(waited.host.files, dir.host.files, "files differ");
    assert_eq!(waited.host.open_files(), 0, "a handle left open");
    assert_eq!(dir.host.open_files(), 0, "a handle left open");
    assert_eq!(waited.host.storage_in_flight(), 0);
    dir_out
}

fn v1_head(body: &[u8]) -> Vec<u8> {
    let mut w = (body.len() as i32).to_be_bytes().to_vec();
    w.extend_from_slice(body);
    w
}

#[test]
fn uploads_are_the_same_on_a_store_that_waits() {
    let body: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let out = same_on_both(|h| {
        let mut out = Vec::new();
        // Whole with the header, v2 with the digest first.
        let mut w = wire(Request::Put(Put {
            digest: Some(sha(&body)),
            ..put("a.bin", 5000)
        }));
        w.extend_from_slice(&body);
        out.extend(h.transfer("", &w, b"", &body));
        // The same name again: a suffix. The rest received by the host.
        let w = wire(Request::Put(put("a.bin", 5000)));
        out.extend(h.transfer("", &w, &body, &body));
        // Replace, allowed; digest last; a wrong digest.
        let mut w = wire(Request::Put(Put {
            replace: true,
            ..put("old.bin", 3)
        }));
        w.extend_from_slice(b"new");
        out.extend(h.transfer("(allow_overwrite: true)", &w, b"", b"new"));
        let mut w = wire(Request::Put(Put {
            digest_last: true,
            ..put("last.bin", 2)
        }));
        w.extend_from_slice(b"zz");
        w.extend_from_slice(&sha(b"zz"));
        out.extend(h.transfer("", &w, b"", b"zz"));
        let mut w = wire(Request::Put(Put {
            digest: Some(sha(b"right")),
            ..put("bad.bin", 5)
        }));
        w.extend_from_slice(b"wrong");
        out.extend(h.transfer("", &w, b"", b"wrong"));
        // v1: numbered after the highest there.
        out.extend(h.transfer("", &v1_head(b"seed"), b"", b"seed"));
        out.extend(h.transfer("", &v1_head(b"seed2"), b"", b"seed2"));
        out
    });
    let r = replies(&out);
    let got: Vec<(Status, &str)> = r.iter().map(|r| (r.status, r.text.as_str())).collect();
    assert_eq!(
        got[..4],
        [
            (Status::Ok, "a.bin"),
            (Status::Ok, "a-1.bin"),
            (Status::Ok, "old.bin"),
            (Status::Ok, "last.bin"),
        ]
    );
    assert_eq!(r[4].status, Status::DigestMismatch);
    let names: Vec<String> = transfers(&out).iter().map(|t| t.file.clone()).collect();
    assert!(
        names.contains(&"incoming/v1-000005.bin".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"incoming/v1-000006.bin".to_owned()),
        "{names:?}"
    );
}

#[test]
fn downloads_and_probes_are_the_same_on_a_store_that_waits() {
    let out = same_on_both(|h| {
        let mut w = wire(Request::Put(put("d.bin", 4)));
        w.extend_from_slice(b"data");
        let mut out = h.transfer("", &w, b"", b"data");
        for get in [
            Get {
                name: "d.bin".into(),
                offset: 1,
            },
            Get {
                name: "nope".into(),
                offset: 0,
            },
            Get {
                name: "d.bin".into(),
                offset: 9,
            },
            Get {
                name: "d.bin".into(),
                offset: crate::codec::PROBE_OFFSET,
            },
        ] {
            out.extend(h.transfer("", &wire(Request::Get(get)), b"", b""));
        }
        out
    });
    let r = replies(&out);
    assert_eq!((r[1].status, r[1].value), (Status::Ok, 3));
    assert_eq!(r[1].digest, Some(sha(b"data")), "the digest remembered");
    assert_eq!(
        r[2..].iter().map(|r| r.status).collect::<Vec<_>>(),
        [Status::NotFound; 3]
    );
}

#[test]
fn a_lost_upload_resumes_the_same_on_a_store_that_waits() {
    let body: Vec<u8> = (0..3000u32).map(|i| (i % 7) as u8).collect();
    let req = Request::Put(Put {
        digest: Some(sha(&body)),
        upload_id: Some([7; 16]),
        ..put("r.bin", 3000)
    });
    let out = same_on_both(|h| {
        let mut s = session("");
        let mut out = h.input(&mut s, 1, |s, st| s.handle_bytes(1, &wire(req.clone()), st));
        let (file, _, _) = recv_of(&out).unwrap();
        h.host
            .with_ctx(2, |cx| cx.write_file(file, &body[..1000]))
            .unwrap();
        out.extend(h.input(&mut s, 3, |s, st| {
            s.handle_closed(3, "connection reset", st)
        }));
        let mut s = session("");
        let mut o = h.input(&mut s, 4, |s, st| s.handle_bytes(4, &wire(req.clone()), st));
        let (file, len, token) = recv_of(&o).unwrap();
        h.host
            .with_ctx(5, |cx| cx.write_file(file, &body[1000..]))
            .unwrap();
        let r = Ok((len, Some(sha(&body))));
        o.extend(h.input(&mut s, 6, |s, st| s.handle_file_received(6, token, r, st)));
        out.extend(o);
        out
    });
    let r = replies(&out);
    assert_eq!((r[0].status, r[0].value), (Status::Continue, 0));
    assert_eq!((r[1].status, r[1].value), (Status::Continue, 1000));
    assert_eq!(r[2].status, Status::Ok);
    let t = transfers(&out);
    assert_eq!(t[0].outcome(), Outcome::Partial);
    assert_eq!(t[1].outcome(), Outcome::Ok);
}

#[test]
fn a_partial_of_unknown_age_is_kept_the_same_on_a_store_that_waits() {
    // The mock's files have no time (0), as an object store's listing: not known to
    // be abandoned, so kept.
    let unknown = format!("incoming/.partial.{}", "01".repeat(16));
    let out = same_on_both(|h| {
        h.host.files.insert(unknown.clone(), vec![1]);
        let mut s = session("");
        s.set_wall_clock(1_900_000_000);
        let req = Request::Put(Put {
            upload_id: Some([2; 16]),
            ..put("e.bin", 0)
        });
        let mut out = h.input(&mut s, 1, |s, st| s.handle_bytes(1, &wire(req), st));
        if let Some((_, len, token)) = recv_of(&out) {
            let r = Ok((len, Some(sha(b""))));
            out.extend(h.input(&mut s, 2, |s, st| s.handle_file_received(2, token, r, st)));
        }
        assert!(
            h.host.files.contains_key(&unknown),
            "a partial of unknown age stays"
        );
        out
    });
    assert_eq!(replies(&out).last().map(|r| r.status), Some(Status::Ok));
}

#[test]
fn body_bytes_sent_while_the_admission_waits_are_kept_and_bounded() {
    let mut h = Hosted::new(true);
    let mut s = session("");
    let body = vec![3u8; PARKED + 10];
    let head = wire(Request::Put(put("big.bin", body.len() as u64)));
    h.hold(&mut s, 1, |s, st| s.handle_bytes(1, &head, st));
    assert!(drain(&mut s).is_empty(), "nothing before the answer");
    h.hold(&mut s, 2, |s, st| s.handle_bytes(2, &body[..PARKED], st));
    assert_eq!(drain(&mut s), [Output::SetReading(false)], "reading pauses");
    h.answer(&mut s, 3);
    let out = drain(&mut s);
    assert_eq!(
        out[0],
        Output::SetReading(true),
        "resumed before the receive"
    );
    let (file, len, token) = recv_of(&out).unwrap();
    assert_eq!(len, 10, "what came meanwhile was written");
    h.host
        .with_ctx(4, |cx| cx.write_file(file, &body[PARKED..]))
        .unwrap();
    let r = Ok((len, Some(sha(&body))));
    let out = h.input(&mut s, 5, |s, st| s.handle_file_received(5, token, r, st));
    assert_eq!(replies(&out)[0].status, Status::Ok);
    assert_eq!(h.host.files["incoming/big.bin"], body);
}

const PARKED: usize = crate::machine::park::PARKED_BUFFER;

#[test]
fn a_connection_cut_while_a_step_waits_leaves_no_handle_and_no_file() {
    let get = wire(Request::Get(Get {
        name: "old.bin".into(),
        offset: 0,
    }));
    let mut put_whole = wire(Request::Put(put("n.bin", 3)));
    put_whole.extend_from_slice(b"abc");
    for (what, head, answered_first) in [
        ("GET", get, 0),
        // The temp is being made (free space and names checked) when the cut comes.
        ("PUT at its temp", wire(Request::Put(put("n.bin", 3))), 0),
        // The body came whole: its commit is under way when the cut comes.
        ("PUT at its commit", put_whole, 2),
    ] {
        let mut h = Hosted::new(true);
        let mut s = session("");
        h.hold(&mut s, 1, |s, st| s.handle_bytes(1, &head, st));
        for _ in 0..answered_first {
            let (token, result) = h.host.finish_storage().remove(0);
            let StepDriver { host, waits, .. } = &mut h.0;
            assert!(host.with_ctx(2, |cx| waits.complete(cx, token, result)));
            host.with_ctx(2, |cx| s.handle_storage_ready(2, &mut waits.storage(cx)));
        }
        assert_eq!(h.host.storage_in_flight(), 1, "{what}");
        drain(&mut s);
        h.hold(&mut s, 3, |s, st| {
            s.handle_closed(3, "connection reset", st)
        });
        let out = drain(&mut s);
        assert_eq!(transfers(&out)[0].outcome(), Outcome::Aborted, "{what}");
        h.answer(&mut s, 4);
        assert!(drain(&mut s).is_empty(), "{what}: nothing more is said");
        assert_eq!(h.host.open_files(), 0, "{what}: a handle left open");
        assert!(!h.host.files.contains_key("incoming/n.bin"), "{what}");
        assert!(s.is_done(), "{what}");
    }
}

#[test]
fn a_store_that_never_answers_ends_in_a_timeout_reply() {
    let mut h = Hosted::new(true);
    let mut s = session("");
    h.hold(&mut s, 1, |s, st| {
        s.handle_bytes(1, &wire(Request::Put(put("t.bin", 3))), st)
    });
    let deadline = s.poll_timeout().expect("a deadline while parked");
    assert_eq!(deadline, 1 + s.cfg.idle_ms());
    h.hold(&mut s, deadline - 1, |s, st| {
        s.handle_timeout(deadline - 1, st)
    });
    assert!(drain(&mut s).is_empty(), "not before the deadline");
    h.hold(&mut s, deadline, |s, st| s.handle_timeout(deadline, st));
    let out = drain(&mut s);
    let r = replies(&out);
    assert_eq!(
        (r[0].status, r[0].text.as_str()),
        (Status::Timeout, "storage did not answer in time")
    );
    assert!(closes(&out));
    assert_eq!(transfers(&out)[0].outcome(), Outcome::Timeout);
    assert_eq!(s.poll_timeout(), None);
    h.answer(&mut s, deadline + 1);
    assert!(drain(&mut s).is_empty());
    assert_eq!(h.host.open_files(), 0);
}

#[test]
fn the_drain_deadline_while_a_commit_waits_stores_nothing() {
    let mut h = Hosted::new(true);
    let mut s = session("");
    let mut w = wire(Request::Put(put("c.bin", 3)));
    w.extend_from_slice(b"abc");
    h.hold(&mut s, 1, |s, st| s.handle_bytes(1, &w, st));
    // The temp made and the name found free: the commit is the one in flight.
    for _ in 0..2 {
        let (token, result) = h.host.finish_storage().remove(0);
        let StepDriver { host, waits, .. } = &mut h.0;
        assert!(host.with_ctx(2, |cx| waits.complete(cx, token, result)));
        host.with_ctx(2, |cx| s.handle_storage_ready(2, &mut waits.storage(cx)));
    }
    assert!(matches!(&s.phase, Phase::Parked(p) if matches!(p.step, Step::Finish { .. })));
    drain(&mut s);
    h.hold(&mut s, 3, |s, st| {
        s.handle_drain_deadline(3, DrainCause::Shutdown, st)
    });
    let out = drain(&mut s);
    assert_eq!(replies(&out)[0].status, Status::Unavailable);
    assert!(closes(&out));
    h.answer(&mut s, 4);
    assert_eq!(h.host.open_files(), 0);
    assert!(!h.host.files.contains_key("incoming/c.bin"));
}
