//! The load: one thread per concurrent client, each repeating operations of its
//! protocol until the deadline, every transfer checked by sha256. A sampler thread
//! watches the host meanwhile (peak RSS and fds, how many clients are really busy).
//!
//! Threads, not async: 400-odd blocking clients are cheap on Linux, each client's
//! code reads top to bottom like the protocol, and a stuck client cannot stall the
//! others. Every socket has a timeout and every loop a deadline, so the load always
//! ends: new operations start until `deadline`, running ones give up at `hard_stop`.

mod bulk;
mod chat;
mod files;
mod tftp;
mod verify;

pub use bulk::verify_v1_on_disk;
pub use chat::no_rooms_left;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::data::Rng;
use crate::probe::{self, Snapshot};
use crate::stats::{Fail, Stats};
use crate::topology::Fixtures;

/// Stack of a client thread: they hold a few small buffers on the heap only.
const STACK: usize = 256 * 1024;
/// Pause of a client after a failed operation.
const BACKOFF: Duration = Duration::from_millis(100);
/// Sampling period of the host's RSS, fds and the clients' concurrency.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// How much load, of which kind.
#[derive(Debug, Clone)]
pub struct Shape {
    pub tcp: usize,
    pub tftp: usize,
    pub chat_rooms: usize,
    pub chat_members: usize,
    pub chat_visitors: usize,
    pub chat_interval: Duration,
    pub max_size: u64,
    pub tftp_upload_percent: u64,
    pub seed: u64,
}

/// What every client shares.
#[derive(Debug)]
pub struct Ctx {
    /// Shared by every round, so the report adds them up.
    pub stats: Arc<Stats>,
    /// No operation starts after this.
    pub deadline: Instant,
    /// Operations still running give up here (their sockets time out by then).
    pub hard_stop: Instant,
    pub files: SocketAddr,
    pub bulk: SocketAddr,
    pub tftp: SocketAddr,
    pub chat: SocketAddr,
    pub fixtures: Fixtures,
    /// The served root; bulk's files are in `data/incoming`. Uploads are removed
    /// from here once checked, so a long soak does not fill the disk.
    pub data: PathBuf,
    pub shape: Shape,
    /// The soak started the host and owns its storage. When attached to someone
    /// else's host, bulk v1 uploads are skipped: their files cannot be told apart
    /// from the operator's, so they could be neither checked nor removed.
    pub owned: bool,
    /// sha256 of every bulk v1 upload the server accepted (v1 has no reply; the
    /// stored files are checked against these after the load).
    pub v1_sent: Mutex<Vec<[u8; 32]>>,
    /// Clients in the middle of an operation, by protocol (for "load held").
    pub busy_tcp: AtomicUsize,
    pub busy_tftp: AtomicUsize,
    pub busy_chat: AtomicUsize,
}

impl Ctx {
    /// Time left before the hard stop (at least a millisecond: a zero socket
    /// timeout means "none").
    pub fn left(&self) -> Duration {
        self.hard_stop
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    }

    pub fn running(&self) -> bool {
        Instant::now() < self.deadline
    }

    /// Count an operation; after a failure pause a little, so a host that is down
    /// gets a trickle of retries, not a tight loop that starves everything else.
    pub fn record(&self, op: &'static str, r: Result<u64, Fail>) {
        let failed = r.is_err();
        self.stats.record(op, r);
        if failed {
            std::thread::sleep(BACKOFF);
        }
    }
}

/// Marks a client busy for the scope of one operation.
pub struct Busy<'a>(&'a AtomicUsize);

impl<'a> Busy<'a> {
    pub fn new(counter: &'a AtomicUsize) -> Busy<'a> {
        counter.fetch_add(1, Ordering::Relaxed);
        Busy(counter)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the sampler saw during the load.
#[derive(Debug, Default, Clone)]
pub struct Observed {
    pub samples: u64,
    pub peak_rss_kib: u64,
    pub peak_fds: usize,
    pub peak_threads: u64,
    /// Peak `sessions_active` by handler (audit's are records waiting to be written).
    pub peak_sessions: BTreeMap<String, i64>,
    pub peak_conns: i64,
    /// Mean clients busy per protocol over the samples: the concurrency held.
    pub mean_busy: [f64; 3],
    pub min_busy: [usize; 3],
    /// Snapshots that failed (host not answering): each is an error.
    pub probe_errors: Vec<String>,
}

/// Run the whole load and return what the sampler saw. Returns when every client
/// thread has finished (at the latest shortly after `ctx.hard_stop`).
pub fn run(ctx: &Ctx, pid: u32, admin: SocketAddr) -> Observed {
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let sampler = s.spawn(|| sample(ctx, pid, admin, &done));
        let mut clients = Vec::new();
        let seed = ctx.shape.seed;
        for id in 0..ctx.shape.tcp {
            let rng = Rng::new(seed ^ (1 << 40) ^ id as u64);
            clients.push(if id % 2 == 0 {
                spawn(s, format!("files-{id}"), move || {
                    files::client(ctx, id, rng)
                })
            } else {
                spawn(s, format!("bulk-{id}"), move || bulk::client(ctx, id, rng))
            });
        }
        for id in 0..ctx.shape.tftp {
            let rng = Rng::new(seed ^ (2 << 40) ^ id as u64);
            clients.push(spawn(s, format!("tftp-{id}"), move || {
                tftp::client(ctx, id, rng)
            }));
        }
        for room in 0..ctx.shape.chat_rooms {
            for member in 0..ctx.shape.chat_members {
                clients.push(spawn(s, format!("chat-{room}-{member}"), move || {
                    chat::member(ctx, room, member)
                }));
            }
        }
        for id in 0..ctx.shape.chat_visitors {
            clients.push(spawn(s, format!("visitor-{id}"), move || {
                chat::visitor(ctx, id)
            }));
        }
        for c in clients {
            if c.join().is_err() {
                ctx.stats.fail(
                    "client",
                    Fail::new("client_panic", "a client thread panicked"),
                );
            }
        }
        done.store(true, Ordering::Relaxed);
        sampler.join().unwrap_or_default()
    })
}

fn spawn<'scope>(
    s: &'scope std::thread::Scope<'scope, '_>,
    name: String,
    f: impl FnOnce() + Send + 'scope,
) -> std::thread::ScopedJoinHandle<'scope, ()> {
    std::thread::Builder::new()
        .name(name)
        .stack_size(STACK)
        .spawn_scoped(s, f)
        .expect("spawn a client thread")
}

/// Every [`SAMPLE_EVERY`] until `done`: the host's snapshot and the busy counts.
fn sample(ctx: &Ctx, pid: u32, admin: SocketAddr, done: &AtomicBool) -> Observed {
    let mut o = Observed {
        min_busy: [usize::MAX; 3],
        ..Observed::default()
    };
    let mut sums = [0usize; 3];
    // Concurrency is judged in the middle of the load: clients start over the first
    // moments and stop one by one after the deadline.
    let ramp = Duration::from_secs(1);
    let start = Instant::now();
    while !done.load(Ordering::Relaxed) {
        match probe::snapshot(pid, admin) {
            Ok(snap) => peaks(&mut o, &snap),
            Err(e) => o.probe_errors.push(e),
        }
        let now = Instant::now();
        if now > start + ramp && now < ctx.deadline {
            let busy = [
                ctx.busy_tcp.load(Ordering::Relaxed),
                ctx.busy_tftp.load(Ordering::Relaxed),
                ctx.busy_chat.load(Ordering::Relaxed),
            ];
            for i in 0..3 {
                sums[i] += busy[i];
                o.min_busy[i] = o.min_busy[i].min(busy[i]);
            }
            o.samples += 1;
        }
        std::thread::sleep(SAMPLE_EVERY);
    }
    if o.samples > 0 {
        o.mean_busy = sums.map(|s| s as f64 / o.samples as f64);
    } else {
        o.min_busy = [0; 3];
    }
    o
}

impl Observed {
    /// Fold a later round into this one: peaks of both, concurrency over all samples.
    pub fn merge(&mut self, r: &Observed) {
        self.peak_rss_kib = self.peak_rss_kib.max(r.peak_rss_kib);
        self.peak_fds = self.peak_fds.max(r.peak_fds);
        self.peak_threads = self.peak_threads.max(r.peak_threads);
        self.peak_conns = self.peak_conns.max(r.peak_conns);
        for (h, n) in &r.peak_sessions {
            let peak = self.peak_sessions.entry(h.clone()).or_default();
            *peak = (*peak).max(*n);
        }
        let total = (self.samples + r.samples).max(1) as f64;
        for i in 0..3 {
            self.mean_busy[i] = (self.mean_busy[i] * self.samples as f64
                + r.mean_busy[i] * r.samples as f64)
                / total;
            self.min_busy[i] = if self.samples == 0 {
                r.min_busy[i]
            } else {
                self.min_busy[i].min(r.min_busy[i])
            };
        }
        self.samples += r.samples;
        self.probe_errors.extend(r.probe_errors.iter().cloned());
    }
}

fn peaks(o: &mut Observed, s: &Snapshot) {
    o.peak_rss_kib = o.peak_rss_kib.max(s.rss_kib);
    o.peak_fds = o.peak_fds.max(s.fds);
    o.peak_threads = o.peak_threads.max(s.threads);
    for (h, n) in &s.sessions {
        let peak = o.peak_sessions.entry(h.clone()).or_default();
        *peak = (*peak).max(*n);
    }
    o.peak_conns = o.peak_conns.max(s.conns_total());
}
