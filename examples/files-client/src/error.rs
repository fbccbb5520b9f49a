//! Why a request failed, and which exit status that is (the clients' shared table).

use std::io;

use switchyard_client_support::exit::network_exit;
use switchyard_client_support::{Exit, Failure};
use switchyard_files::codec::{CodecError, ErrorCode};

/// Why a request failed.
#[derive(Debug)]
pub enum ClientError {
    /// The server answered `ERR`.
    Server { code: ErrorCode, message: String },
    /// The network or a local file failed; `exit` says which way.
    Io { msg: String, exit: Exit },
    /// The server said something we do not understand.
    Protocol(String),
    /// A digest did not match: the bytes are not trusted.
    Verify(String),
    /// A `GET` body ended early with the server's error (see `cut`): `received` of
    /// the announced `len` bytes came first.
    Cut {
        code: ErrorCode,
        message: String,
        received: u64,
        len: u64,
    },
    /// The host refused the connection before the plugin saw it (a connection limit)
    /// and said why in one line: its text.
    Refused(String),
}

impl ClientError {
    /// A local file could not be written.
    pub fn local_write(e: io::Error) -> ClientError {
        ClientError::Io {
            msg: format!("local write: {e}"),
            exit: Exit::LocalWrite,
        }
    }

    /// A local file could not be read.
    pub fn local_read(msg: String) -> ClientError {
        ClientError::Io {
            msg,
            exit: Exit::LocalRead,
        }
    }

    /// The exit status this failure means.
    pub fn exit(&self) -> Exit {
        match self {
            ClientError::Server { code, .. } | ClientError::Cut { code, .. } => server_exit(*code),
            ClientError::Io { exit, .. } => *exit,
            ClientError::Protocol(_) => Exit::Failure,
            ClientError::Verify(_) => Exit::Verify,
            ClientError::Refused(_) => Exit::Busy,
        }
    }
}

/// The status of an `ERR code`.
fn server_exit(code: ErrorCode) -> Exit {
    match code {
        ErrorCode::NotFound => Exit::NotFound,
        ErrorCode::Forbidden | ErrorCode::NotAllowed | ErrorCode::NotAFile => Exit::Denied,
        ErrorCode::Exists => Exit::Exists,
        ErrorCode::Timeout => Exit::Timeout,
        ErrorCode::DigestMismatch => Exit::Verify,
        ErrorCode::Unavailable => Exit::Busy,
        _ => Exit::Failure,
    }
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Server { code, message } => write!(f, "server: {} {message}", code.code()),
            ClientError::Io { msg, .. } => write!(f, "{msg}"),
            ClientError::Protocol(m) => write!(f, "protocol error: {m}"),
            ClientError::Verify(m) => write!(f, "verification failed: {m}"),
            ClientError::Cut {
                code,
                message,
                received,
                len,
            } => write!(
                f,
                "server: {} {message} (after {received} of {len} bytes)",
                code.code()
            ),
            ClientError::Refused(line) => write!(f, "server refused the connection: {line}"),
        }
    }
}

impl From<io::Error> for ClientError {
    /// A network error (local file errors are mapped where they happen).
    fn from(e: io::Error) -> ClientError {
        ClientError::Io {
            exit: network_exit(&e),
            msg: e.to_string(),
        }
    }
}

impl From<CodecError> for ClientError {
    fn from(e: CodecError) -> ClientError {
        ClientError::Protocol(e.to_string())
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Failure {
        Failure::new(e.exit(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_codes_map_to_the_table() {
        let err = |code| ClientError::Server {
            code,
            message: String::new(),
        };
        assert_eq!(err(ErrorCode::NotFound).exit(), Exit::NotFound);
        assert_eq!(err(ErrorCode::Forbidden).exit(), Exit::Denied);
        assert_eq!(err(ErrorCode::Exists).exit(), Exit::Exists);
        assert_eq!(err(ErrorCode::Unavailable).exit(), Exit::Busy);
        assert_eq!(ClientError::Refused("x".into()).exit(), Exit::Busy);
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(ClientError::from(refused).exit(), Exit::Connect);
    }
}
