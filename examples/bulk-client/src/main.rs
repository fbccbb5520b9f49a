//! `switchyard-bulk`: send files to, and get files from, the Switchyard bulk plugin.
//!
//! ```text
//! switchyard-bulk send HOST[:PORT] FILE [--name NAME] [--resume] [--checksum] [--force]
//!                      [--digest-first | --sha256 HEX] [--legacy]
//! switchyard-bulk get  HOST[:PORT] NAME [-o OUT] [--resume | --keep-partial] [--force]
//! switchyard-bulk completions SHELL | man
//! ```
//! The port defaults to 6667 (the default topology's bulk listener). `--json` prints
//! one summary line per transfer; `--quiet` nothing. Exit statuses: the clients'
//! shared table (`switchyard_client_support::exit`), shown by `--help`.
//!
//! # Layout
//! - `send`: uploads (v2, and v1 with `--legacy`).
//! - `get`: downloads.
//! - `probe`: the questions asked before an upload (name taken? same bytes?).
//! - `wire`: connect, read a reply, the resume id. `hash`: a file's sha256 through a map.
//! - from `switchyard_client_support`: `HOST[:PORT]` parsing, progress bars, exit
//!   statuses, `.NAME.part` files, completions and man page.

mod get;
mod hash;
mod probe;
mod send;
mod wire;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use switchyard_client_support::cli_docs::{self, Shell};
use switchyard_client_support::{Exit, Failure, addr, progress};

/// The port of the default topology's bulk listener.
const DEFAULT_PORT: u16 = 6667;

#[derive(Debug, Parser)]
#[command(
    name = "switchyard-bulk",
    version,
    about = "Bulk file transfer client for Switchyard",
    after_help = Exit::help_text()
)]
struct Cli {
    /// No progress bar, even on a terminal (the summary line stays: it names what was
    /// stored).
    #[arg(short, long, global = true)]
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
    /// Upload FILE; prints the stored name and its sha256.
    Send {
        /// Server, `HOST` or `HOST:PORT` (default port 6667).
        server: String,
        file: PathBuf,
        /// Name to store under (default: FILE's own name).
        #[arg(long)]
        name: Option<String>,
        /// Make the upload resumable: if an earlier attempt of this same file was cut
        /// off, send only the rest. The digest still covers the whole file.
        #[arg(long)]
        resume: bool,
        /// Hash the file before sending and send the digest up front (reads it twice);
        /// by default the digest is computed while sending and sent after the body.
        #[arg(long)]
        digest_first: bool,
        /// The file's sha256 as 64 hex digits, when you already know it (for example
        /// from a SHA256SUMS file). It is sent up front, the server stores the file only
        /// if what it received has this digest, and the client does not read the file a
        /// second time to hash it: on a machine short of cores that is the fastest
        /// verified upload.
        #[arg(long, value_name = "HEX", value_parser = parse_sha256, conflicts_with = "digest_first")]
        sha256: Option<[u8; 32]>,
        /// Skip the upload when the server already holds NAME with the same sha256
        /// (rsync's sense; the server must remember the file's digest).
        #[arg(long, short)]
        checksum: bool,
        /// Replace the file the server holds under NAME. Without it a taken name is
        /// refused before anything is sent (exit 73). The server must allow it
        /// (`allow_overwrite`; else exit 9).
        #[arg(long, short)]
        force: bool,
        /// Speak the seed's v1 (4-byte length, no name, no reply); files under 2 GiB.
        #[arg(long, conflicts_with_all = ["name", "resume", "digest_first", "sha256", "checksum", "force"])]
        legacy: bool,
    },
    /// Download NAME from the server's incoming directory.
    Get {
        server: String,
        name: String,
        /// Where to save (default: ./NAME).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Replace the output if it exists (refused by default: exit 73).
        #[arg(long, short)]
        force: bool,
        /// Continue an earlier, broken download of the same file (and keep the part
        /// if this one breaks too).
        #[arg(long)]
        resume: bool,
        /// Keep `.NAME.part` when the transfer fails or is interrupted.
        #[arg(long)]
        keep_partial: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: Shell },
    /// Print the man page (roff): `switchyard-bulk man | man -l -`.
    Man,
}

/// `--sha256`: exactly 64 hex digits.
fn parse_sha256(s: &str) -> Result<[u8; 32], String> {
    let s = s.trim();
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("a sha256 is 64 hex digits".into());
    }
    let mut d = [0u8; 32];
    for (i, byte) in d.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
    }
    Ok(d)
}

fn main() -> ExitCode {
    let cli: Cli = cli_docs::parse();
    let quiet = cli.quiet || cli.json;
    let result = match cli.cmd {
        Cmd::Send {
            server,
            file,
            name,
            resume,
            digest_first,
            sha256,
            checksum,
            force,
            legacy,
        } => addr::resolve_all(&server, DEFAULT_PORT)
            .map_err(Failure::from)
            .and_then(|addrs| {
                send::run(&send::SendOpts {
                    addrs,
                    server,
                    file,
                    name,
                    resume,
                    legacy,
                    digest: match (sha256, digest_first) {
                        (Some(d), _) => send::Digest::Known(d),
                        (None, true) => send::Digest::HashFirst,
                        (None, false) => send::Digest::HashWhileSending,
                    },
                    checksum,
                    force,
                    quiet,
                    json: cli.json,
                })
            }),
        Cmd::Get {
            server,
            name,
            output,
            force,
            resume,
            keep_partial,
        } => addr::resolve_all(&server, DEFAULT_PORT)
            .map_err(Failure::from)
            .and_then(|addrs| {
                get::run(&get::GetOpts {
                    addrs,
                    name,
                    out: output,
                    resume,
                    keep_partial,
                    force,
                    quiet,
                    json: cli.json,
                })
            }),
        Cmd::Completions { shell } => {
            cli_docs::completions(Cli::command(), shell);
            return ExitCode::SUCCESS;
        }
        Cmd::Man => return cli_docs::client_man(Cli::command()),
    };
    progress::finish("switchyard-bulk", result, cli.json)
}
