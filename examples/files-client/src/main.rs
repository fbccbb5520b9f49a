//! # switchyard-files — client for the Switchyard files plugin
//!
//! `switchyard-files get|put|ls|stat|rm|hash HOST[:PORT] ...` runs one command over
//! protocol v2 (see `docs/files-protocol.md`); `switchyard-files shell HOST[:PORT]` is
//! the interactive mode with the seed client's menu, over one persistent connection.
//! Every download and upload is verified with sha256; downloads appear at the local
//! path only when complete and verified (hidden temp, then rename), and only at the
//! path asked for. Progress bars show on a terminal only.
//!
//! Exit status: 0 success, 1 any failure (the message says which), 2 usage.
//!
//! # Layout
//! - `addr`: `HOST[:PORT]` resolution (default port 6666).
//! - `client`: one v2 connection: requests, replies, verified transfers.
//! - `cut`: a `GET` body that ends early, and the server's error tail.
//! - `hasher`: sha256 on a second thread, overlapping the network.
//! - `local`: download targets and temp-then-rename.
//! - `progress`: terminal-only progress bars.
//! - `menu`: the interactive mode.
//! - this file: the command line and one function per subcommand.

mod client;
mod cut;
mod hasher;
mod local;
mod menu;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use switchyard_client_support::{addr, progress};

use client::Client;

#[derive(Debug, Parser)]
#[command(
    name = "switchyard-files",
    version,
    about = "Client for the Switchyard files server (protocol v2)"
)]
struct Args {
    /// Network timeout in seconds (connect, and each read or write).
    #[arg(long, default_value_t = 60.0, global = true)]
    timeout: f64,
    /// No progress bars and no transfer summary.
    #[arg(long, short, global = true)]
    quiet: bool,
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
        /// Replace LOCAL if it exists.
        #[arg(long, short)]
        force: bool,
    },
    /// Upload LOCAL as NAME (default: LOCAL's file name).
    Put {
        server: String,
        local: PathBuf,
        name: Option<String>,
        /// Replace NAME on the server (if the server allows it).
        #[arg(long)]
        overwrite: bool,
    },
    /// List a directory (default: the root).
    Ls { server: String, dir: Option<String> },
    /// Show a file's kind, size and modification time.
    Stat { server: String, name: String },
    /// Delete a file (if the server allows it).
    Rm { server: String, name: String },
    /// Print the server's sha256 of a file.
    Hash { server: String, name: String },
    /// Interactive mode with the seed client's menu.
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
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchyard-files: {e}");
            ExitCode::from(1)
        }
    }
}

fn connect(server: &str, timeout: Duration) -> Result<Client, String> {
    let addrs = resolve(server)?;
    Client::connect(&addrs, timeout).map_err(|e| e.to_string())
}

fn run(args: Args) -> Result<(), String> {
    let timeout = Duration::from_secs_f64(args.timeout.clamp(0.1, 86_400.0));
    let quiet = args.quiet;
    match args.cmd {
        Cmd::Get {
            server,
            name,
            local,
            force,
        } => {
            let mut c = connect(&server, timeout)?;
            get(&mut c, &name, local.as_deref(), force, quiet)?;
            let _ = c.quit();
        }
        Cmd::Put {
            server,
            local,
            name,
            overwrite,
        } => {
            let mut c = connect(&server, timeout)?;
            put(&mut c, &local, name.as_deref(), overwrite, quiet)?;
            let _ = c.quit();
        }
        Cmd::Ls { server, dir } => {
            let mut c = connect(&server, timeout)?;
            ls(&mut c, dir.as_deref().unwrap_or(""))?;
            let _ = c.quit();
        }
        Cmd::Stat { server, name } => {
            let mut c = connect(&server, timeout)?;
            let s = c.stat(&name).map_err(|e| e.to_string())?;
            println!("{name}\t{}\t{}\t{}", kind_word(s.kind), s.size, s.mtime);
            let _ = c.quit();
        }
        Cmd::Rm { server, name } => {
            let mut c = connect(&server, timeout)?;
            c.delete(&name).map_err(|e| e.to_string())?;
            let _ = c.quit();
        }
        Cmd::Hash { server, name } => {
            let mut c = connect(&server, timeout)?;
            println!("{}  {name}", c.hash(&name).map_err(|e| e.to_string())?);
            let _ = c.quit();
        }
        Cmd::Shell { server } => {
            let c = connect(&server, timeout)?;
            menu::run(c, quiet)?;
        }
        Cmd::BenchGet {
            server,
            name,
            count,
            conns,
        } => bench_get(&server, &name, count, conns.max(1), timeout)?,
    }
    Ok(())
}

/// A failed command, and whether its connection can still be used.
#[derive(Debug)]
pub(crate) struct Failure {
    pub msg: String,
    pub usable: bool,
}

impl From<String> for Failure {
    /// A local failure, before or after the exchange: the connection is fine.
    fn from(msg: String) -> Failure {
        Failure { msg, usable: true }
    }
}

impl From<client::ClientError> for Failure {
    fn from(e: client::ClientError) -> Failure {
        use client::ClientError as E;
        // A refusal or a mismatch ends an exchange cleanly; I/O or nonsense does not.
        let usable = matches!(e, E::Server { .. } | E::Verify(_));
        Failure {
            msg: e.to_string(),
            usable,
        }
    }
}

impl From<Failure> for String {
    fn from(f: Failure) -> String {
        f.msg
    }
}

/// `bench-get`: prints one line `gets=N conns=C secs=S per_sec=R`.
fn bench_get(
    server: &str,
    name: &str,
    count: u64,
    conns: u64,
    timeout: Duration,
) -> Result<(), String> {
    let addrs = resolve(server)?;
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
        done += r?;
    }
    println!(
        "gets={done} conns={conns} secs={secs:.3} per_sec={:.0}",
        done as f64 / secs
    );
    Ok(())
}

fn kind_word(kind: char) -> &'static str {
    match kind {
        'f' => "file",
        'd' => "dir",
        _ => "other",
    }
}

/// Download `name`; returns where it went.
pub(crate) fn get(
    c: &mut Client,
    name: &str,
    local: Option<&Path>,
    force: bool,
    quiet: bool,
) -> Result<PathBuf, Failure> {
    let target = local::target(name, local)?;
    if !force && target.exists() {
        return Err(format!("{} exists (use --force to replace it)", target.display()).into());
    }
    let mut part = local::Partial::create(&target)?;
    let bar = progress::bar(Some(0), name, quiet);
    let started = Instant::now();
    let (bytes, sha) = c.get(name, part.file(), &bar)?;
    bar.finish_and_clear();
    part.persist(&target, force)?;
    if !quiet {
        eprintln!(
            "{name} -> {}: {} bytes in {:.2?}, sha256 {sha} verified",
            target.display(),
            bytes,
            started.elapsed()
        );
    }
    Ok(target)
}

/// Upload `local` as `name` (default: its file name); returns the stored name.
pub(crate) fn put(
    c: &mut Client,
    local: &Path,
    name: Option<&str>,
    overwrite: bool,
    quiet: bool,
) -> Result<String, Failure> {
    let name = match name {
        Some(n) => n.to_owned(),
        None => local
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: no UTF-8 file name; give NAME", local.display()))?
            .to_owned(),
    };
    let file = File::open(local).map_err(|e| format!("{}: {e}", local.display()))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("{}: {e}", local.display()))?;
    if !meta.is_file() {
        return Err(format!("{}: not a regular file", local.display()).into());
    }
    let bar = progress::bar(Some(meta.len()), &name, quiet);
    let started = Instant::now();
    let ok = c.put(&name, &file, meta.len(), overwrite, &bar)?;
    bar.finish_and_clear();
    if !quiet {
        eprintln!(
            "{} -> {}: {} bytes in {:.2?}, sha256 {} verified",
            local.display(),
            ok.name,
            ok.size,
            started.elapsed(),
            ok.sha256
        );
    }
    Ok(ok.name)
}

pub(crate) fn ls(c: &mut Client, dir: &str) -> Result<(), Failure> {
    let (entries, total) = c.list(dir)?;
    for e in &entries {
        let slash = if e.kind == 'd' { "/" } else { "" };
        println!("{:>12}  {}  {}{slash}", e.size, e.mtime, e.name);
    }
    if total > entries.len() as u64 {
        println!("({} of {total} entries shown)", entries.len());
    }
    Ok(())
}

/// The port of the default topology's files listener.
const DEFAULT_PORT: u16 = 6666;

/// `server` to the addresses to try, in resolver order.
fn resolve(server: &str) -> Result<Vec<std::net::SocketAddr>, String> {
    addr::resolve_all(server, DEFAULT_PORT).map_err(|e| e.to_string())
}
