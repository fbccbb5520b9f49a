//! Reloading the topology, from SIGHUP or the operator console: compile it (each error
//! reported with its position), apply it or keep the running one, and tell everyone
//! who asks — the reload answer file ([`Answers`]), the service manager, and the
//! console's history ([`console_record`]).

use std::path::{Path, PathBuf};

use slog::{Logger, error, info, warn};
use switchyard_runtime::catalog::Catalog;
use switchyard_runtime::console::model::{ReloadOutcome, ReloadRecord};
use switchyard_runtime::server::Server;
use switchyard_runtime::topology::{self, Topology};

use crate::access_log;
use crate::logging::Logs;
use crate::notify;
use crate::reload_status::{self, Outcome, Status};

pub fn compile(config: &Path, catalog: &Catalog) -> Result<Topology, topology::TopologyErrors> {
    topology::load(config).and_then(|src| topology::compile(&src, catalog))
}

/// One error per line, each with its `file:line:col`.
fn error_lines(errors: &topology::TopologyErrors) -> Vec<String> {
    errors
        .iter()
        .map(|d| format!("{}:{}:{}: {d}", d.file_name(), d.line, d.col))
        .collect()
}

/// Report a topology that cannot be used: each error as a record with its position,
/// and the full report (with carets) on stderr for a person, or as a field of one
/// record where stderr is not read as text (JSON lines, a log file).
pub fn report_invalid(logs: &Logs, msg: &str, config: &Path, errors: &topology::TopologyErrors) {
    let report = topology::render(errors, false);
    for d in errors.iter() {
        let at = format!("{}:{}:{}", d.file_name(), d.line, d.col);
        error!(logs.log, "{}", msg; "file" => %config.display(), "at" => at, "error" => %d);
    }
    if logs.reports_inline {
        error!(logs.log, "topology report"; "file" => %config.display(), "report" => report);
    } else {
        eprintln!("{report}");
    }
}

/// Reload (SIGHUP or the console) and tell everyone who asks: the reload answer
/// file, the service manager, and (returned) the console's history.
pub fn reload_everywhere(
    server: &mut Server,
    (config, catalog, logs): (&Path, &Catalog, &Logs),
    answers: &mut Option<Answers>,
    (generation, trigger): (u64, &'static str),
) -> ReloadRecord {
    let (outcome, errors, report) = reload(server, config, catalog, logs);
    let status = match outcome {
        Outcome::Refused => "reload refused: the running topology is unchanged",
        _ => "reload applied",
    };
    let record = console_record(generation, outcome, trigger, errors.clone(), report.clone());
    if let Some(a) = answers {
        a.write(outcome, errors, report);
    }
    notify::ready(status);
    record
}

/// A reload as the console's history shows it.
pub fn console_record(
    generation: u64,
    outcome: Outcome,
    trigger: &'static str,
    errors: Vec<String>,
    report: String,
) -> ReloadRecord {
    ReloadRecord {
        generation,
        at_unix_ms: reload_status::now_unix_ms(),
        outcome: match outcome {
            Outcome::Started => ReloadOutcome::Started,
            Outcome::Applied => ReloadOutcome::Applied,
            Outcome::Refused => ReloadOutcome::Refused,
        },
        trigger,
        // A refused topology's report repeats its errors with carets: the lines do.
        summary: if errors.is_empty() {
            report
        } else {
            String::new()
        },
        errors,
    }
}

/// Reload on SIGHUP: a topology with any error leaves the running one untouched.
/// Returns the outcome, the errors (each with its position) and a report.
fn reload(
    server: &mut Server,
    config: &Path,
    catalog: &Catalog,
    logs: &Logs,
) -> (Outcome, Vec<String>, String) {
    let log = &logs.log;
    notify::reloading();
    match compile(config, catalog) {
        Err(errors) => {
            server.metrics().reload("invalid");
            report_invalid(
                logs,
                "reload refused: invalid topology, keeping the running one",
                config,
                &errors,
            );
            (
                Outcome::Refused,
                error_lines(&errors),
                topology::render(&errors, false),
            )
        }
        Ok(topo) => match access_log::prepare(&topo, log) {
            Err(e) => {
                server.metrics().reload("refused");
                error!(log, "reload refused, keeping the running topology"; "error" => %e);
                (Outcome::Refused, vec![e.to_string()], e.to_string())
            }
            Ok(change) => apply(server, &topo, catalog, log, change),
        },
    }
}

/// Apply a compiled topology whose access log is prepared.
fn apply(
    server: &mut Server,
    topo: &Topology,
    catalog: &Catalog,
    log: &Logger,
    access: access_log::Change,
) -> (Outcome, Vec<String>, String) {
    match server.reload(topo, catalog) {
        Ok(s) => {
            access.apply();
            info!(log, "reloaded"; "kept" => s.kept.join(","), "started" => s.started.join(","),
                    "replaced" => s.replaced.join(","), "retired" => s.retired.join(","));
            let summary = format!(
                "kept [{}], started [{}], replaced [{}], retired [{}]",
                s.kept.join(", "),
                s.started.join(", "),
                s.replaced.join(", "),
                s.retired.join(", ")
            );
            (Outcome::Applied, Vec::new(), summary)
        }
        Err(errors) => {
            access.discard();
            for e in &errors {
                error!(log, "reload refused, keeping the running topology"; "error" => %e);
            }
            let lines = errors.iter().map(ToString::to_string).collect();
            (Outcome::Refused, lines, errors.to_string())
        }
    }
}

/// Writes the reload answers next to the pid file.
pub struct Answers {
    path: PathBuf,
    generation: u64,
    log: Logger,
}

impl Answers {
    pub fn new(pid_file: &Path, log: &Logger) -> Answers {
        Answers {
            path: reload_status::path_for(pid_file),
            generation: 0,
            log: log.clone(),
        }
    }

    pub fn write(&mut self, outcome: Outcome, errors: Vec<String>, report: String) {
        if outcome != Outcome::Started {
            self.generation += 1;
        }
        let status = Status {
            generation: self.generation,
            outcome,
            pid: std::process::id(),
            at_unix_ms: reload_status::now_unix_ms(),
            errors,
            report,
        };
        if let Err(e) = reload_status::write(&self.path, &status) {
            warn!(self.log, "cannot write the reload answer"; "path" => %self.path.display(), "error" => %e);
        }
    }
}
