//! Scenario tests of the machine, driven by a manual clock.

use super::*;

const SOCK: SocketId = SocketId(9);
const SECRET: &str = "s3cret-pass";

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn chat_with(cfg: Config) -> Chat {
    Chat::new(cfg).unwrap()
}

fn chat() -> Chat {
    chat_with(Config {
        agent_secret: Some(SECRET.into()),
        ..Config::default()
    })
}

fn say(chat: &mut Chat, now: u64, port: u16, data: &str) -> Vec<Output> {
    chat.handle_datagram(now, SOCK, addr(port), data.as_bytes());
    drain_out(chat)
}

/// Run every sweep due up to `until`, as the host's timer would.
fn run_until(chat: &mut Chat, until: u64) -> Vec<Output> {
    while let Some(due) = chat.poll_timeout().filter(|due| *due <= until) {
        chat.handle_timeout(due);
    }
    drain_out(chat)
}

fn drain_out(chat: &mut Chat) -> Vec<Output> {
    std::iter::from_fn(|| chat.poll_output()).collect()
}

/// Every payload that goes to `port`, directly or in a fan-out.
fn to(outs: &[Output], port: u16) -> Vec<String> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send { to, payload } if to.addr == addr(port) => Some(payload.clone()),
            Output::Fanout { to, payload } if to.iter().any(|d| d.addr == addr(port)) => {
                Some(payload.clone())
            }
            _ => None,
        })
        .collect()
}

fn lines(outs: &[Output]) -> Vec<(String, String, String)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Line {
                from,
                channel,
                text,
            } => Some((from.clone(), channel.clone(), text.clone())),
            _ => None,
        })
        .collect()
}

fn agent(chat: &mut Chat, now: u64, port: u16, name: &str) {
    let outs = say(chat, now, port, &format!("/agent {SECRET} {name}"));
    assert!(
        to(&outs, port)[0].starts_with(&format!("* welcome {name}")),
        "{outs:?}"
    );
}

#[test]
fn visitor_without_agents_gets_the_auto_reply_and_the_line_is_published() {
    let mut c = chat();
    let outs = say(&mut c, 0, 1000, "你好");
    assert_eq!(to(&outs, 1000), vec![Config::default().auto_reply]);
    assert_eq!(
        lines(&outs),
        vec![
            ("v1".into(), "v1".into(), "你好".into()),
            (AUTO.into(), "v1".into(), Config::default().auto_reply)
        ]
    );
    assert_eq!(c.session_count(), 1);
}

#[test]
fn bye_ends_the_session_without_a_reply() {
    let mut c = chat();
    say(&mut c, 0, 1000, "hi");
    assert!(say(&mut c, 1, 1000, "bye").is_empty());
    assert_eq!(c.session_count(), 0);
    assert!(
        say(&mut c, 2, 2000, "bye").is_empty(),
        "bye from a stranger: nothing"
    );
    assert_eq!(c.session_count(), 0);
}

#[test]
fn agent_handshake_needs_the_secret_and_locks_out_guessers() {
    let mut c = chat_with(Config::default());
    assert_eq!(
        to(&say(&mut c, 0, 1, "/agent whatever al"), 1),
        vec!["! agents are disabled on this server"]
    );

    let mut c = chat();
    for _ in 0..5 {
        assert_eq!(
            to(&say(&mut c, 0, 1, "/agent wrong-guess al"), 1),
            vec!["! wrong secret"]
        );
    }
    let outs = say(&mut c, 0, 1, &format!("/agent {SECRET} al"));
    assert_eq!(to(&outs, 1), vec!["! too many failed attempts"]);
    assert_eq!(c.agent_count(), 0);

    agent(&mut c, 0, 2, "bo");
    agent(&mut c, 1, 2, "bo"); // a retried handshake is harmless
    assert_eq!(c.agent_count(), 1);
    let outs = say(&mut c, 2, 3, &format!("/agent {SECRET} BO"));
    assert_eq!(
        to(&outs, 3),
        vec!["! nick BO is taken; /agent SECRET OTHERNAME"]
    );
}

#[test]
fn agents_see_tagged_visitors_and_answers_reach_the_right_visitor() {
    let mut c = chat();
    agent(&mut c, 0, 1, "alice");
    let outs = say(&mut c, 0, 2, &format!("/agent {SECRET} bob"));
    assert_eq!(to(&outs, 1), vec!["* agent bob is online"]);

    let outs = say(&mut c, 1, 100, "my order is late");
    assert!(to(&outs, 100).is_empty(), "the visitor waits for a human");
    assert_eq!(to(&outs, 1), vec!["[v3] my order is late"]);
    assert_eq!(to(&outs, 2), vec!["[v3] my order is late"]);
    say(&mut c, 1, 101, "hello?");
    say(&mut c, 1, 102, "anyone?");

    let outs = say(&mut c, 2, 1, "/reply v4 yes, hello");
    assert_eq!(
        to(&outs, 101),
        vec!["yes, hello"],
        "verbatim, for the seed client"
    );
    assert!(to(&outs, 100).is_empty() && to(&outs, 102).is_empty());
    assert_eq!(to(&outs, 1), vec!["* sent to v4"]);
    assert_eq!(to(&outs, 2), vec!["[v4] <alice> yes, hello"]);
    assert_eq!(
        lines(&outs),
        vec![("alice".into(), "v4".into(), "yes, hello".into())]
    );

    let outs = say(&mut c, 3, 100, "/reply v3 hi");
    assert_eq!(
        to(&outs, 100),
        vec!["! agents only (/agent SECRET NAME); visitors just type"]
    );
    let outs = say(&mut c, 3, 1, "/reply v99 hi");
    assert_eq!(to(&outs, 1), vec!["! no visitor v99 (gone, or never was)"]);
    let outs = say(&mut c, 3, 1, "/reply v2 hi");
    assert_eq!(
        to(&outs, 1),
        vec!["! no visitor v2 (gone, or never was)"],
        "agents are no visitors"
    );
    let outs = say(&mut c, 3, 1, "just typing");
    assert!(to(&outs, 1)[0].starts_with("! you hold no visitor"));
}

#[test]
fn an_unanswered_visitor_gets_the_busy_reply_once_after_the_answer_timeout() {
    let mut c = chat_with(Config {
        agent_secret: Some(SECRET.into()),
        answer_timeout_secs: 5,
        ..Config::default()
    });
    agent(&mut c, 0, 1, "al");
    say(&mut c, 1000, 100, "q1");
    say(&mut c, 1000, 101, "q2");
    say(&mut c, 2000, 1, "/reply v3 answered");
    let deadline = c.poll_timeout().unwrap();
    assert!(
        deadline <= 500,
        "sweep tick is at most answer_timeout/10: {deadline}"
    );

    assert!(to(&run_until(&mut c, 5999), 100).is_empty(), "not yet");
    let outs = run_until(&mut c, 6000);
    assert_eq!(to(&outs, 100), vec![Config::default().busy_reply]);
    assert!(to(&outs, 101).is_empty(), "answered in time");
    assert_eq!(
        lines(&outs),
        vec![(AUTO.into(), "v2".into(), Config::default().busy_reply)]
    );
    assert!(
        to(&run_until(&mut c, 20_000), 100).is_empty(),
        "the busy reply is sent once"
    );

    let outs = say(&mut c, 20_000, 1, "/waiting");
    assert_eq!(
        to(&outs, 1),
        vec!["* 1 waiting\n  v2 19s: q1"],
        "busy reply is no human answer"
    );
}

#[test]
fn idle_sessions_expire_and_the_timer_stops_when_none_are_left() {
    let mut c = chat_with(Config {
        idle_timeout_secs: 10,
        ..Config::default()
    });
    assert_eq!(c.poll_timeout(), None);
    say(&mut c, 0, 100, "/join lobby");
    say(&mut c, 5_000, 101, "/join lobby");
    let tick = c.poll_timeout().unwrap();
    assert_eq!(tick, 1000);
    run_until(&mut c, 9_999);
    assert_eq!(c.session_count(), 2);
    let outs = run_until(&mut c, 10_000);
    assert_eq!(c.session_count(), 1);
    assert_eq!(to(&outs, 101), vec!["* v1 timed out #lobby"]);
    assert_eq!(c.poll_timeout(), Some(11_000));
    run_until(&mut c, 15_000);
    assert_eq!(c.session_count(), 0);
    assert_eq!(c.room_size("lobby"), 0);
    assert_eq!(c.poll_timeout(), None, "no sessions, no timer");
}

#[test]
fn a_flood_is_answered_once_then_dropped_until_the_bucket_refills() {
    let mut c = chat_with(Config {
        rate_per_sec: 2,
        burst: 3,
        ..Config::default()
    });
    for _ in 0..3 {
        assert_eq!(to(&say(&mut c, 0, 100, "/ping"), 100), vec![reply::PONG]);
    }
    assert_eq!(
        to(&say(&mut c, 0, 100, "/ping"), 100),
        vec!["! rate limited: slow down"]
    );
    for _ in 0..10 {
        assert!(
            say(&mut c, 100, 100, "/ping").is_empty(),
            "silently dropped"
        );
    }
    assert!(
        to(&say(&mut c, 10, 200, "/ping"), 200) == vec![reply::PONG],
        "per source"
    );
    assert_eq!(
        to(&say(&mut c, 600, 100, "/ping"), 100),
        vec![reply::PONG],
        "refilled after 500 ms at 2/s"
    );
}

#[test]
fn max_sessions_refuses_newcomers_with_a_bounded_number_of_replies() {
    let mut c = chat_with(Config {
        max_sessions: 2,
        ..Config::default()
    });
    say(&mut c, 0, 1, "/ping");
    say(&mut c, 0, 2, "/ping");
    let refused: usize = (0..50u16)
        .map(|i| to(&say(&mut c, 0, 3000 + i, "hi"), 3000 + i).len())
        .sum();
    assert_eq!(refused, 10, "at most the strangers' burst");
    assert_eq!(
        to(&say(&mut c, 5_000, 4000, "hi"), 4000),
        vec!["! server full, try again later"]
    );
    assert_eq!(c.session_count(), 2);
    say(&mut c, 5_000, 1, "bye");
    assert_eq!(
        to(&say(&mut c, 5_000, 4000, "/ping"), 4000),
        vec![reply::PONG],
        "room again"
    );
}

#[test]
fn takeover_routes_a_visitor_to_one_agent() {
    let mut c = chat();
    agent(&mut c, 0, 1, "alice");
    agent(&mut c, 0, 2, "bob");
    say(&mut c, 0, 100, "help");

    let outs = say(&mut c, 1, 1, "/take v3");
    assert_eq!(to(&outs, 2), vec!["* alice took v3"]);
    let outs = say(&mut c, 2, 100, "still there?");
    assert_eq!(to(&outs, 1), vec!["[v3] still there?"]);
    assert!(
        to(&outs, 2).is_empty(),
        "held visitors go to their agent only"
    );

    let outs = say(&mut c, 3, 2, "/reply v3 me too");
    assert_eq!(
        to(&outs, 2),
        vec!["! v3 is held by alice; /take v3 to take over"]
    );
    assert!(to(&outs, 100).is_empty());

    let outs = say(&mut c, 4, 2, "/take v3");
    assert_eq!(to(&outs, 1), vec!["* bob took v3"]);
    let outs = say(&mut c, 5, 2, "bob here, typing plainly");
    assert_eq!(to(&outs, 100), vec!["bob here, typing plainly"]);
    assert!(
        to(&outs, 1).is_empty(),
        "a held answer is not copied to the others"
    );
    let outs = say(&mut c, 6, 1, "typing plainly");
    assert!(
        to(&outs, 1)[0].starts_with("! you hold no visitor"),
        "alice lost v3: {outs:?}"
    );

    let outs = say(&mut c, 7, 1, "/release v3");
    assert_eq!(to(&outs, 1), vec!["! you do not hold v3"]);
    let outs = say(&mut c, 8, 2, "/release");
    assert_eq!(to(&outs, 1), vec!["* v3 released by bob"]);
    let outs = say(&mut c, 9, 100, "again");
    assert_eq!(
        (to(&outs, 1).len(), to(&outs, 2).len()),
        (1, 1),
        "back to every agent"
    );
}

#[test]
fn an_agent_leaving_releases_its_visitors() {
    let mut c = chat_with(Config {
        agent_secret: Some(SECRET.into()),
        idle_timeout_secs: 10,
        ..Config::default()
    });
    agent(&mut c, 0, 1, "alice");
    agent(&mut c, 0, 2, "bob");
    say(&mut c, 0, 100, "help");
    say(&mut c, 0, 1, "/take v3");
    say(&mut c, 8_000, 2, "/ping");
    say(&mut c, 8_000, 100, "/ping");
    let outs = run_until(&mut c, 10_000);
    assert_eq!(to(&outs, 2), vec!["* agent alice timed out"]);
    assert_eq!(c.agent_count(), 1);
    let outs = say(&mut c, 10_001, 100, "hello?");
    assert_eq!(to(&outs, 2), vec!["[v3] hello?"]);
    let outs = say(&mut c, 10_002, 100, "bye");
    assert_eq!(to(&outs, 2), vec!["* v3 left"]);
}

#[test]
fn rooms_fan_out_to_every_member() {
    let mut c = chat();
    say(&mut c, 0, 1, "/nick ann");
    let outs = say(&mut c, 0, 1, "/join #Lobby");
    assert_eq!(to(&outs, 1), vec!["* ann joined #lobby (1 members)"]);
    say(&mut c, 0, 2, "/join lobby");
    let outs = say(&mut c, 0, 3, "/join lobby");
    for port in [1, 2, 3] {
        assert_eq!(to(&outs, port), vec!["* v3 joined #lobby (3 members)"]);
    }
    let outs = say(&mut c, 1, 2, "hi all");
    for port in [1, 2, 3] {
        assert_eq!(
            to(&outs, port),
            vec!["#lobby <v2> hi all"],
            "sender included"
        );
    }
    assert_eq!(
        lines(&outs),
        vec![("v2".into(), "#lobby".into(), "hi all".into())]
    );
    assert_eq!(
        to(&say(&mut c, 2, 3, "/who"), 3),
        vec!["* #lobby (3): ann, v2, v3"]
    );
    assert_eq!(
        to(&say(&mut c, 2, 9, "/rooms"), 9),
        vec!["* 1 rooms: #lobby (3)"]
    );

    let outs = say(&mut c, 3, 3, "/nick cy");
    assert_eq!(to(&outs, 1), vec!["* v3 is now known as cy"]);
    let outs = say(&mut c, 3, 2, "/leave");
    assert_eq!(to(&outs, 2), vec!["* you left #lobby"]);
    assert_eq!(to(&outs, 1), vec!["* v2 left #lobby"]);
    let outs = say(&mut c, 4, 1, "/join dev");
    assert_eq!(to(&outs, 3), vec!["* ann left #lobby"]);
    assert_eq!(to(&outs, 1), vec!["* ann joined #dev (1 members)"]);
    let outs = say(&mut c, 5, 3, "only me now");
    assert_eq!(to(&outs, 3), vec!["#lobby <cy> only me now"]);
    assert!(to(&outs, 1).is_empty());
    say(&mut c, 6, 3, "bye");
    assert_eq!(c.room_size("lobby"), 0);
    assert_eq!(
        to(&say(&mut c, 7, 9, "/rooms"), 9),
        vec!["* 1 rooms: #dev (1)"],
        "empty rooms vanish"
    );
    assert_eq!(
        to(&say(&mut c, 7, 2, "/who"), 2),
        vec!["! not in a room; /join ROOM first"]
    );
    assert_eq!(to(&say(&mut c, 7, 2, "/leave"), 2), vec!["! not in a room"]);
}

#[test]
fn room_limits_and_nick_collisions() {
    let mut c = chat_with(Config {
        max_rooms: 1,
        max_room_members: 2,
        ..Config::default()
    });
    say(&mut c, 0, 1, "/join a");
    assert_eq!(
        to(&say(&mut c, 0, 2, "/join b"), 2),
        vec!["! too many rooms; join an existing one (/rooms)"]
    );
    say(&mut c, 0, 2, "/join a");
    assert_eq!(to(&say(&mut c, 0, 3, "/join a"), 3), vec!["! #a is full"]);
    assert_eq!(
        to(&say(&mut c, 0, 1, "/join a"), 1),
        vec!["* already in #a"]
    );
    say(&mut c, 0, 1, "/nick zed");
    assert_eq!(
        to(&say(&mut c, 0, 3, "/nick ZED"), 3),
        vec!["! nick ZED is taken"]
    );
    assert_eq!(
        to(&say(&mut c, 0, 3, "/nick zee"), 3),
        vec!["* v3 is now known as zee"]
    );
}

#[test]
fn malformed_datagrams_get_error_replies_and_the_session_goes_on() {
    let mut c = chat_with(Config {
        max_datagram: 64,
        auto_reply: "auto".into(),
        busy_reply: "busy".into(),
        ..Config::default()
    });
    c.handle_datagram(0, SOCK, addr(1), &[b'x'; 65]);
    assert_eq!(
        to(&drain_out(&mut c), 1),
        vec!["! message too long: 65 bytes, at most 64"]
    );
    c.handle_datagram(0, SOCK, addr(1), b"caf\xc3");
    assert_eq!(to(&drain_out(&mut c), 1), vec!["! invalid UTF-8 at byte 3"]);
    assert_eq!(to(&say(&mut c, 0, 1, ""), 1), vec!["! empty message"]);
    assert_eq!(
        to(&say(&mut c, 0, 1, "/nope"), 1),
        vec!["! unknown command /nope; try /help"]
    );
    assert_eq!(to(&say(&mut c, 0, 1, "still here"), 1), vec!["auto"]);
    assert!(to(&say(&mut c, 0, 1, "/help"), 1)[0].starts_with("* type to reach"));
}

#[test]
fn the_waiting_list_is_oldest_first_and_shows_holders() {
    let mut c = chat();
    agent(&mut c, 0, 1, "al");
    say(&mut c, 1_000, 100, "first");
    say(&mut c, 3_000, 101, "second");
    say(&mut c, 3_000, 1, "/take v3");
    let outs = say(&mut c, 5_000, 1, "/waiting");
    assert_eq!(
        to(&outs, 1),
        vec!["* 2 waiting\n  v2 4s: first\n  v3 2s held by al: second"]
    );
    assert_eq!(
        to(&say(&mut c, 5_000, 100, "/waiting"), 100)[0],
        "! agents only (/agent SECRET NAME); visitors just type"
    );
}

#[test]
fn drain_tells_agents_and_rooms_and_refuses_newcomers() {
    let mut c = chat();
    agent(&mut c, 0, 1, "al");
    say(&mut c, 0, 2, "/join r");
    say(&mut c, 0, 3, "a visitor");
    c.drain();
    let outs = drain_out(&mut c);
    assert_eq!(to(&outs, 1), vec!["* server shutting down"]);
    assert_eq!(to(&outs, 2), vec!["* server shutting down"]);
    assert!(
        to(&outs, 3).is_empty(),
        "seed visitors are never sent unsolicited lines"
    );
    assert_eq!(
        to(&say(&mut c, 1, 4, "hi"), 4),
        vec!["! server shutting down"]
    );
    assert_eq!(
        to(&say(&mut c, 1, 2, "/ping"), 2),
        vec![reply::PONG],
        "existing sessions still served"
    );
}
