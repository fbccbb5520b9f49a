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
mod tests;
