//! The exit statuses every client uses, and the failure that carries one.
//!
//! Why a table of its own: a script has to tell "file not found" from "server down"
//! from "refused" without parsing messages. The numbers are curl's where curl has the
//! same meaning (a script written against curl reads ours the same way); the two curl
//! has no word for come from `sysexits.h` (65 `EX_DATAERR`, 75 `EX_TEMPFAIL`), and an
//! interrupt is the shell's 128 + signal.

use std::io;

/// Why a client exited; `as u8` is the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Exit {
    /// Done.
    Success = 0,
    /// Anything not below: a protocol error, a server-side failure.
    Failure = 1,
    /// Bad arguments (curl 2 is "failed to initialize"; clap's usage errors are 2).
    Usage = 2,
    /// The server's name does not resolve (curl 6).
    Resolve = 6,
    /// Nothing answers at the address: refused, unreachable (curl 7).
    Connect = 7,
    /// The server refused the name or the operation (curl 9, remote access denied).
    Denied = 9,
    /// A local file could not be written (curl 23).
    LocalWrite = 23,
    /// A local file could not be read (curl 26).
    LocalRead = 26,
    /// The server stopped answering (curl 28).
    Timeout = 28,
    /// The bytes do not hash to the digest they must have (`EX_DATAERR`).
    Verify = 65,
    /// The target exists and `--force` was not given (curl 73, remote file exists).
    Exists = 73,
    /// The server is busy (a connection limit, shutting down): try later (`EX_TEMPFAIL`).
    Busy = 75,
    /// The remote file does not exist (curl 78).
    NotFound = 78,
    /// Stopped by SIGINT or SIGTERM (128 + 2; SIGTERM exits 143).
    Interrupted = 130,
}

impl Exit {
    /// Every status with its meaning, in the order of the table.
    pub const ALL: [(Exit, &'static str); 14] = [
        (Exit::Success, "success"),
        (
            Exit::Failure,
            "other failure (protocol error, server error)",
        ),
        (Exit::Usage, "usage error (bad arguments or options)"),
        (Exit::Resolve, "cannot resolve the server's name"),
        (
            Exit::Connect,
            "cannot connect: refused, unreachable, no server on the port",
        ),
        (
            Exit::Denied,
            "the server denied access (refused name, operation not allowed)",
        ),
        (Exit::LocalWrite, "cannot write a local file"),
        (Exit::LocalRead, "cannot read a local file"),
        (Exit::Timeout, "timeout: the server stopped answering"),
        (Exit::Verify, "verification failed: sha256 mismatch"),
        (Exit::Exists, "the target file exists (use --force)"),
        (
            Exit::Busy,
            "server busy (connection limit, shutting down): try later",
        ),
        (Exit::NotFound, "the remote file does not exist"),
        (Exit::Interrupted, "interrupted by SIGINT (143: SIGTERM)"),
    ];

    /// The status as a process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The `EXIT STATUS` section of `--help` (clap's `after_help`).
    pub fn help_text() -> String {
        let mut s = String::from("EXIT STATUS:\n");
        for (e, what) in Exit::ALL {
            s.push_str(&format!("  {:>3}  {what}\n", e.code()));
        }
        s
    }
}

/// A failed command: the status to exit with and the message for stderr.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{msg}")]
pub struct Failure {
    pub exit: Exit,
    pub msg: String,
}

impl Failure {
    pub fn new(exit: Exit, msg: impl Into<String>) -> Failure {
        Failure {
            exit,
            msg: msg.into(),
        }
    }

    /// A network error while connecting to or talking with `what`: refused and
    /// unreachable are [`Exit::Connect`], a timeout [`Exit::Timeout`].
    pub fn network(what: impl std::fmt::Display, e: &io::Error) -> Failure {
        Failure::new(network_exit(e), format!("{what}: {e}"))
    }

    /// A local file `path` could not be read.
    pub fn read(path: &std::path::Path, e: &io::Error) -> Failure {
        Failure::new(Exit::LocalRead, format!("{}: {e}", path.display()))
    }

    /// A local file `path` could not be written.
    pub fn write(path: &std::path::Path, e: &io::Error) -> Failure {
        Failure::new(Exit::LocalWrite, format!("{}: {e}", path.display()))
    }

    /// Print `prog: message` on stderr and give the status to exit with.
    pub fn report(&self, prog: &str) -> std::process::ExitCode {
        eprintln!("{prog}: {}", self.msg);
        std::process::ExitCode::from(self.exit.code())
    }
}

/// The status a network error means.
pub fn network_exit(e: &io::Error) -> Exit {
    use io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused
        | K::HostUnreachable
        | K::NetworkUnreachable
        | K::AddrNotAvailable
        | K::NetworkDown => Exit::Connect,
        K::TimedOut | K::WouldBlock => Exit::Timeout,
        _ => Exit::Failure,
    }
}

impl From<crate::addr::AddrError> for Failure {
    /// A bad port is a usage error; a name that does not resolve is curl's 6.
    fn from(e: crate::addr::AddrError) -> Failure {
        use crate::addr::AddrError as A;
        let exit = match e {
            A::BadPort(_) => Exit::Usage,
            A::Resolve { .. } | A::NoAddress(_) => Exit::Resolve,
        };
        Failure::new(exit, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_curls_numbers_and_no_two_alike() {
        let codes: Vec<u8> = Exit::ALL.iter().map(|(e, _)| e.code()).collect();
        let mut unique = codes.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
        assert_eq!(
            (
                Exit::Resolve.code(),
                Exit::Connect.code(),
                Exit::Timeout.code()
            ),
            (6, 7, 28)
        );
        assert_eq!((Exit::Exists.code(), Exit::NotFound.code()), (73, 78));
        let help = Exit::help_text();
        assert!(help.starts_with("EXIT STATUS:"));
        assert!(help.contains("   75  server busy"), "{help}");
    }

    #[test]
    fn network_errors_map_to_connect_and_timeout() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(Failure::network("x", &refused).exit, Exit::Connect);
        let slow = io::Error::from(io::ErrorKind::TimedOut);
        assert_eq!(network_exit(&slow), Exit::Timeout);
        let other = io::Error::other("odd");
        assert_eq!(network_exit(&other), Exit::Failure);
    }
}
