//! Command line: how much load, for how long, and what counts as "back to baseline".

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// Run all four protocols at once against a switchyard host, verify every transferred
/// byte, then check that the host's fds, sessions and memory return to baseline.
/// Exits 0 when everything held, 1 on any failed operation, digest mismatch or leak.
#[derive(Debug, Parser)]
#[command(name = "switchyard-soak", version)]
pub struct Args {
    /// Seconds of load per round (new operations start until then; running ones
    /// finish).
    #[arg(long, default_value_t = 60)]
    pub duration: u64,
    /// Rounds of load; after each the host must come back to baseline, and RSS must
    /// not grow from round to round (the leak check that survives allocator caching).
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
    /// Concurrent TCP clients, half on `files` (v2, some v1), half on `bulk` (v2, some v1).
    #[arg(long, default_value_t = 200)]
    pub tcp: usize,
    /// Concurrent TFTP transfers (downloads, and uploads that are read back).
    #[arg(long, default_value_t = 200)]
    pub tftp: usize,
    /// Chat rooms, each with `--chat-members` members talking.
    #[arg(long, default_value_t = 10)]
    pub chat_rooms: usize,
    #[arg(long, default_value_t = 10)]
    pub chat_members: usize,
    /// Chat visitors at the support desk (answered by the automatic reply).
    #[arg(long, default_value_t = 10)]
    pub chat_visitors: usize,
    /// Pause between two chat lines of one member or visitor, in milliseconds.
    #[arg(long, default_value_t = 200)]
    pub chat_interval_ms: u64,
    /// Largest upload, in bytes (sizes are mostly much smaller; see data.rs).
    #[arg(long, default_value_t = 1 << 20)]
    pub max_size: u64,
    /// Percent of TFTP workers' transfers that are uploads (each read back).
    #[arg(long, default_value_t = 25)]
    pub tftp_upload_percent: u64,
    /// After the load, seconds to wait for fds, sessions and RSS to settle.
    #[arg(long, default_value_t = 30)]
    pub settle_secs: u64,
    /// RSS after a round may exceed the baseline by this many MiB (allocator
    /// caching of small blocks; see settle.rs).
    #[arg(long, default_value_t = 64)]
    pub rss_slack_mib: u64,
    /// RSS after the last round may exceed what the first round reached (its peak,
    /// or RSS after it) by this many MiB: a leak accumulates round after round,
    /// allocator caching stays within memory a round already touched.
    #[arg(long, default_value_t = 48)]
    pub rss_growth_mib: u64,
    /// Open fds after the load may exceed the baseline by this many.
    #[arg(long, default_value_t = 0)]
    pub fd_slack: usize,
    /// Seed of every random choice (sizes, options, names).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also write the report to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// The `switchyard` binary to start (default: next to this one).
    #[arg(long)]
    pub switchyard: Option<PathBuf>,
    /// Attach to a running host with this pid instead of starting one; then
    /// `--admin`, `--files`, `--bulk`, `--tftp`, `--chat` and `--data` are required.
    #[arg(long, requires_all = ["admin", "files", "bulk", "tftp_addr", "chat", "data"])]
    pub pid: Option<u32>,
    #[arg(long)]
    pub admin: Option<SocketAddr>,
    #[arg(long)]
    pub files: Option<SocketAddr>,
    #[arg(long)]
    pub bulk: Option<SocketAddr>,
    #[arg(long)]
    pub tftp_addr: Option<SocketAddr>,
    #[arg(long)]
    pub chat: Option<SocketAddr>,
    /// Attached host: the storage root of files and tftp; bulk's incoming directory is
    /// `DATA/incoming`. Fixtures are written there, uploads removed after checking.
    #[arg(long)]
    pub data: Option<PathBuf>,
}
