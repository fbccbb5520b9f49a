//! `switchyard`: the server host.
//!
//! Reads a RON topology, loads the protocol plugins it names, and serves them on actix.
//! See `README.md` for the topology format and `docs/architecture.md` for the design.
//!
//! # Layout
//! - `main.rs`: the command line and exit codes.
//! - `logging/`: the slog logger (terminal or JSON; stderr or a file SIGUSR1 reopens).
//! - `serve.rs`: running a topology, reloading it on SIGHUP or from the console,
//!   draining on SIGTERM.
//! - `signals.rs`: which signals do what, and which are ignored.
//! - `startup.rs`: what `serve` checks (and creates) before binding anything.
//! - `access.rs`: checking paths as the user the host will run as.
//! - `access_log.rs`: the topology's access log over start, SIGUSR1, reload and exit.
//! - `nofile.rs`: raising the open-files limit.
//! - `allocator.rs`: glibc's mmap threshold fixed, so RSS returns to its baseline after load.
//! - `reload.rs`: a reload (SIGHUP or the console): compile, apply or refuse, answer.
//! - `reload_status.rs`: the answer to a reload, in a file next to the pid file.
//! - `reload_client.rs`: `switchyard reload`, which signals and waits for that answer.
//! - `validate.rs`: `switchyard validate`.
//! - `plugins_cmd.rs`: `switchyard plugins`.
//! - `scaffold/`: `switchyard new-plugin`, and the templates it fills.
//! - `notify.rs`: systemd readiness notifications.
//! - `privilege.rs`: switching to the topology's `user` after binding.
//! - `completions` and `man` (in this file): generated from the clap definition by
//!   `switchyard_client_support::cli_docs`, shared with the example clients.

mod access;
mod access_log;
mod allocator;
mod logging;
mod nofile;
mod notify;
mod plugins_cmd;
mod privilege;
mod reload;
mod reload_client;
mod reload_status;
mod scaffold;
mod serve;
mod signals;
mod startup;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use switchyard_client_support::cli_docs::{self, Shell};
use switchyard_runtime::catalog::Catalog;

/// `EX_CONFIG` from sysexits.h: the configuration is wrong, retrying will not help.
pub(crate) const EXIT_CONFIG: u8 = 78;
/// `EX_USAGE` from sysexits.h: the command was used wrongly.
const EXIT_USAGE: u8 = 64;

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
    /// Write a new plugin that builds: a Rust crate (config, typed port, MockHost tests)
    /// or a C file with its Makefile, and a sample topology serving it.
    NewPlugin {
        /// The plugin's name: lower-case letters, digits, `-` or `_`.
        name: String,
        /// The plugin's language.
        #[arg(long, value_enum, default_value_t = scaffold::Lang::Rust)]
        lang: scaffold::Lang,
        /// Where to write it (default: ./NAME); must not exist or be empty.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The switchyard-sdk sources (a checkout's core/sdk); default: those this host
        /// was built from.
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: Shell },
    /// Print the man page (roff): `switchyard man | man -l -`.
    Man,
}

/// The host's exit statuses, for the man page.
const EXITS: [(u8, &str); 5] = [
    (0, "success"),
    (1, "serve failed at run time, or reload got no answer"),
    (2, "bad arguments or options"),
    (EXIT_USAGE, "usage error (new-plugin)"),
    (
        EXIT_CONFIG,
        "the topology or the command line is wrong (EX_CONFIG)",
    ),
];

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
        Command::Plugins { config } => plugins_cmd::run(config.as_deref(), &catalog),
        Command::NewPlugin {
            name,
            lang,
            dir,
            sdk,
        } => new_plugin(&scaffold::Options {
            name,
            lang,
            dir,
            sdk,
        }),
        Command::Completions { shell } => {
            cli_docs::completions(Cli::command(), shell);
            ExitCode::SUCCESS
        }
        Command::Man => match cli_docs::man(Cli::command(), &EXITS) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("switchyard man: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// `switchyard new-plugin`: write the plugin, say what to do next.
fn new_plugin(opts: &scaffold::Options) -> ExitCode {
    match scaffold::write(opts) {
        Ok((dir, files)) => {
            for f in files {
                println!("wrote {}", f.display());
            }
            let build = match opts.lang {
                scaffold::Lang::Rust => "cargo test && cargo build",
                scaffold::Lang::C => "make",
            };
            println!(
                "next: cd {} && {build} && switchyard validate topology.ron && switchyard serve --config topology.ron",
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("switchyard new-plugin: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}
