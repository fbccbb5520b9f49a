//! The chat handing its state over through `MockHost`, as the host does at a reload:
//! `export_state` on the old instance, `import_state` on a fresh one (perhaps with
//! another config), or `Event::Replaced` when nobody takes it.

use std::net::SocketAddr;

use switchyard_sdk::testing::{Action, MockHost};
use switchyard_sdk::{Event, SocketId};

use crate::ChatPlugin;

const SECRET: &str = "s3cret-pass";

fn peer(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn config(extra: &str) -> String {
    format!("(agent_secret: Some(\"{SECRET}\"), auto_reply: \"nobody\"{extra})")
}

/// Send `text` from `port` at `now`; the datagrams sent back, by destination port.
fn say(
    host: &mut MockHost,
    chat: &mut ChatPlugin,
    now: u64,
    port: u16,
    text: &str,
) -> Vec<(u16, String)> {
    let ev = Event::Datagram {
        socket: SocketId(4),
        peer: peer(port),
        local: peer(6000),
        listener: "chat_udp",
        data: text.as_bytes(),
    };
    host.deliver(chat, now, ev);
    sent(host)
}

fn sent(host: &mut MockHost) -> Vec<(u16, String)> {
    host.take_io()
        .into_iter()
        .filter_map(|a| match a {
            Action::SendDatagram {
                socket: 4,
                to,
                data,
            } => Some((to.port(), String::from_utf8(data).unwrap())),
            _ => None,
        })
        .collect()
}

fn to(sent: &[(u16, String)], port: u16) -> Vec<&str> {
    sent.iter()
        .filter(|(p, _)| *p == port)
        .map(|(_, t)| t.as_str())
        .collect()
}

/// A room member (1, alice in #lobby), an agent (2, bob) holding a visitor (3, who
/// wrote at 1 s), and a visitor answered already (4).
fn busy_chat(host: &mut MockHost) -> ChatPlugin {
    let mut chat: ChatPlugin = host.create(&config("")).unwrap();
    say(host, &mut chat, 0, 1, "/nick alice");
    say(host, &mut chat, 0, 1, "/join lobby");
    say(host, &mut chat, 0, 2, &format!("/agent {SECRET} bob"));
    say(host, &mut chat, 1_000, 3, "help me please");
    say(host, &mut chat, 1_100, 2, "/take v3");
    say(host, &mut chat, 2_000, 4, "hi");
    say(host, &mut chat, 2_100, 2, "/reply v4 hello");
    chat
}

fn handed_over(host: &mut MockHost, config_text: &str) -> ChatPlugin {
    let mut old = busy_chat(host);
    let (version, state) = host.export_state(&mut old, 10_000).expect("a state");
    assert_eq!(version, super::STATE_VERSION);
    let mut new: ChatPlugin = host.create(config_text).unwrap();
    host.import_state(&mut new, 0, version, &state).unwrap();
    host.deliver(&mut new, 0, Event::Start);
    new
}

#[test]
fn export_then_import_keeps_who_waiting_and_the_agents_hold() {
    let mut host = MockHost::new();
    let mut new = handed_over(&mut host, &config(", busy_reply: \"changed\""));
    let now = 500; // on the new instance's own clock
    let who = say(&mut host, &mut new, now, 1, "/who");
    assert_eq!(to(&who, 1), ["* #lobby (1): alice"]);
    let waiting = say(&mut host, &mut new, now, 2, "/waiting");
    assert_eq!(
        to(&waiting, 2),
        ["* 1 waiting\n  v3 9s held by bob: help me please"],
        "waited 9 s at the export; the new clock's 0.5 s on top is under a second"
    );
    let typed = say(&mut host, &mut new, now, 2, "here to help");
    assert_eq!(to(&typed, 3), ["here to help"], "bob still holds v3");
    assert_eq!(to(&typed, 2), ["* sent to v3"]);
    let newcomer = say(&mut host, &mut new, now, 5, "/nick carol");
    assert_eq!(
        to(&newcomer, 5),
        ["* v5 is now known as carol"],
        "ids go on after the old ones"
    );
}

#[test]
fn a_smaller_limit_keeps_who_is_in_and_disabled_agents_become_visitors() {
    let mut host = MockHost::new();
    let mut new = handed_over(&mut host, "(max_sessions: 1)");
    let told = sent(&mut host);
    assert_eq!(
        to(&told, 2),
        ["* agents are disabled on this server now; you are a visitor"]
    );
    let who = say(&mut host, &mut new, 10, 1, "/who");
    assert_eq!(
        to(&who, 1),
        ["* #lobby (1): alice"],
        "kept though over max_sessions"
    );
    let waiting = say(&mut host, &mut new, 10, 2, "/waiting");
    assert!(to(&waiting, 2)[0].contains("agents only"), "{waiting:?}");
    let full = say(&mut host, &mut new, 10, 9, "hello");
    assert_eq!(to(&full, 9), ["! server full, try again later"]);
}

#[test]
fn a_state_of_another_version_or_damaged_is_refused_and_the_chat_stays_fresh() {
    let mut host = MockHost::new();
    let mut old = busy_chat(&mut host);
    let (version, state) = host.export_state(&mut old, 10_000).unwrap();
    let mut new: ChatPlugin = host.create(&config("")).unwrap();
    let err = host.import_state(&mut new, 0, 9, &state).unwrap_err();
    assert!(err.contains("state version 9 is unknown"), "{err}");
    // The sessions cut out: the rooms and the hold now name nobody.
    let mut doc: serde_json::Value = serde_json::from_slice(&state).unwrap();
    doc["sessions"] = serde_json::json!([]);
    let damaged = serde_json::to_vec(&doc).unwrap();
    let err = host
        .import_state(&mut new, 0, version, &damaged)
        .unwrap_err();
    assert!(err.contains("no member"), "{err}");
    host.deliver(&mut new, 0, Event::Start);
    let who = say(&mut host, &mut new, 10, 1, "/who");
    assert_eq!(to(&who, 1), ["! not in a room; /join ROOM first"]);
    let waiting = say(&mut host, &mut new, 10, 2, "/waiting");
    assert!(to(&waiting, 2)[0].contains("agents only"), "{waiting:?}");
}

#[test]
fn replaced_tells_every_session_to_start_over_then_forgets_them() {
    let mut host = MockHost::new();
    let mut chat = busy_chat(&mut host);
    host.take_io();
    host.deliver(&mut chat, 5_000, Event::Replaced);
    let told = sent(&mut host);
    assert_eq!(to(&told, 1), ["* server restarted, please /join again"]);
    assert_eq!(to(&told, 2), ["* server restarted, please /agent again"]);
    assert_eq!(
        to(&told, 3),
        ["* server restarted, please send your message again"],
        "owed a reply: this notice is it"
    );
    assert!(
        to(&told, 4).is_empty(),
        "answered already: an unasked line would confuse it"
    );
    let who = say(&mut host, &mut chat, 5_001, 1, "/who");
    assert_eq!(
        to(&who, 1),
        ["! not in a room; /join ROOM first"],
        "forgotten"
    );
}
