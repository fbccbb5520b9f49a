//! `switchyard serve`: compile the topology, start the server, then react to signals:
//! SIGHUP reloads the topology (keeping the old one on any error), SIGINT/SIGTERM
//! drain and exit, a second SIGINT/SIGTERM exits at once.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use slog::{Logger, error, info, warn};
use switchyard_runtime::catalog::Catalog;
use switchyard_runtime::server::Server;
use switchyard_runtime::topology::{self, Topology};
use tokio::signal::unix::{SignalKind, signal};

use crate::EXIT_CONFIG;
use crate::notify;

/// Options of `serve`.
#[derive(Debug)]
pub struct ServeOptions {
    pub config: PathBuf,
    pub pid_file: Option<PathBuf>,
}

fn compile(config: &Path, catalog: &Catalog) -> Result<Topology, topology::TopologyErrors> {
    topology::load(config).and_then(|src| topology::compile(&src, catalog))
}

/// Serve until SIGINT/SIGTERM. Exit codes: 0 after a drain, 78 for a config error,
/// 1 when the server cannot start, 130 after a second signal.
pub fn run(opts: &ServeOptions, catalog: &Catalog, log: &Logger) -> ExitCode {
    let config = opts.config.as_path();
    let topo = match compile(config, catalog) {
        Ok(t) => t,
        Err(errors) => {
            eprintln!("{}", topology::render(&errors, false));
            error!(log, "invalid topology"; "file" => %config.display(), "errors" => errors.len());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let _pid_file = match opts.pid_file.as_deref().map(PidFile::create).transpose() {
        Ok(p) => p,
        Err(e) => {
            error!(log, "cannot write pid file"; "error" => %e);
            return ExitCode::FAILURE;
        }
    };
    let system = actix_rt::System::new();
    system.block_on(async {
        let mut server = match Server::start(&topo, catalog, log) {
            Ok(s) => s,
            Err(e) => {
                error!(log, "cannot start"; "error" => %e);
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
        let signals = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        );
        let (Ok(mut term), Ok(mut int), Ok(mut hup)) = signals else {
            error!(log, "cannot install signal handlers");
            return ExitCode::FAILURE;
        };
        info!(log, "serving"; "config" => %config.display(), "handlers" => topo.handlers.len(),
            "listeners" => topo.listeners.len());
        notify::ready();
        let which = loop {
            tokio::select! {
                _ = term.recv() => break "SIGTERM",
                _ = int.recv() => break "SIGINT",
                _ = hup.recv() => reload(&mut server, config, catalog, log),
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
            _ = term.recv() => second_signal(log),
            _ = int.recv() => second_signal(log),
        }
    })
}

/// Reload on SIGHUP: a topology with any error leaves the running one untouched.
fn reload(server: &mut Server, config: &Path, catalog: &Catalog, log: &Logger) {
    notify::reloading();
    match compile(config, catalog) {
        Err(errors) => {
            server.metrics().reload("invalid");
            let report = topology::render(&errors, false);
            eprintln!("{report}");
            for d in errors.iter() {
                error!(log, "reload refused: invalid topology, keeping the running one";
                    "at" => format!("{}:{}:{}", d.file_name(), d.line, d.col), "error" => %d);
            }
        }
        Ok(topo) => match server.reload(&topo, catalog) {
            Ok(s) => {
                info!(log, "reloaded"; "kept" => s.kept.join(","), "started" => s.started.join(","),
                "replaced" => s.replaced.join(","), "retired" => s.retired.join(","))
            }
            Err(e) => error!(log, "reload refused, keeping the running topology"; "error" => %e),
        },
    }
    notify::ready();
}

fn second_signal(log: &Logger) -> ExitCode {
    warn!(log, "second signal: exiting now");
    ExitCode::from(130)
}

/// The pid file, removed when the server exits.
#[derive(Debug)]
struct PidFile(PathBuf);

impl PidFile {
    fn create(path: &Path) -> std::io::Result<PidFile> {
        std::fs::write(path, format!("{}\n", std::process::id()))?;
        Ok(PidFile(path.to_path_buf()))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
