//! What the bus dropped, said in the log without flooding it: drops are added up by
//! reason and subject, and [`DropLog::report`] (run every second) writes one WARN line
//! per reason and subject with how many went since the last line.

use std::collections::BTreeMap;
use std::sync::Mutex;

use slog::{Logger, warn};

/// Messages dropped since the last report, by (reason, subject).
#[derive(Debug, Default)]
pub struct DropLog {
    pending: Mutex<BTreeMap<(&'static str, String), u64>>,
}

impl DropLog {
    /// Count one message to `subject` dropped for `why`.
    pub fn add(&self, why: &'static str, subject: &str) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        *pending.entry((why, subject.to_owned())).or_default() += 1;
    }

    /// Log what was dropped since the last call, and forget it.
    pub fn report(&self, log: &Logger) {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        for ((why, subject), count) in pending {
            warn!(log, "bus messages dropped"; "why" => why, "subject" => subject, "count" => count,
                "meaning" => explain(why));
        }
    }
}

/// What a reason means, for the operator reading the line.
fn explain(why: &str) -> &'static str {
    match why {
        "queue_full" => "max_queued messages were waiting for NATS already",
        "backlogged" => "the NATS client's queue stayed full for the publish timeout",
        "no_bus" => "no bus connection (the topology dropped it)",
        _ => "the NATS client refused the publish",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_add_up_and_are_forgotten_once_reported() {
        let drops = DropLog::default();
        drops.add("queue_full", "chat.lines");
        drops.add("queue_full", "chat.lines");
        drops.add("backlogged", "chat.lines");
        let counts = drops.pending.lock().unwrap().clone();
        assert_eq!(counts[&("queue_full", "chat.lines".to_string())], 2);
        assert_eq!(counts[&("backlogged", "chat.lines".to_string())], 1);
        drops.report(&Logger::root(slog::Discard, slog::o!()));
        assert!(drops.pending.lock().unwrap().is_empty());
    }
}
