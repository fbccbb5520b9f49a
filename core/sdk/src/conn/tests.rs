//! The adapter against `MockHost`, with a scripted machine: what the host sees.

use super::*;
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
}

impl ConnMachine for Script {
    fn handle_bytes(&mut self, _: u64, data: &[u8], _: &mut dyn Storage) {
        self.heard.push(format!("bytes {}", data.len()));
        self.out.extend(self.script.drain(..));
    }
    fn handle_eof(&mut self, _: u64, _: &mut dyn Storage) {
        self.heard.push("eof".into());
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
        false
    }
}

fn deliver(host: &mut MockHost, a: &mut ConnAdapter<Script>, now: u64, ev: Event<'_>) {
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
                ..Script::default()
            }
        })
    });
}

fn open(host: &mut MockHost) -> ConnAdapter<Script> {
    let mut a = ConnAdapter::new("transfers");
    let addr = "127.0.0.1:9".parse().unwrap();
    let opened = Event::ConnOpened {
        conn: CONN,
        peer: addr,
        local: addr,
        listener: "l",
    };
    deliver(host, &mut a, 0, opened);
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
