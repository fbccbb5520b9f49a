//! One transcript for the cluster (issue 22): two hosts on one `nats-server` route
//! their chat lines to a subject the topology's stream `transcript` captures, and host
//! A's audit writes the transcript from that stream. Each line is in it exactly once:
//! as is, when the audit's host is killed (SIGKILL) mid-stream and started again,
//! when NATS restarts while both hosts publish (the publishers re-send with the
//! same message id; the stream stores each once), and when a reload replaces the
//! audit mid-stream (it hands its position over).
//!
//! The lines are chat datagrams with unique texts, sent to each host's chat listener
//! (the chat plugin's `chat.messages` output, routed to `bus:chat.lines`); the test
//! counts each text in host A's transcript files.

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::Duration;

use switchyard_e2e::cluster::{BUS_WAIT, bus_metric, wait_connected};
use switchyard_e2e::nats::NatsServer;
use switchyard_e2e::{Host, wait_until};

/// Pause between two lines of one sender: a steady stream the faults fall into.
const PACE: Duration = Duration::from_millis(2);

/// A host on `url` named `name`, its chat lines on `chat.lines` (captured by stream
/// `transcript`); with `audit_root`, its audit writes the transcript from the stream.
fn host(url: &str, name: &str, audit_root: Option<&Path>) -> Host {
    Host::start(&topology(url, name, audit_root, 50))
}

/// The topology of [`host`], the audit committing every `flush_ms`.
fn topology(url: &str, name: &str, audit_root: Option<&Path>, flush_ms: u32) -> String {
    let audit = audit_root.map_or(String::new(), |root| {
        format!(
            r#""audit": (plugin: "audit", root: Some("{}"),
                config: (file: "transcript.jsonl", flush_interval_ms: {flush_ms}, stream: Some("transcript"))),"#,
            root.display()
        )
    });
    format!(
        r#"(
    drain_timeout_secs: 5,
    admin: Some("127.0.0.1:0"),
    bus: Some((kind: nats, servers: ["{url}"], name: "{name}", subject_prefix: "sy.test",
        streams: {{ "transcript": (subjects: ["chat.lines"], max_bytes: 67108864,
            max_age_secs: 3600, duplicate_window_secs: 120) }})),
    listeners: {{ "chat_udp": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{
        "chat": (plugin: "chat", config: (rate_per_sec: 100000, burst: 100000)),
        {audit}
    }},
    routes: [
        (from: "chat_udp", to: "chat"),
        (from: "chat.messages", to: "bus:chat.lines"),
    ],
)"#
    )
}

/// Send lines `<tag>-<i>` for `i` in `range` to the chat at `addr`, each answered
/// (the auto reply) before the next, [`PACE`] apart.
fn send_lines(addr: SocketAddr, tag: &str, range: std::ops::Range<u32>) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 2048];
    for i in range {
        socket
            .send_to(format!("{tag}-{i}").as_bytes(), addr)
            .expect("send a chat line");
        socket
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("no reply to {tag}-{i} from {addr}: {e}"));
        std::thread::sleep(PACE);
    }
}

/// How often each text starting with `tag-` is in the transcript under `root`, and
/// the stream sequences of all records (in file order).
fn counts(root: &Path, tag: &str) -> (BTreeMap<String, u32>, Vec<u64>) {
    let mut names: Vec<_> = std::fs::read_dir(root)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    names.sort();
    let mut texts = BTreeMap::new();
    let mut seqs = Vec::new();
    for path in names {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for line in text.lines() {
            let record: serde_json::Value =
                serde_json::from_str(line).expect("one JSON record per line");
            seqs.extend(record["seq"].as_u64());
            if let Some(t) = record["data"]["text"].as_str()
                && t.starts_with(&format!("{tag}-"))
            {
                *texts.entry(t.to_owned()).or_default() += 1;
            }
        }
    }
    (texts, seqs)
}

/// Wait until the transcript under `root` holds every `tag-<i>` of `expected`, then
/// check each is there exactly once and the sequences only grow.
fn assert_exactly_once(root: &Path, tags: &[(&str, u32)]) {
    let complete = || {
        tags.iter()
            .all(|(tag, n)| counts(root, tag).0.len() == *n as usize)
    };
    wait_until("every line in the transcript", BUS_WAIT * 2, complete);
    // Late duplicates would come within a flush or two.
    std::thread::sleep(Duration::from_millis(300));
    for (tag, n) in tags {
        let (texts, _) = counts(root, tag);
        assert_eq!(texts.len(), *n as usize, "{tag}: missing lines");
        let twice: Vec<_> = texts.iter().filter(|(_, c)| **c != 1).collect();
        assert!(twice.is_empty(), "{tag}: written more than once: {twice:?}");
    }
    let (_, seqs) = counts(root, "-");
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "stream sequences not strictly growing: {seqs:?}"
    );
}

/// Records in the transcript so far.
fn records(root: &Path) -> usize {
    counts(root, "-").1.len()
}

#[test]
fn each_line_of_both_hosts_is_in_the_transcript_exactly_once() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let a = host(&nats.url(), "host-a", Some(dir.path()));
    let b = host(&nats.url(), "host-b", None);
    wait_connected(&a, true);
    wait_connected(&b, true);
    let (on_a, on_b) = (a.addr("chat_udp"), b.addr("chat_udp"));
    let sender = std::thread::spawn(move || send_lines(on_b, "b", 0..60));
    send_lines(on_a, "a", 0..60);
    sender.join().unwrap();
    assert_exactly_once(dir.path(), &[("a", 60), ("b", 60)]);
    // Each record names its publisher; nothing was re-sent without a fault.
    let text = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<String>();
    assert!(text.contains("\"from\":\"host-b/chat.messages\""), "{text}");
    assert!(text.contains("\"from\":\"host-a/chat.messages\""), "{text}");
    assert_eq!(bus_metric(&a, "resent_total"), 0.0);
    assert!(bus_metric(&b, "stored_total") >= 60.0);
}

#[test]
fn the_audit_host_killed_mid_stream_and_restarted_writes_each_line_once() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut a = host(&nats.url(), "host-a", Some(dir.path()));
    let b = host(&nats.url(), "host-b", None);
    wait_connected(&b, true);
    let on_b = b.addr("chat_udp");
    let sender = std::thread::spawn(move || send_lines(on_b, "b", 0..400));
    wait_until("the transcript under way", BUS_WAIT, || {
        records(dir.path()) >= 60
    });
    a.signal("KILL");
    a.wait_exit(Duration::from_secs(5));
    let at_kill = records(dir.path());
    std::thread::sleep(Duration::from_millis(200));
    let a = host(&nats.url(), "host-a", Some(dir.path()));
    a.expect_log(
        "the restarted audit reads on from its transcript",
        |j| switchyard_e2e::log_text(j).contains("transcript reads stream"),
        BUS_WAIT,
    );
    sender.join().unwrap();
    send_lines(a.addr("chat_udp"), "a", 0..20);
    assert_exactly_once(dir.path(), &[("b", 400), ("a", 20)]);
    assert!(
        at_kill < 400,
        "killed after the whole stream was written ({at_kill})"
    );
}

#[test]
fn nats_restarted_while_both_hosts_publish_each_line_is_written_once() {
    let Some(mut nats) = NatsServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let a = host(&nats.url(), "host-a", Some(dir.path()));
    let b = host(&nats.url(), "host-b", None);
    wait_connected(&a, true);
    wait_connected(&b, true);
    let (on_a, on_b) = (a.addr("chat_udp"), b.addr("chat_udp"));
    let from_a = std::thread::spawn(move || send_lines(on_a, "a", 0..300));
    let from_b = std::thread::spawn(move || send_lines(on_b, "b", 0..300));
    wait_until("the transcript under way", BUS_WAIT, || {
        records(dir.path()) >= 60
    });
    // Away longer than a publish waits for its acknowledgement (2 s), so publishes
    // fail and are re-sent; the senders go on meanwhile (the hosts answer locally).
    nats.stop();
    std::thread::sleep(Duration::from_millis(2500));
    nats.restart();
    from_a.join().unwrap();
    from_b.join().unwrap();
    wait_connected(&a, true);
    wait_connected(&b, true);
    assert_exactly_once(dir.path(), &[("a", 300), ("b", 300)]);
    // The restart did hit publishes: they were sent again, and stored once.
    let resent = bus_metric(&a, "resent_total") + bus_metric(&b, "resent_total");
    assert!(resent > 0.0, "no publish was re-sent across the restart");
    for h in [&a, &b] {
        assert_eq!(bus_metric(h, "dropped_total{why=\"queue_full\"}"), 0.0);
    }
}

#[test]
fn a_reload_replacing_the_audit_mid_stream_hands_its_position_over() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let a = host(&nats.url(), "host-a", Some(dir.path()));
    let b = host(&nats.url(), "host-b", None);
    wait_connected(&b, true);
    let on_b = b.addr("chat_udp");
    let sender = std::thread::spawn(move || send_lines(on_b, "b", 0..300));
    wait_until("the transcript under way", BUS_WAIT, || {
        records(dir.path()) >= 60
    });
    // Another flush interval: the audit is replaced, its successor takes the position.
    a.reload_to(&topology(&nats.url(), "host-a", Some(dir.path()), 60), 1);
    let reads = |a: &Host| {
        a.logs_where(|j| switchyard_e2e::log_text(j).contains("transcript reads stream"))
    };
    wait_until("the successor reads the stream", BUS_WAIT, || {
        reads(&a).len() == 2
    });
    sender.join().unwrap();
    // Without the hand-over the old instance commits at its drain what the new one
    // reads again: lines twice.
    assert_exactly_once(dir.path(), &[("b", 300)]);
}
