//! `switchyard-tftp`: a TFTP client.
//!
//! ```text
//! switchyard-tftp get HOST[:PORT] REMOTE [LOCAL] [--force] [--keep-partial] [options]
//! switchyard-tftp put HOST[:PORT] LOCAL [REMOTE] [options]
//! switchyard-tftp completions bash|zsh|fish|...   switchyard-tftp man
//! ```
//! Options: `--blksize N --windowsize N --timeout S --mode octet|netascii --retries N
//! --quiet --json`. The port defaults to 69. A download goes to `.NAME.part` beside
//! LOCAL and is renamed onto LOCAL only when complete; an existing LOCAL is refused
//! (exit 73) without `--force`. Exit statuses: the clients' shared table
//! (`switchyard_client_support::exit`), shown by `--help`.
//!
//! It drives the very state machines the server runs (`switchyard_tftp::transfer`),
//! over a blocking UDP socket.
//!
//! # Layout
//! - `sock`: the socket (ICMP errors reported, receive buffer for a window).
//! - `drive`: the socket loop around a machine, and what an ending means as a status.
//! - `get` and `put`: the two transfers.

mod drive;
mod get;
mod put;
mod sock;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use switchyard_client_support::Exit;
use switchyard_client_support::addr;
use switchyard_client_support::cli_docs::{self, Shell};
use switchyard_client_support::progress;

/// TFTP's well-known port.
pub const DEFAULT_PORT: u16 = 69;

#[derive(Debug, Parser)]
#[command(
    name = "switchyard-tftp",
    version,
    about = "TFTP client (RFC 1350, 2347-2349, 7440)",
    after_help = Exit::help_text()
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Download REMOTE into LOCAL (default: REMOTE's last path component).
    Get {
        /// Server, `HOST`, `HOST:PORT` or `[V6]:PORT` (default port 69).
        server: String,
        remote: String,
        local: Option<PathBuf>,
        /// Replace LOCAL if it exists (refused by default: exit 73).
        #[arg(long, short)]
        force: bool,
        /// Keep `.NAME.part` when the transfer fails or is interrupted.
        #[arg(long)]
        keep_partial: bool,
        #[command(flatten)]
        opts: Opts,
    },
    /// Upload LOCAL as REMOTE (default: LOCAL's file name). TFTP cannot ask to
    /// replace: a server that refuses an existing name makes this exit 73.
    Put {
        /// Server, `HOST`, `HOST:PORT` or `[V6]:PORT` (default port 69).
        server: String,
        local: PathBuf,
        remote: Option<String>,
        #[command(flatten)]
        opts: Opts,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: Shell },
    /// Print the man page (roff): `switchyard-tftp man | man -l -`.
    Man,
}

/// Transfer mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    Octet,
    Netascii,
}

/// Options shared by both transfers.
#[derive(Debug, Clone, Args)]
pub struct Opts {
    /// Ask for this block size (RFC 2348, 8..=65464).
    #[arg(long, value_parser = clap::value_parser!(u16).range(8..=65464))]
    pub blksize: Option<u16>,
    /// Ask for this window size (RFC 7440, 1..=65535).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub windowsize: Option<u16>,
    /// Retransmission timeout in seconds (1..=255), also asked of the server (RFC 2349).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..))]
    pub timeout: Option<u8>,
    /// `octet` (bytes as they are) or `netascii` (line ends converted).
    #[arg(long, value_enum, default_value = "octet")]
    pub mode: Mode,
    /// Retransmissions before giving up.
    #[arg(long, default_value_t = 5)]
    pub retries: u32,
    /// No progress bar, even on a terminal.
    #[arg(short, long)]
    pub quiet: bool,
    /// Print one JSON line per transfer on stdout: name, bytes, seconds, rate, sha256.
    #[arg(long)]
    pub json: bool,
}

fn main() -> ExitCode {
    let cli: Cli = cli_docs::parse();
    let (result, json) = match cli.cmd {
        Cmd::Get {
            server,
            remote,
            local,
            force,
            keep_partial,
            opts,
        } => {
            let flags = get::GetFlags {
                force,
                keep_partial,
            };
            (get::run(&server, &remote, local, &opts, flags), opts.json)
        }
        Cmd::Put {
            server,
            local,
            remote,
            opts,
        } => (put::run(&server, &local, remote, &opts), opts.json),
        Cmd::Completions { shell } => {
            cli_docs::completions(Cli::command(), shell);
            return ExitCode::SUCCESS;
        }
        Cmd::Man => return cli_docs::client_man(Cli::command()),
    };
    progress::finish("switchyard-tftp", result, json)
}
