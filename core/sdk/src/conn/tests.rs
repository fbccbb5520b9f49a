//! The adapter against `MockHost`, with a scripted machine: what the host sees.

use super::*;
use crate::messages::Outcome;
use crate::testing::{Action, MockHost};

const CONN: ConnId = ConnId(3);

/// Queues `script` on the first bytes; wants a timeout at `deadline`.
#[derive(Debug, Default)]
struct Script {
    script: Vec<ConnOutput>,
    out: std::collections::VecDeque<ConnOutput>,
    deadline: Option<u64>,
    heard: Vec<String>,
    wall: i64,
    /// Queued at end of stream.
    at_eof: Vec<ConnOutput>,
    /// Queued at the drain deadline (`None`: the trait's default, nothing).
    goodbye: Option<Vec<ConnOutput>>,
    done: bool,
}

impl ConnMachine for Script {
    fn handle_bytes(&mut self, _: u64, data: &[u8], _: &mut dyn Storage) {
        self.heard.push(format!("bytes {}", data.len()));
        self.out.extend(self.script.drain(..));
    }
    fn handle_eof(&mut self, _: u64, _: &mut dyn Storage) {
        self.heard.push("eof".into());
        self.out.extend(self.at_eof.drain(..));
    }
    fn handle_drain_deadline(&mut self, now: u64, cause: DrainCause, st: &mut dyn Storage) {
        match self.goodbye.take() {
            Some(goodbye) => {
                self.heard.push(format!("deadline {cause:?}"));
                self.done = goodbye.contains(&ConnOutput::Close);
                self.out.extend(goodbye);
            }
            // What a machine that does not implement it gets.
            None => {
                struct Plain;
                impl ConnMachine for Plain {
                    fn handle_bytes(&mut self, _: u64, _: &[u8], _: &mut dyn Storage) {}
                    fn handle_eof(&mut self, _: u64, _: &mut dyn Storage) {}
                    fn handle_closed(&mut self, _: u64, _: &str, _: &mut dyn Storage) {}
                    fn handle_timeout(&mut self, _: u64, _: &mut dyn Storage) {}
                    fn handle_file_sent(
                        &mut self,
                        _: u64,
                        _: u64,
                        _: SendResult,
                        _: &mut dyn Storage,
                    ) {
                    }
                    fn handle_file_received(
                        &mut self,
                        _: u64,
                        _: u64,
                        _: RecvResult,
                        _: &mut dyn Storage,
                    ) {
                    }
                    fn handle_drain(&mut self, _: u64) {}
                    fn poll_output(&mut self) -> Option<ConnOutput> {
                        None
                    }
                    fn poll_timeout(&self) -> Option<u64> {
                        None
                    }
                    fn busy(&self) -> bool {
                        false
                    }
                    fn is_done(&self) -> bool {
                        false
                    }
                }
                Plain.handle_drain_deadline(now, cause, st);
            }
        }
    }
    fn handle_closed(&mut self, _: u64, reason: &str, _: &mut dyn Storage) {
        self.heard.push(format!("closed {reason}"));
        self.out.push_back(ConnOutput::Write(b"late".to_vec()));
        self.out
            .push_back(ConnOutput::Log(Level::Info, "bye".into()));
    }
    fn handle_timeout(&mut self, now: u64, _: &mut dyn Storage) {
        self.heard.push(format!("timeout {now}"));
        self.deadline = None;
    }
    fn handle_file_sent(&mut self, _: u64, token: u64, r: SendResult, _: &mut dyn Storage) {
        self.heard.push(format!("sent {token} {}", r.is_ok()));
    }
    fn handle_file_received(&mut self, _: u64, token: u64, r: RecvResult, _: &mut dyn Storage) {
        self.heard.push(format!("received {token} {}", r.is_ok()));
    }
    fn handle_drain(&mut self, _: u64) {
        self.heard.push("drain".into());
    }
    fn set_wall_clock(&mut self, unix_secs: i64) {
        self.wall = unix_secs;
    }
    fn poll_output(&mut self) -> Option<ConnOutput> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<u64> {
        self.deadline
    }
    fn busy(&self) -> bool {
        true
    }
    fn is_done(&self) -> bool {
        self.done
    }
}

fn deliver(host: &mut MockHost, a: &mut ConnAdapter<Script>, now: u64, ev: Event<'_>) {
    deliver_to(host, a, now, ev, Script::default);
}

/// Deliver `ev`; a connection opening makes its machine with `make`, scripted.
fn deliver_to(
    host: &mut MockHost,
    a: &mut ConnAdapter<Script>,
    now: u64,
    ev: Event<'_>,
    make: impl FnOnce() -> Script,
) {
    host.with_ctx(now, |ctx| {
        a.on_event(ctx, ev, |peer, _| {
            assert_eq!(peer, "127.0.0.1:9");
            Script {
                script: vec![
                    ConnOutput::Write(b"hi".to_vec()),
                    ConnOutput::SetReading(false),
                    ConnOutput::Log(Level::Warn, "w".into()),
                ],
                deadline: Some(100),
                ..make()
            }
        })
    });
}

fn open(host: &mut MockHost) -> ConnAdapter<Script> {
    open_with(host, Script::default)
}

fn open_with(host: &mut MockHost, make: impl FnOnce() -> Script) -> ConnAdapter<Script> {
    let mut a = ConnAdapter::new("transfers");
    let addr = "127.0.0.1:9".parse().unwrap();
    let opened = Event::ConnOpened {
        conn: CONN,
        peer: addr,
        local: addr,
        listener: "l",
    };
    deliver_to(host, &mut a, 0, opened, make);
    a
}

#[test]
fn nothing_runs_before_the_connection_opens() {
    let mut host = MockHost::new();
    let mut a = ConnAdapter::<Script>::new("transfers");
    deliver(&mut host, &mut a, 0, Event::Drain);
    assert!(a.machine().is_none());
    assert_eq!(a.active_sessions(), 0);
    assert!(host.take_actions().is_empty());
}

#[test]
fn outputs_become_host_calls_in_order_and_the_deadline_one_timer() {
    let mut host = MockHost::new();
    host.wall_origin_ms = 5_000;
    let mut a = open(&mut host);
    assert_eq!(a.active_sessions(), 1);
    assert_eq!(
        host.take_actions(),
        vec![Action::SetTimer {
            token: DEADLINE_TIMER,
            delay_ms: 100
        }]
    );
    let ev = Event::Bytes {
        conn: CONN,
        data: b"abc",
    };
    deliver(&mut host, &mut a, 10, ev);
    let want = vec![
        Action::Write {
            conn: CONN.0,
            data: b"hi".to_vec(),
        },
        Action::SetReading {
            conn: CONN.0,
            on: false,
        },
        Action::Log {
            level: Level::Warn as u32,
            msg: "w".into(),
        },
    ];
    // The deadline did not move: the timer is not armed again.
    assert_eq!(host.take_actions(), want);
    assert_eq!(a.machine().unwrap().wall, 5);
    deliver(&mut host, &mut a, 100, Event::Timer { token: 2 });
    assert!(host.take_actions().is_empty(), "another timer is not ours");
    deliver(&mut host, &mut a, 100, Event::Timer { token: 1 });
    assert!(
        host.take_actions().is_empty(),
        "a fired timer needs no cancel"
    );
    let heard = &a.machine().unwrap().heard;
    assert_eq!(heard, &["bytes 3", "timeout 100"]);
}

#[test]
fn after_close_only_log_lines_and_records_go_out() {
    let mut host = MockHost::new();
    let mut a = open(&mut host);
    host.take_actions();
    let closed = Event::ConnClosed {
        conn: CONN,
        error: None,
    };
    deliver(&mut host, &mut a, 1, closed);
    assert_eq!(
        host.take_actions(),
        vec![
            Action::Log {
                level: Level::Info as u32,
                msg: "bye".into()
            },
            Action::CancelTimer {
                token: DEADLINE_TIMER
            },
        ]
    );
    assert_eq!(a.machine().unwrap().heard, ["closed connection closed"]);
}

fn record(result: Outcome) -> TransferCompleted {
    TransferCompleted {
        protocol: "files".into(),
        peer: "127.0.0.1:9".into(),
        file: "big.iso".into(),
        direction: "download".into(),
        bytes: 0,
        duration_ms: 0,
        sha256: None,
        result: result.into(),
    }
}

#[test]
fn a_transfer_is_described_on_its_connection_and_its_record_ends_it() {
    let mut host = MockHost::new();
    let info = SessionInfo {
        direction: Direction::Send,
        resource: "big.iso".into(),
        bytes_done: 0,
        bytes_total: Some(1 << 20),
    };
    let mut a = open_with(&mut host, || Script {
        at_eof: vec![ConnOutput::Transfer(record(Outcome::Ok))],
        ..Script::default()
    });
    let script = vec![ConnOutput::Describe(info)];
    a.machine.as_mut().unwrap().script.splice(0..0, script);
    let bytes = Event::Bytes {
        conn: CONN,
        data: b"GET",
    };
    deliver(&mut host, &mut a, 1, bytes);
    let s = &host.sessions[&CONN.0];
    assert_eq!(
        (s.direction, s.conn, s.resource.as_str(), s.state.as_str()),
        (Direction::Send, Some(CONN.0), "big.iso", "sending")
    );
    assert_eq!(s.peer, Some("127.0.0.1:9".parse().unwrap()));
    assert_eq!(s.bytes_total, Some(1 << 20));
    deliver(&mut host, &mut a, 2, Event::PeerEof { conn: CONN });
    assert!(host.sessions.is_empty());
    assert_eq!(host.ended, [(CONN.0, "ok".to_owned())]);
    // A record after the connection is gone still ends its session (a refusal, say).
    a.machine.as_mut().unwrap().at_eof = vec![ConnOutput::Transfer(record(Outcome::Refused))];
    let closed = Event::ConnClosed {
        conn: CONN,
        error: None,
    };
    deliver(&mut host, &mut a, 3, closed);
    deliver(&mut host, &mut a, 4, Event::PeerEof { conn: CONN });
    assert_eq!(host.ended[1], (CONN.0, "refused".to_owned()));
}

#[test]
fn at_the_drain_deadline_the_goodbye_goes_out_then_the_connection_closes() {
    let mut host = MockHost::new();
    let goodbye = vec![ConnOutput::Write(b"ERR 503 bye".to_vec())];
    let mut a = open_with(&mut host, || Script {
        goodbye: Some(goodbye),
        ..Script::default()
    });
    host.take_actions();
    let deadline = Event::DrainDeadline {
        cause: DrainCause::Shutdown,
    };
    deliver(&mut host, &mut a, 5, deadline);
    assert_eq!(
        host.take_io(),
        [
            Action::Write {
                conn: CONN.0,
                data: b"ERR 503 bye".to_vec()
            },
            Action::Close { conn: CONN.0 },
        ]
    );
    assert_eq!(a.machine().unwrap().heard, ["deadline Shutdown"]);

    // A machine that closes itself is not closed twice; one that says nothing (the
    // trait's default) is closed all the same.
    let closing = vec![ConnOutput::Close];
    let mut a = open_with(&mut host, || Script {
        goodbye: Some(closing),
        ..Script::default()
    });
    host.take_actions();
    deliver(&mut host, &mut a, 6, deadline);
    assert_eq!(host.take_io(), [Action::Close { conn: CONN.0 }]);
    let mut a = open(&mut host);
    host.take_actions();
    deliver(&mut host, &mut a, 7, deadline);
    assert_eq!(host.take_io(), [Action::Close { conn: CONN.0 }]);
}

/// A record that ends a session never described (a refusal) describes it from the
/// record first: the host's line for it names the peer, the file and the direction.
#[test]
fn a_refusal_never_described_is_described_from_its_record_then_ended() {
    let mut host = MockHost::new();
    let mut a = open_with(&mut host, || Script {
        at_eof: vec![ConnOutput::Transfer(TransferCompleted {
            file: "missing.iso".into(),
            ..record(Outcome::NotFound)
        })],
        ..Script::default()
    });
    deliver(&mut host, &mut a, 1, Event::PeerEof { conn: CONN });
    assert_eq!(host.ended, [(CONN.0, "not_found".to_owned())]);
    let described = host.ended_as[0]
        .as_ref()
        .expect("described before it ended");
    assert_eq!(
        (described.direction, described.resource.as_str()),
        (Direction::Send, "missing.iso")
    );
    assert_eq!(described.peer, Some("127.0.0.1:9".parse().unwrap()));
    assert_eq!(described.conn, Some(CONN.0));
}
