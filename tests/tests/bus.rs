//! The host-side bus library (`switchyard-bus`) against a real nats-server
//! (`switchyard_e2e::nats`): the subject prefix, own messages skipped, the key-value
//! claim (exactly one winner), expiry, the live keys of a bucket, deduplicated stream
//! publishes, and reconnection after the server restarts on the same port.

use std::time::{Duration, Instant};

use bytes::Bytes;
use switchyard_bus::{
    Bus, BusError, BusOptions, ConnectionState, EventStream, KvBucket, StreamLimits,
};
use switchyard_e2e::nats::NatsServer;

/// A connection as host `host` under prefix `prefix`.
async fn connect(server: &NatsServer, prefix: &str, host: &str) -> Bus {
    let options = BusOptions::new(vec![server.url()], prefix, host);
    Bus::connect(&options).await.expect("connect")
}

/// The next message of `sub` within `within`, or `None`.
async fn next_within(
    sub: &mut switchyard_bus::Subscription,
    within: Duration,
) -> Option<switchyard_bus::BusMessage> {
    tokio::time::timeout(within, sub.next())
        .await
        .ok()
        .flatten()
}

#[tokio::test]
async fn pub_sub_across_two_connections_applies_the_prefix() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let a = connect(&server, "sy.test", "a").await;
    let b = connect(&server, "sy.test", "b").await;
    let other = connect(&server, "other", "c").await;
    let mut on_b = b.subscribe("room.1", false).await.unwrap();
    let mut on_other = other.subscribe("room.1", false).await.unwrap();
    b.flush().await.unwrap();
    other.flush().await.unwrap();
    a.publish("room.1", Bytes::from_static(b"hello"))
        .await
        .unwrap();
    let got = next_within(&mut on_b, Duration::from_secs(5))
        .await
        .expect("delivered");
    assert_eq!(got.subject, "room.1");
    assert_eq!(got.host.as_deref(), Some("a"));
    assert_eq!(&got.payload[..], b"hello");
    // Another prefix is another namespace: nothing arrives there.
    assert!(
        next_within(&mut on_other, Duration::from_millis(300))
            .await
            .is_none()
    );
    assert!(matches!(
        a.publish("room.*", Bytes::new()).await,
        Err(BusError::Invalid { .. })
    ));
}

#[tokio::test]
async fn own_messages_are_skipped_unless_asked_for() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let a = connect(&server, "sy", "a").await;
    let b = connect(&server, "sy", "b").await;
    let mut others_only = a.subscribe("room", false).await.unwrap();
    let mut with_own = a.subscribe("room", true).await.unwrap();
    a.flush().await.unwrap();
    a.publish("room", Bytes::from_static(b"mine"))
        .await
        .unwrap();
    a.flush().await.unwrap();
    b.publish("room", Bytes::from_static(b"theirs"))
        .await
        .unwrap();
    let first = next_within(&mut others_only, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        (&first.payload[..], first.host.as_deref()),
        (&b"theirs"[..], Some("b"))
    );
    // Asked for its own too, A gets both; two connections' publishes may reach the
    // server in either order.
    let mut both = Vec::new();
    for _ in 0..2 {
        let m = next_within(&mut with_own, Duration::from_secs(5))
            .await
            .unwrap();
        both.push((m.payload.to_vec(), m.host.clone()));
    }
    both.sort();
    assert_eq!(
        both,
        vec![
            (b"mine".to_vec(), Some("a".to_owned())),
            (b"theirs".to_vec(), Some("b".to_owned()))
        ]
    );
    assert!(
        next_within(&mut others_only, Duration::from_millis(200))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn exactly_one_of_eight_concurrent_claimers_wins_twenty_times() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let a = connect(&server, "sy", "a").await;
    let b = connect(&server, "sy", "b").await;
    let on_a = KvBucket::open(&a, "claims", Duration::from_secs(60))
        .await
        .unwrap();
    let on_b = KvBucket::open(&b, "claims", Duration::from_secs(60))
        .await
        .unwrap();
    let mut wins_by_host = [0u32; 2];
    for round in 0..20 {
        let key = format!("visitor.{round}");
        let claims = (0..8).map(|i| {
            let (bucket, host) = if i % 2 == 0 { (&on_a, 0) } else { (&on_b, 1) };
            let key = key.clone();
            async move {
                (
                    host,
                    bucket.create(&key, Bytes::from(format!("agent-{i}"))).await,
                )
            }
        });
        let results = futures_util::future::join_all(claims).await;
        let winners: Vec<_> = results.iter().filter(|(_, r)| r.is_ok()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        wins_by_host[winners[0].0] += 1;
        for (_, r) in &results {
            assert!(matches!(r, Ok(_) | Err(BusError::Conflict { .. })), "{r:?}");
        }
        // The winner's value is what both hosts read.
        let held = on_b.get(&key).await.unwrap().expect("claimed");
        assert_eq!(Some(held.clone()), on_a.get(&key).await.unwrap());
        // Keeping the claim needs its revision: a stale one loses.
        let renewed = on_a
            .compare_and_set(&key, held.value.clone(), held.revision)
            .await
            .unwrap();
        assert!(renewed > held.revision);
        assert!(matches!(
            on_b.compare_and_set(&key, held.value, held.revision).await,
            Err(BusError::Conflict { .. })
        ));
    }
    eprintln!("claims won by host a/b: {wins_by_host:?}");
}

#[tokio::test]
async fn a_key_expires_after_the_buckets_max_age() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let a = connect(&server, "sy", "a").await;
    let presence = KvBucket::open(&a, "presence", Duration::from_secs(1))
        .await
        .unwrap();
    presence
        .put("member.7", Bytes::from_static(b"host-a"))
        .await
        .unwrap();
    assert!(presence.get("member.7").await.unwrap().is_some());
    let start = Instant::now();
    while presence.get("member.7").await.unwrap().is_some() {
        assert!(start.elapsed() < Duration::from_secs(10), "never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("expired {:?} after the check", start.elapsed());
    // Gone means claimable again.
    presence
        .create("member.7", Bytes::from_static(b"host-b"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_bucket_lists_its_live_keys_with_their_values_and_write_times() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let a = connect(&server, "sy", "a").await;
    let hosts = KvBucket::open(&a, "roster", Duration::from_secs(60))
        .await
        .unwrap();
    assert!(
        hosts.keys().await.unwrap().is_empty(),
        "a new bucket is empty"
    );
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    for (key, value) in [("host-a", "first"), ("host-b", "b"), ("host-c", "c")] {
        hosts.put(key, Bytes::from(value)).await.unwrap();
    }
    hosts
        .put("host-a", Bytes::from_static(b"again"))
        .await
        .unwrap();
    hosts.delete("host-c").await.unwrap();
    let mut keys = hosts.keys().await.unwrap();
    keys.sort();
    assert_eq!(keys, ["host-a", "host-b"], "a deleted key is not live");
    let mut records = hosts.records().await.unwrap();
    records.sort_by(|x, y| x.key.cmp(&y.key));
    assert_eq!(records.len(), 2);
    assert_eq!(&records[0].entry.value[..], b"again", "the latest value");
    assert_eq!(&records[1].entry.value[..], b"b");
    assert!(records[0].entry.revision > records[1].entry.revision);
    for r in &records {
        // The server's clock, on this machine: within the test's own span.
        assert!(r.written_unix_ms + 1_000 >= before, "{r:?}");
        assert!(r.written_unix_ms <= before + 60_000, "{r:?}");
    }
}

#[tokio::test]
async fn a_publish_resent_with_the_same_id_is_stored_once() {
    let Some(server) = NatsServer::start() else {
        return;
    };
    let a = connect(&server, "sy", "a").await;
    let limits = StreamLimits {
        max_bytes: 1 << 20,
        max_age: Duration::from_secs(3600),
        duplicate_window: Duration::from_secs(120),
    };
    let transcript = EventStream::open(&a, "transcript", "audit", limits)
        .await
        .unwrap();
    let first = transcript
        .publish("chat", "a-1", Bytes::from_static(b"one"))
        .await
        .unwrap();
    let again = transcript
        .publish("chat", "a-1", Bytes::from_static(b"one"))
        .await
        .unwrap();
    assert!(!first.duplicate && again.duplicate, "{first:?} {again:?}");
    assert_eq!(first.sequence, again.sequence);
    assert_eq!(transcript.message_count().await.unwrap(), 1);
    let next = transcript
        .publish("chat", "a-2", Bytes::from_static(b"two"))
        .await
        .unwrap();
    assert!(!next.duplicate && next.sequence > first.sequence);
    assert_eq!(transcript.message_count().await.unwrap(), 2);
}

/// Poll `bus` until it reaches `state`; panics after `within`.
async fn wait_state(bus: &Bus, state: ConnectionState, within: Duration) {
    let start = Instant::now();
    while bus.state() != state {
        assert!(
            start.elapsed() < within,
            "still {:?}, not {state:?}",
            bus.state()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_client_reconnects_after_the_server_restarts_on_its_port() {
    let Some(mut server) = NatsServer::start() else {
        return;
    };
    let a = connect(&server, "sy", "a").await;
    let b = connect(&server, "sy", "b").await;
    let mut on_b = b.subscribe("room", false).await.unwrap();
    b.flush().await.unwrap();
    a.publish("room", Bytes::from_static(b"before"))
        .await
        .unwrap();
    assert!(
        next_within(&mut on_b, Duration::from_secs(5))
            .await
            .is_some()
    );

    server.stop();
    wait_state(&a, ConnectionState::Disconnected, Duration::from_secs(10)).await;
    let down = Instant::now();
    server.restart();
    wait_state(&a, ConnectionState::Connected, Duration::from_secs(10)).await;
    wait_state(&b, ConnectionState::Connected, Duration::from_secs(10)).await;
    // b re-subscribes on reconnect; until it has, a's messages may go nowhere (core
    // NATS keeps nothing), so publish until one arrives.
    let start = Instant::now();
    let got = loop {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no delivery after restart"
        );
        a.publish("room", Bytes::from_static(b"after"))
            .await
            .unwrap();
        if let Some(m) = next_within(&mut on_b, Duration::from_millis(200)).await {
            break m;
        }
    };
    assert_eq!(&got.payload[..], b"after");
    eprintln!(
        "delivering again {:?} after the restart began",
        down.elapsed()
    );
}
