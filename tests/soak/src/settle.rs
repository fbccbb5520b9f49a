//! After the load: wait (bounded) until the host is back where it started, and say
//! what is not.
//!
//! What "back" means, and why:
//! - **fds** at most `baseline + fd_slack` (default 0): every socket, transfer
//!   socket and file a transfer opened must be closed once it is over. The baseline
//!   is taken after a warm-up round, so fds opened once and kept on purpose (the
//!   audit transcript, the admin listener's accepted socket) are in it.
//! - **sessions and connections** 0 for every handler: nothing is still in flight.
//!   (`switchyard_sessions_active` is sampled by the host every second, hence the wait.)
//! - **RSS** is judged after the wait, not waited for. The host's TCP receive
//!   buffers are 1 MiB per connection receiving into a file; before the host fixed
//!   glibc's mmap threshold (`core/host/src/allocator.rs`), glibc served them from its
//!   arenas once its dynamic threshold had risen and kept them when freed: after a
//!   200 + 200 burst RSS stayed near 100 MiB while ~5 MiB were in use (heaptrack: 28
//!   KiB never freed, all one-time). With the fixed threshold RSS after a round is
//!   within ~30 MiB of the baseline (smaller blocks still fragment the arenas). So RSS
//!   must stay under `baseline + rss_slack` after every round, and after the last
//!   round must not exceed what the first round reached (its peak, or RSS after it)
//!   by more than `rss_growth`: caching stays within the working set a round has
//!   already touched, a leak accumulates with every round.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::probe::{self, Snapshot};

/// How often the host is looked at while settling.
const POLL: Duration = Duration::from_millis(500);
/// How long the fd count must hold still before the baseline is taken: longer than
/// anything lingers after its session (TFTP's dally, 3 s by default).
pub const STILL: Duration = Duration::from_secs(4);

#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub fd_slack: usize,
    pub rss_slack_kib: u64,
    pub rss_growth_kib: u64,
}

#[derive(Debug)]
pub struct Settled {
    /// The last snapshot taken (`None` if the host could not be read at all).
    pub after: Option<Snapshot>,
    pub waited: Duration,
    /// Empty when everything is back.
    pub problems: Vec<String>,
}

/// Poll until fds, sessions and connections are back (or `timeout` passes); RSS is
/// then judged by [`rss_problems`].
pub fn settle(
    pid: u32,
    admin: SocketAddr,
    baseline: &Snapshot,
    bounds: Bounds,
    timeout: Duration,
) -> Settled {
    let start = Instant::now();
    loop {
        let (after, problems) = match probe::snapshot(pid, admin) {
            Ok(s) => {
                let p = problems(baseline, &s, bounds);
                (Some(s), p)
            }
            Err(e) => (None, vec![e]),
        };
        if problems.is_empty() || start.elapsed() >= timeout {
            return Settled {
                after,
                waited: start.elapsed(),
                problems,
            };
        }
        std::thread::sleep(POLL);
    }
}

/// Wait until nothing is in flight and the fd count has held still for [`STILL`]
/// (no fd or memory bound): the end of the warm-up, before the baseline is taken.
/// A finished TFTP upload keeps its socket through the dally (3 s by default) after
/// its session ends, so "no sessions" alone is not yet the resting state.
pub fn quiesce(pid: u32, admin: SocketAddr, timeout: Duration) -> Result<Snapshot, String> {
    let start = Instant::now();
    let mut still_since: Option<(Instant, usize)> = None;
    loop {
        let s = probe::snapshot(pid, admin)?;
        let idle = s.sessions_total() == 0 && s.conns_total() == 0;
        still_since = match still_since {
            Some((since, fds)) if idle && fds == s.fds => Some((since, fds)),
            _ if idle => Some((Instant::now(), s.fds)),
            _ => None,
        };
        if still_since.is_some_and(|(since, _)| since.elapsed() >= STILL) {
            return Ok(s);
        }
        if start.elapsed() >= timeout {
            return Err(format!(
                "not at rest after {timeout:?}: sessions {:?}, connections {:?}, {} fds",
                s.sessions, s.conns, s.fds
            ));
        }
        std::thread::sleep(POLL);
    }
}

fn problems(base: &Snapshot, now: &Snapshot, b: Bounds) -> Vec<String> {
    let mut p = Vec::new();
    if now.fds > base.fds + b.fd_slack {
        p.push(format!(
            "open fds {} > baseline {} + {}",
            now.fds, base.fds, b.fd_slack
        ));
    }
    for (what, map) in [("sessions", &now.sessions), ("connections", &now.conns)] {
        for (handler, n) in map.iter().filter(|(_, n)| **n != 0) {
            p.push(format!("{handler}: {n} {what} still open"));
        }
    }
    p
}

/// RSS after each round (`afters`, KiB) against the baseline, and the last round
/// against the first (`first_peak`: the highest RSS sampled during round 1).
pub fn rss_problems(base: &Snapshot, first_peak: u64, afters: &[u64], b: Bounds) -> Vec<String> {
    let mut p = Vec::new();
    for (round, &rss) in afters.iter().enumerate() {
        if rss > base.rss_kib + b.rss_slack_kib {
            p.push(format!(
                "RSS after round {} {rss} KiB > baseline {} KiB + {} KiB",
                round + 1,
                base.rss_kib,
                b.rss_slack_kib
            ));
        }
    }
    if let (Some(&first), Some(&last)) = (afters.first(), afters.last()) {
        let reached = first.max(first_peak);
        if afters.len() > 1 && last > reached + b.rss_growth_kib {
            p.push(format!(
                "RSS after round {} is {last} KiB, round 1 reached {reached} KiB \
                 (growth > {} KiB): a leak?",
                afters.len(),
                b.rss_growth_kib
            ));
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_name_each_leak() {
        let base = Snapshot {
            fds: 20,
            rss_kib: 10_000,
            ..Snapshot::default()
        };
        let b = Bounds {
            fd_slack: 1,
            rss_slack_kib: 1000,
            rss_growth_kib: 100,
        };
        let mut now = base.clone();
        now.fds = 21;
        now.rss_kib = 99_999; // RSS is not waited for
        now.sessions.insert("tftp".into(), 0);
        assert!(problems(&base, &now, b).is_empty());
        now.fds = 22;
        now.sessions.insert("tftp".into(), 2);
        now.conns.insert("files".into(), 1);
        let p = problems(&base, &now, b);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[1].contains("tftp: 2 sessions"));
    }

    #[test]
    fn rss_is_bounded_and_must_not_grow_across_rounds() {
        let base = Snapshot {
            rss_kib: 10_000,
            ..Snapshot::default()
        };
        let b = Bounds {
            fd_slack: 0,
            rss_slack_kib: 1000,
            rss_growth_kib: 100,
        };
        assert!(rss_problems(&base, 0, &[10_900, 10_950, 11_000], b).is_empty());
        assert!(rss_problems(&base, 0, &[], b).is_empty());
        let p = rss_problems(&base, 0, &[10_800, 10_901, 10_950], b);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("a leak?"));
        // Creeping up to what round 1 already touched is the allocator's cache.
        assert!(rss_problems(&base, 10_950, &[10_800, 10_901, 10_950], b).is_empty());
        let p = rss_problems(&base, 0, &[11_001], b);
        assert!(p[0].contains("round 1"), "{p:?}");
    }
}
