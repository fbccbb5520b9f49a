//! Draining on SIGINT/SIGTERM: stop accepting, let in-flight work finish until
//! `drain_timeout_secs`, then cut what is left — each actor logs and tells the
//! sessions it has (`actor::DrainDeadline`) and gives their goodbyes a grace — and
//! stop every actor; last, delete this host's record from the cluster's hosts bucket.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use actix::Addr;
use slog::info;
use switchyard_sdk::DrainCause;

use super::Server;
use crate::actor::{Abort, Busy, Drain, DrainDeadline, GRACE, InstanceActor};

impl Server {
    /// Stop accepting, let in-flight work finish until the drain deadline, then cut
    /// what is left (each session logged and told: see `actor::DrainDeadline`) and
    /// stop every actor. Says whether all work finished in time.
    pub async fn drain(&self) -> bool {
        let deadline = self.drain_timeout;
        let all: Vec<&Addr<InstanceActor>> = self
            .handlers
            .values()
            .flat_map(|h| &h.workers.addrs)
            .chain(&self.retiring)
            .collect();
        for addr in &all {
            addr.do_send(Drain);
        }
        let start = Instant::now();
        let finished = loop {
            let busy = busy_total(&all).await;
            if busy == 0 {
                info!(self.log, "drained"; "secs" => start.elapsed().as_secs_f64());
                break true;
            }
            if start.elapsed() >= deadline {
                info!(self.log, "drain deadline reached; cutting what is left"; "in_flight" => busy);
                break false;
            }
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        };
        if !finished {
            self.cut(&all).await;
        }
        self.abort(&all).await;
        // Gone from the cluster's host list at once, not when the record expires.
        if let Some(leaving) = self.bus.as_ref().and_then(crate::bus::BusLink::leave) {
            let _ = tokio::time::timeout(Duration::from_secs(5), leaving).await;
        }
        finished
    }

    /// The drain deadline: every actor tells its sessions and stops once their
    /// goodbyes are written or its grace is over. Waits for that (a little longer than
    /// the grace, for actors busy in plugin code); `abort` stops what is left.
    async fn cut(&self, all: &[&Addr<InstanceActor>]) {
        for addr in all {
            addr.do_send(DrainDeadline {
                cause: DrainCause::Shutdown,
            });
        }
        let start = Instant::now();
        let wait = GRACE + Duration::from_millis(500);
        while self.live.load(Ordering::Acquire) > 0 && start.elapsed() < wait {
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stop every actor now: each drops its instance, connections and temp files
    /// (nothing partial stays visible). Waits (2 s at most) until no actor is alive,
    /// per-connection ones included, so the process exits after their cleanup.
    async fn abort(&self, all: &[&Addr<InstanceActor>]) {
        for addr in all {
            addr.do_send(Abort);
        }
        let start = Instant::now();
        while self.live.load(Ordering::Acquire) > 0 && start.elapsed() < Duration::from_secs(2) {
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Work in flight across `all`. A handler that does not answer within a second (stuck
/// in plugin code, or in a slow fsync) counts as busy: the drain deadline still holds.
async fn busy_total(all: &[&Addr<InstanceActor>]) -> u64 {
    let mut busy = 0u64;
    for addr in all {
        busy += match tokio::time::timeout(Duration::from_secs(1), addr.send(Busy)).await {
            Ok(Ok(n)) => n,
            // Stopped: nothing left in flight.
            Ok(Err(_)) => 0,
            Err(_) => 1,
        };
    }
    busy
}
