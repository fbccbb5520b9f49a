//! The cluster bus between real hosts (issue 22): two `switchyard` processes on one
//! `nats-server` (`switchyard_e2e::nats`), a typed message from host A's output port to
//! host B's input port through a subject, types and schema versions refused, a host's
//! own messages not delivered back, NATS restarted mid-stream, and NATS down at start.

use std::time::Duration;

use bytes::Bytes;
use serde_json::json;
use switchyard_bus::{Bus, BusOptions, Typed};
use switchyard_e2e::cluster::{
    AUDIT, BUS_WAIT, FAULTY, bus_metric, emit, topology, transcript, wait_connected,
    wait_subscribed,
};
use switchyard_e2e::nats::NatsServer;
use switchyard_e2e::{Host, wait_until};

/// The `ChatMessage` the `faulty` plugin emits, as JSON.
fn emitted() -> serde_json::Value {
    json!({"from": "faulty", "channel": "test", "text": "hello", "at_unix_ms": 0})
}

/// Host A: `f.out` published on `chat.lines`; its own audit subscribed to the same
/// subject (without `own`, so it must not get A's messages).
fn host_a(url: &str, extra: &str) -> Host {
    Host::start(&topology(
        url,
        "host-a",
        extra,
        &format!("{FAULTY} {AUDIT}"),
        r#"(from: "f.out", to: "bus:chat.lines"), (from: "bus:chat.lines", to: "audit.events")"#,
    ))
}

/// Host B: `chat.lines` to its audit, and to `f.in`, which takes only
/// `TransferCompleted/1` (so each chat line is refused there).
fn host_b(url: &str) -> Host {
    Host::start(&topology(
        url,
        "host-b",
        "",
        &format!("{FAULTY} {AUDIT}"),
        r#"(from: "bus:chat.lines", to: "audit.events"), (from: "bus:chat.lines", to: "f.in")"#,
    ))
}

#[test]
fn a_typed_message_crosses_from_host_a_to_host_b_exactly_as_emitted() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let b = host_b(&nats.url());
    let a = host_a(&nats.url(), "");
    wait_subscribed(&b, "chat.lines", 1);
    wait_subscribed(&a, "chat.lines", 1);
    emit(&a);
    wait_until("B's transcript holds A's message", BUS_WAIT, || {
        !transcript(&b).is_empty()
    });
    let records = transcript(&b);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["type"], "switchyard.ChatMessage/1");
    assert_eq!(records[0]["handler_port"], "host-a/f.out");
    assert_eq!(records[0]["data"], emitted());
    // B's `f.in` does not accept a ChatMessage: refused, counted and said.
    wait_until("B counts the refusal", BUS_WAIT, || {
        bus_metric(&b, "refused_total{why=\"type\"}") == 1.0
    });
    let line = b.expect_log(
        "the refusal",
        |j| j["msg"] == "bus message refused",
        BUS_WAIT,
    );
    assert_eq!(line["type"], "switchyard.ChatMessage/1");
    assert_eq!(line["accepts"], "switchyard.TransferCompleted/1");
    assert_eq!(bus_metric(&b, "received_total"), 1.0);
    assert_eq!(bus_metric(&a, "published_total"), 1.0);
    // A's own audit listens on the subject but never gets A's own message back.
    std::thread::sleep(Duration::from_millis(500));
    assert!(transcript(&a).is_empty(), "{:?}", transcript(&a));
    assert_eq!(bus_metric(&a, "received_total"), 0.0);
    assert_eq!(bus_metric(&a, "connected"), 1.0);
}

#[test]
fn a_receiver_refuses_a_type_version_its_port_does_not_accept() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let b = Host::start(&topology(
        &nats.url(),
        "host-b",
        "",
        FAULTY,
        r#"(from: "bus:transfers", to: "f.in")"#,
    ));
    wait_subscribed(&b, "transfers", 1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let other = rt
        .block_on(Bus::connect(&BusOptions::new(
            vec![nats.url()],
            "sy.test",
            "host-x",
        )))
        .unwrap();
    let publish = |type_name: &str| {
        let typed = Typed {
            type_name,
            source: "bulk.transfers",
        };
        rt.block_on(other.publish_typed("transfers", typed, Bytes::from_static(b"{}")))
            .unwrap();
    };
    publish("switchyard.TransferCompleted/2");
    rt.block_on(other.publish("transfers", Bytes::from_static(b"{}")))
        .unwrap();
    publish("switchyard.TransferCompleted/1");
    rt.block_on(other.flush()).unwrap();
    // The version it knows is delivered; the other version and the untyped message not.
    b.expect_log(
        "the known version delivered",
        |j| {
            switchyard_e2e::log_text(j)
                .contains("faulty got message on port in of type switchyard.TransferCompleted/1")
        },
        BUS_WAIT,
    );
    assert_eq!(bus_metric(&b, "refused_total{why=\"type\"}"), 1.0);
    assert_eq!(bus_metric(&b, "refused_total{why=\"untyped\"}"), 1.0);
    assert_eq!(bus_metric(&b, "received_total"), 1.0);
    let refused = b.expect_log(
        "the refusal",
        |j| j["msg"] == "bus message refused",
        BUS_WAIT,
    );
    assert_eq!(refused["type"], "switchyard.TransferCompleted/2");
    assert_eq!(refused["from_host"], "host-x");
    let reached = b.logs_where(|j| {
        switchyard_e2e::log_text(j).contains("faulty got message")
            && switchyard_e2e::log_text(j).contains("TransferCompleted/2")
    });
    assert!(
        reached.is_empty(),
        "a refused version reached the plugin: {reached:?}"
    );
}

#[test]
fn nats_restarted_mid_stream_the_host_reconnects_queues_within_its_bound_and_says_what_it_dropped()
{
    let Some(mut nats) = NatsServer::start() else {
        return;
    };
    let b = host_b(&nats.url());
    let a = host_a(&nats.url(), "max_queued: 8");
    wait_subscribed(&b, "chat.lines", 1);
    for _ in 0..3 {
        emit(&a);
    }
    wait_until("B's transcript holds the first 3", BUS_WAIT, || {
        transcript(&b).len() == 3
    });
    nats.stop();
    wait_connected(&a, false);
    // NATS away: the host keeps serving; what does not fit in its bounds is dropped.
    let during = 40;
    for _ in 0..during {
        emit(&a);
    }
    wait_until("every message published or dropped", BUS_WAIT, || {
        bus_metric(&a, "queued") <= 8.0 && bus_metric(&a, "dropped_total{why=\"queue_full\"}") > 0.0
    });
    let line = a.expect_log(
        "the drops said in the log",
        |j| j["msg"] == "bus messages dropped" && j["why"] == "queue_full",
        BUS_WAIT,
    );
    assert_eq!(line["subject"], "chat.lines");
    let restarted = std::time::Instant::now();
    nats.restart();
    wait_connected(&a, true);
    wait_connected(&b, true);
    let reconnected = restarted.elapsed();
    let dropped = |a: &Host| {
        bus_metric(a, "dropped_total{why=\"queue_full\"}")
            + bus_metric(a, "dropped_total{why=\"backlogged\"}")
    };
    // Every message is accounted for: published once NATS was back, or dropped.
    wait_until("the queue published out", BUS_WAIT, || {
        bus_metric(&a, "queued") == 0.0
            && bus_metric(&a, "published_total") + dropped(&a) == f64::from(3 + during)
    });
    // At most the host's queue and the client's (8 each) waited for NATS.
    assert!(
        dropped(&a) >= f64::from(during - 16),
        "dropped {}",
        dropped(&a)
    );
    // The stream goes on: B, resubscribed by its client, gets what A emits now.
    let before = transcript(&b).len();
    for _ in 0..5 {
        emit(&a);
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_until(
        "B gets the messages emitted after the restart",
        BUS_WAIT,
        || transcript(&b).len() >= before + 5,
    );
    assert!(transcript(&b).iter().all(|r| r["data"] == emitted()));
    assert_eq!(bus_metric(&a, "connections_total"), 2.0);
    assert!(!a.logs_contain("panicked") && !b.logs_contain("panicked"));
    eprintln!(
        "NATS restart: both hosts connected {reconnected:?} after the restart began; \
         of {} emitted: {} published, {} dropped (queue_full {}, backlogged {})",
        3 + during + 5,
        bus_metric(&a, "published_total"),
        dropped(&a),
        bus_metric(&a, "dropped_total{why=\"queue_full\"}"),
        bus_metric(&a, "dropped_total{why=\"backlogged\"}"),
    );
}

#[test]
fn nats_down_at_start_the_host_serves_degraded_and_connects_when_nats_comes() {
    let Some(mut nats) = NatsServer::start() else {
        return;
    };
    nats.stop();
    let b = host_b(&nats.url());
    // Serving without the bus: its own handlers answer, the gauge says so, and a WARN
    // line says it after the connect timeout.
    assert_eq!(
        switchyard_e2e::udp_roundtrip(b.addr("u"), b"ping", Duration::from_secs(5)),
        b"pong"
    );
    assert_eq!(bus_metric(&b, "connected"), 0.0);
    b.expect_log(
        "the degraded start said",
        |j| j["msg"] == "bus not connected: serving without it until NATS answers",
        BUS_WAIT,
    );
    nats.restart();
    wait_connected(&b, true);
    wait_subscribed(&b, "chat.lines", 1);
    let a = host_a(&nats.url(), "");
    wait_connected(&a, true);
    emit(&a);
    wait_until("B gets A's message", BUS_WAIT, || transcript(&b).len() == 1);
}

#[test]
fn a_credentials_variable_not_set_refuses_the_start_naming_it() {
    // No server is needed: the variables are read before anything connects.
    let text = topology(
        "nats://127.0.0.1:9",
        "host-a",
        r#"token_env: "SY_TEST_UNSET_NATS_TOKEN""#,
        FAULTY,
        "",
    );
    let failure = Host::builder(&text)
        .try_start()
        .expect_err("a start without the token");
    assert_eq!(failure.code(), Some(1), "{}", failure.text());
    assert!(
        failure.text().contains(
            "bus: environment variable `SY_TEST_UNSET_NATS_TOKEN` (named by `bus`) is not set"
        ),
        "{}",
        failure.text()
    );
}

#[test]
fn a_reload_moves_subscriptions_reconnects_on_a_new_name_and_can_drop_the_bus() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let on = |name: &str, subject: &str| {
        topology(
            &nats.url(),
            name,
            "",
            FAULTY,
            &format!(r#"(from: "bus:{subject}", to: "f.any")"#),
        )
    };
    let b = Host::start(&on("host-b", "first"));
    wait_subscribed(&b, "first", 1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let other = rt
        .block_on(Bus::connect(&BusOptions::new(
            vec![nats.url()],
            "sy.test",
            "x",
        )))
        .unwrap();
    let send = |subject: &str| {
        let typed = Typed {
            type_name: "switchyard.ChatMessage/1",
            source: "x.out",
        };
        rt.block_on(other.publish_typed(subject, typed, Bytes::from_static(b"{}")))
            .unwrap();
        rt.block_on(other.flush()).unwrap();
    };
    send("first");
    wait_until("the first subject delivered", BUS_WAIT, || {
        bus_metric(&b, "received_total") == 1.0
    });
    // The route moves to another subject: the old subscription goes, the new one comes;
    // the connection stays (same name and servers).
    b.reload_to(&on("host-b", "second"), 1);
    wait_subscribed(&b, "second", 1);
    send("first");
    send("second");
    wait_until("the second subject delivered", BUS_WAIT, || {
        bus_metric(&b, "received_total") == 2.0
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        bus_metric(&b, "received_total"),
        2.0,
        "the old subject is gone"
    );
    assert_eq!(bus_metric(&b, "connections_total"), 1.0);
    // The plugin subscribes itself too; its subscription follows the connection.
    let reply = command(&b, "bus-sub plug.x");
    assert!(reply.ends_with(" pending"), "{reply}");
    b.expect_log(
        "the plugin's subscription",
        |j| switchyard_e2e::log_text(j).contains(": Ok(())"),
        BUS_WAIT,
    );
    // Another host name is another connection.
    b.reload_to(&on("host-c", "second"), 2);
    wait_subscribed(&b, "second", 2);
    wait_until("connected again", BUS_WAIT, || {
        bus_metric(&b, "connections_total") == 2.0 && bus_metric(&b, "connected") == 1.0
    });
    // The plugin's subscription moved with it (re-made on the new connection).
    wait_until(
        "the plugin's subject delivered on the new connection",
        BUS_WAIT,
        || {
            send("plug.x");
            b.wait_for_log(
                |j| switchyard_e2e::log_text(j).contains("faulty bus message"),
                Duration::from_millis(200),
            )
            .is_some()
        },
    );
    // On the new connection, the host's own messages (now as host-c) are still its
    // own: not delivered back (the old connection, as host-b, would have).
    assert_eq!(command(&b, "bus-pub plug.x mine"), "bus-pub 0");
    std::thread::sleep(Duration::from_millis(500));
    let own = b.logs_where(|j| switchyard_e2e::log_text(j).contains("from host-c/f"));
    assert!(own.is_empty(), "{own:?}");
    // No bus any more: disconnected, still serving.
    let standalone = r#"(
    admin: Some("127.0.0.1:0"),
    listeners: { "u": (kind: udp, bind: "127.0.0.1:0") },
    handlers: { "f": (plugin: "faulty") },
    routes: [ (from: "u", to: "f") ],
)"#;
    b.reload_to(standalone, 3);
    assert_eq!(bus_metric(&b, "connected"), 0.0);
    assert_eq!(
        switchyard_e2e::udp_roundtrip(b.addr("u"), b"ping", Duration::from_secs(5)),
        b"pong"
    );
}

/// `faulty`'s reply to a bus command over UDP.
fn command(host: &Host, cmd: &str) -> String {
    let reply =
        switchyard_e2e::udp_roundtrip(host.addr("u"), cmd.as_bytes(), Duration::from_secs(5));
    String::from_utf8_lossy(&reply).into_owned()
}

#[test]
fn plugins_subscribe_and_publish_at_run_time_through_the_host() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let plain = |name: &str| topology(&nats.url(), name, "", FAULTY, "");
    let a = Host::start(&plain("host-a"));
    let b = Host::start(&plain("host-b"));
    wait_connected(&a, true);
    wait_connected(&b, true);
    // A subscription answers at once as pending, then is confirmed by an event.
    let reply = command(&b, "bus-sub rooms.lobby");
    let token: u64 = reply
        .strip_prefix("bus-sub ")
        .and_then(|r| r.strip_suffix(" pending"))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{reply}"));
    b.expect_log(
        "the subscription confirmed",
        |j| {
            switchyard_e2e::log_text(j)
                .contains(&format!("faulty bus subscription {token}: Ok(())"))
        },
        BUS_WAIT,
    );
    // A wildcard is refused by the host table, before the host sees it.
    assert_eq!(command(&b, "bus-sub rooms.*"), format!("bus-sub {}", 2));
    assert_eq!(command(&a, "bus-pub rooms.lobby hello from A"), "bus-pub 0");
    let line = b.expect_log(
        "A's message on B",
        |j| switchyard_e2e::log_text(j).contains("faulty bus message"),
        BUS_WAIT,
    );
    let text = switchyard_e2e::log_text(&line);
    assert!(
        text.contains(&format!(
            "faulty bus message {token} on rooms.lobby of type switchyard.ChatMessage/1 from host-a/f: hello from A"
        )),
        "{text}"
    );
    // B's own publish does not come back to it (no `own`); after unsubscribing,
    // nothing more is delivered.
    assert_eq!(command(&b, "bus-pub rooms.lobby from B"), "bus-pub 0");
    assert_eq!(command(&b, &format!("bus-unsub {token}")), "bus-unsub 0");
    assert_eq!(command(&a, "bus-pub rooms.lobby after"), "bus-pub 0");
    std::thread::sleep(Duration::from_millis(500));
    let messages = b.logs_where(|j| switchyard_e2e::log_text(j).contains("faulty bus message"));
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(command(&b, &format!("bus-unsub {token}")), "bus-unsub 3");
}

#[test]
fn bus_calls_without_a_bus_are_unsupported() {
    let host = Host::start(
        r#"(
    listeners: { "u": (kind: udp, bind: "127.0.0.1:0") },
    handlers: { "f": (plugin: "faulty") },
    routes: [ (from: "u", to: "f") ],
)"#,
    );
    assert_eq!(command(&host, "bus-pub a b"), "bus-pub 11");
    assert_eq!(command(&host, "bus-sub a"), "bus-sub 11");
}

#[test]
fn of_two_hosts_claiming_one_key_at_once_exactly_one_wins_twenty_times() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let plain = |name: &str| topology(&nats.url(), name, "", FAULTY, "");
    let hosts = [Host::start(&plain("host-a")), Host::start(&plain("host-b"))];
    for h in &hosts {
        wait_connected(h, true);
    }
    let outcome = |h: &Host, token: &str| -> bool {
        let line = h.expect_log(
            "the claim's outcome",
            |j| switchyard_e2e::log_text(j).contains(&format!("faulty bus kv {token}: ")),
            BUS_WAIT,
        );
        switchyard_e2e::log_text(&line).contains(": Ok((")
    };
    let mut wins = [0u32; 2];
    for round in 0..20 {
        let key = format!("visitor.{round}");
        // Both claims leave before either answer comes back.
        let tokens: Vec<String> = std::thread::scope(|s| {
            let claims: Vec<_> = hosts
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    let cmd = format!("bus-claim {key} agent-{i}");
                    s.spawn(move || command(h, &cmd))
                })
                .collect();
            claims
                .into_iter()
                .map(|c| {
                    let reply = c.join().unwrap();
                    reply
                        .strip_prefix("bus-claim ")
                        .and_then(|r| r.strip_suffix(" pending"))
                        .unwrap_or_else(|| panic!("{reply}"))
                        .to_owned()
                })
                .collect()
        });
        let won: Vec<bool> = hosts
            .iter()
            .zip(&tokens)
            .map(|(h, t)| outcome(h, t))
            .collect();
        assert_eq!(
            won.iter().filter(|w| **w).count(),
            1,
            "round {round}: {won:?}"
        );
        let winner = won.iter().position(|w| *w).unwrap();
        wins[winner] += 1;
        // The loser sees the winner's claim.
        let loser = &hosts[1 - winner];
        let reply = command(loser, &format!("bus-get {key}"));
        let token = reply
            .strip_prefix("bus-get ")
            .and_then(|r| r.strip_suffix(" pending"))
            .unwrap();
        let line = loser.expect_log(
            "the claim read back",
            |j| switchyard_e2e::log_text(j).contains(&format!("faulty bus kv {token}: ")),
            BUS_WAIT,
        );
        assert!(
            switchyard_e2e::log_text(&line).contains(&format!("\"agent-{winner}\"")),
            "{}",
            switchyard_e2e::log_text(&line)
        );
    }
    // A released claim can be taken again.
    let reply = command(&hosts[0], "bus-release visitor.0");
    let token = reply
        .strip_prefix("bus-release ")
        .and_then(|r| r.strip_suffix(" pending"))
        .unwrap();
    assert!(outcome(&hosts[0], token));
    let reply = command(&hosts[1], "bus-claim visitor.0 agent-1");
    let token = reply
        .strip_prefix("bus-claim ")
        .and_then(|r| r.strip_suffix(" pending"))
        .unwrap();
    assert!(outcome(&hosts[1], token));
    eprintln!("claims won: host-a {}, host-b {}", wins[0], wins[1]);
}

#[test]
fn a_slow_handler_holds_its_subscription_back_and_the_client_drops_the_excess() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    // Each message blocks the handler 20 ms: 50 a second at most.
    let b = Host::start(&topology(
        &nats.url(),
        "host-b",
        "",
        r#""f": (plugin: "faulty", config: (message_delay_ms: 20)),"#,
        r#"(from: "bus:flood", to: "f.any")"#,
    ));
    wait_subscribed(&b, "flood", 1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let other = rt
        .block_on(Bus::connect(&BusOptions::new(
            vec![nats.url()],
            "sy.test",
            "x",
        )))
        .unwrap();
    // More than the client buffers for one subscription (8192), sent at once.
    let sent = 12_000u32;
    rt.block_on(async {
        for i in 0..sent {
            let typed = Typed {
                type_name: "switchyard.ChatMessage/1",
                source: "x.out",
            };
            let body = format!("{{\"n\":{i}}}");
            other
                .publish_typed("flood", typed, Bytes::from(body))
                .await
                .unwrap();
        }
        other.flush().await.unwrap();
    });
    let deadline = std::time::Instant::now() + BUS_WAIT;
    while bus_metric(&b, "slow_consumer_total") < 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no slow consumer reported; received {}, refused {}; the host logged:\n{}",
            bus_metric(&b, "received_total"),
            bus_metric(&b, "refused_total{why=\"no_handler\"}"),
            b.stderr_lines().join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    b.expect_log(
        "the slow consumer said",
        |j| j["msg"] == "bus subscription too slow: the client dropped messages of it",
        BUS_WAIT,
    );
    // The handler goes on at its pace; what it could not take was dropped by the
    // client, not queued in the host.
    // At 20 ms a message the handler has taken a few dozen, and its mailbox holds at
    // most its bound: the rest waited in (and beyond its buffer, was dropped by) the
    // client. (An address cloned per message would have let thousands through.)
    let received = bus_metric(&b, "received_total");
    assert!(received < 1000.0, "received {received}");
    // The host itself is unaffected: the admin endpoint (another thread) answers and
    // the process runs. (The flooded handler's own datagrams wait behind its mailbox.)
    assert_eq!(bus_metric(&b, "connected"), 1.0);
    assert!(!b.logs_contain("panicked"));
}
