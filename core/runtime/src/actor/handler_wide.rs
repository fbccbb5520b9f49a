//! What every worker of one handler shares across threads: its connections counted
//! against the handler's limits, its restart history, each worker's load, and the
//! counters its plugin names (`counter_take`).
//!
//! Why one place, behind locks: a handler's `workers` are threads, each with its own
//! instances, but the operator's limits are the handler's. `max_connections: 100` must
//! mean 100 for the handler, not 100 per worker, and five panics in ten seconds must
//! stop the handler whichever workers they happened on. The locks are short (a counter
//! or a map entry) and taken once per connection or panic, never per byte.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::console::journal::Journal;
use crate::metrics::HandlerMetrics;
use crate::topology::{Limits, RestartPolicy};

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Connections open, in all and per peer IP.
#[derive(Debug, Default)]
struct ConnCounts {
    open: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// State shared by the workers of one handler (one generation: a reload that replaces
/// the handler makes a new one, except [`Counters`], which carry over).
#[derive(Debug)]
pub struct HandlerWide {
    limits: Limits,
    restart: RestartPolicy,
    conns: Mutex<ConnCounts>,
    restarts: Mutex<VecDeque<Instant>>,
    /// Connections each worker holds, to give a new one to the least loaded.
    loads: Vec<AtomicUsize>,
    /// Where the next typed message for one worker goes, and ties between loads.
    turn: AtomicUsize,
    counters: Arc<Counters>,
    metrics: HandlerMetrics,
    /// Where ended sessions go for the operator console (one per host).
    journal: Arc<Journal>,
}

impl HandlerWide {
    pub fn new(
        workers: usize,
        limits: Limits,
        restart: RestartPolicy,
        counters: Arc<Counters>,
        (metrics, journal): (HandlerMetrics, Arc<Journal>),
    ) -> Arc<HandlerWide> {
        Arc::new(HandlerWide {
            limits,
            restart,
            conns: Mutex::default(),
            restarts: Mutex::default(),
            loads: (0..workers.max(1)).map(|_| AtomicUsize::new(0)).collect(),
            turn: AtomicUsize::new(0),
            counters,
            metrics,
            journal,
        })
    }

    /// The handler's metric handles (the console reads restarts, connections, sessions).
    pub fn metrics(&self) -> &HandlerMetrics {
        &self.metrics
    }

    /// The host's console journal (ended sessions go there).
    pub fn journal(&self) -> &Arc<Journal> {
        &self.journal
    }

    /// How many workers the handler runs.
    pub fn workers(&self) -> usize {
        self.loads.len()
    }

    /// The plugin's named counters.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// Record a restart; `false` when the intensity limit is exceeded.
    pub fn record_restart(&self) -> bool {
        let now = Instant::now();
        let mut r = locked(&self.restarts);
        r.push_back(now);
        while r
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.restart.within)
        {
            r.pop_front();
        }
        r.len() <= self.restart.max_restarts as usize
    }

    /// Restarts counted in the current window.
    pub fn recent_restarts(&self) -> usize {
        locked(&self.restarts).len()
    }

    /// The worker with the fewest connections; ties go round, so an idle handler
    /// spreads its first connections over every worker.
    pub fn least_loaded(&self) -> usize {
        let start = self.turn.fetch_add(1, Ordering::Relaxed);
        let n = self.loads.len();
        (0..n)
            .map(|i| (start + i) % n)
            .min_by_key(|&w| self.loads[w].load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    /// The next worker in turn (typed messages for one worker).
    pub fn next_in_turn(&self) -> usize {
        self.turn.fetch_add(1, Ordering::Relaxed) % self.loads.len()
    }

    /// Connections `worker` holds now.
    pub fn load(&self, worker: usize) -> usize {
        self.loads
            .get(worker)
            .map_or(0, |l| l.load(Ordering::Relaxed))
    }

    /// Take a connection slot for `ip` on `worker`, or say which limit refuses it.
    /// `adopted`: a connection moved from a replaced instance, which had a slot there,
    /// so no limit refuses it (a smaller new limit applies to new connections only),
    /// and it is not counted as a new connection.
    pub fn take_conn_slot(
        self: &Arc<Self>,
        ip: IpAddr,
        worker: usize,
        adopted: bool,
    ) -> Result<ConnSlot, &'static str> {
        // One peer is one IP whether it came in over IPv4 or as `::ffff:a.b.c.d` through
        // a dual-stack listener of the same handler.
        let ip = ip.to_canonical();
        let mut c = locked(&self.conns);
        if !adopted && c.open >= self.limits.max_connections {
            return Err("max_connections");
        }
        let n = c.per_ip.entry(ip).or_insert(0);
        if !adopted && *n >= self.limits.max_connections_per_ip {
            return Err("max_connections_per_ip");
        }
        *n += 1;
        c.open += 1;
        drop(c);
        if !adopted {
            self.metrics.conns_total.inc();
        }
        self.metrics.conns_open.inc();
        let worker = worker.min(self.loads.len() - 1);
        self.loads[worker].fetch_add(1, Ordering::Relaxed);
        Ok(ConnSlot {
            wide: Arc::clone(self),
            ip,
            worker,
        })
    }

    /// Connections open across every worker.
    pub fn open_conns(&self) -> usize {
        locked(&self.conns).open
    }
}

/// A taken connection slot; dropping it frees the slot, however the connection ends.
/// `Send`: a connection accepted by one worker may be served by another.
#[derive(Debug)]
pub struct ConnSlot {
    wide: Arc<HandlerWide>,
    ip: IpAddr,
    worker: usize,
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let w = &self.wide;
        w.loads[self.worker].fetch_sub(1, Ordering::Relaxed);
        w.metrics.conns_open.dec();
        let mut c = locked(&w.conns);
        c.open = c.open.saturating_sub(1);
        if let Some(n) = c.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&self.ip);
            }
        }
    }
}

/// The counters a plugin names (`counter_take`/`counter_give`), shared by every worker
/// of a handler and kept across reloads (a retiring instance's units still count
/// against its successor's limit).
#[derive(Debug, Default)]
pub struct Counters(Mutex<HashMap<String, u64>>);

impl Counters {
    /// Take one unit of `name` if fewer than `limit` are taken: the count after.
    pub fn take(&self, name: &str, limit: u64) -> Option<u64> {
        let mut map = locked(&self.0);
        let n = map.entry(name.to_owned()).or_insert(0);
        if *n >= limit {
            return None;
        }
        *n += 1;
        Some(*n)
    }

    /// Give back `units` of `name`.
    pub fn give(&self, name: &str, units: u64) {
        let mut map = locked(&self.0);
        if let Some(n) = map.get_mut(name) {
            *n = n.saturating_sub(units);
            if *n == 0 {
                map.remove(name);
            }
        }
    }

    /// The count of `name` now.
    pub fn value(&self, name: &str) -> u64 {
        locked(&self.0).get(name).copied().unwrap_or(0)
    }
}

/// The units one instance took, given back when it is destroyed (a panic included),
/// so a plugin's limit never leaks.
#[derive(Debug, Default)]
pub struct CounterHoldings {
    counters: Option<Arc<Counters>>,
    held: HashMap<String, u64>,
}

impl CounterHoldings {
    /// Take one unit of `name` from `counters` for this instance.
    pub fn take(&mut self, counters: &Arc<Counters>, name: &str, limit: u64) -> Option<u64> {
        let value = counters.take(name, limit)?;
        self.counters.get_or_insert_with(|| Arc::clone(counters));
        *self.held.entry(name.to_owned()).or_insert(0) += 1;
        Some(value)
    }

    /// Give back one unit of `name`; `false` if this instance holds none.
    pub fn give(&mut self, name: &str) -> bool {
        let (Some(counters), Some(n)) = (&self.counters, self.held.get_mut(name)) else {
            return false;
        };
        *n -= 1;
        if *n == 0 {
            self.held.remove(name);
        }
        counters.give(name, 1);
        true
    }

    /// Give back everything held.
    pub fn release(&mut self) {
        if let Some(counters) = &self.counters {
            for (name, units) in self.held.drain() {
                counters.give(&name, units);
            }
        }
    }
}

impl Drop for CounterHoldings {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_stops_at_its_limit_and_an_instance_gives_back_what_it_held() {
        let counters = Arc::new(Counters::default());
        let mut a = CounterHoldings::default();
        let mut b = CounterHoldings::default();
        assert_eq!(a.take(&counters, "transfers", 3), Some(1));
        assert_eq!(b.take(&counters, "transfers", 3), Some(2));
        assert_eq!(a.take(&counters, "transfers", 3), Some(3));
        assert_eq!(b.take(&counters, "transfers", 3), None, "at the limit");
        assert!(b.give("transfers"));
        assert!(!b.give("transfers"), "b holds none now");
        assert_eq!(counters.value("transfers"), 2);
        drop(a); // a panicked instance: its two units come back
        assert_eq!(counters.value("transfers"), 0);
    }

    #[test]
    fn least_loaded_spreads_ties_and_follows_loads() {
        let wide = HandlerWide::new(
            3,
            Limits::default(),
            RestartPolicy::default(),
            Arc::default(),
            (crate::metrics::Metrics::new().handler("h"), Arc::default()),
        );
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let mut slots = Vec::new();
        for _ in 0..6 {
            let w = wide.least_loaded();
            slots.push(wide.take_conn_slot(ip, w, false).unwrap());
        }
        assert_eq!((0..3).map(|w| wide.load(w)).collect::<Vec<_>>(), [2, 2, 2]);
        slots.retain(|s| s.worker != 1);
        assert_eq!(wide.least_loaded(), 1, "the worker whose connections ended");
        assert_eq!(wide.open_conns(), 4);
    }
}
