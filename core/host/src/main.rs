//! `switchyard`: the server host.
//!
//! Reads a RON topology, loads the protocol plugins it names, and serves them on actix.
//! See `README.md` for the topology format and `docs/architecture.md` for the design.
//!
//! # Layout
//! - `main.rs`: the command line and exit codes.
//! - `logging/`: the slog logger (terminal or JSON; stderr or a file SIGUSR1 reopens).
//! - `serve.rs`: running a topology, reloading it on SIGHUP, draining on SIGTERM.
//! - `signals.rs`: which signals do what, and which are ignored.
//! - `startup.rs`: what `serve` checks (and creates) before binding anything.
//! - `access.rs`: checking paths as the user the host will run as.
//! - `nofile.rs`: raising the open-files limit.
//! - `allocator.rs`: glibc's mmap threshold fixed, so RSS returns to its baseline after load.
//! - `reload_status.rs`: the answer to a reload, in a file next to the pid file.
//! - `reload_client.rs`: `switchyard reload`, which signals and waits for that answer.
//! - `validate.rs`: `switchyard validate`.
//! - `notify.rs`: systemd readiness notifications.
//! - `privilege.rs`: switching to the topology's `user` after binding.

mod access;
mod allocator;
mod logging;
mod nofile;
mod notify;
mod privilege;
mod reload_client;
mod reload_status;
mod serve;
mod signals;
mod startup;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use switchyard_runtime::catalog::{Catalog, Discovered, HOST_ABI_VERSION};
use switchyard_runtime::topology;
use switchyard_runtime::topology::PluginCatalog;

/// `EX_CONFIG` from sysexits.h: the configuration is wrong, retrying will not help.
const EXIT_CONFIG: u8 = 78;

#[derive(Debug, Parser)]
#[command(
    name = "switchyard",
    version,
    about = "A server host in which every network protocol is a plugin"
)]
struct Cli {
    /// Log format: `term` for people, `json` for one JSON object per line.
    #[arg(long, global = true, value_enum, default_value_t = logging::Format::Term)]
    log_format: logging::Format,
    /// Append the log to this file instead of stderr (`serve`); SIGUSR1 reopens it.
    #[arg(long, global = true)]
    log_file: Option<PathBuf>,
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
    /// Make a running server reload its topology and wait for the outcome: exit 0
    /// applied, 78 refused (errors printed with file:line:col), 1 no answer.
    Reload {
        /// The pid file the server was started with (`serve --pid-file`).
        #[arg(long)]
        pid_file: PathBuf,
        /// Seconds to wait for the server's answer.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Check topology files without binding anything, and the storage roots as the
    /// user the host will run as. Exit 0 if all are valid, 78 if not.
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
            let logs =
                match logging::build(cli.log_format, cli.log_level.0, cli.log_file.as_deref()) {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("switchyard: cannot log: {e}");
                        return ExitCode::from(EXIT_CONFIG);
                    }
                };
            serve::run(&serve::ServeOptions { config, pid_file }, &catalog, &logs)
        }
        Command::Validate { files } => validate::run(&files, &catalog),
        Command::Reload { pid_file, timeout } => {
            reload_client::run(&pid_file, std::time::Duration::from_secs(timeout))
        }
        Command::Plugins { config } => plugins(config.as_deref(), &catalog),
    }
}

/// `switchyard plugins`: every library lookup could load, under the name it would be
/// found by, and those the topology names. Exit 78 only when a plugin the topology
/// names is refused (each is listed with its reason), so the command still shows what
/// is there when a topology does not compile.
fn plugins(config: Option<&std::path::Path>, catalog: &Catalog) -> ExitCode {
    let lookup = match config {
        Some(path) => match topology::load(path) {
            Ok(src) => {
                let cwd = std::env::current_dir().unwrap_or_default();
                topology::plugin_lookup(&src, &cwd)
            }
            Err(errors) => {
                eprintln!("{}", topology::render(&errors, false));
                return ExitCode::from(EXIT_CONFIG);
            }
        },
        None => topology::PluginLookup::default(),
    };
    println!("host ABI {HOST_ABI_VERSION}");
    println!(
        "{:<16} {:<10} {:<4} {:<8} PATH",
        "NAME", "VERSION", "ABI", "STORAGE"
    );
    let mut found = catalog.discover(&lookup.dirs);
    let mut refused_named = Vec::new();
    for (name, explicit) in &lookup.named {
        match catalog.describe(name, explicit.as_deref(), &lookup.dirs) {
            Ok(desc) => {
                let key = desc.path.canonicalize().unwrap_or(desc.path);
                if !found.iter().any(|d| d.path == key) {
                    let result = catalog.load(&key);
                    found.push(Discovered {
                        path: key,
                        name: name.clone(),
                        result,
                    });
                }
            }
            Err(problem) => {
                if let Some(path) = explicit
                    && !found.iter().any(|d| d.path == *path)
                {
                    let result = Err(problem.clone());
                    found.push(Discovered {
                        path: path.clone(),
                        name: name.clone(),
                        result,
                    });
                }
                refused_named.push((name, problem));
            }
        }
    }
    for d in &found {
        match &d.result {
            Ok(p) => {
                let i = p.info();
                // Served: peers read the handler's root; private: only the plugin.
                let storage = if i.storage == switchyard_sdk::abi::SY_STORAGE_PRIVATE {
                    "private"
                } else {
                    "served"
                };
                // A file lookup finds under another name than the plugin declares
                // (`libkv.so` declaring `keyvalue`) is found, then refused by name.
                let aside = if d.name.replace('-', "_") == i.name.replace('-', "_") {
                    String::new()
                } else {
                    format!(" (found as `{}`, which it does not declare)", d.name)
                };
                println!(
                    "{:<16} {:<10} {:<4} {:<8} {}{aside}",
                    i.name,
                    i.version,
                    i.abi_version,
                    storage,
                    d.path.display()
                );
            }
            Err(problem) => println!(
                "{:<16} {:<10} {:<4} {:<8} {} ({})",
                "-",
                "-",
                "-",
                "-",
                d.path.display(),
                problem.reason
            ),
        }
    }
    for (name, problem) in &refused_named {
        eprintln!(
            "switchyard: plugin `{name}` named by the topology: {}",
            problem.reason
        );
    }
    if refused_named.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CONFIG)
    }
}
