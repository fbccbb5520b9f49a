//! # switchyard-soak — load and soak for a switchyard host
//!
//! Runs chat, TFTP, files and bulk at once against a real `switchyard serve` (started
//! here on its own topology, or attached to with `--pid`), verifies every
//! transferred byte by sha256, then checks that the host's open fds, sessions and RSS
//! come back to their baseline. Exits 0 on a clean run, 1 otherwise, with a report.
//! `benches/soak` runs the full load; `tests/tests/soak.rs` a short one in CI.
//!
//! # Layout
//! - `args`: the command line; `topology`: the served topology and fixtures;
//! - `host`: starting or attaching to the host, and its log;
//! - `load`: the clients, one module per protocol, and the sampler;
//! - `probe`: `/proc` and `/metrics`; `settle`: the return to baseline;
//! - `stats`, `report`, `data`: counting, the report, test content.

mod args;
mod data;
mod host;
mod load;
mod probe;
mod report;
mod settle;
mod stats;
mod topology;

use std::process::ExitCode;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;

use args::Args;
use host::Target;
use load::{Ctx, Observed, Shape};
use stats::Stats;

/// Extra time for operations still running at the deadline before they give up.
const GRACE: Duration = Duration::from_secs(30);
/// The warm-up round before the baseline: opens what the host opens once (audit
/// transcript, per-handler state) so the baseline does not count it as a leak.
const WARMUP: Duration = Duration::from_secs(2);
/// How long a started host may drain after SIGTERM (its drain timeout is 10 s).
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("switchyard-soak: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<bool, String> {
    let mut target = match Target::attach(args) {
        Some(t) => t,
        None => Target::start(&switchyard_path(args)?)?,
    };
    let fixtures = topology::write_fixtures(&target.data)
        .map_err(|e| format!("writing fixtures under {}: {e}", target.data.display()))?;
    let shape = Shape {
        tcp: args.tcp,
        tftp: args.tftp,
        chat_rooms: args.chat_rooms,
        chat_members: args.chat_members,
        chat_visitors: args.chat_visitors,
        chat_interval: Duration::from_millis(args.chat_interval_ms),
        max_size: args.max_size,
        tftp_upload_percent: args.tftp_upload_percent,
        seed: args.seed,
    };
    let stats = Arc::new(Stats::default());
    let ctx_for = |duration: Duration, shape: Shape, stats: &Arc<Stats>| {
        let deadline = Instant::now() + duration;
        Ctx {
            stats: Arc::clone(stats),
            deadline,
            hard_stop: deadline + GRACE,
            files: target.files,
            bulk: target.bulk,
            tftp: target.tftp,
            chat: target.chat,
            fixtures: fixtures.clone(),
            data: target.data.clone(),
            shape,
            owned: target.child.is_some(),
            v1_sent: Mutex::default(),
            busy_tcp: AtomicUsize::new(0),
            busy_tftp: AtomicUsize::new(0),
            busy_chat: AtomicUsize::new(0),
        }
    };
    let (pid, admin) = (target.pid, target.admin);
    let settle_timeout = Duration::from_secs(args.settle_secs);
    let mut problems = Vec::new();

    // Warm-up: a little of everything, then wait until the host is at rest.
    let warm_shape = Shape {
        tcp: 4,
        tftp: 2,
        chat_rooms: 1,
        chat_members: 2,
        chat_visitors: 1,
        ..shape.clone()
    };
    let warm = ctx_for(WARMUP, warm_shape, &Arc::new(Stats::default()));
    load::run(&warm, pid, admin);
    for (kind, count, examples) in warm.stats.fails() {
        problems.push(format!(
            "warm-up: {count} failed operations: {kind} {examples:?}"
        ));
    }
    if let Err(f) = load::verify_v1_on_disk(&warm) {
        problems.push(format!("warm-up: {}", f.detail));
    }
    // The fd count must also hold still for a while, on top of the settling time.
    let baseline = settle::quiesce(pid, admin, settle_timeout + settle::STILL)?;
    eprintln!(
        "baseline: {} fds, RSS {} KiB, {} threads; {} round(s) of {} s",
        baseline.fds, baseline.rss_kib, baseline.threads, args.rounds, args.duration
    );

    // The rounds: load, then back to baseline.
    let bounds = settle::Bounds {
        fd_slack: args.fd_slack,
        rss_slack_kib: args.rss_slack_mib * 1024,
        rss_growth_kib: args.rss_growth_mib * 1024,
    };
    let mut observed = Observed::default();
    let mut rounds = Vec::new();
    let mut elapsed = Duration::ZERO;
    let mut first_peak = 0;
    for round in 1..=args.rounds.max(1) {
        let ctx = ctx_for(Duration::from_secs(args.duration), shape.clone(), &stats);
        let started = Instant::now();
        let seen = load::run(&ctx, pid, admin);
        if round == 1 {
            first_peak = seen.peak_rss_kib;
        }
        observed.merge(&seen);
        elapsed += started.elapsed();
        match load::verify_v1_on_disk(&ctx) {
            Ok(0) => {}
            Ok(n) => stats.add("bulk.v1_verified_on_disk", n as u64, 0),
            Err(f) => problems.push(format!("round {round}: {}", f.detail)),
        }
        if let Err(f) = load::no_rooms_left(&ctx) {
            problems.push(format!("round {round}: {}", f.detail));
        }
        let settled = settle::settle(pid, admin, &baseline, bounds, settle_timeout);
        problems.extend(
            settled
                .problems
                .iter()
                .map(|p| format!("not back to baseline after round {round}: {p}")),
        );
        eprintln!(
            "round {round}: {} operations so far, {} failed; settled in {:.1} s",
            stats.ops().values().map(|c| c.count).sum::<u64>(),
            stats.total_fails(),
            settled.waited.as_secs_f64()
        );
        rounds.push(settled);
    }
    problems.extend(observed.probe_errors.iter().take(3).cloned());
    for (kind, count, _) in stats.fails() {
        problems.push(format!("{count} failed operations: {kind}"));
    }
    let rss_after: Vec<u64> = rounds
        .iter()
        .filter_map(|r| r.after.as_ref().map(|a| a.rss_kib))
        .collect();
    problems.extend(settle::rss_problems(
        &baseline, first_peak, &rss_after, bounds,
    ));

    // A started host must drain and exit cleanly.
    match target.stop(STOP_TIMEOUT) {
        Some(Ok(status)) if status.success() => {}
        Some(Ok(status)) => problems.push(format!("host exited with {status} after SIGTERM")),
        Some(Err(e)) => problems.push(format!("host: {e}")),
        None => {}
    }
    let log = target.log();
    // Every client saw success, so the host has nothing to warn about either, apart
    // from one line per upload the load broke off on purpose (and no more of those).
    if log.errors > 0 || log.warnings > 0 {
        problems.push(format!(
            "the host logged {} errors and {} warnings",
            log.errors, log.warnings
        ));
    }
    let broken_off: u64 = [&warm.stats, &stats]
        .iter()
        .filter_map(|s| s.ops().get("bulk.broken_off").map(|c| c.count))
        .sum();
    // Only a host this run started has its log read (an attached one has none here).
    if target.child.is_some() && log.expected_warnings != broken_off {
        problems.push(format!(
            "{broken_off} uploads were broken off, the host logged {} of them",
            log.expected_warnings
        ));
    }

    let report = report::Report {
        shape: &shape,
        rounds: &rounds,
        elapsed,
        stats: &stats,
        observed: &observed,
        baseline: &baseline,
        bounds,
        log: &log,
        problems: &problems,
    }
    .render();
    print!("{report}");
    if let Some(path) = &args.report {
        std::fs::write(path, &report).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(problems.is_empty())
}

/// `--switchyard`, else the `switchyard` built beside this binary (same profile).
fn switchyard_path(args: &Args) -> Result<std::path::PathBuf, String> {
    if let Some(p) = &args.switchyard {
        return Ok(p.clone());
    }
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let p = exe.with_file_name("switchyard");
    if !p.is_file() {
        return Err(format!(
            "{} not found: build it (cargo build --workspace) or pass --switchyard",
            p.display()
        ));
    }
    Ok(p)
}
