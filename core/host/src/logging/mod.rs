//! The host's slog logger: human-readable, or one JSON object per line (for log
//! shippers and for the end-to-end tests, which read the bound addresses from the
//! `listening` lines). On stderr by default, so stdout stays free for commands'
//! output, or appended to `--log-file`, which SIGUSR1 reopens ([`sink`]). Plugins log
//! through the same logger with their handler's name attached.
//!
//! The JSON form is a contract with log shippers: every line is one object with `ts`
//! (RFC 3339), `level` (`error`, `warn`, `info`, `debug`, `trace`), `msg`, and each
//! field as its own key; a multi-line report (a refused topology) travels as a string
//! field, never as raw lines between records ([`Logs::reports_inline`]).
//!
//! Records are formatted on the log thread (`slog_async`, which blocks a logging
//! thread rather than drop a record when its queue is full) and each reaches its
//! destination with one `write` ([`record`]).
//!
//! # Layout
//! - this file: the formats, levels and the logger.
//! - `record`: one record, one `write` (and the terminal's colours).
//! - `sink`: stderr, or the log file SIGUSR1 reopens.
//! - `console`: WARN+ records kept for the operator console.

mod console;
mod record;
mod sink;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use slog::{Drain, FnValue, Level, Logger, PushFnValue, Record, o};

use console::ConsoleDrain;
use record::{Decorated, RecordWriter};
pub use sink::Reopen;
use sink::{Sink, open_log_file};
use std::sync::Arc;
use switchyard_runtime::console::Journal;

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

/// The logger and what comes with it.
pub struct Logs {
    pub log: Logger,
    /// Keep alive until exit: dropping it flushes the queue.
    pub _guard: slog_async::AsyncGuard,
    /// Set when logging to a file: SIGUSR1 raises it.
    pub reopen: Option<Reopen>,
    /// The log file, if any (for start-up checks).
    pub file: Option<PathBuf>,
    /// Whether multi-line reports must go into a record's field rather than be
    /// printed as they are (JSON lines, or a log file that is not a terminal).
    pub reports_inline: bool,
    /// The operator console's journal: WARN+ records go there too.
    pub journal: Arc<Journal>,
}

impl std::fmt::Debug for Logs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logs")
            .field("file", &self.file)
            .field("reports_inline", &self.reports_inline)
            .finish_non_exhaustive()
    }
}

/// The level name in the JSON form: lower case, and the five names operators filter
/// on (slog's `critical` is not used by the host; it maps to `error`).
fn level_name(level: Level) -> &'static str {
    match level {
        Level::Critical | Level::Error => "error",
        Level::Warning => "warn",
        Level::Info => "info",
        Level::Debug => "debug",
        Level::Trace => "trace",
    }
}

fn rfc3339_now() -> Option<String> {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// Build the logger. A log file that cannot be opened is an error (at start, with
/// the path), not a silent fall back to stderr.
pub fn build(format: Format, level: Level, file: Option<&Path>) -> std::io::Result<Logs> {
    let (sink, reopen) = match file {
        Some(path) => {
            let f = open_log_file(path).map_err(|e| {
                std::io::Error::new(e.kind(), format!("log file {}: {e}", path.display()))
            })?;
            let reopen = Reopen::default();
            (
                Some(Sink::file(path.to_path_buf(), f, reopen.clone())),
                Some(reopen),
            )
        }
        None => (None, None),
    };
    let to_file = sink.is_some();
    let (drain, guard) = match format {
        Format::Term => {
            // Colours only for a person at a terminal who did not ask for none.
            let color = sink.is_none()
                && std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            let decorator = Decorated::new(sink.unwrap_or_else(Sink::stderr), color);
            async_drain(slog_term::FullFormat::new(decorator).build().fuse())
        }
        Format::Json => {
            let out = RecordWriter::new(sink.unwrap_or_else(Sink::stderr));
            let drain = slog_json::Json::new(out)
                .set_flush(true)
                .add_key_value(o!(
                    "ts" => FnValue(|_: &Record<'_>| rfc3339_now()),
                    "level" => FnValue(|r: &Record<'_>| level_name(r.level())),
                    "msg" => PushFnValue(|r: &Record<'_>, ser| ser.emit(r.msg())),
                ))
                .build()
                .fuse();
            async_drain(drain)
        }
    };
    let journal = Arc::new(Journal::default());
    let console = ConsoleDrain {
        journal: Arc::clone(&journal),
    };
    let drain = slog::Duplicate::new(drain.filter_level(level).fuse(), console).fuse();
    let log = Logger::root(drain, o!());
    install_panic_hook(&log);
    Ok(Logs {
        log,
        _guard: guard,
        reopen,
        file: file.map(Path::to_path_buf),
        reports_inline: format == Format::Json || to_file,
        journal,
    })
}

/// A panic in the host (not in a plugin: the SDK catches those) becomes an error
/// record, so a JSON log stays one object per line and a log file holds the reason.
fn install_panic_hook(log: &Logger) {
    let log = log.clone();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_owned());
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let thread = std::thread::current().name().unwrap_or("-").to_owned();
        slog::error!(log, "host panicked"; "panic" => msg, "at" => at, "thread" => thread);
    }));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_records_are_one_object_per_line_with_lower_case_levels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.log");
        let logs = build(Format::Json, Level::Trace, Some(&path)).unwrap();
        slog::error!(logs.log, "bad"; "report" => "line one\nline two");
        slog::warn!(logs.log, "careful"; "n" => 3);
        slog::info!(logs.log, "fine");
        drop(logs);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[0]["level"], "error");
        assert_eq!(lines[0]["report"], "line one\nline two");
        assert_eq!(lines[1]["level"], "warn");
        assert_eq!(lines[1]["n"], 3);
        assert_eq!(lines[2]["level"], "info");
        assert_eq!(lines[2]["msg"], "fine");
        assert!(lines[2]["ts"].as_str().is_some_and(|t| t.contains('T')));
    }
}
