//! [`Reply`]: the server's answers, typed on top of [`Frame`].
//!
//! Three shapes: `OK field...`, `ERR code message...` and `CONTINUE` (the go-ahead
//! for a `PUT`'s bytes). What an `OK` carries depends on the command (see `cmd`).

use super::{CodecError, Frame};

/// Error classes, numbered after their HTTP look-alikes so they read at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Malformed request: unknown verb, wrong arguments, bad number or escape.
    BadRequest,
    /// The name is refused by policy (traversal, absolute, hidden) or by the host.
    Forbidden,
    NotFound,
    /// The operation is disabled by configuration (`DELETE`, overwriting).
    NotAllowed,
    /// Header or idle timeout; the connection closes.
    Timeout,
    /// `PUT` without `overwrite` on an existing name.
    Exists,
    /// The name is a directory or special file where a regular file is needed.
    NotAFile,
    /// Declared upload size over the configured maximum.
    TooLarge,
    /// Request line over the configured maximum; the connection closes.
    LineTooLong,
    /// `GET` offset past the end of the file.
    BadOffset,
    /// The received bytes do not match the declared sha256; nothing was stored.
    DigestMismatch,
    /// Storage or I/O failure on the server.
    Internal,
    /// The server is shutting down or at a limit; try again later.
    Unavailable,
    /// Not enough free space for the declared size.
    NoSpace,
}

impl ErrorCode {
    const ALL: [ErrorCode; 14] = [
        ErrorCode::BadRequest,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::NotAllowed,
        ErrorCode::Timeout,
        ErrorCode::Exists,
        ErrorCode::NotAFile,
        ErrorCode::TooLarge,
        ErrorCode::LineTooLong,
        ErrorCode::BadOffset,
        ErrorCode::DigestMismatch,
        ErrorCode::Internal,
        ErrorCode::Unavailable,
        ErrorCode::NoSpace,
    ];

    /// The number on the wire.
    pub fn code(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::NotAllowed => 405,
            ErrorCode::Timeout => 408,
            ErrorCode::Exists => 409,
            ErrorCode::NotAFile => 412,
            ErrorCode::TooLarge => 413,
            ErrorCode::LineTooLong => 414,
            ErrorCode::BadOffset => 416,
            ErrorCode::DigestMismatch => 422,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
            ErrorCode::NoSpace => 507,
        }
    }

    /// The code for a number, if it is one of ours.
    pub fn from_code(code: u16) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// One answer from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Success, with the command's fields.
    Ok(Vec<String>),
    /// Failure: a code and a human-readable message.
    Err { code: ErrorCode, message: String },
    /// Send the `PUT`'s bytes now.
    Continue,
}

impl Reply {
    /// An `ERR` reply.
    pub fn err(code: ErrorCode, message: impl Into<String>) -> Reply {
        Reply::Err {
            code,
            message: message.into(),
        }
    }

    /// The frame of this reply. Line breaks in a message become spaces.
    pub fn to_frame(&self) -> Frame {
        match self {
            Reply::Ok(fields) => {
                Frame::new(std::iter::once("OK".to_owned()).chain(fields.iter().cloned()))
            }
            Reply::Continue => Frame::new(["CONTINUE"]),
            Reply::Err { code, message } => {
                let mut tokens = vec!["ERR".to_owned(), code.code().to_string()];
                tokens.extend(
                    message
                        .split(|c: char| c == ' ' || c.is_control())
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned),
                );
                Frame::new(tokens)
            }
        }
    }

    /// The wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_frame().to_bytes()
    }

    /// Read a reply frame (client side).
    pub fn from_frame(frame: Frame) -> Result<Reply, CodecError> {
        let mut tokens = frame.tokens.into_iter();
        match tokens.next().as_deref() {
            Some("OK") => Ok(Reply::Ok(tokens.collect())),
            Some("CONTINUE") => Ok(Reply::Continue),
            Some("ERR") => {
                let code = tokens
                    .next()
                    .and_then(|c| c.parse::<u16>().ok())
                    .and_then(ErrorCode::from_code)
                    .ok_or_else(|| CodecError::invalid("ERR without a known code"))?;
                Ok(Reply::Err {
                    code,
                    message: tokens.collect::<Vec<_>>().join(" "),
                })
            }
            _ => Err(CodecError::invalid("reply is neither OK, ERR nor CONTINUE")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_round_trip() {
        for r in [
            Reply::Ok(vec!["12".into(), "-".into()]),
            Reply::Ok(vec![]),
            Reply::Continue,
            Reply::err(ErrorCode::NotFound, "no such file"),
            Reply::err(ErrorCode::NoSpace, ""),
        ] {
            let (frame, used) = Frame::next(&r.to_bytes(), 1024).unwrap();
            assert_eq!(used, r.to_bytes().len());
            assert_eq!(Reply::from_frame(frame).unwrap(), r);
        }
    }

    #[test]
    fn error_lines_are_single_lines() {
        let r = Reply::err(ErrorCode::BadRequest, "bad\nthing\r here");
        assert_eq!(r.to_bytes(), b"ERR 400 bad thing here\n");
    }

    #[test]
    fn every_code_maps_back() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(c.code()), Some(c));
        }
        assert_eq!(ErrorCode::from_code(999), None);
    }

    #[test]
    fn malformed_replies_are_refused() {
        for bad in [
            &b"HELLO\n"[..],
            b"ERR\n",
            b"ERR abc x\n",
            b"ERR 999 x\n",
            b"\n",
        ] {
            let (f, _) = Frame::next(bad, 100).unwrap();
            assert!(
                Reply::from_frame(f).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
