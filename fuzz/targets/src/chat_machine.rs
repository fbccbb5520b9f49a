//! `chat_machine`: the chat server ([`Chat`]) driven by an arbitrary sequence of
//! datagrams from a handful of peers (mostly commands and lines of the protocol),
//! clock steps, deadlines and drain.
//!
//! Invariants: sessions, rooms and room members stay within their limits; nobody new
//! gets a session once draining; every datagram goes to a peer that spoke, fits in a
//! UDP datagram and carries no control character but line breaks; a fan-out never names one peer twice; published
//! chat lines are on a `#room` or a visitor's channel; and while sessions exist a
//! deadline is set (they must be able to expire).

use std::collections::BTreeSet;
use std::net::SocketAddr;

use arbitrary::{Arbitrary, Unstructured};
use switchyard_chat::config::Config;
use switchyard_chat::machine::{Chat, Output};
use switchyard_sdk::SocketId;

const SECRET: &str = "s3cret-key";
const ROOMS: [&str; 3] = ["lobby", "ops", "x"];
/// The largest UDP payload.
const MAX_UDP: usize = 65_507;

#[derive(Debug, Arbitrary)]
struct Input {
    max_sessions: u8,
    max_rooms: u8,
    max_members: u8,
    rate: u8,
    burst: u8,
    max_datagram: u16,
    events: Vec<Event>,
}

#[derive(Debug, Arbitrary)]
enum Event {
    Datagram(u8, Msg),
    Advance(u16),
    Deadline,
    Drain,
}

#[derive(Debug, Arbitrary)]
enum Msg {
    Text(u8),
    Nick(u8),
    Join(u8),
    Leave,
    Who,
    Rooms,
    Agent(bool, Option<u8>),
    Reply(u8, u8),
    Take(u8),
    Release(Option<u8>),
    Waiting,
    Ping,
    Help,
    Bye,
    Long(u16),
    Raw(Vec<u8>),
}

impl Msg {
    fn bytes(&self) -> Vec<u8> {
        let nick = |i: &u8| ["alice", "bob", "v9", "auto"][usize::from(*i % 4)];
        let room = |i: &u8| ROOMS[usize::from(*i) % ROOMS.len()];
        let text = |i: &u8| {
            ["hello", "<alice> hi", "* pong", "[v1] x", "#lobby <a> b"][usize::from(*i % 5)]
        };
        match self {
            Msg::Text(i) => text(i).into(),
            Msg::Nick(i) => format!("/nick {}", nick(i)).into(),
            Msg::Join(i) => format!("/join #{}", room(i)).into(),
            Msg::Leave => "/leave".into(),
            Msg::Who => "/who".into(),
            Msg::Rooms => "/rooms".into(),
            Msg::Agent(right, name) => {
                let secret = if *right { SECRET } else { "wrong-secret" };
                match name {
                    Some(i) => format!("/agent {secret} {}", nick(i)).into(),
                    None => format!("/agent {secret}").into(),
                }
            }
            Msg::Reply(v, i) => format!("/reply v{} {}", v % 8, text(i)).into(),
            Msg::Take(v) => format!("/take v{}", v % 8).into(),
            Msg::Release(v) => match v {
                Some(v) => format!("/release v{}", v % 8).into(),
                None => "/release".into(),
            },
            Msg::Waiting => "/waiting".into(),
            Msg::Ping => "/ping".into(),
            Msg::Help => "/help".into(),
            Msg::Bye => "bye".into(),
            Msg::Long(n) => vec![b'a'; usize::from(*n)],
            Msg::Raw(b) => b.clone(),
        }
    }
}

fn peer(i: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 1 + i % 6], 5000 + u16::from(i % 2)))
}

pub fn chat_machine(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let cfg = Config {
        max_sessions: usize::from(input.max_sessions % 8) + 1,
        max_rooms: usize::from(input.max_rooms % 3) + 1,
        max_room_members: usize::from(input.max_members % 4) + 1,
        rate_per_sec: u32::from(input.rate % 50) + 1,
        burst: u32::from(input.burst % 50) + 1,
        max_datagram: usize::from(input.max_datagram).clamp(160, MAX_UDP),
        agent_secret: Some(SECRET.into()),
        answer_timeout_secs: 2,
        idle_timeout_secs: 5,
        ..Config::default()
    };
    let mut chat = Chat::new(cfg.clone()).expect("a valid config");
    let mut now = 0u64;
    let mut spoke = BTreeSet::new();
    let mut draining = false;
    for event in &input.events {
        let sessions_before = chat.session_count();
        match event {
            Event::Datagram(i, msg) => {
                spoke.insert(peer(*i));
                chat.handle_datagram(now, SocketId(1), peer(*i), &msg.bytes());
            }
            Event::Advance(ms) => {
                now += u64::from(*ms);
                chat.handle_timeout(now);
            }
            Event::Deadline => {
                if let Some(t) = chat.poll_timeout() {
                    now = now.max(t);
                }
                chat.handle_timeout(now);
            }
            Event::Drain => {
                draining = true;
                chat.drain();
            }
        }
        while let Some(o) = chat.poll_output() {
            check_output(&o, &spoke);
        }
        assert!(chat.session_count() <= cfg.max_sessions);
        assert!(chat.agent_count() <= chat.session_count());
        if draining {
            assert!(
                chat.session_count() <= sessions_before,
                "a new session while draining"
            );
        }
        let mut rooms = 0;
        for room in ROOMS {
            let n = chat.room_size(room);
            assert!(n <= cfg.max_room_members, "room {room} has {n} members");
            rooms += usize::from(n > 0);
        }
        assert!(rooms <= cfg.max_rooms, "{rooms} rooms");
        if chat.session_count() > 0 {
            assert!(
                chat.poll_timeout().is_some(),
                "sessions that can never expire"
            );
        }
    }
}

fn check_payload(payload: &str) {
    assert!(
        payload.len() <= MAX_UDP,
        "a datagram of {} bytes",
        payload.len()
    );
    // Lists (`/who`, `/waiting`) are several lines; nothing else may control a terminal.
    assert!(
        !payload
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'),
        "a control character in {payload:?}"
    );
}

fn check_output(o: &Output, spoke: &BTreeSet<SocketAddr>) {
    match o {
        Output::Send { to, payload } => {
            assert!(
                spoke.contains(&to.addr),
                "sent to {} who never spoke",
                to.addr
            );
            check_payload(payload);
        }
        Output::Fanout { to, payload } => {
            assert!(!to.is_empty());
            let addrs: BTreeSet<SocketAddr> = to.iter().map(|d| d.addr).collect();
            assert_eq!(addrs.len(), to.len(), "a fan-out names a peer twice");
            assert!(addrs.is_subset(spoke));
            check_payload(payload);
        }
        Output::Line { channel, .. } => {
            let room = channel
                .strip_prefix('#')
                .is_some_and(|r| ROOMS.contains(&r));
            let visitor = channel
                .strip_prefix('v')
                .is_some_and(|n| n.parse::<u64>().is_ok());
            assert!(room || visitor, "a line on channel {channel:?}");
        }
        // Not in a cluster (no `join_cluster`): the machine asks nothing of a bus.
        Output::Bus(out) => panic!("a bus request outside a cluster: {out:?}"),
    }
}
