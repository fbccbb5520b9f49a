//! The mock's own tests: storage, `Start`, dry config checks, named emits, writes.

use super::*;
use crate::messages::{ChatMessage, Message};
use crate::{ConnId, HostError, Listeners, Storage};

/// Echoes bytes, publishes each line; refuses `limit: 0` in `new`.
struct Talker {
    started: bool,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TalkerConfig {
    limit: u32,
}

impl Protocol for Talker {
    type Config = TalkerConfig;
    const NAME: &'static str = "talker";
    const LISTENERS: Listeners = Listeners::TCP;
    const PORTS: &'static [Port] = &[Port::output("lines", ChatMessage::TYPE)];
    fn new(config: TalkerConfig, _: &mut Ctx<'_>) -> Result<Talker, String> {
        if config.limit == 0 {
            return Err(crate::ConfigError::field("limit", "at least 1").into());
        }
        Ok(Talker { started: false })
    }
    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: Event<'_>) {
        match event {
            Event::Start => self.started = true,
            Event::Bytes { conn, data } => {
                if let Err(e) = ctx.write(conn, data) {
                    ctx.warn(format_args!("write failed: {e}"));
                }
                let line = ChatMessage {
                    from: "t".into(),
                    channel: "#t".into(),
                    text: String::from_utf8_lossy(data).into_owned(),
                    at_unix_ms: 0,
                };
                let _ = ctx.emit("lines", &line);
            }
            _ => {}
        }
    }
}

#[test]
fn create_starts_check_config_runs_new_and_emits_are_named() {
    let err = MockHost::check_config::<Talker>("(limit: 0)").unwrap_err();
    assert_eq!(err.message, "`limit`: at least 1");
    let err = MockHost::check_config::<Talker>("(limt: 1)").unwrap_err();
    assert_eq!((err.line, err.col), (1, 2), "{err}");
    assert!(MockHost::check_config::<Talker>("(limit: 1)").is_ok());

    let mut host = MockHost::new();
    let mut t = host.create::<Talker>("(limit: 1)").unwrap();
    assert!(t.started, "the host sends Start after create");
    host.deliver(
        &mut t,
        0,
        Event::Bytes {
            conn: ConnId(3),
            data: b"hi",
        },
    );
    let lines: Vec<ChatMessage> = host.messages("lines");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].text, "hi");
    assert_eq!(host.take_messages()[0].port, "lines");
}

#[test]
fn writes_can_fail_or_fill_up() {
    let mut host = MockHost::new();
    let mut t = host.create::<Talker>("(limit: 1)").unwrap();
    host.write_capacity = Some(3);
    host.deliver(
        &mut t,
        0,
        Event::Bytes {
            conn: ConnId(1),
            data: b"ab",
        },
    );
    host.deliver(
        &mut t,
        0,
        Event::Bytes {
            conn: ConnId(1),
            data: b"cd",
        },
    );
    let warned = |host: &mut MockHost| {
        host.take_actions()
            .into_iter()
            .filter(|a| matches!(a, Action::Log { msg, .. } if msg.starts_with("write failed")))
            .count()
    };
    assert_eq!(
        warned(&mut host),
        1,
        "the second write overflows the buffer"
    );
    host.flush_writes(1);
    host.deliver(
        &mut t,
        0,
        Event::Bytes {
            conn: ConnId(1),
            data: b"ef",
        },
    );
    assert_eq!(warned(&mut host), 0, "room again once the peer read");
    host.fail_writes = Some(HostError::Closed);
    host.deliver(
        &mut t,
        0,
        Event::Bytes {
            conn: ConnId(1),
            data: b"x",
        },
    );
    assert_eq!(warned(&mut host), 1);
}

#[test]
fn with_ctx_is_the_hosts_storage() {
    let mut host = MockHost::new();
    host.files.insert("a.txt".into(), b"hello".to_vec());
    let stored = host.with_ctx(5, |cx| {
        assert_eq!(cx.now_ms(), 5);
        let st: &mut dyn Storage = cx;
        let (file, len) = st.open_read("a.txt")?;
        let mut buf = [0u8; 8];
        let n = st.read_file(file, 1, &mut buf)?;
        st.close_file(file)?;
        let temp = st.create_temp("b.txt")?;
        st.write_file(temp, &buf[..n])?;
        st.commit_file(temp, "b.txt", false)?;
        Ok::<_, crate::HostError>(len)
    });
    assert_eq!(stored, Ok(5));
    assert_eq!(host.files["b.txt"], b"ello");
    assert_eq!(host.open_files(), 0);
    assert_eq!(
        host.take_io(),
        vec![Action::Commit {
            path: "b.txt".into()
        }]
    );
}

/// `file_digest` answers as the host does on a cache miss: the side file beside the
/// path the file was opened at, while it matches the file; nothing for a temp.
#[test]
fn a_file_digest_comes_from_a_matching_side_file() {
    let mut host = MockHost::new();
    host.files.insert("d/a.txt".into(), b"hello".to_vec());
    let digest = host.with_ctx(0, |cx| {
        let (file, _) = cx.open_read("d/a.txt")?;
        let none = cx.file_digest(file)?;
        crate::sums::store(cx, "d/a.txt", &[0x5a; 32]);
        let some = cx.file_digest(file)?;
        let temp = cx.create_temp("d/b.txt")?;
        let on_temp = cx.file_digest(temp);
        Ok::<_, HostError>((none, some, on_temp))
    });
    assert_eq!(
        digest,
        Ok((None, Some([0x5a; 32]), Err(HostError::Invalid)))
    );
    assert!(host.files.contains_key("d/.a.txt.sha256"));
    // The file changed size: its side file no longer matches.
    host.files.insert("d/a.txt".into(), b"hello!".to_vec());
    let after = host.with_ctx(0, |cx| {
        let (file, _) = cx.open_read("d/a.txt")?;
        cx.file_digest(file)
    });
    assert_eq!(after, Ok(None));
}

/// `open_udp_in` takes a free port of the range (the mock: the lowest), says `Busy`
/// when every one is taken, gets a port back when its socket closes; an empty range
/// or port 0 is refused by the table as malformed.
#[test]
fn open_udp_in_takes_free_ports_of_the_range_until_none_is_left() {
    let mut host = MockHost::new();
    host.ports_taken_elsewhere.insert(50_000);
    let like = crate::SocketId(1);
    let got = host.with_ctx(0, |cx| {
        let (a, at) = cx.open_udp_in(like, 50_000..=50_002)?;
        let (_, bt) = cx.open_udp_in(like, 50_000..=50_002)?;
        let full = cx.open_udp_in(like, 50_000..=50_002);
        cx.close_socket(a)?;
        let (_, again) = cx.open_udp_in(like, 50_000..=50_002)?;
        let (lo, hi) = (7, 6);
        let empty = cx.open_udp_in(like, lo..=hi);
        let zero = cx.open_udp_in(like, 0..=5);
        Ok::<_, HostError>((at.port(), bt.port(), full, again.port(), empty, zero))
    });
    assert_eq!(
        got,
        Ok((
            50_001,
            50_002,
            Err(HostError::Busy),
            50_001,
            Err(HostError::Invalid),
            Err(HostError::Invalid)
        ))
    );
    assert_eq!(
        host.udp_ports.values().copied().collect::<Vec<_>>(),
        [50_002, 50_001]
    );
}

/// Subscribes to `room.1` at start; once confirmed publishes a line there; keeps what
/// arrives; unsubscribes on `stop`.
#[derive(Default)]
struct Relay {
    confirmed: Option<Result<(), HostError>>,
    got: Vec<(u64, String, String, String, Vec<u8>)>,
    bad_subject: Option<Result<(), HostError>>,
}

impl Protocol for Relay {
    type Config = ();
    const NAME: &'static str = "relay";
    const LISTENERS: Listeners = Listeners::TCP;
    fn new(_: (), _: &mut Ctx<'_>) -> Result<Relay, String> {
        Ok(Relay::default())
    }
    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: Event<'_>) {
        match event {
            Event::Start => {
                ctx.bus_subscribe("room.1", true, 7).expect("subscribed");
                self.bad_subject = Some(ctx.bus_subscribe("room.*", false, 8));
            }
            Event::BusDone { token: 7, result } => {
                self.confirmed = Some(result);
                let line = ChatMessage {
                    from: "r".into(),
                    channel: "room.1".into(),
                    text: "hi".into(),
                    at_unix_ms: 0,
                };
                ctx.bus_publish_message("room.1", &line).expect("queued");
            }
            Event::BusMessage {
                token,
                subject,
                type_name,
                from,
                data,
            } => self.got.push((
                token,
                subject.into(),
                type_name.into(),
                from.into(),
                data.to_vec(),
            )),
            Event::Bytes { .. } => ctx.bus_unsubscribe(7).expect("unsubscribed"),
            _ => {}
        }
    }
}

#[test]
fn bus_subscriptions_are_confirmed_then_deliver_and_a_wildcard_is_refused() {
    let mut host = MockHost::new();
    let mut relay = host.create::<Relay>("").unwrap();
    assert_eq!(relay.bad_subject, Some(Err(HostError::Invalid)));
    assert_eq!(
        host.bus_subscriptions.get(&7),
        Some(&("room.1".to_string(), true))
    );
    host.bus_confirm(&mut relay, 1, 7, Ok(()));
    assert_eq!(relay.confirmed, Some(Ok(())));
    let published: Vec<Action> = host
        .take_io()
        .into_iter()
        .filter(|a| matches!(a, Action::BusPublish { .. }))
        .collect();
    let Action::BusPublish {
        subject,
        type_name,
        data,
    } = &published[0]
    else {
        panic!("{published:?}")
    };
    assert_eq!(
        (subject.as_str(), type_name.as_str()),
        ("room.1", ChatMessage::TYPE)
    );
    assert_eq!(
        serde_json::from_slice::<ChatMessage>(data).unwrap().text,
        "hi"
    );
    host.bus_deliver(&mut relay, 2, 7, (ChatMessage::TYPE, "host-b/chat"), b"{}");
    assert_eq!(
        relay.got,
        vec![(
            7,
            "room.1".to_string(),
            ChatMessage::TYPE.to_string(),
            "host-b/chat".to_string(),
            b"{}".to_vec()
        )]
    );
    host.deliver(
        &mut relay,
        3,
        Event::Bytes {
            conn: ConnId(1),
            data: b"stop",
        },
    );
    assert!(host.bus_subscriptions.is_empty());
    host.bus_refuses = Some(HostError::Busy);
    let mut ctx_result = None;
    host.with_ctx(0, |ctx| ctx_result = Some(ctx.bus_publish("a", "", b"x")));
    assert_eq!(ctx_result, Some(Err(HostError::Busy)));
}

/// What a key-value operation answered: the revision and the value, or why not.
type KvAnswer = Result<(u64, Vec<u8>), HostError>;

/// Runs the key-value operation each TCP read names (`create`, `update N`, `get`,
/// `delete`) on `claims`/`visitor.1`, and keeps what comes back.
#[derive(Default)]
struct Claimer {
    got: Vec<(u64, KvAnswer)>,
    next: u64,
}

impl Protocol for Claimer {
    type Config = ();
    const NAME: &'static str = "claimer";
    const LISTENERS: Listeners = Listeners::TCP;
    fn new(_: (), _: &mut Ctx<'_>) -> Result<Claimer, String> {
        Ok(Claimer::default())
    }
    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: Event<'_>) {
        use crate::{KvKind, KvOp};
        match event {
            Event::Bytes { data, .. } => {
                let text = String::from_utf8_lossy(data).into_owned();
                let mut words = text.split(' ');
                let op = KvOp::new(KvKind::Get, "claims", "visitor.1", 30);
                let op = match words.next() {
                    Some("create") => KvOp {
                        kind: KvKind::Create,
                        ..op
                    }
                    .with_value(b"agent-a"),
                    Some("update") => KvOp {
                        kind: KvKind::Update,
                        ..op
                    }
                    .with_value(b"agent-a again")
                    .at_revision(words.next().and_then(|r| r.parse().ok()).unwrap_or(0)),
                    Some("delete") => KvOp {
                        kind: KvKind::Delete,
                        ..op
                    },
                    Some("bad") => KvOp::new(KvKind::Get, "claims.x", "visitor.1", 30),
                    _ => op,
                };
                self.next += 1;
                if let Err(e) = ctx.bus_kv(op, self.next) {
                    self.got.push((self.next, Err(e)));
                }
            }
            Event::BusKvDone { token, result } => {
                self.got
                    .push((token, result.map(|(rev, value)| (rev, value.to_vec()))));
            }
            _ => {}
        }
    }
}

#[test]
fn bus_kv_claims_are_won_once_kept_at_their_revision_and_released() {
    let mut host = MockHost::new();
    let mut c = host.create::<Claimer>("").unwrap();
    let say = |host: &mut MockHost, c: &mut Claimer, what: &str| {
        let data = what.as_bytes();
        host.deliver(
            c,
            0,
            Event::Bytes {
                conn: ConnId(1),
                data,
            },
        );
        host.bus_kv_complete(c, 1);
        c.got.pop().expect("an answer").1
    };
    assert_eq!(say(&mut host, &mut c, "create"), Ok((1, Vec::new())));
    // A second claim of the same key loses, as another host's would.
    assert_eq!(say(&mut host, &mut c, "create"), Err(HostError::Exists));
    assert_eq!(say(&mut host, &mut c, "update 7"), Err(HostError::Exists));
    assert_eq!(say(&mut host, &mut c, "update 1"), Ok((2, Vec::new())));
    assert_eq!(
        say(&mut host, &mut c, "get"),
        Ok((2, b"agent-a again".to_vec()))
    );
    assert_eq!(say(&mut host, &mut c, "delete").map(|_| ()), Ok(()));
    assert_eq!(say(&mut host, &mut c, "get"), Err(HostError::NotFound));
    // A bucket that is no single token is refused by the table, before the mock.
    assert_eq!(say(&mut host, &mut c, "bad"), Err(HostError::Invalid));
}
