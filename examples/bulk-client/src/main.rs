//! `switchyard-bulk`: send files to, and get files from, the Switchyard bulk plugin.
//!
//! ```text
//! switchyard-bulk send HOST[:PORT] FILE [--name NAME] [--resume] [--digest-first] [--legacy]
//! switchyard-bulk get  HOST[:PORT] NAME [-o OUT] [--resume]
//! ```
//! The port defaults to 6667 (the default topology's bulk listener). Exit status: 0 on
//! success, 1 when the transfer failed or did not verify, 2 on a usage error.
//!
//! # Layout
//! - `send`: uploads (v2, and v1 with `--legacy`).
//! - `get`: downloads.
//! - `wire`: connect, read a reply, the resume id. `hash`: a file's sha256 through a map.
//! - `addr`: `HOST[:PORT]` parsing. `progress`: terminal-only progress bars.

mod addr;
mod get;
mod hash;
mod progress;
mod send;
mod wire;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "switchyard-bulk",
    version,
    about = "Bulk file transfer client for Switchyard"
)]
struct Cli {
    /// No progress bar, even on a terminal.
    #[arg(short, long, global = true)]
    quiet: bool,
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
        /// Speak the seed's v1 (4-byte length, no name, no reply); files under 2 GiB.
        #[arg(long, conflicts_with_all = ["name", "resume", "digest_first"])]
        legacy: bool,
    },
    /// Download NAME from the server's incoming directory.
    Get {
        server: String,
        name: String,
        /// Where to save (default: ./NAME). An existing file is never overwritten.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Continue an earlier, broken download of the same file.
        #[arg(long)]
        resume: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Send {
            server,
            file,
            name,
            resume,
            digest_first,
            legacy,
        } => addr::resolve(&server).and_then(|addrs| {
            send::run(&send::SendOpts {
                addrs,
                server,
                file,
                name,
                resume,
                legacy,
                digest_first,
                quiet: cli.quiet,
            })
        }),
        Cmd::Get {
            server,
            name,
            output,
            resume,
        } => addr::resolve(&server).and_then(|addrs| {
            get::run(&get::GetOpts {
                addrs,
                name,
                out: output,
                resume,
                quiet: cli.quiet,
            })
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchyard-bulk: {e}");
            ExitCode::from(1)
        }
    }
}
