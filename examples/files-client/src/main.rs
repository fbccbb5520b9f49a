//! # switchyard-files — client for the Switchyard files plugin
//!
//! `switchyard-files get|put|ls|stat|rm|hash HOST[:PORT] ...` runs one command over
//! protocol v2 (see `docs/files-protocol.md`); `switchyard-files shell HOST[:PORT]` is
//! the interactive mode with the seed client's menu (in the locale's language), over
//! one persistent connection. Every download and upload is verified with sha256;
//! downloads go to `.NAME.part` and appear at the local path only when complete and
//! verified, never replacing a file without `--force`. Progress bars show on a terminal
//! only; `--json` prints one summary line per transfer. `completions SHELL` and `man`
//! print what their names say.
//!
//! Exit statuses: the clients' shared table (`switchyard_client_support::exit`), shown
//! by `--help`.
//!
//! # Layout
//! - `client`: one v2 connection: requests, replies, verified transfers.
//! - `error`: why a request failed, and its exit status.
//! - `cut`: a `GET` body that ends early, and the server's error tail.
//! - `hasher`: sha256 on a second thread, overlapping the network.
//! - `local`: download targets.
//! - `transfer`: `get` and `put` with `--force`, `--checksum`, summaries.
//! - `listing`: `ls -l`-like lines.
//! - `menu`: the interactive mode.
//! - this file: the command line and one function per subcommand.

mod client;
mod cut;
mod error;
mod hasher;
mod listing;
mod local;
mod menu;
mod transfer;

use std::fs::File;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{CommandFactory, Parser, Subcommand};
use std::path::PathBuf;
use switchyard_client_support::cli_docs::{self, Shell};
use switchyard_client_support::{Exit, Failure as Status, addr, progress};

use client::Client;
use transfer::Style;

#[derive(Debug, Parser)]
#[command(
    name = "switchyard-files",
    version,
    about = "Client for the Switchyard files server (protocol v2)",
    after_help = Exit::help_text()
)]
struct Args {
    /// Network timeout in seconds (connect, and each read or write).
    #[arg(long, default_value_t = 60.0, global = true)]
    timeout: f64,
    /// No progress bars and no transfer summary.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// One JSON summary line per transfer on stdout (name, bytes, seconds, rate,
    /// sha256).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Download NAME to LOCAL (default: its last component, here).
    Get {
        server: String,
        name: String,
        local: Option<PathBuf>,
        /// Replace LOCAL if it exists (refused by default: exit 73).
        #[arg(long, short)]
        force: bool,
        /// Keep `.NAME.part` when the transfer fails or is interrupted.
        #[arg(long)]
        keep_partial: bool,
    },
    /// Upload LOCAL as NAME (default: LOCAL's file name).
    Put {
        server: String,
        local: PathBuf,
        name: Option<String>,
        /// Replace NAME on the server (if the server allows it); refused by default
        /// (exit 73).
        #[arg(long, short, visible_alias = "overwrite")]
        force: bool,
        /// Skip the upload when the server already holds NAME with the same sha256.
        #[arg(long, short)]
        checksum: bool,
    },
    /// List a directory (default: the root), like `ls -l`.
    Ls { server: String, dir: Option<String> },
    /// Show a file's kind, size and modification time.
    Stat { server: String, name: String },
    /// Delete a file (if the server allows it).
    Rm { server: String, name: String },
    /// Print the server's sha256 of a file.
    Hash { server: String, name: String },
    /// Interactive mode with the seed client's menu (English, or Chinese under a `zh`
    /// locale).
    Shell { server: String },
    /// Measure small-command throughput: COUNT verified GETs of NAME in all, spread
    /// over CONNS connections at once (each one request after the other).
    BenchGet {
        server: String,
        name: String,
        #[arg(long, default_value_t = 1000)]
        count: u64,
        #[arg(long, default_value_t = 1)]
        conns: u64,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: Shell },
    /// Print the man page (roff): `switchyard-files man | man -l -`.
    Man,
}

fn main() -> ExitCode {
    let args: Args = cli_docs::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.status.report("switchyard-files"),
    }
}

fn connect(server: &str, timeout: Duration) -> Result<Client, Failure> {
    let addrs = addr::resolve_all(server, DEFAULT_PORT).map_err(Status::from)?;
    Ok(Client::connect(&addrs, timeout)?)
}

fn run(args: Args) -> Result<(), Failure> {
    let timeout = Duration::from_secs_f64(args.timeout.clamp(0.1, 86_400.0));
    let style = Style {
        quiet: args.quiet || args.json,
        json: args.json,
        ..Style::default()
    };
    match args.cmd {
        Cmd::Get {
            server,
            name,
            local,
            force,
            keep_partial,
        } => {
            let mut c = connect(&server, timeout)?;
            let style = Style {
                force,
                keep_partial,
                ..style
            };
            transfer::get(&mut c, &name, local.as_deref(), style)?;
            let _ = c.quit();
        }
        Cmd::Put {
            server,
            local,
            name,
            force,
            checksum,
        } => {
            let mut c = connect(&server, timeout)?;
            let style = Style {
                force,
                checksum,
                ..style
            };
            transfer::put(&mut c, &local, name.as_deref(), style)?;
            let _ = c.quit();
        }
        Cmd::Ls { server, dir } => {
            let mut c = connect(&server, timeout)?;
            ls(&mut c, dir.as_deref().unwrap_or(""))?;
            let _ = c.quit();
        }
        Cmd::Stat { server, name } => {
            let mut c = connect(&server, timeout)?;
            let s = c.stat(&name)?;
            println!("{}", listing::stat_line(&name, &s));
            let _ = c.quit();
        }
        Cmd::Rm { server, name } => {
            let mut c = connect(&server, timeout)?;
            c.delete(&name)?;
            let _ = c.quit();
        }
        Cmd::Hash { server, name } => {
            let mut c = connect(&server, timeout)?;
            println!("{}  {name}", c.hash(&name)?);
            let _ = c.quit();
        }
        Cmd::Shell { server } => {
            let c = connect(&server, timeout)?;
            menu::run(c, style)?;
        }
        Cmd::BenchGet {
            server,
            name,
            count,
            conns,
        } => bench_get(&server, &name, count, conns.max(1), timeout)?,
        Cmd::Completions { shell } => cli_docs::completions(Args::command(), shell),
        Cmd::Man => {
            cli_docs::man(Args::command(), &cli_docs::client_exits())
                .map_err(|e| Status::new(Exit::LocalWrite, format!("stdout: {e}")))?;
        }
    }
    Ok(())
}

/// A failed command, and whether its connection can still be used.
#[derive(Debug)]
pub(crate) struct Failure {
    pub status: Status,
    pub usable: bool,
}

impl From<Status> for Failure {
    /// A local failure, before or after the exchange: the connection is fine.
    fn from(status: Status) -> Failure {
        Failure {
            status,
            usable: true,
        }
    }
}

impl From<client::ClientError> for Failure {
    fn from(e: client::ClientError) -> Failure {
        use client::ClientError as E;
        // A refusal or a mismatch ends an exchange cleanly; I/O or nonsense does not.
        let usable = matches!(e, E::Server { .. } | E::Verify(_));
        Failure {
            status: e.into(),
            usable,
        }
    }
}

/// `bench-get`: prints one line `gets=N conns=C secs=S per_sec=R`.
fn bench_get(
    server: &str,
    name: &str,
    count: u64,
    conns: u64,
    timeout: Duration,
) -> Result<(), Failure> {
    let addrs = addr::resolve_all(server, DEFAULT_PORT).map_err(Status::from)?;
    let started = Instant::now();
    let results: Vec<Result<u64, String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..conns)
            .map(|i| {
                let n = count / conns + u64::from(i < count % conns);
                let addrs = &addrs;
                scope.spawn(move || -> Result<u64, String> {
                    let mut c = Client::connect(addrs, timeout).map_err(|e| e.to_string())?;
                    let bar = progress::bar(Some(0), name, true);
                    // A real file, as a download would write (rewound each time).
                    let path = std::env::temp_dir()
                        .join(format!("sy-files-bench-{}-{i}", std::process::id()));
                    let mut sink = File::create(&path).map_err(|e| e.to_string())?;
                    let _ = std::fs::remove_file(&path);
                    for _ in 0..n {
                        std::io::Seek::rewind(&mut sink).map_err(|e| e.to_string())?;
                        c.get(name, &mut sink, &bar).map_err(|e| e.to_string())?;
                    }
                    let _ = c.quit();
                    Ok(n)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err("worker panicked".into())))
            .collect()
    });
    let secs = started.elapsed().as_secs_f64();
    let mut done = 0;
    for r in results {
        done += r.map_err(|e| Status::new(Exit::Failure, e))?;
    }
    println!(
        "gets={done} conns={conns} secs={secs:.3} per_sec={:.0}",
        done as f64 / secs
    );
    Ok(())
}

pub(crate) fn ls(c: &mut Client, dir: &str) -> Result<(), Failure> {
    let (entries, total) = c.list(dir)?;
    for line in listing::ls_lines(&entries) {
        println!("{line}");
    }
    if total > entries.len() as u64 {
        println!("({} of {total} entries shown)", entries.len());
    }
    Ok(())
}

/// The port of the default topology's files listener.
const DEFAULT_PORT: u16 = 6666;
