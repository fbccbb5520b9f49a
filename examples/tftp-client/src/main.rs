//! `switchyard-tftp`: a TFTP client.
//!
//! ```text
//! switchyard-tftp get HOST[:PORT] REMOTE [LOCAL] [--blksize N] [--windowsize N] [--timeout S] [--mode octet|netascii]
//! switchyard-tftp put HOST[:PORT] LOCAL [REMOTE]  (same options)
//! ```
//! The port defaults to 69. A download goes to a hidden temp file beside LOCAL and is
//! renamed onto LOCAL only when complete: nothing else is ever written. Exit status: 0
//! on success, 1 when the transfer failed, 2 on a usage error.
//!
//! It drives the very state machines the server runs (`switchyard_tftp::transfer`),
//! over a blocking UDP socket.
//!
//! # Layout
//! - `addr`: `HOST[:PORT]` parsing. `drive`: the socket loop around a machine.
//! - `get` and `put`: the two commands. `progress`: the terminal-only progress bar.

mod drive;
mod get;
mod put;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use switchyard_client_support::addr::{self, AddrError};
use switchyard_client_support::progress;

/// TFTP's well-known port.
pub const DEFAULT_PORT: u16 = 69;

#[derive(Debug, Parser)]
#[command(
    name = "switchyard-tftp",
    version,
    about = "TFTP client (RFC 1350, 2347-2349, 7440)"
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
        #[command(flatten)]
        opts: Opts,
    },
    /// Upload LOCAL as REMOTE (default: LOCAL's file name).
    Put {
        server: String,
        local: PathBuf,
        remote: Option<String>,
        #[command(flatten)]
        opts: Opts,
    },
}

/// Transfer mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    Octet,
    Netascii,
}

/// Options shared by both commands.
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Get {
            server,
            remote,
            local,
            opts,
        } => get::run(&server, &remote, local, &opts),
        Cmd::Put {
            server,
            local,
            remote,
            opts,
        } => put::run(&server, &local, remote, &opts),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchyard-tftp: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Why a command failed.
#[derive(Debug)]
pub enum Failure {
    /// Bad arguments or local path: exit 2.
    Usage(String),
    /// The transfer or local I/O failed: exit 1.
    Transfer(String),
}

impl Failure {
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Transfer(_) => 1,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Usage(m) | Failure::Transfer(m) => f.write_str(m),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::Transfer(e.to_string())
    }
}

impl From<AddrError> for Failure {
    fn from(e: AddrError) -> Failure {
        Failure::Usage(e.to_string())
    }
}
