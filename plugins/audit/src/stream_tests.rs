//! The stream read on `MockHost`: where it starts (the transcript's last committed
//! sequence), what is skipped, what a gap says, and a restart that lost uncommitted
//! records reading them again.

use switchyard_sdk::prelude::*;
use switchyard_sdk::testing::{Action, MockHost};

use crate::Audit;
use crate::from_stream::{READ_RETRY_TIMER, STREAM_TOKEN};
use crate::plugin::FLUSH_TIMER;

const CONFIG: &str = r#"(file: "t.jsonl", flush_interval_ms: 100, stream: Some("transcript"))"#;

/// Every record of every segment, oldest segment first.
fn records(host: &MockHost) -> Vec<serde_json::Value> {
    host.files
        .iter()
        .filter(|(path, _)| path.starts_with("t-"))
        .flat_map(|(_, data)| {
            std::str::from_utf8(data)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Where the plugin asked to read the stream from, and the read confirmed.
fn started(host: &mut MockHost, audit: &mut Audit) -> u64 {
    let start = host
        .take_io()
        .iter()
        .find_map(|a| match a {
            Action::BusStreamRead {
                stream,
                start,
                token: STREAM_TOKEN,
            } if stream == "transcript" => Some(*start),
            _ => None,
        })
        .expect("a stream read at start");
    host.bus_confirm(audit, 0, STREAM_TOKEN, Ok(()));
    start
}

fn deliver(host: &mut MockHost, audit: &mut Audit, now: u64, seq: u64) {
    let data = format!("{{\"n\":{seq}}}");
    host.bus_stream_deliver(
        audit,
        now,
        (STREAM_TOKEN, seq),
        ("chat.lines", ChatMessage::TYPE, "host-b/chat.messages"),
        data.as_bytes(),
    );
}

#[test]
fn a_fresh_transcript_reads_from_the_first_sequence_and_records_seq_and_from() {
    let mut host = MockHost::new();
    let mut audit = host.create::<Audit>(CONFIG).unwrap();
    assert_eq!(started(&mut host, &mut audit), 1);
    deliver(&mut host, &mut audit, 10, 1);
    deliver(&mut host, &mut audit, 20, 2);
    host.deliver(&mut audit, 200, Event::Timer { token: FLUSH_TIMER });
    let got = records(&host);
    assert_eq!(got.len(), 2);
    assert_eq!(got[1]["seq"], 2);
    assert_eq!(got[1]["from"], "host-b/chat.messages");
    assert_eq!(got[1]["handler_port"], "chat.messages");
    assert_eq!(got[1]["type"], ChatMessage::TYPE);
    assert_eq!(got[1]["data"]["n"], 2);
}

#[test]
fn a_restart_reads_after_the_last_committed_sequence_and_skips_what_it_has() {
    let mut host = MockHost::new();
    // Committed before: sequences 1..=3 in segment 1, 4..=5 then a port record in 2.
    host.files.insert(
        "t-000001.jsonl".into(),
        b"{\"seq\":1}\n{\"seq\":2}\n{\"seq\":3}\n".to_vec(),
    );
    host.files.insert(
        "t-000002.jsonl".into(),
        b"{\"seq\":4}\n{\"seq\":5}\n{\"handler_port\":\"chat.messages\"}\n".to_vec(),
    );
    let mut audit = host.create::<Audit>(CONFIG).unwrap();
    assert_eq!(started(&mut host, &mut audit), 6);
    assert_eq!(host.open_files(), 0, "the segments read are closed");
    // A read that starts earlier (the host never does, but a plugin must not trust
    // it) writes nothing twice.
    deliver(&mut host, &mut audit, 10, 5);
    deliver(&mut host, &mut audit, 11, 6);
    host.deliver(&mut audit, 200, Event::Timer { token: FLUSH_TIMER });
    let seqs: Vec<u64> = records(&host)
        .iter()
        .filter_map(|r| r["seq"].as_u64())
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6], "each once, in a new segment");
    assert!(host.files.contains_key("t-000003.jsonl"));
}

#[test]
fn records_lost_uncommitted_at_a_kill_are_read_again() {
    let mut host = MockHost::new();
    let mut audit = host.create::<Audit>(CONFIG).unwrap();
    started(&mut host, &mut audit);
    deliver(&mut host, &mut audit, 0, 1);
    host.deliver(&mut audit, 100, Event::Timer { token: FLUSH_TIMER });
    deliver(&mut host, &mut audit, 150, 2);
    // Killed before sequence 2 was committed: a new instance on the same files.
    drop(audit);
    let mut host2 = MockHost::new();
    host2.files = host.files.clone();
    let mut audit2 = host2.create::<Audit>(CONFIG).unwrap();
    assert_eq!(started(&mut host2, &mut audit2), 2, "2 is read again");
}

#[test]
fn a_gap_in_sequences_is_a_warning_with_the_count() {
    let mut host = MockHost::new();
    host.files
        .insert("t-000001.jsonl".into(), b"{\"seq\":10}\n".to_vec());
    let mut audit = host.create::<Audit>(CONFIG).unwrap();
    assert_eq!(started(&mut host, &mut audit), 11);
    host.take_actions();
    deliver(&mut host, &mut audit, 0, 15);
    let said = host.take_warnings();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("4 messages"), "{}", said[0]);
    assert!(said[0].contains("11 to 14"), "{}", said[0]);
    deliver(&mut host, &mut audit, 1, 16);
    assert!(host.take_warnings().is_empty(), "no gap, no warning");
}

#[test]
fn a_failed_start_is_retried_and_a_drain_ends_the_read() {
    let mut host = MockHost::new();
    let mut audit = host.create::<Audit>(CONFIG).unwrap();
    host.take_actions();
    host.bus_confirm(&mut audit, 0, STREAM_TOKEN, Err(HostError::Io));
    assert!(host.take_io().contains(&Action::SetTimer {
        token: READ_RETRY_TIMER,
        delay_ms: 1000
    }));
    host.deliver(
        &mut audit,
        1000,
        Event::Timer {
            token: READ_RETRY_TIMER,
        },
    );
    assert_eq!(started(&mut host, &mut audit), 1);
    host.deliver(&mut audit, 1001, Event::Drain);
    assert!(host.take_io().contains(&Action::BusUnsubscribe {
        token: STREAM_TOKEN
    }));
    assert!(host.bus_stream_reads.is_empty());
}

#[test]
fn a_reload_hands_the_position_over_and_nothing_is_written_twice() {
    let mut host = MockHost::new();
    let mut old = host.create::<Audit>(CONFIG).unwrap();
    started(&mut host, &mut old);
    for seq in 1..=3 {
        deliver(&mut host, &mut old, seq, seq);
    }
    // The successor is made while the old instance still runs: it sees no segment.
    let mut next_host = MockHost::new();
    next_host.files = host.files.clone();
    let mut new = next_host.create::<Audit>(CONFIG).unwrap();
    assert_eq!(started(&mut next_host, &mut new), 1);
    // Replaced: the old instance stops reading and commits what it took.
    let (version, state) = host.export_state(&mut old, 10).expect("a state");
    assert!(host.take_io().contains(&Action::BusUnsubscribe {
        token: STREAM_TOKEN
    }));
    assert_eq!(records(&host).len(), 3, "committed at the hand-over");
    next_host.files = host.files.clone();
    next_host
        .import_state(&mut new, 0, version, &state)
        .unwrap();
    for seq in 1..=4 {
        deliver(&mut next_host, &mut new, seq, seq);
    }
    next_host.deliver(&mut new, 200, Event::Timer { token: FLUSH_TIMER });
    let seqs: Vec<u64> = records(&next_host)
        .iter()
        .filter_map(|r| r["seq"].as_u64())
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4], "each once");
    assert!(
        next_host.files.contains_key("t-000002.jsonl"),
        "a segment of its own"
    );
    let refused = next_host.import_state(&mut new, 0, 9, &state);
    assert!(refused.is_err(), "an unknown state version is refused");
}
