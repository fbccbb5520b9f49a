//! `switchyard serve`: compile the topology, start the server, wait for a signal,
//! drain, exit.

use std::path::Path;
use std::process::ExitCode;

use slog::{Logger, error, info, warn};
use switchyard_runtime::catalog::Catalog;
use switchyard_runtime::server::Server;
use switchyard_runtime::topology;
use tokio::signal::unix::{SignalKind, signal};

use crate::EXIT_CONFIG;

/// Serve `config` until SIGINT/SIGTERM. Exit codes: 0 after a drain, 78 for a config
/// error, 1 when the server cannot start, 130 after a second signal.
pub fn run(config: &Path, catalog: &Catalog, log: &Logger) -> ExitCode {
    let compiled = topology::load(config).and_then(|src| topology::compile(&src, catalog));
    let topo = match compiled {
        Ok(t) => t,
        Err(errors) => {
            eprintln!("{}", topology::render(&errors, false));
            error!(log, "invalid topology"; "file" => %config.display(), "errors" => errors.len());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let system = actix_rt::System::new();
    system.block_on(async {
        let server = match Server::start(&topo, catalog, log) {
            Ok(s) => s,
            Err(e) => {
                error!(log, "cannot start"; "error" => %e);
                return ExitCode::FAILURE;
            }
        };
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            error!(log, "cannot install signal handlers");
            return ExitCode::FAILURE;
        };
        info!(log, "serving"; "config" => %config.display(), "handlers" => topo.handlers.len(),
            "listeners" => topo.listeners.len());
        let which = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        info!(log, "draining"; "signal" => which, "deadline_secs" => topo.drain_timeout.as_secs_f64());
        tokio::select! {
            finished = server.drain(topo.drain_timeout) => {
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

fn second_signal(log: &Logger) -> ExitCode {
    warn!(log, "second signal: exiting now");
    ExitCode::from(130)
}
