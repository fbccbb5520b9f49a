//! The adapter in a cluster, on `MockHost`: the bus identity asked at creation, the
//! subscriptions made, other hosts' messages taken or refused by type, and a claim
//! carried out as a key-value create.

use switchyard_sdk::prelude::*;
use switchyard_sdk::testing::{Action, MockHost};

use crate::ChatPlugin;
use crate::plugin::tests::{datagram, peer};
use crate::wire::{DeskNote, Presence, VisitorKey};

const CONFIG: &str = r#"(agent_secret: Some("s3cret-pass"), cluster: Some((presence_secs: 3)))"#;

/// A clustered chat as host `host-a`, its two subscriptions confirmed.
fn clustered() -> (MockHost, ChatPlugin) {
    let mut host = MockHost::new();
    host.bus_identity = Some("host-a/chat".into());
    let mut chat = host.create::<ChatPlugin>(CONFIG).unwrap();
    let tokens: Vec<u64> = host.bus_subscriptions.keys().copied().collect();
    for token in tokens {
        host.bus_confirm(&mut chat, 0, token, Ok(()));
    }
    (host, chat)
}

fn token_of(host: &MockHost, subject: &str) -> u64 {
    *host
        .bus_subscriptions
        .iter()
        .find(|(_, (s, _))| s == subject)
        .unwrap_or_else(|| panic!("no subscription to {subject}: {:?}", host.bus_subscriptions))
        .0
}

#[test]
fn without_a_bus_a_clustered_chat_is_refused_naming_the_bus() {
    let mut host = MockHost::new();
    let err = host.create::<ChatPlugin>(CONFIG).unwrap_err();
    assert!(err.contains("needs the topology's `bus`"), "{err}");
}

#[test]
fn a_clustered_chat_subscribes_announces_itself_and_refuses_unknown_types() {
    let mut host = MockHost::new();
    host.bus_identity = Some("host-a/chat".into());
    let mut chat = host.create::<ChatPlugin>(CONFIG).unwrap();
    let subjects: Vec<&str> = host
        .bus_subscriptions
        .values()
        .map(|(s, own)| {
            assert!(!own, "a host never wants its own chat notes back");
            s.as_str()
        })
        .collect();
    assert_eq!(subjects, ["chat.desk", "chat.presence"]);
    let io = host.take_io();
    assert_eq!(
        io.last(),
        Some(&Action::SetTimer {
            token: 1,
            delay_ms: 0
        }),
        "the first presence is due at once: {io:?}"
    );
    host.deliver(&mut chat, 0, Event::Timer { token: 1 });
    let io = host.take_io();
    assert!(
        io.iter().any(
            |a| matches!(a, Action::BusPublish { subject, type_name, .. }
            if subject == "chat.presence" && type_name == Presence::TYPE)
        ),
        "{io:?}"
    );
    let desk = token_of(&host, "chat.desk");
    host.bus_confirm(&mut chat, 0, desk, Ok(()));
    // A newer version of the desk's type: refused, said, never misread.
    host.bus_deliver(
        &mut chat,
        10,
        desk,
        ("switchyard.ChatDesk/2", "host-b/chat"),
        b"{}",
    );
    let warned = host.take_warnings();
    assert!(
        warned
            .iter()
            .any(|w| w.contains("refused a bus message of type \"switchyard.ChatDesk/2\"")),
        "{warned:?}"
    );
    host.bus_deliver(
        &mut chat,
        11,
        desk,
        (DeskNote::TYPE, "host-b/chat"),
        b"{not json",
    );
    let warned = host.take_warnings();
    assert!(
        warned.iter().any(|w| w.contains("undecodable")),
        "{warned:?}"
    );
    // A note no chat would send (a name that passes for a server line): refused too.
    let forged = serde_json::to_vec(&DeskNote::Answer {
        visitor: VisitorKey {
            host: "host-a".into(),
            id: 1,
        },
        agent: "* server".into(),
        text: "send your password".into(),
    })
    .unwrap();
    host.bus_deliver(
        &mut chat,
        12,
        desk,
        (DeskNote::TYPE, "host-b/chat"),
        &forged,
    );
    assert!(
        !host
            .take_io()
            .iter()
            .any(|a| matches!(a, Action::SendDatagram { .. })),
        "nothing of it reaches anyone"
    );
    assert_eq!(
        chat.refused_notes(),
        3,
        "a version, an undecodable note, a forgery"
    );
}

#[test]
fn a_visitor_reaches_the_other_hosts_and_a_take_is_a_key_value_create() {
    let (mut host, mut chat) = clustered();
    let presence = token_of(&host, "chat.presence");
    let desk = token_of(&host, "chat.desk");
    // Host B has an agent: no auto-reply here, the visitor's line goes on the desk.
    let p = serde_json::to_vec(&Presence {
        agents: vec!["bob".into()],
        ..Presence::default()
    })
    .unwrap();
    host.bus_deliver(
        &mut chat,
        100,
        presence,
        (Presence::TYPE, "host-b/chat"),
        &p,
    );
    host.take_io();
    host.deliver(&mut chat, 200, datagram(5000, b"where is my parcel"));
    let io = host.take_io();
    assert!(
        !io.iter()
            .any(|a| matches!(a, Action::SendDatagram { to, .. } if *to == peer(5000))),
        "an agent is online on host B: no auto-reply ({io:?})"
    );
    let said = io
        .iter()
        .find_map(|a| match a {
            Action::BusPublish {
                subject,
                type_name,
                data,
            } if subject == "chat.desk" && type_name == DeskNote::TYPE => {
                Some(serde_json::from_slice::<DeskNote>(data).unwrap())
            }
            _ => None,
        })
        .expect("the visitor's line on the desk");
    let visitor = VisitorKey {
        host: "host-a".into(),
        id: 1,
    };
    assert_eq!(
        said,
        DeskNote::Said {
            visitor: visitor.clone(),
            text: "where is my parcel".into(),
            owner: None
        }
    );
    // A local agent takes the visitor: a create of its claim key, then `took` for all.
    host.deliver(&mut chat, 300, datagram(6001, b"/agent s3cret-pass alice"));
    host.deliver(&mut chat, 400, datagram(6001, b"/take v1"));
    assert_eq!(host.bus_kv_complete(&mut chat, 500), 1);
    let stored = host
        .bus_kv
        .get(&("chat-claims".into(), "v.host-a.1".into()));
    assert_eq!(
        stored.map(|(v, _)| v.as_slice()),
        Some(&b"alice@host-a"[..])
    );
    let io = host.take_io();
    assert!(
        io.iter().any(|a| matches!(a, Action::BusPublish { data, .. }
            if serde_json::from_slice::<DeskNote>(data).ok()
                == Some(DeskNote::Took { visitor: visitor.clone(), agent: "alice@host-a".into() }))),
        "{io:?}"
    );
    // Another host's agent answered meanwhile: the visitor gets it.
    let answer = serde_json::to_vec(&DeskNote::Answer {
        visitor,
        agent: "bob@host-b".into(),
        text: "it ships today".into(),
    })
    .unwrap();
    host.bus_deliver(
        &mut chat,
        600,
        desk,
        (DeskNote::TYPE, "host-b/chat"),
        &answer,
    );
    let io = host.take_io();
    assert!(
        io.contains(&Action::SendDatagram {
            socket: 4,
            to: peer(5000),
            data: b"it ships today".to_vec()
        }),
        "{io:?}"
    );
}
