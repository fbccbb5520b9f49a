//! `switchyard`: the server host.
//!
//! Reads a RON topology, loads the protocol plugins it names, and serves them on actix.
//! See `README.md` for the topology format and `docs/architecture.md` for the design.
//!
//! # Layout
//! - `main.rs`: the command line and exit codes.
//! - `logging.rs`: the slog logger (terminal or JSON, to stderr).
//! - `serve.rs`: running a topology, reloading it on SIGHUP, draining on SIGTERM.
//! - `notify.rs`: systemd readiness notifications.
//! - `privilege.rs`: switching to the topology's `user` after binding.

mod allocator;
mod logging;
mod notify;
mod privilege;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use switchyard_runtime::catalog::{Catalog, HOST_ABI_VERSION};
use switchyard_runtime::topology;

/// `EX_CONFIG` from sysexits.h: the configuration is wrong, retrying will not help.
const EXIT_CONFIG: u8 = 78;

#[derive(Debug, Parser)]
#[command(
    name = "switchyard",
    version,
    about = "A server host in which every network protocol is a plugin"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = logging::Format::Term)]
    log_format: logging::Format,
    /// Least severe level logged: error, warn, info, debug, trace.
    #[arg(long, global = true, default_value = "info")]
    log_level: logging::LevelArg,
    /// Extra directory to search for plugins (before the topology's and the default ones).
    #[arg(long, global = true)]
    plugin_dir: Vec<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a topology until SIGINT/SIGTERM.
    Serve {
        /// The topology file.
        #[arg(long, short, default_value = "config/topology.ron")]
        config: PathBuf,
        /// Write the server's pid here (for `switchyard reload`); removed on exit.
        #[arg(long)]
        pid_file: Option<PathBuf>,
    },
    /// Make a running server reload its topology (sends SIGHUP to the pid in the file).
    Reload {
        #[arg(long)]
        pid_file: PathBuf,
    },
    /// Check topology files without binding anything. Exit 0 if all are valid, 78 if not.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List the plugins found (name, version, ABI, path).
    Plugins {
        /// Also search the topology's plugin directories and explicit paths.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    allocator::tune();
    let cli = Cli::parse();
    let catalog = Catalog::new(cli.plugin_dir.clone());
    match cli.command {
        Command::Serve { config, pid_file } => {
            let (log, guard) = logging::build(cli.log_format, cli.log_level.0);
            let code = serve::run(&serve::ServeOptions { config, pid_file }, &catalog, &log);
            drop(log);
            drop(guard);
            code
        }
        Command::Validate { files } => validate(&files, &catalog),
        Command::Reload { pid_file } => reload(&pid_file),
        Command::Plugins { config } => plugins(config.as_deref(), &catalog),
    }
}

fn validate(files: &[PathBuf], catalog: &Catalog) -> ExitCode {
    let mut failed = false;
    for file in files {
        match topology::load(file).and_then(|src| topology::compile(&src, catalog)) {
            Ok(t) => println!(
                "{}: ok ({} listeners, {} handlers)",
                file.display(),
                t.listeners.len(),
                t.handlers.len()
            ),
            Err(errors) => {
                failed = true;
                eprintln!("{}", topology::render(&errors, false));
            }
        }
    }
    if failed {
        ExitCode::from(EXIT_CONFIG)
    } else {
        ExitCode::SUCCESS
    }
}

fn reload(pid_file: &std::path::Path) -> ExitCode {
    let pid = std::fs::read_to_string(pid_file)
        .map_err(|e| format!("cannot read {}: {e}", pid_file.display()))
        .and_then(|t| {
            t.trim()
                .parse::<i32>()
                .map_err(|_| format!("{} holds no pid", pid_file.display()))
        })
        .and_then(|n| rustix::process::Pid::from_raw(n).ok_or_else(|| format!("bad pid {n}")));
    let sent = pid.and_then(|pid| {
        rustix::process::kill_process(pid, rustix::process::Signal::HUP)
            .map_err(|e| format!("cannot signal pid {}: {e}", pid.as_raw_nonzero()))
    });
    match sent {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchyard reload: {e}");
            ExitCode::FAILURE
        }
    }
}

fn plugins(config: Option<&std::path::Path>, catalog: &Catalog) -> ExitCode {
    let mut dirs = Vec::new();
    let mut named = Vec::new();
    if let Some(path) = config {
        match topology::load(path).and_then(|src| topology::compile(&src, catalog)) {
            Ok(t) => {
                dirs = t.plugin_dirs.clone();
                named = t.handlers.iter().map(|h| h.plugin.path.clone()).collect();
            }
            Err(errors) => {
                eprintln!("{}", topology::render(&errors, false));
                return ExitCode::from(EXIT_CONFIG);
            }
        }
    }
    println!("host ABI {HOST_ABI_VERSION}");
    println!(
        "{:<16} {:<10} {:<4} {:<8} PATH",
        "NAME", "VERSION", "ABI", "STORAGE"
    );
    let mut found = catalog.discover(&dirs);
    for path in named {
        let key = path.canonicalize().unwrap_or(path);
        if !found.iter().any(|(p, _)| *p == key) {
            found.push((key.clone(), catalog.load(&key)));
        }
    }
    for (path, result) in found {
        match result {
            Ok(p) => {
                let i = p.info();
                // Served: peers read the handler's root; private: only the plugin.
                let storage = if i.storage == switchyard_sdk::abi::SY_STORAGE_PRIVATE {
                    "private"
                } else {
                    "served"
                };
                println!(
                    "{:<16} {:<10} {:<4} {:<8} {}",
                    i.name,
                    i.version,
                    i.abi_version,
                    storage,
                    path.display()
                );
            }
            Err(reason) => println!(
                "{:<16} {:<10} {:<4} {:<8} {} ({reason})",
                "-",
                "-",
                "-",
                "-",
                path.display()
            ),
        }
    }
    ExitCode::SUCCESS
}
