//! Command line, and `HOST[:PORT]` resolution.

use std::net::SocketAddr;

use clap::{Parser, Subcommand};
use switchyard_client_support::cli_docs::Shell;
use switchyard_client_support::{Exit, Failure, addr};

/// The default topology serves chat here.
pub const DEFAULT_PORT: u16 = 6000;

/// Talk to a Switchyard chat server: as a visitor (default) or a support agent.
#[derive(Debug, Parser)]
#[command(
    name = "switchyard-chat",
    version,
    after_help = Exit::help_text(),
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Args {
    /// Server, `HOST[:PORT]` (IPv6 as `[::1]:6000`); default port 6000.
    #[arg(required = true)]
    pub server: Option<String>,
    /// Log in as a support agent (needs the server's agent secret).
    #[arg(long)]
    pub agent: bool,
    /// The agent secret; prefer the environment variable, which `ps` does not show.
    #[arg(long, env = "SWITCHYARD_CHAT_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Your name (agent name, or nick for a visitor).
    #[arg(long)]
    pub name: Option<String>,
    /// Seconds to wait for the server before probing again.
    #[arg(long, default_value_t = 3.0)]
    pub timeout: f64,
    /// Unanswered probes before giving up.
    #[arg(long, default_value_t = 3)]
    pub retries: u32,
    /// Instead of chatting: print completions or the man page.
    #[command(subcommand)]
    pub extra: Option<Extra>,
}

/// What the client does besides chatting (a server called `man` is `man:6000`).
#[derive(Debug, Subcommand)]
pub enum Extra {
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: Shell },
    /// Print the man page (roff): `switchyard-chat man | man -l -`.
    Man,
}

/// `HOST[:PORT]` -> the first address it resolves to.
pub fn resolve(server: &str) -> Result<SocketAddr, Failure> {
    Ok(addr::resolve(server, DEFAULT_PORT)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_forms() {
        assert_eq!(
            resolve("127.0.0.1:7000"),
            Ok("127.0.0.1:7000".parse().unwrap())
        );
        assert_eq!(resolve("127.0.0.1"), Ok("127.0.0.1:6000".parse().unwrap()));
        assert_eq!(resolve("[::1]:7000"), Ok("[::1]:7000".parse().unwrap()));
        assert_eq!(resolve("::1"), Ok("[::1]:6000".parse().unwrap()));
        assert_eq!(resolve("[::1]"), Ok("[::1]:6000".parse().unwrap()));
        assert_eq!(resolve("localhost:7001").unwrap().port(), 7001);
        assert_eq!(resolve("localhost").unwrap().port(), 6000);
        assert_eq!(resolve("127.0.0.1:notaport").unwrap_err().exit, Exit::Usage);
    }

    #[test]
    fn args_parse() {
        let a = Args::try_parse_from([
            "switchyard-chat",
            "h:1",
            "--agent",
            "--secret",
            "pw",
            "--name",
            "al",
        ])
        .unwrap();
        assert!(a.agent && a.server.as_deref() == Some("h:1"));
        assert_eq!(
            (a.secret.as_deref(), a.name.as_deref(), a.retries),
            (Some("pw"), Some("al"), 3)
        );
        assert!(
            Args::try_parse_from(["switchyard-chat"]).is_err(),
            "server is required"
        );
        let man = Args::try_parse_from(["switchyard-chat", "man"]).unwrap();
        assert!(matches!(man.extra, Some(Extra::Man)));
    }
}
