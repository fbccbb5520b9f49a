//! Host presence: every host with a bus keeps a small record under its name in one
//! JetStream key-value bucket of the cluster (`<prefix>_hosts`, dots made `_`), and
//! lists the bucket's live keys to learn the cluster's hosts, for the console.
//!
//! The record (a [`HostRecord`] as JSON) is written at each [`HEARTBEAT`]; the bucket's
//! entries expire [`MAX_AGE`] after their last write (three heartbeats), so a host
//! that dies — killed, its machine gone, cut off from NATS — disappears from every
//! other host's list within that bound, and a host that stops cleanly deletes its
//! key at once ([`Presence::leave`]). A listing also drops records older than the max
//! age by this host's clock, in case the server has not expired them yet.
//!
//! It runs as one task on the bus thread, and every step is bounded by [`STEP_TIMEOUT`]:
//! with NATS away a heartbeat just fails (said once in the log, and on the board) and
//! the next one tries again; no handler thread ever waits for it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use slog::{Logger, info, warn};
use switchyard_bus::{Bus, BusError, ConnectionState, KvBucket};
use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::board::{BusBoard, HostRecord, SeenHost};
use crate::console::journal::now_unix_ms;

/// How often a host writes its record and lists the others.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long a record lives after its last write: a host missing three heartbeats is
/// gone.
pub const MAX_AGE: Duration = Duration::from_secs(15);
/// The bucket's name under the prefix.
pub const BUCKET: &str = "hosts";

/// Whether a plugin may use key-value bucket `name`: not the host's own (a plugin's
/// writes there would pass for hosts of the cluster on every console).
pub fn plugin_may_use(name: &str) -> bool {
    name != BUCKET
}
/// Longest any one step (open, write, list, delete) may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(3);
/// How often a heartbeat that is due looks whether the connection is up again: the
/// record is written right after a (re)connection, not up to a heartbeat later.
const CONNECTED_POLL: Duration = Duration::from_millis(100);

/// The heartbeat of one connection.
#[derive(Debug)]
pub struct Presence {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Presence {
    /// Start the heartbeat of `bus` on the bus thread (`handle`).
    pub fn start(bus: Bus, board: Arc<BusBoard>, log: Logger, handle: &Handle) -> Presence {
        let (stop, stopped) = oneshot::channel();
        let task = handle.spawn(run(bus, board, log, stopped));
        Presence { stop, task }
    }

    /// Stop the heartbeat and delete this host's record (within [`STEP_TIMEOUT`]);
    /// the returned handle ends when that is done.
    pub fn leave(self) -> JoinHandle<()> {
        let _ = self.stop.send(());
        self.task
    }
}

/// Beat until told to stop, then delete the record.
async fn run(bus: Bus, board: Arc<BusBoard>, log: Logger, mut stopped: oneshot::Receiver<()>) {
    let mut bucket: Option<KvBucket> = None;
    let mut failing = false;
    let mut due = tokio::time::Instant::now();
    loop {
        let outcome = tokio::select! {
            _ = &mut stopped => break,
            outcome = async {
                tokio::time::sleep_until(due).await;
                // Not queued in the client while NATS is away: a record written late
                // would only mislead. The board says the connection is down meanwhile.
                while bus.state() != ConnectionState::Connected {
                    tokio::time::sleep(CONNECTED_POLL).await;
                }
                beat(&bus, &mut bucket, &board).await
            } => outcome,
        };
        due = tokio::time::Instant::now() + HEARTBEAT;
        match outcome {
            Ok(hosts) => {
                if failing {
                    info!(log, "host presence written again"; "bucket" => BUCKET);
                }
                failing = false;
                board.set_hosts(Ok(hosts), now_unix_ms());
            }
            Err(why) => {
                // Opened afresh next time: the bucket may be gone with a NATS restart.
                bucket = None;
                if !failing {
                    warn!(log, "host presence not written: the console's host list grows stale until it is";
                        "bucket" => BUCKET, "error" => &why);
                }
                failing = true;
                board.set_hosts(Err(why), now_unix_ms());
            }
        }
    }
    if let Some(bucket) = bucket
        && bus.state() == ConnectionState::Connected
    {
        let _ = tokio::time::timeout(STEP_TIMEOUT, bucket.delete(bus.host_name())).await;
    }
}

/// One heartbeat: write this host's record, list every live one.
async fn beat(
    bus: &Bus,
    bucket: &mut Option<KvBucket>,
    board: &BusBoard,
) -> Result<Vec<SeenHost>, String> {
    let open = match bucket {
        Some(open) => open,
        None => bucket.insert(bounded(KvBucket::open(bus, BUCKET, MAX_AGE)).await?),
    };
    let record = board.record(bus.host_name());
    let json = serde_json::to_vec(&record).map_err(|e| e.to_string())?;
    bounded(open.put(bus.host_name(), Bytes::from(json))).await?;
    let records = bounded(open.records()).await?;
    Ok(live_hosts(
        records.into_iter().filter_map(|r| {
            let record: HostRecord = serde_json::from_slice(&r.entry.value).ok()?;
            (record.name == r.key).then_some(SeenHost {
                record,
                written_unix_ms: r.written_unix_ms,
            })
        }),
        now_unix_ms(),
    ))
}

/// The records written within [`MAX_AGE`] of `now` (a record that does not parse, or
/// is not under its own name, is left out before this).
fn live_hosts(seen: impl Iterator<Item = SeenHost>, now: u64) -> Vec<SeenHost> {
    let max_age = MAX_AGE.as_millis() as u64;
    seen.filter(|h| now.saturating_sub(h.written_unix_ms) <= max_age)
        .collect()
}

/// `step`, failing after [`STEP_TIMEOUT`].
async fn bounded<T>(
    step: impl std::future::Future<Output = Result<T, BusError>>,
) -> Result<T, String> {
    match tokio::time::timeout(STEP_TIMEOUT, step).await {
        Ok(done) => done.map_err(|e| e.to_string()),
        Err(_) => Err(format!(
            "NATS did not answer within {} s",
            STEP_TIMEOUT.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_bucket_is_the_hosts_own() {
        assert!(!plugin_may_use("hosts"));
        assert!(plugin_may_use("chat-claims"));
        assert!(plugin_may_use("hosts2"));
    }

    #[test]
    fn records_older_than_the_max_age_are_gone() {
        let host = |name: &str, at: u64| SeenHost {
            record: HostRecord {
                name: name.into(),
                version: "1".into(),
                started_unix_ms: 0,
                admin: None,
            },
            written_unix_ms: at,
        };
        let now = 100_000;
        let live = live_hosts(
            [
                host("fresh", now - 1_000),
                host("edge", now - 15_000),
                host("dead", now - 15_001),
            ]
            .into_iter(),
            now,
        );
        let names: Vec<_> = live.iter().map(|h| h.record.name.as_str()).collect();
        assert_eq!(names, ["fresh", "edge"]);
        // A record from a clock ahead of this one counts as just written.
        assert_eq!(
            live_hosts([host("ahead", now + 5_000)].into_iter(), now).len(),
            1
        );
    }

    #[test]
    fn three_heartbeats_fit_in_the_max_age() {
        assert_eq!(MAX_AGE, HEARTBEAT * 3);
    }
}
