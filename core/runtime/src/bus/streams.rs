//! The topology's JetStream streams on the bus thread: each one created (or brought
//! to the topology's subjects and bounds) at every connection, and the messages on
//! their subjects published so that each is stored exactly once.
//!
//! Why at every connection, not once: a NATS server restarted on a fresh store has
//! lost its streams, and a publish to a subject no stream captures is never stored.
//! Why the same message id on every attempt: a publish whose acknowledgement was lost
//! (NATS restarted after storing it, a timeout) is sent again, and the server stores a
//! message whose id it has seen within the stream's duplicate window only once. The
//! id is `<host>.<boot>.<n>`: unique per host, per process start and per message, so
//! two hosts, or a host restarted, never collide.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use slog::{Logger, info, warn};
use switchyard_bus::{Bus, BusError, ConnectionState, StreamLimits, Typed, ensure_stream};
use tokio::sync::{Notify, watch};

use crate::metrics::BusMetrics;
use crate::topology::StreamSpec;

/// The running topology's streams, shared with the publishing task and the reads.
pub type StreamSpecs = Arc<[StreamSpec]>;

/// First pause before a failed stream publish or creation is tried again; it doubles
/// up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(1);

/// Messages published to streams by this process so far.
static SENT: AtomicU64 = AtomicU64::new(0);
/// This process's boot id, made once.
static BOOT: OnceLock<String> = OnceLock::new();

/// The stream capturing `subject`, if one does.
pub fn capturing<'a>(specs: &'a [StreamSpec], subject: &str) -> Option<&'a StreamSpec> {
    specs
        .iter()
        .find(|s| s.subjects.iter().any(|c| c == subject))
}

/// A message id never given before by any process of host `host`: `<host>.<boot>.<n>`,
/// the boot id from the start time in nanoseconds and the process id.
pub fn message_id(host: &str) -> String {
    let boot = BOOT.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{nanos:x}-{:x}", std::process::id())
    });
    format!("{host}.{boot}.{}", SENT.fetch_add(1, Ordering::Relaxed) + 1)
}

/// Create or update every stream of `specs` on `bus`, now if connected and again at
/// each connection `connected` is told of, until the task is aborted (a reload
/// replaced the connection or the streams). A failure is logged and retried.
pub async fn keep(bus: Bus, specs: StreamSpecs, connected: Arc<Notify>, log: Logger) {
    let mut pause = RETRY_FIRST;
    loop {
        if bus.state() == ConnectionState::Connected {
            match ensure_all(&bus, &specs, &log).await {
                Ok(()) => pause = RETRY_FIRST,
                Err(()) => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RETRY_MAX);
                    continue;
                }
            }
        }
        connected.notified().await;
    }
}

async fn ensure_all(bus: &Bus, specs: &[StreamSpec], log: &Logger) -> Result<(), ()> {
    let mut all = Ok(());
    for spec in specs {
        let limits = StreamLimits {
            max_bytes: spec.max_bytes,
            max_age: spec.max_age,
            duplicate_window: spec.duplicate_window,
        };
        match ensure_stream(bus, &spec.name, &spec.subjects, limits).await {
            Ok(()) => info!(log, "bus stream ready"; "stream" => &spec.name,
                "subjects" => spec.subjects.join(",")),
            Err(e) => {
                warn!(log, "bus stream not made: retrying"; "stream" => &spec.name, "error" => %e);
                all = Err(());
            }
        }
    }
    all
}

/// One message for a stream, as the publishing task has it.
#[derive(Debug, Clone, Copy)]
pub struct ToStore<'a> {
    pub subject: &'a str,
    pub typed: Typed<'a>,
    pub payload: &'a Bytes,
}

/// Publish `msg` on the connection `current` holds until a stream stores it, every
/// attempt with the same message id, pausing between attempts (the publishing task
/// waits meanwhile, so later messages keep their order and queue within the outbox's
/// bound). `Err(why)` when it is dropped instead: no bus any more, or a subject the
/// client refuses.
pub async fn publish_until_stored(
    current: &watch::Receiver<Option<Bus>>,
    msg: ToStore<'_>,
    metrics: &BusMetrics,
) -> Result<(), &'static str> {
    let mut id = None;
    let mut pause = RETRY_FIRST;
    loop {
        let bus = current.borrow().clone();
        let Some(bus) = bus else {
            return Err("no_bus");
        };
        let id = id.get_or_insert_with(|| message_id(bus.host_name()));
        match bus
            .publish_stored(msg.subject, msg.typed, id, msg.payload.clone())
            .await
        {
            Ok(_) => {
                metrics.stored.inc();
                return Ok(());
            }
            Err(BusError::Invalid { .. }) => return Err("error"),
            Err(_) => {
                metrics.resent.inc();
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(RETRY_MAX);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_per_message_and_name_the_host() {
        let (a, b) = (message_id("host-a"), message_id("host-a"));
        assert_ne!(a, b);
        assert!(a.starts_with("host-a."), "{a}");
        assert_eq!(a.rsplit_once('.').unwrap().0, b.rsplit_once('.').unwrap().0);
    }

    #[test]
    fn a_subject_is_captured_only_when_named_exactly() {
        let spec = StreamSpec {
            name: "t".into(),
            subjects: vec!["chat.lines".into()],
            max_bytes: 1 << 20,
            max_age: Duration::from_secs(60),
            duplicate_window: Duration::from_secs(60),
        };
        let specs = [spec];
        assert!(capturing(&specs, "chat.lines").is_some());
        assert!(capturing(&specs, "chat.lines.x").is_none());
        assert!(capturing(&specs, "chat").is_none());
    }
}
