//! Tests of [`super`]'s admission logic.

use super::*;
use crate::packet::{ack, error, request};

fn peer(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn rrq(name: &str, mode: &str) -> Vec<u8> {
    request::<&str>(RequestKind::Read, name, mode, &[])
}

fn adm(cfg: Config) -> Admission {
    Admission::new(&cfg)
}

#[test]
fn accepts_a_plain_read_in_any_mode_case() {
    let mut a = adm(Config::default());
    for mode in ["octet", "OCTET", "NetAscii"] {
        match a.check(0, peer(1000), &rrq("dir/file.bin", mode)) {
            Verdict::Accept(r) => {
                assert_eq!(r.path, "dir/file.bin");
                assert_eq!(r.netascii, mode.eq_ignore_ascii_case("netascii"));
            }
            v => panic!("{v:?}"),
        }
    }
}

#[test]
fn refuses_bad_modes_and_malformed_requests() {
    let mut a = adm(Config::default());
    let v = a.check(0, peer(1), &rrq("f", "mail"));
    assert!(
        matches!(v, Verdict::Refuse { code: ErrorCode::IllegalOperation, ref message } if message.contains("mail"))
    );
    let v = a.check(0, peer(1), &rrq("f", "binary"));
    assert!(matches!(
        v,
        Verdict::Refuse {
            code: ErrorCode::IllegalOperation,
            ..
        }
    ));
    let v = a.check(0, peer(1), b"\x00\x01f");
    assert!(matches!(
        v,
        Verdict::Refuse {
            code: ErrorCode::IllegalOperation,
            ..
        }
    ));
    let v = a.check(0, peer(1), &ack(1));
    assert!(matches!(
        v,
        Verdict::Refuse {
            code: ErrorCode::IllegalOperation,
            ..
        }
    ));
    // An ERROR is never answered (no error ping-pong between two servers).
    let v = a.check(0, peer(1), &error(ErrorCode::NotDefined, "x"));
    assert_eq!(v, Verdict::Drop("error packet on the listener"));
}

#[test]
fn traversal_forms_are_access_violations() {
    let mut a = adm(Config {
        requests_per_sec: 1000,
        request_burst: 1000,
        ..Config::default()
    });
    for name in [
        "../etc/passwd",
        "a/../../b",
        "//etc/passwd",
        "/../etc/passwd",
        "..",
        "a\\..\\b",
        "a//b",
        "./a",
        "a/",
        "a\x01b",
        ".sy-tmp.1.2.3",
        "d/.sy-tmp.x",
    ] {
        let v = a.check(0, peer(1), &rrq(name, "octet"));
        assert!(
            matches!(
                v,
                Verdict::Refuse {
                    code: ErrorCode::AccessViolation,
                    ..
                }
            ),
            "{name:?}: {v:?}"
        );
    }
    assert_eq!(check_path("..hidden/ok..name"), Ok(()));
    // With the leading slash turned off, an absolute name is refused too.
    let mut strict = adm(Config {
        leading_slash_is_root: false,
        ..Config::default()
    });
    let v = strict.check(0, peer(1), &rrq("/etc/passwd", "octet"));
    assert!(
        matches!(v, Verdict::Refuse { code: ErrorCode::AccessViolation, ref message } if message == "absolute path"),
        "{v:?}"
    );
}

#[test]
fn a_leading_slash_names_the_root_and_the_request_keeps_what_was_sent() {
    let mut a = adm(Config::default());
    match a.check(0, peer(1), &rrq("/boot/pxelinux.0", "octet")) {
        Verdict::Accept(r) => {
            assert_eq!(r.path, "boot/pxelinux.0");
            assert_eq!(r.requested, "/boot/pxelinux.0");
            assert_eq!(r.root, ClientRoot::Root);
        }
        v => panic!("{v:?}"),
    }
    // A hidden name stays missing whichever way it is spelled.
    let v = a.check(0, peer(2), &rrq("/.x.sha256", "octet"));
    assert!(
        matches!(
            v,
            Verdict::Refuse {
                code: ErrorCode::FileNotFound,
                ..
            }
        ),
        "{v:?}"
    );
}

#[test]
fn a_repeated_request_is_known_by_its_mapped_name() {
    let mut a = adm(Config {
        backslash_to_slash: true,
        ..Config::default()
    });
    let Verdict::Accept(r) = a.check(0, peer(1), &rrq("/d/f", "octet")) else {
        panic!()
    };
    a.started(peer(1), &r);
    assert_eq!(
        a.check(0, peer(1), &rrq(r"d\f", "octet")),
        Verdict::Drop("repeated request")
    );
}

#[test]
fn hidden_names_are_missing_to_readers_and_refused_to_writers() {
    let mut a = adm(Config {
        allow_create: true,
        ..Config::default()
    });
    for (i, name) in [
        ".x.sha256",
        "d/.x.sha256",
        ".partial.0123456789abcdef0123456789abcdef",
        ".git/config",
        "..hidden/ok..name",
    ]
    .into_iter()
    .enumerate()
    {
        let v = a.check(0, peer(i as u16), &rrq(name, "octet"));
        assert!(
            matches!(v, Verdict::Refuse { code: ErrorCode::FileNotFound, ref message } if message == "file not found"),
            "{name:?}: {v:?}"
        );
        let wrq = request::<&str>(RequestKind::Write, name, "octet", &[]);
        let v = a.check(0, peer(i as u16), &wrq);
        assert!(
            matches!(
                v,
                Verdict::Refuse {
                    code: ErrorCode::AccessViolation,
                    ..
                }
            ),
            "{name:?}: {v:?}"
        );
    }
}

#[test]
fn serve_hidden_serves_them_but_never_the_hosts_temps() {
    let mut a = adm(Config {
        serve_hidden: true,
        ..Config::default()
    });
    let v = a.check(0, peer(1), &rrq("d/.x.sha256", "octet"));
    assert!(
        matches!(v, Verdict::Accept(ref r) if r.path == "d/.x.sha256"),
        "{v:?}"
    );
    let v = a.check(0, peer(2), &rrq(".sy-tmp.1.2.3", "octet"));
    assert!(
        matches!(
            v,
            Verdict::Refuse {
                code: ErrorCode::AccessViolation,
                ..
            }
        ),
        "{v:?}"
    );
}

#[test]
fn uploads_are_off_by_default() {
    let mut a = adm(Config::default());
    let wrq = request::<&str>(RequestKind::Write, "up", "octet", &[]);
    assert!(matches!(
        a.check(0, peer(1), &wrq),
        Verdict::Refuse {
            code: ErrorCode::AccessViolation,
            ..
        }
    ));
    let mut a = adm(Config {
        allow_create: true,
        ..Config::default()
    });
    assert!(matches!(a.check(0, peer(1), &wrq), Verdict::Accept(_)));
}

#[test]
fn per_source_rate_drops_silently_and_refills() {
    let mut a = adm(Config {
        requests_per_sec: 10,
        request_burst: 3,
        ..Config::default()
    });
    let pkt = rrq("f", "octet");
    for i in 0..3 {
        assert!(matches!(a.check(0, peer(i), &pkt), Verdict::Accept(_)));
    }
    assert_eq!(
        a.check(0, peer(9), &pkt),
        Verdict::Drop("request rate exceeded")
    );
    // Another source is not affected.
    let other = SocketAddr::from(([127, 0, 0, 2], 1));
    assert!(matches!(a.check(0, other, &pkt), Verdict::Accept(_)));
    // 10/s: one token back after 100 ms.
    assert_eq!(
        a.check(50, peer(9), &pkt),
        Verdict::Drop("request rate exceeded")
    );
    assert!(matches!(a.check(150, peer(9), &pkt), Verdict::Accept(_)));
}

#[test]
fn source_table_is_bounded() {
    let mut a = adm(Config {
        requests_per_sec: 1,
        request_burst: 2,
        max_tracked_sources: 2,
        ..Config::default()
    });
    let pkt = rrq("f", "octet");
    let ip = |n: u8| SocketAddr::from(([10, 0, 0, n], 69));
    assert!(matches!(a.check(0, ip(1), &pkt), Verdict::Accept(_)));
    assert!(matches!(a.check(0, ip(2), &pkt), Verdict::Accept(_)));
    // Both tracked sources still owe tokens: a third source cannot be tracked.
    assert_eq!(
        a.check(0, ip(3), &pkt),
        Verdict::Drop("request rate exceeded")
    );
    // Later their buckets are full again and are forgotten.
    assert!(matches!(a.check(5000, ip(3), &pkt), Verdict::Accept(_)));
}

#[test]
fn concurrency_limits_and_repeated_requests() {
    let mut a = adm(Config {
        max_transfers: 3,
        max_transfers_per_client: 2,
        ..Config::default()
    });
    let start =
        |a: &mut Admission, p: SocketAddr, name: &str| match a.check(0, p, &rrq(name, "octet")) {
            Verdict::Accept(r) => {
                a.started(p, &r);
                r
            }
            v => panic!("{v:?}"),
        };
    let r1 = start(&mut a, peer(1), "a");
    assert_eq!(
        a.check(0, peer(1), &rrq("a", "octet")),
        Verdict::Drop("repeated request")
    );
    start(&mut a, peer(2), "a");
    let v = a.check(0, peer(3), &rrq("a", "octet"));
    assert!(matches!(v, Verdict::Refuse { ref message, .. } if message.contains("your address")));
    let other = SocketAddr::from(([127, 0, 0, 2], 1));
    start(&mut a, other, "a");
    let v = a.check(0, SocketAddr::from(([127, 0, 0, 3], 1)), &rrq("a", "octet"));
    assert!(matches!(v, Verdict::Refuse { ref message, .. } if message.contains("busy")));
    assert_eq!(a.active(), 3);
    a.ended(peer(1), r1.kind, &r1.path);
    a.ended(peer(1), r1.kind, &r1.path); // twice is harmless
    assert_eq!(a.active(), 2);
    assert!(matches!(
        a.check(0, peer(3), &rrq("a", "octet")),
        Verdict::Accept(_)
    ));
}

#[test]
fn draining_refuses_new_requests() {
    let mut a = adm(Config::default());
    a.draining = true;
    assert!(matches!(
        a.check(0, peer(1), &rrq("f", "octet")),
        Verdict::Refuse {
            code: ErrorCode::NotDefined,
            ..
        }
    ));
}
