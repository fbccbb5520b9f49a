//! `switchyard serve`: check, compile and start the topology, then react to signals
//! ([`crate::signals`]): SIGHUP reloads the topology (keeping the old one on any error)
//! and answers through the status file ([`crate::reload_status`]), SIGUSR1 reopens the
//! log file and the access log, SIGINT/SIGTERM drain and exit, a second SIGINT/SIGTERM
//! exits at once. The access log is written out after the drain ([`crate::access_log`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use slog::{Logger, error, info, warn};
use switchyard_runtime::catalog::Catalog;
use switchyard_runtime::server::Server;
use switchyard_runtime::topology::Topology;

use crate::access::RunAs;
use crate::access_log;
use crate::logging::Logs;
use crate::reload::{Answers, compile, console_record, reload_everywhere, report_invalid};
use crate::reload_status::{self, Outcome};
use crate::signals::{self, Handled};
use crate::{EXIT_CONFIG, nofile, notify, startup};

/// Options of `serve`.
#[derive(Debug)]
pub struct ServeOptions {
    pub config: PathBuf,
    pub pid_file: Option<PathBuf>,
}

/// Serve until SIGINT/SIGTERM. Exit codes: 0 after a drain, 78 for a config error
/// (an invalid topology, a path the run-as user cannot use), 1 when the server
/// cannot start, 130 after a second signal.
pub fn run(opts: &ServeOptions, catalog: &Catalog, logs: &Logs) -> ExitCode {
    signals::ignore_early();
    let log = &logs.log;
    match nofile::raise() {
        Ok(r) => {
            info!(log, "open files limit"; "soft_before" => r.before, "soft" => r.after, "hard" => r.hard)
        }
        Err(e) => warn!(log, "cannot raise the open files limit"; "error" => %e),
    }
    let config = opts.config.as_path();
    let topo = match compile(config, catalog) {
        Ok(t) => t,
        Err(errors) => {
            report_invalid(logs, "invalid topology", config, &errors);
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let who = match RunAs::resolve(topo.user.as_deref()) {
        Ok(w) => w,
        Err(e) => {
            error!(log, "cannot start"; "error" => e);
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    startup::create_roots(&topo, &who);
    let problems = startup::check(&topo, opts.pid_file.as_deref(), &who);
    if !problems.is_empty() {
        for p in &problems {
            error!(log, "cannot start: the host could not use a path it needs";
                "what" => &p.what, "path" => %p.path.display(), "reason" => &p.reason);
        }
        return ExitCode::from(EXIT_CONFIG);
    }
    if topo.user.is_some()
        && let Some(file) = &logs.file
    {
        let dir = startup::parent_of(file);
        let dirs = [(
            "log file directory".to_owned(),
            dir,
            crate::access::Need::Write,
        )];
        if let Some(p) = crate::access::check(&who, &dirs).first() {
            warn!(log, "after logrotate moves the log file, SIGUSR1 cannot create a new one: use logrotate's `create` or `copytruncate`";
                "path" => %p.path.display(), "reason" => &p.reason);
        }
    }
    if let Err(e) = access_log::start(&topo, log) {
        error!(log, "cannot start: cannot open the access log"; "error" => %e);
        return ExitCode::from(EXIT_CONFIG);
    }
    let pid_file = match opts.pid_file.as_deref().map(PidFile::create).transpose() {
        Ok(p) => p,
        Err(e) => {
            error!(log, "cannot write pid file"; "error" => %e);
            access_log::stop();
            return ExitCode::FAILURE;
        }
    };
    let system = actix_rt::System::new();
    let code = system.block_on(serve(&topo, config, catalog, logs, pid_file.as_ref()));
    // Every session has ended (or been cut): the lines still waiting are written now.
    access_log::stop();
    if let Some(p) = pid_file
        && let Err(e) = p.remove()
    {
        warn!(log, "cannot remove the pid file"; "error" => %e);
    }
    code
}

async fn serve(
    topo: &Topology,
    config: &Path,
    catalog: &Catalog,
    logs: &Logs,
    pid_file: Option<&PidFile>,
) -> ExitCode {
    let log = &logs.log;
    let mut sigs = match Handled::install() {
        Ok(s) => s,
        Err(e) => {
            error!(log, "cannot install signal handlers"; "error" => %e);
            return ExitCode::FAILURE;
        }
    };
    signals::log_ignored(log);
    let mut server = match Server::start_with_journal(topo, catalog, log, Arc::clone(&logs.journal))
    {
        Ok(s) => s,
        Err(errors) => {
            // One record per reason: the server reports all it found, not the first.
            for e in &errors {
                error!(log, "cannot start"; "error" => %e);
            }
            return ExitCode::FAILURE;
        }
    };
    if let Some(user) = &topo.user {
        match crate::privilege::drop_to(user) {
            Ok((uid, gid)) => info!(log, "running as an unprivileged user";
                "user" => user, "uid" => uid.as_raw(), "gid" => gid.as_raw()),
            Err(e) => {
                error!(log, "cannot drop privileges"; "user" => user, "error" => format!("{e:#}"));
                return ExitCode::FAILURE;
            }
        }
    }
    let mut answers = pid_file.map(|p| Answers::new(&p.0, log));
    if let Some(a) = &mut answers {
        a.write(Outcome::Started, Vec::new(), "serving".into());
    }
    let console = Arc::clone(server.console());
    console.set_host(env!("CARGO_PKG_VERSION"), &config.display().to_string());
    let mut generation = 0;
    console.journal().reload(console_record(
        generation,
        Outcome::Started,
        "start",
        Vec::new(),
        "serving".into(),
    ));
    let mut console_reloads = console.reload_requests();
    info!(log, "serving"; "config" => %config.display(), "handlers" => topo.handlers.len(),
        "listeners" => topo.listeners.len());
    notify::ready("serving");
    let which = loop {
        tokio::select! {
            _ = sigs.term.recv() => break "SIGTERM",
            _ = sigs.int.recv() => break "SIGINT",
            _ = sigs.hup.recv() => {
                generation += 1;
                let record = reload_everywhere(&mut server, (config, catalog, logs), &mut answers, (generation, "signal"));
                console.journal().reload(record);
            }
            Some(request) = console_reloads.recv() => {
                generation += 1;
                let record = reload_everywhere(&mut server, (config, catalog, logs), &mut answers, (generation, "console"));
                console.journal().reload(record.clone());
                let _ = request.reply.send(record);
            }
            _ = sigs.usr1.recv() => reopen_logs(logs),
        }
    };
    notify::stopping();
    info!(log, "draining"; "signal" => which);
    tokio::select! {
        finished = server.drain() => {
            if !finished {
                warn!(log, "stopped with work in flight");
            }
            info!(log, "stopped");
            ExitCode::SUCCESS
        }
        _ = sigs.term.recv() => second_signal(log),
        _ = sigs.int.recv() => second_signal(log),
    }
}

/// SIGUSR1: the log file and the access log start new files at their paths (after
/// logrotate moved them).
fn reopen_logs(logs: &Logs) {
    let log = &logs.log;
    if let Some(reopen) = &logs.reopen {
        reopen.request();
        info!(log, "log file reopened"; "signal" => "SIGUSR1");
    }
    if access_log::reopen() {
        info!(log, "access log reopened"; "signal" => "SIGUSR1");
    } else if logs.reopen.is_none() {
        info!(log, "SIGUSR1: no log file to reopen (logging to stderr)");
    }
}

fn second_signal(log: &Logger) -> ExitCode {
    warn!(log, "second signal: exiting now");
    ExitCode::from(130)
}

/// The pid file and the reload answers beside it, removed when the server exits
/// (also after a privilege drop: the start-up checks made sure the directory is
/// writable by the user the host runs as).
#[derive(Debug)]
pub struct PidFile(PathBuf);

impl PidFile {
    fn create(path: &Path) -> std::io::Result<PidFile> {
        std::fs::write(path, format!("{}\n", std::process::id()))?;
        Ok(PidFile(path.to_path_buf()))
    }

    /// Remove both files now, saying why one could not be (the caller logs it).
    fn remove(self) -> std::io::Result<()> {
        let result = remove_pid_files(&self.0);
        std::mem::forget(self);
        result
    }
}

/// Remove the pid file and its reload answer: both are tried, the first error is
/// returned (an answer already gone is no error).
fn remove_pid_files(pid_file: &Path) -> std::io::Result<()> {
    let answer = match std::fs::remove_file(reload_status::path_for(pid_file)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    };
    let pid = std::fs::remove_file(pid_file);
    answer.and(pid)
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = remove_pid_files(&self.0);
    }
}
