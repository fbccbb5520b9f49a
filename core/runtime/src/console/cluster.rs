//! The bus and the object stores as the console shows them: [`bus_status`] from the
//! bus's board and counters, [`storage_status`] from the storages' health, one entry
//! per storage over every handler using it.

use std::sync::{Arc, Weak};

use super::model::{BusStatus, ClusterHost, StorageStatus};
use crate::bus::board::BusBoard;
use crate::metrics::BusMetrics;
use crate::objects::ObjectBackend;

/// The bus now (`None` without one); ages are counted to `now_unix_ms`.
pub fn bus_status(board: &BusBoard, counters: &BusMetrics, now_unix_ms: u64) -> Option<BusStatus> {
    let link = board.link()?;
    let hosts = link
        .hosts
        .into_iter()
        .map(|h| ClusterHost {
            this_host: h.record.name == link.name,
            name: h.record.name,
            version: h.record.version,
            started_unix_ms: h.record.started_unix_ms,
            admin: h.record.admin,
            last_seen_ms: now_unix_ms.saturating_sub(h.written_unix_ms),
        })
        .collect();
    Some(BusStatus {
        servers: link.servers,
        name: link.name,
        subject_prefix: link.subject_prefix,
        state: link.state.word(),
        since_unix_ms: link.since_unix_ms,
        queued: counters.queued.get().max(0) as u64,
        dropped: counters.dropped_total(),
        hosts,
        hosts_listed_unix_ms: link.hosts_listed_unix_ms,
        presence_error: link.presence_error,
    })
}

/// Every storage some live backend uses, by name then place: a handler's backends
/// are its own, so the numbers add up over handlers, and the storage fails when any
/// of them does (its latest failure shown).
pub fn storage_status(backends: &[Weak<ObjectBackend>]) -> Vec<StorageStatus> {
    let mut out: Vec<StorageStatus> = Vec::new();
    for backend in backends.iter().filter_map(Weak::upgrade) {
        let health = backend.health.view();
        let spec = &backend.spec;
        let place = (&backend.name, &spec.endpoint, &spec.bucket, &spec.prefix);
        let at = out
            .iter()
            .position(|s| (&s.name, &s.endpoint, &s.bucket, &s.prefix) == place);
        let entry = match at {
            Some(i) => &mut out[i],
            None => {
                out.push(empty(&backend));
                out.last_mut().expect("just pushed")
            }
        };
        entry.in_flight += health.in_flight;
        entry.spooled_bytes += backend.cache.spooled_bytes();
        entry.last_ok_unix_ms = entry.last_ok_unix_ms.max(health.last_ok_unix_ms);
        if let Some(since) = health.failing_since_unix_ms {
            entry.state = "failing";
            let earlier = entry.failing_since_unix_ms.map_or(since, |s| s.min(since));
            entry.failing_since_unix_ms = Some(earlier);
        }
        if let Some((at, text)) = health.last_error
            && entry.last_error_unix_ms.is_none_or(|t| t < at)
        {
            entry.last_error = Some(text);
            entry.last_error_unix_ms = Some(at);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn empty(backend: &Arc<ObjectBackend>) -> StorageStatus {
    StorageStatus {
        name: backend.name.clone(),
        endpoint: backend.spec.endpoint.clone(),
        bucket: backend.spec.bucket.clone(),
        prefix: backend.spec.prefix.clone(),
        state: "ok",
        failing_since_unix_ms: None,
        last_error: None,
        last_error_unix_ms: None,
        last_ok_unix_ms: None,
        in_flight: 0,
        spooled_bytes: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::board::{HostRecord, LinkState, SeenHost};

    #[test]
    fn the_board_and_counters_become_the_bus_section() {
        let board = BusBoard::new(1);
        let counters = BusMetrics::default();
        assert_eq!(bus_status(&board, &counters, 10_000), None);
        let link = (vec!["nats://n:4222".into()], "host-a".into(), "sy".into());
        board.set_link(Some(link), LinkState::Connecting, 1_000);
        board.set_state(LinkState::Connected, 2_000);
        let seen = |name: &str, at| SeenHost {
            record: HostRecord {
                name: name.into(),
                version: "0.1.0".into(),
                started_unix_ms: 5,
                admin: Some("127.0.0.1:1".into()),
            },
            written_unix_ms: at,
        };
        board.set_hosts(
            Ok(vec![seen("host-b", 9_000), seen("host-a", 9_500)]),
            9_600,
        );
        counters.queued.set(2);
        counters.dropped("queue_full");
        counters.dropped("backlogged");
        let bus = bus_status(&board, &counters, 10_000).unwrap();
        assert_eq!((bus.state, bus.since_unix_ms), ("connected", 2_000));
        assert_eq!((bus.queued, bus.dropped), (2, 2));
        let hosts: Vec<_> = bus
            .hosts
            .iter()
            .map(|h| (h.name.as_str(), h.this_host, h.last_seen_ms))
            .collect();
        assert_eq!(hosts, [("host-a", true, 500), ("host-b", false, 1_000)]);
        assert_eq!(bus.hosts_listed_unix_ms, Some(9_600));
    }
}
