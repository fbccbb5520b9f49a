//! The drain deadline: the sessions still open are cut, and told so first.
//!
//! Why not simply drop them: a TFTP client whose transfer vanishes waits for its own
//! timeout (half a minute) and a TCP client sees a bare close it cannot tell from a
//! crash, and the operator learns nothing of what was cut. So at SIGTERM's
//! `drain_timeout_secs` (`Server::drain`) and at a retired instance's
//! `reload_drain_timeout_secs` (`Retire`), each actor left — handler, retiring,
//! per-connection — in this order:
//! 1. stops its file sends in flight where they are: no `FILE_SENT` follows, and what
//!    the plugin writes next goes out next (not after the rest of a file);
//! 2. logs one WARN line per session still described, and one per open connection no
//!    session describes, and counts each in `switchyard_sessions_cut_total`;
//! 3. delivers `SY_EV_DRAIN_DEADLINE`, so the plugin sends every peer its protocol's
//!    goodbye (TFTP ERROR, an error reply) and closes;
//! 4. gives the goodbyes up to [`GRACE`] to be written, then drops everything as
//!    `Abort` does (temp files deleted, nothing partial visible).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use actix::{AsyncContext, Context, Handler, Message};
use slog::warn;
use switchyard_sdk::{Direction, DrainCause};

use super::InstanceActor;
use super::event::HostEvent;
use super::instance_actor::Role;
use super::resources::{Conn, Out};
use super::sessions::SessionTable;

/// Longest the goodbyes get to be written before everything is dropped.
pub const GRACE: Duration = Duration::from_secs(1);
/// How often the grace checks whether every goodbye is out.
const GRACE_POLL: Duration = Duration::from_millis(20);

/// The drain deadline passed: cut the sessions left (see the module docs). A handler
/// actor passes it on to its connection actors. Once per actor.
#[derive(Debug, Clone, Copy)]
pub struct DrainDeadline {
    pub cause: DrainCause,
}

impl Message for DrainDeadline {
    type Result = ();
}

impl Handler<DrainDeadline> for InstanceActor {
    type Result = ();
    fn handle(&mut self, msg: DrainDeadline, ctx: &mut Context<Self>) {
        self.cut_at_deadline(msg.cause, ctx);
    }
}

/// `why` in the log lines and the metric.
fn why(cause: DrainCause) -> &'static str {
    match cause {
        DrainCause::Shutdown => "shutdown",
        DrainCause::Reload => "reload",
    }
}

impl InstanceActor {
    /// Cut every session left: stop file sends, log and count, tell the plugin, give
    /// its goodbyes [`GRACE`] to go out, then stop.
    pub(super) fn cut_at_deadline(&mut self, cause: DrainCause, ctx: &mut Context<Self>) {
        if self.cut {
            return;
        }
        self.cut = true;
        if let Role::Handler = self.role {
            for child in self.children.borrow().values() {
                child.do_send(DrainDeadline { cause });
            }
        }
        self.stop_file_sends();
        self.log_cut_sessions(cause);
        self.deliver(HostEvent::DrainDeadline { cause }, ctx);
        // What the plugin wrote is queued behind no file now: write it.
        self.push_goodbyes(ctx);
        let start = Instant::now();
        ctx.run_interval(GRACE_POLL, move |act, ctx| {
            act.push_goodbyes(ctx);
            if act.goodbyes_written() || start.elapsed() >= GRACE {
                // Connection actors keep their own grace.
                act.abort_now(false, ctx);
            }
        });
    }

    /// Drop the `sendfile`s queued on every connection, the one under way included
    /// (it stops where it is; its `FILE_SENT` never comes).
    fn stop_file_sends(&mut self) {
        for conn in self.res.conns.values_mut() {
            stop_file_sends(&mut conn.out);
        }
    }

    /// One WARN line per session described, one per connection no session describes,
    /// each counted in `switchyard_sessions_cut_total`.
    fn log_cut_sessions(&self, cause: DrainCause) {
        let (log, why) = (&self.shared.log, why(cause));
        let conns = self
            .res
            .conns
            .iter()
            .map(|(id, c)| (*id, c.origin.peer, c.moved.get()));
        for cut in cut_lines(&self.res.sessions, conns) {
            let CutLine {
                peer,
                resource,
                direction,
                state,
                bytes_done,
                bytes_total,
            } = &cut;
            // An unknown total (or resource) is left out, not written as 0 (or "").
            match (resource, bytes_total) {
                (Some(resource), Some(total)) => warn!(log, "session cut at the drain deadline";
                    "peer" => peer, "resource" => resource, "direction" => direction,
                    "state" => state, "bytes_done" => bytes_done, "bytes_total" => total, "why" => why),
                (Some(resource), None) => warn!(log, "session cut at the drain deadline";
                    "peer" => peer, "resource" => resource, "direction" => direction,
                    "state" => state, "bytes_done" => bytes_done, "why" => why),
                (None, _) => warn!(log, "session cut at the drain deadline";
                    "peer" => peer, "direction" => direction, "bytes_done" => bytes_done, "why" => why),
            }
            self.shared.metrics.session_cut(why);
        }
    }

    /// Write every connection's queue now, even one waiting to be writable: a full
    /// socket buffer (a slow reader) is announced writable only once a good part of
    /// it drained, which can take longer than the grace, while a goodbye of a few
    /// bytes fits as soon as any room is free. So the bytes in front go with a plain
    /// `send`, past tokio's readiness (which says "not writable" without asking the
    /// kernel until that announcement); the rest of the queue (a close) follows.
    fn push_goodbyes(&mut self, ctx: &mut Context<Self>) {
        let waiting: Vec<u64> = self
            .res
            .conns
            .iter()
            .filter(|(_, c)| !c.out.is_empty())
            .map(|(id, _)| *id)
            .collect();
        for id in waiting {
            let Some(conn) = self.res.conns.get_mut(&id) else {
                continue;
            };
            let sent = send_front_bytes(conn);
            self.shared.metrics.bytes_out.inc_by(sent);
            self.flush(id, ctx);
            self.close_if_finished(id, ctx);
        }
    }

    /// Every connection's queue is written and every socket's datagrams are sent.
    fn goodbyes_written(&self) -> bool {
        self.res.conns.values().all(|c| c.out.is_empty())
            && self
                .res
                .sockets
                .values()
                .all(|s| s.backlog.is_empty() && s.queued.get() == 0)
    }
}

/// Send the bytes at the front of `conn`'s queue with plain non-blocking `send`s, as
/// far as the socket takes them; returns how many went.
fn send_front_bytes(conn: &mut Conn) -> u64 {
    let mut sent = 0u64;
    while let Some(Out::Bytes { data, pos }) = conn.out.front_mut() {
        let flags = rustix::net::SendFlags::NOSIGNAL | rustix::net::SendFlags::DONTWAIT;
        let Ok(n) = rustix::net::send(&*conn.stream, &data[*pos..], flags) else {
            break;
        };
        *pos += n;
        conn.pending -= n;
        conn.moved.set(conn.moved.get() + n as u64);
        sent += n as u64;
        if *pos < data.len() {
            break;
        }
        conn.out.pop_front();
    }
    sent
}

/// Drop every `sendfile` from a connection's output queue; what else is queued (bytes,
/// drain notices, a close) keeps its order.
fn stop_file_sends(out: &mut VecDeque<Out>) {
    out.retain(|o| !matches!(o, Out::File { .. }));
}

/// What one cut-session line says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CutLine {
    /// The peer, or `-` for a session that named none.
    peer: String,
    /// `None` for a connection no session describes.
    resource: Option<String>,
    direction: &'static str,
    state: String,
    bytes_done: u64,
    bytes_total: Option<u64>,
}

/// The lines for `sessions` and the connections (`(id, peer, bytes moved)`) none of
/// them describes.
fn cut_lines(
    sessions: &SessionTable,
    conns: impl Iterator<Item = (u64, SocketAddr, u64)>,
) -> Vec<CutLine> {
    let mut lines: Vec<CutLine> = sessions
        .iter()
        .map(|(_, s)| CutLine {
            peer: s.peer.map_or_else(|| "-".to_owned(), |p| p.to_string()),
            resource: Some(s.resource.clone()),
            direction: s.direction.as_str(),
            state: s.state.clone(),
            bytes_done: s.bytes_done(),
            bytes_total: s.bytes_total,
        })
        .collect();
    lines.extend(
        conns
            .filter(|(id, _, _)| !sessions.describes_conn(*id))
            .map(|(_, peer, moved)| CutLine {
                peer: peer.to_string(),
                resource: None,
                direction: Direction::None.as_str(),
                state: String::new(),
                bytes_done: moved,
                bytes_total: None,
            }),
    );
    lines
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use switchyard_sdk::{ConnId, Session, abi};

    use super::*;

    fn file() -> std::sync::Arc<std::fs::File> {
        std::sync::Arc::new(std::fs::File::open("/dev/null").unwrap())
    }

    fn send(token: u64, sent: u64) -> Out {
        Out::File {
            file: file(),
            offset: sent,
            remaining: 1000 - sent,
            sent,
            token,
            cached_until: 0,
            spool: None,
        }
    }

    #[test]
    fn file_sends_stop_where_they_are_and_the_rest_keeps_its_order() {
        let mut out: VecDeque<Out> = VecDeque::new();
        out.push_back(send(1, 300)); // under way
        out.push_back(Out::Bytes {
            data: b"reply".to_vec(),
            pos: 0,
        });
        out.push_back(send(2, 0));
        out.push_back(Out::Drained { token: 9 });
        out.push_back(Out::Close);
        stop_file_sends(&mut out);
        let kinds: Vec<&str> = out
            .iter()
            .map(|o| match o {
                Out::Bytes { .. } => "bytes",
                Out::Drained { .. } => "drained",
                Out::Close => "close",
                Out::File { .. } => "file",
                Out::Shutdown => "shutdown",
            })
            .collect();
        assert_eq!(kinds, ["bytes", "drained", "close"]);
    }

    #[test]
    fn one_line_per_session_and_per_connection_no_session_describes() {
        let mut sessions = SessionTable::default();
        let peer: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let moved = Rc::new(Cell::new(100));
        let get = Session {
            direction: Direction::Send,
            peer: Some(peer),
            conn: Some(ConnId(3)),
            resource: "big.iso",
            state: "sending",
            bytes_done: 0,
            bytes_total: Some(5000),
        };
        sessions
            .update(3, &get, Some((Rc::clone(&moved), 0)))
            .unwrap();
        moved.set(2100);
        let tftp = Session {
            direction: Direction::Receive,
            peer: None,
            conn: None,
            resource: "up.bin",
            state: "receiving",
            bytes_done: 512,
            bytes_total: None,
        };
        sessions.update(77, &tftp, None).unwrap();
        let other: SocketAddr = "127.0.0.1:4001".parse().unwrap();
        let conns = [(3, peer, 2100), (4, other, 42)].into_iter();
        let mut lines = cut_lines(&sessions, conns);
        lines.sort_by(|a, b| a.resource.cmp(&b.resource));
        let line = |peer: &str, resource: Option<&str>, direction, done, total| CutLine {
            peer: peer.into(),
            resource: resource.map(Into::into),
            direction,
            state: match resource {
                Some("big.iso") => "sending".into(),
                Some(_) => "receiving".into(),
                None => String::new(),
            },
            bytes_done: done,
            bytes_total: total,
        };
        assert_eq!(
            lines,
            [
                line("127.0.0.1:4001", None, "none", 42, None),
                line("127.0.0.1:4000", Some("big.iso"), "send", 2000, Some(5000)),
                line("-", Some("up.bin"), "receive", 512, None),
            ]
        );
    }

    #[test]
    fn the_event_says_why() {
        for (cause, status) in [
            (DrainCause::Shutdown, abi::SY_CUT_SHUTDOWN),
            (DrainCause::Reload, abi::SY_CUT_RELOAD),
        ] {
            let ev = HostEvent::DrainDeadline { cause }.lower(7);
            assert_eq!((ev.tag, ev.status), (abi::SY_EV_DRAIN_DEADLINE, status));
        }
        assert_eq!(why(DrainCause::Reload), "reload");
        assert_eq!(why(DrainCause::Shutdown), "shutdown");
    }
}
