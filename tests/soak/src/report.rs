//! The soak's report: what load was held, what failed, and where the host's memory
//! and fds went. Plain text, one fact per line, so it reads in a terminal and diffs
//! well between runs.

use std::fmt::Write as _;
use std::time::Duration;

use crate::host::LogSummary;
use crate::load::{Observed, Shape};
use crate::probe::Snapshot;
use crate::settle::{Bounds, Settled};
use crate::stats::Stats;

/// Everything the report shows.
#[derive(Debug)]
pub struct Report<'a> {
    pub shape: &'a Shape,
    /// How each round ended: the host after it, and how long settling took.
    pub rounds: &'a [Settled],
    /// Time under load, all rounds together.
    pub elapsed: Duration,
    pub stats: &'a Stats,
    pub observed: &'a Observed,
    pub baseline: &'a Snapshot,
    pub bounds: Bounds,
    pub log: &'a LogSummary,
    /// Everything that makes the soak fail, in words.
    pub problems: &'a [String],
}

const MIB: f64 = 1024.0 * 1024.0;

impl Report<'_> {
    pub fn render(&self) -> String {
        let mut o = String::new();
        let s = self.shape;
        let secs = self.elapsed.as_secs_f64().max(0.001);
        let _ = writeln!(o, "# switchyard soak report");
        let _ = writeln!(
            o,
            "load: {} TCP clients (files + bulk), {} TFTP clients, {} chat rooms x {} members, \
             {} desk visitors; {} round(s), {:.1} s under load",
            s.tcp,
            s.tftp,
            s.chat_rooms,
            s.chat_members,
            s.chat_visitors,
            self.rounds.len(),
            secs
        );
        let [tcp, tftp, chat] = self.observed.mean_busy;
        let [tcp_min, tftp_min, chat_min] = self.observed.min_busy;
        let _ = writeln!(
            o,
            "concurrency held (mean / min busy clients over {} samples): TCP {tcp:.1} / {tcp_min}, \
             TFTP {tftp:.1} / {tftp_min}, chat {chat:.1} / {chat_min}",
            self.observed.samples
        );

        let _ = writeln!(o, "\n## operations (each verified by sha256)");
        let _ = writeln!(
            o,
            "{:<26} {:>9} {:>9} {:>10} {:>8}",
            "op", "count", "per s", "MiB", "MiB/s"
        );
        let (mut all_ops, mut all_bytes) = (0u64, 0u64);
        for (op, c) in self.stats.ops() {
            all_ops += c.count;
            all_bytes += c.bytes;
            let _ = writeln!(
                o,
                "{op:<26} {:>9} {:>9.1} {:>10.1} {:>8.2}",
                c.count,
                c.count as f64 / secs,
                c.bytes as f64 / MIB,
                c.bytes as f64 / MIB / secs
            );
        }
        let _ = writeln!(
            o,
            "{:<26} {all_ops:>9} {:>9.1} {:>10.1} {:>8.2}",
            "total",
            all_ops as f64 / secs,
            all_bytes as f64 / MIB,
            all_bytes as f64 / MIB / secs
        );

        let _ = writeln!(o, "\n## errors: {}", self.stats.total_fails());
        for (kind, count, examples) in self.stats.fails() {
            let _ = writeln!(o, "{kind}: {count}");
            for e in examples {
                let _ = writeln!(o, "    e.g. {e}");
            }
        }

        let ob = self.observed;
        let b = self.baseline;
        let bd = self.bounds;
        let mib = |kib: u64| kib as f64 / 1024.0;
        let _ = writeln!(o, "\n## host");
        let _ = writeln!(
            o,
            "baseline: RSS {:.1} MiB, {} fds, {} threads",
            mib(b.rss_kib),
            b.fds,
            b.threads
        );
        let _ = writeln!(
            o,
            "peak: RSS {:.1} MiB, {} fds, {} threads, {} TCP connections, sessions {:?}",
            mib(ob.peak_rss_kib),
            ob.peak_fds,
            ob.peak_threads,
            ob.peak_conns,
            ob.peak_sessions
        );
        for (i, r) in self.rounds.iter().enumerate() {
            match &r.after {
                Some(a) => {
                    let _ = writeln!(
                        o,
                        "after round {}: RSS {:.1} MiB, {} fds, {} threads, sessions {}, \
                         connections {} (settled in {:.1} s)",
                        i + 1,
                        mib(a.rss_kib),
                        a.fds,
                        a.threads,
                        a.sessions_total(),
                        a.conns_total(),
                        r.waited.as_secs_f64()
                    );
                }
                None => {
                    let _ = writeln!(o, "after round {}: host not readable", i + 1);
                }
            }
        }
        let _ = writeln!(
            o,
            "bounds: fds <= {}, RSS <= {:.1} MiB, RSS growth over what round 1 reached <= {:.1} MiB",
            b.fds + bd.fd_slack,
            mib(b.rss_kib + bd.rss_slack_kib),
            mib(bd.rss_growth_kib)
        );
        let l = self.log;
        let _ = writeln!(
            o,
            "host log: {} lines, {} warnings, {} errors ({} expected warnings: resumable uploads the load broke off)",
            l.lines, l.warnings, l.errors, l.expected_warnings
        );
        for line in &l.kept {
            let _ = writeln!(o, "    {line}");
        }

        let _ = writeln!(o, "\n## verdict");
        if self.problems.is_empty() {
            let _ = writeln!(o, "PASS");
        } else {
            for p in self.problems {
                let _ = writeln!(o, "FAIL: {p}");
            }
        }
        o
    }
}
