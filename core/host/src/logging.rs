//! The host's slog logger: human-readable on a terminal, or one JSON object per line
//! (for log shippers and for the end-to-end tests, which read the bound addresses
//! from the `listening` lines). Always on stderr, so stdout stays free for commands'
//! output. Plugins log through the same logger with their handler's name attached.

use std::str::FromStr;

use slog::{Drain, Level, Logger, o};

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Term,
    Json,
}

/// `--log-level`, parsed with slog's names.
#[derive(Debug, Clone, Copy)]
pub struct LevelArg(pub Level);

impl FromStr for LevelArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Level::from_str(s)
            .map(LevelArg)
            .map_err(|()| format!("unknown level `{s}` (error, warn, info, debug, trace)"))
    }
}

/// Build the logger. Keep the guard alive until exit: dropping it flushes the queue.
pub fn build(format: Format, level: Level) -> (Logger, slog_async::AsyncGuard) {
    let (drain, guard) = match format {
        Format::Term => {
            let decorator = slog_term::TermDecorator::new().stderr().build();
            let drain = slog_term::FullFormat::new(decorator).build().fuse();
            async_drain(drain)
        }
        Format::Json => {
            let drain = slog_json::Json::new(std::io::stderr())
                .add_default_keys()
                .build()
                .fuse();
            async_drain(drain)
        }
    };
    let drain = drain.filter_level(level).fuse();
    (Logger::root(drain, o!()), guard)
}

fn async_drain<D>(drain: D) -> (slog::Fuse<slog_async::Async>, slog_async::AsyncGuard)
where
    D: Drain<Ok = (), Err = slog::Never> + Send + 'static,
{
    // Block rather than drop when the queue is full: a lost ERROR line is worse.
    let (drain, guard) = slog_async::Async::new(drain)
        .chan_size(16 * 1024)
        .overflow_strategy(slog_async::OverflowStrategy::Block)
        .build_with_guard();
    (drain.fuse(), guard)
}
