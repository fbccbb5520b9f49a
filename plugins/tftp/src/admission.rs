//! What happens to a datagram on the listener: the checks a request passes before any
//! file is touched, in the order that keeps the server cheap to flood.
//!
//! 1. Per-source request rate (token bucket): over it, the datagram is dropped without
//!    an answer, so spoofed requests cannot make us send anything (TFTP is a known UDP
//!    amplification vector). The table of sources is bounded too.
//! 2. Parsing: a malformed request gets ERROR 4; an ERROR is never answered. With
//!    `single_port`, a DATA or ACK from a client port with no transfer gets ERROR 5.
//! 3. Draining, mode (`octet`/`netascii`, case-insensitive; `mail` refused), uploads
//!    allowed, the file name (mapped by [`Names`]: backslashes, remap rules, leading
//!    `/`, then containment by path component, as the host's storage checks it again;
//!    the client's root), and the concurrency limits, total and per client address.
//! 4. A repeated request (the same client port asking the same again because our first
//!    answer was lost) is dropped: the transfer already started retransmits by itself.
//!
//! Pure: no `Ctx`, time passed in.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use switchyard_sdk::is_hidden_path;

use crate::config::Config;
pub use crate::names::check_path;
use crate::names::{ClientRoot, Names};
use crate::packet::{ErrorCode, OP_ERROR, Packet, RequestKind, opcode};

/// A request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub kind: RequestKind,
    /// The name under the client's root, mapped and checked.
    pub path: String,
    /// The name as the client sent it (logs name it when the mapping changed it).
    pub requested: String,
    /// Where the client's names live.
    pub root: ClientRoot,
    pub netascii: bool,
    /// Options as sent (the negotiation needs the file's size first).
    pub options: Vec<(String, String)>,
    /// The request as received, with `single_port` (empty otherwise): a datagram the
    /// same client port sends again byte for byte is a repeat of it, anything else a
    /// new request (`plugin::ports`).
    pub datagram: Vec<u8>,
}

/// The answer to one datagram on the listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Send nothing (rate limited, an ERROR, a repeated request). The reason is for logs.
    Drop(&'static str),
    /// Answer with this ERROR, start nothing.
    Refuse {
        code: ErrorCode,
        message: String,
    },
    Accept(Request),
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> Verdict {
    Verdict::Refuse {
        code,
        message: message.into(),
    }
}

/// Token bucket in thousandths of a request.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    milli: u64,
    at_ms: u64,
}

/// The listener's gatekeeper. [`Admission::started`] and [`Admission::ended`] keep
/// its counts in step with the transfers the adapter runs.
#[derive(Debug)]
pub struct Admission {
    cfg: Config,
    names: Names,
    buckets: HashMap<IpAddr, Bucket>,
    per_client: HashMap<IpAddr, u32>,
    total: u32,
    running: HashSet<(SocketAddr, RequestKind, String)>,
    /// Set when the host drains: refuse new requests, finish the others.
    pub draining: bool,
}

impl Admission {
    pub fn new(cfg: &Config) -> Admission {
        Admission {
            cfg: cfg.clone(),
            names: Names::new(cfg),
            buckets: HashMap::new(),
            per_client: HashMap::new(),
            total: 0,
            running: HashSet::new(),
            draining: false,
        }
    }

    /// Transfers in flight.
    pub fn active(&self) -> u32 {
        self.total
    }

    /// Take one request token for `ip`, or say no.
    fn rate_ok(&mut self, now: u64, ip: IpAddr) -> bool {
        let cap = u64::from(self.cfg.request_burst) * 1000;
        let per_ms = u64::from(self.cfg.requests_per_sec);
        if !self.buckets.contains_key(&ip)
            && self.buckets.len() >= self.cfg.max_tracked_sources as usize
        {
            // Forget sources whose bucket has refilled: they are back to a clean slate.
            self.buckets
                .retain(|_, b| b.milli + now.saturating_sub(b.at_ms) * per_ms < cap);
            if self.buckets.len() >= self.cfg.max_tracked_sources as usize {
                return false;
            }
        }
        let b = self.buckets.entry(ip).or_insert(Bucket {
            milli: cap,
            at_ms: now,
        });
        b.milli = (b.milli + now.saturating_sub(b.at_ms) * per_ms).min(cap);
        b.at_ms = now;
        if b.milli >= 1000 {
            b.milli -= 1000;
            true
        } else {
            false
        }
    }

    /// Judge one datagram that arrived on the listener from `peer`.
    pub fn check(&mut self, now: u64, peer: SocketAddr, data: &[u8]) -> Verdict {
        if !self.rate_ok(now, peer.ip()) {
            return Verdict::Drop("request rate exceeded");
        }
        if opcode(data) == Some(OP_ERROR) {
            return Verdict::Drop("error packet on the listener");
        }
        let (kind, filename, mode, options) = match Packet::parse(data) {
            Ok(Packet::Request {
                kind,
                filename,
                mode,
                options,
            }) => (kind, filename, mode, options),
            // With `single_port` a DATA or ACK reaches the listener from a client port
            // with no transfer: the ERROR 5 a transfer's own port would answer.
            Ok(Packet::Data { .. } | Packet::Ack { .. }) if self.cfg.single_port => {
                return refuse(ErrorCode::UnknownTid, "Unknown transfer ID");
            }
            Ok(_) => return refuse(ErrorCode::IllegalOperation, "expected RRQ or WRQ"),
            Err(e) => return refuse(ErrorCode::IllegalOperation, e.to_string()),
        };
        if self.draining {
            return refuse(ErrorCode::NotDefined, "server shutting down");
        }
        let netascii = match mode.to_ascii_lowercase().as_str() {
            "octet" => false,
            "netascii" => true,
            "mail" => return refuse(ErrorCode::IllegalOperation, "mail mode not supported"),
            _ => return refuse(ErrorCode::IllegalOperation, "unknown transfer mode"),
        };
        if kind == RequestKind::Write && !self.cfg.allow_create {
            return refuse(ErrorCode::AccessViolation, "uploads are disabled");
        }
        let mapped = match self.names.map(kind, peer.ip(), filename) {
            Ok(m) => m,
            Err(why) => return refuse(ErrorCode::AccessViolation, why),
        };
        let path = mapped.name;
        if !self.cfg.serve_hidden && is_hidden_path(&path) {
            // A read gets ERROR 1 "file not found", exactly what a missing file gets:
            // tftp-hpa and curl report it as the ordinary miss it looks like, and a
            // peer cannot tell which side files exist. A write gets ERROR 2, what
            // tftpd-hpa answers a WRQ it may not perform.
            return match kind {
                RequestKind::Read => refuse(ErrorCode::FileNotFound, "file not found"),
                RequestKind::Write => refuse(ErrorCode::AccessViolation, "hidden name"),
            };
        }
        if self.running.contains(&(peer, kind, path.clone())) {
            return Verdict::Drop("repeated request");
        }
        if self.total >= self.cfg.max_transfers {
            return refuse(ErrorCode::NotDefined, "server busy, try later");
        }
        if self.per_client.get(&peer.ip()).copied().unwrap_or(0)
            >= self.cfg.max_transfers_per_client
        {
            return refuse(
                ErrorCode::NotDefined,
                "too many transfers from your address",
            );
        }
        Verdict::Accept(Request {
            kind,
            path,
            requested: filename.to_string(),
            root: mapped.root,
            netascii,
            options: options
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            datagram: if self.cfg.single_port {
                data.to_vec()
            } else {
                Vec::new()
            },
        })
    }

    /// A transfer for `req` from `peer` started: count it.
    pub fn started(&mut self, peer: SocketAddr, req: &Request) {
        self.total += 1;
        *self.per_client.entry(peer.ip()).or_insert(0) += 1;
        self.running.insert((peer, req.kind, req.path.clone()));
    }

    /// That transfer's result is known: it no longer counts. `true` if it counted.
    pub fn ended(&mut self, peer: SocketAddr, kind: RequestKind, path: &str) -> bool {
        if !self.running.remove(&(peer, kind, path.to_string())) {
            return false;
        }
        self.total = self.total.saturating_sub(1);
        if let Some(n) = self.per_client.get_mut(&peer.ip()) {
            *n -= 1;
            if *n == 0 {
                self.per_client.remove(&peer.ip());
            }
        }
        true
    }

    /// Whether a transfer for `req` from `peer` counts as running.
    pub fn is_running(&self, peer: SocketAddr, req: &Request) -> bool {
        self.running.contains(&(peer, req.kind, req.path.clone()))
    }
}

#[cfg(test)]
mod tests {
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
            |a: &mut Admission, p: SocketAddr, name: &str| match a.check(0, p, &rrq(name, "octet"))
            {
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
        assert!(
            matches!(v, Verdict::Refuse { ref message, .. } if message.contains("your address"))
        );
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
}
