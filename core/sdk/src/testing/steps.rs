//! [`StepDriver`]: a connection machine's steps on the mock as `ConnAdapter` runs them
//! over storage that may wait, so a plugin's tests can run the same scenario on a dir
//! (every answer at once) and on a store that waits, and compare the outcomes.

use super::MockHost;
use crate::conn::ConnMachine;
use crate::storage::Storage;
use crate::storage_waits::StorageWaits;

/// The mock with a [`StorageWaits`] in front of it, as the adapter keeps one per
/// connection.
#[derive(Debug)]
pub struct StepDriver {
    pub host: MockHost,
    pub waits: StorageWaits,
    /// Steps run again after an answer (0 on a dir).
    pub reruns: usize,
}

impl StepDriver {
    /// Drive steps on `host` (set its `storage_waits` to play a store that waits).
    pub fn new(host: MockHost) -> StepDriver {
        StepDriver {
            host,
            waits: StorageWaits::new(1 << 32),
            reruns: 0,
        }
    }

    /// One input to `machine` at `now`, its storage operations left in flight.
    pub fn hold<M>(&mut self, machine: &mut M, now: u64, f: impl FnOnce(&mut M, &mut dyn Storage)) {
        let StepDriver { host, waits, .. } = self;
        host.with_ctx(now, |cx| f(machine, &mut waits.storage(cx)));
    }

    /// Finish the operation in flight and run the step that waited for it, until
    /// nothing waits (as the adapter does on each `StorageDone`). Panics if more than
    /// one operation is ever in flight: a step waits for one answer at a time.
    pub fn answer<M: ConnMachine>(&mut self, machine: &mut M, now: u64) {
        while self.waits.is_waiting() {
            let done = self.host.finish_storage();
            assert_eq!(done.len(), 1, "one operation in flight at a time");
            for (token, result) in done {
                let StepDriver { host, waits, .. } = self;
                assert!(host.with_ctx(now, |cx| waits.complete(cx, token, result)));
                host.with_ctx(now, |cx| {
                    machine.handle_storage_ready(now, &mut waits.storage(cx))
                });
                self.reruns += 1;
            }
        }
    }
}
