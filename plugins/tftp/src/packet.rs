//! The TFTP wire format (RFC 1350 + the OACK of RFC 2347): parse a datagram into a
//! borrowed [`Packet`], or build one.
//!
//! Parsing never allocates for the common packets (DATA, ACK) and never panics: every
//! malformed form is a [`ParseError`] variant, so the caller can answer it (ERROR 4) or
//! drop it. Datagrams are whole messages, so there is no "incomplete" state: a short
//! datagram is simply malformed.

use std::fmt;

/// RRQ: read request.
pub const OP_RRQ: u16 = 1;
/// WRQ: write request.
pub const OP_WRQ: u16 = 2;
/// DATA: one block.
pub const OP_DATA: u16 = 3;
/// ACK: one block acknowledged.
pub const OP_ACK: u16 = 4;
/// ERROR: ends the transfer.
pub const OP_ERROR: u16 = 5;
/// OACK: options acknowledged (RFC 2347).
pub const OP_OACK: u16 = 6;

/// Longest request we parse: a request is a name, a mode and a few options, so a bigger
/// one is an attack or a bug. (RFC 2347 asks clients to stay within 512 bytes.)
pub const MAX_REQUEST: usize = 2048;

/// Most options parsed from one request or OACK.
pub const MAX_OPTIONS: usize = 16;

/// Which request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// RRQ: the client downloads.
    Read,
    /// WRQ: the client uploads.
    Write,
}

impl RequestKind {
    fn opcode(self) -> u16 {
        match self {
            RequestKind::Read => OP_RRQ,
            RequestKind::Write => OP_WRQ,
        }
    }
}

/// The error codes of RFC 1350 (and 8 from RFC 2347).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum ErrorCode {
    NotDefined = 0,
    FileNotFound = 1,
    AccessViolation = 2,
    DiskFull = 3,
    IllegalOperation = 4,
    UnknownTid = 5,
    FileExists = 6,
    NoSuchUser = 7,
    OptionRefused = 8,
}

impl ErrorCode {
    /// The code as sent on the wire.
    pub fn code(self) -> u16 {
        self as u16
    }
}

/// One option name/value pair, borrowed from the datagram.
pub type Opt<'a> = (&'a str, &'a str);

/// One parsed datagram, borrowing from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    /// RRQ or WRQ with its options in arrival order (names not yet lowercased).
    Request {
        kind: RequestKind,
        filename: &'a str,
        mode: &'a str,
        options: Vec<Opt<'a>>,
    },
    Data {
        block: u16,
        data: &'a [u8],
    },
    Ack {
        block: u16,
    },
    /// `message` is raw bytes: a peer's message is shown lossily, never trusted.
    Error {
        code: u16,
        message: &'a [u8],
    },
    Oack {
        options: Vec<Opt<'a>>,
    },
}

/// Why a datagram is not a TFTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Fewer bytes than the opcode (and block or code) need.
    TooShort,
    /// Opcode 0 or above 6.
    UnknownOpcode(u16),
    /// A request longer than [`MAX_REQUEST`].
    TooLong,
    /// A string field without its terminating NUL.
    Unterminated,
    /// A string field that is not UTF-8.
    NotUtf8,
    /// A request with an empty file name.
    EmptyFilename,
    /// A request with an empty mode.
    EmptyMode,
    /// An option name without a value (an odd number of strings).
    OptionWithoutValue,
    /// An option with an empty name.
    EmptyOptionName,
    /// More than [`MAX_OPTIONS`] options.
    TooManyOptions,
    /// ACK with bytes after the block number.
    TrailingBytes,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::TooShort => f.write_str("packet too short"),
            ParseError::UnknownOpcode(op) => write!(f, "unknown opcode {op}"),
            ParseError::TooLong => f.write_str("request too long"),
            ParseError::Unterminated => f.write_str("unterminated string"),
            ParseError::NotUtf8 => f.write_str("string is not UTF-8"),
            ParseError::EmptyFilename => f.write_str("empty file name"),
            ParseError::EmptyMode => f.write_str("empty mode"),
            ParseError::OptionWithoutValue => f.write_str("option without a value"),
            ParseError::EmptyOptionName => f.write_str("empty option name"),
            ParseError::TooManyOptions => f.write_str("too many options"),
            ParseError::TrailingBytes => f.write_str("trailing bytes"),
        }
    }
}

impl std::error::Error for ParseError {}

/// The opcode of a datagram, if it has one (cheap dispatch before a full parse).
pub fn opcode(buf: &[u8]) -> Option<u16> {
    (buf.len() >= 2).then(|| u16::from_be_bytes([buf[0], buf[1]]))
}

/// Split one NUL-terminated UTF-8 string off the front of `buf`.
fn take_str(buf: &[u8]) -> Result<(&str, &[u8]), ParseError> {
    let end = buf
        .iter()
        .position(|&b| b == 0)
        .ok_or(ParseError::Unterminated)?;
    let s = std::str::from_utf8(&buf[..end]).map_err(|_| ParseError::NotUtf8)?;
    Ok((s, &buf[end + 1..]))
}

/// Option pairs until the end of `buf`. Trailing NUL padding (seen from some PXE ROMs)
/// is ignored rather than refused.
fn parse_options(mut rest: &[u8]) -> Result<Vec<Opt<'_>>, ParseError> {
    let mut options = Vec::new();
    while !rest.is_empty() && rest.iter().any(|&b| b != 0) {
        let (name, after) = take_str(rest)?;
        if name.is_empty() {
            return Err(ParseError::EmptyOptionName);
        }
        if after.is_empty() {
            return Err(ParseError::OptionWithoutValue);
        }
        let (value, after) = take_str(after).map_err(|e| match e {
            ParseError::Unterminated => ParseError::OptionWithoutValue,
            e => e,
        })?;
        if options.len() == MAX_OPTIONS {
            return Err(ParseError::TooManyOptions);
        }
        options.push((name, value));
        rest = after;
    }
    Ok(options)
}

impl<'a> Packet<'a> {
    /// Parse one datagram.
    pub fn parse(buf: &'a [u8]) -> Result<Packet<'a>, ParseError> {
        let op = opcode(buf).ok_or(ParseError::TooShort)?;
        let body = &buf[2..];
        match op {
            OP_RRQ | OP_WRQ => {
                if buf.len() > MAX_REQUEST {
                    return Err(ParseError::TooLong);
                }
                let kind = if op == OP_RRQ {
                    RequestKind::Read
                } else {
                    RequestKind::Write
                };
                let (filename, rest) = take_str(body)?;
                if filename.is_empty() {
                    return Err(ParseError::EmptyFilename);
                }
                let (mode, rest) = take_str(rest)?;
                if mode.is_empty() {
                    return Err(ParseError::EmptyMode);
                }
                Ok(Packet::Request {
                    kind,
                    filename,
                    mode,
                    options: parse_options(rest)?,
                })
            }
            OP_DATA => {
                if body.len() < 2 {
                    return Err(ParseError::TooShort);
                }
                Ok(Packet::Data {
                    block: u16::from_be_bytes([body[0], body[1]]),
                    data: &body[2..],
                })
            }
            OP_ACK => match body.len() {
                0 | 1 => Err(ParseError::TooShort),
                2 => Ok(Packet::Ack {
                    block: u16::from_be_bytes([body[0], body[1]]),
                }),
                _ => Err(ParseError::TrailingBytes),
            },
            OP_ERROR => {
                if body.len() < 2 {
                    return Err(ParseError::TooShort);
                }
                // A missing NUL is tolerated: the transfer ends either way.
                let msg = &body[2..];
                let end = msg.iter().position(|&b| b == 0).unwrap_or(msg.len());
                Ok(Packet::Error {
                    code: u16::from_be_bytes([body[0], body[1]]),
                    message: &msg[..end],
                })
            }
            OP_OACK => {
                if buf.len() > MAX_REQUEST {
                    return Err(ParseError::TooLong);
                }
                Ok(Packet::Oack {
                    options: parse_options(body)?,
                })
            }
            other => Err(ParseError::UnknownOpcode(other)),
        }
    }
}

/// The 4-byte DATA header; the payload follows (the host appends a file range to it).
pub fn data_header(block: u16) -> [u8; 4] {
    let b = block.to_be_bytes();
    [0, OP_DATA as u8, b[0], b[1]]
}

/// A whole DATA packet.
pub fn data(block: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + payload.len());
    out.extend_from_slice(&data_header(block));
    out.extend_from_slice(payload);
    out
}

/// An ACK packet.
pub fn ack(block: u16) -> [u8; 4] {
    let b = block.to_be_bytes();
    [0, OP_ACK as u8, b[0], b[1]]
}

/// An ERROR packet. NULs in `message` are dropped so the packet stays well-formed.
pub fn error(code: ErrorCode, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + message.len());
    out.extend_from_slice(&OP_ERROR.to_be_bytes());
    out.extend_from_slice(&code.code().to_be_bytes());
    out.extend(message.bytes().filter(|&b| b != 0));
    out.push(0);
    out
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    out.extend(s.bytes().filter(|&b| b != 0));
    out.push(0);
}

/// An OACK packet with `options` in order.
pub fn oack<S: AsRef<str>>(options: &[(S, S)]) -> Vec<u8> {
    let mut out = OP_OACK.to_be_bytes().to_vec();
    for (name, value) in options {
        push_str(&mut out, name.as_ref());
        push_str(&mut out, value.as_ref());
    }
    out
}

/// An RRQ or WRQ packet (used by the client).
pub fn request<S: AsRef<str>>(
    kind: RequestKind,
    filename: &str,
    mode: &str,
    options: &[(S, S)],
) -> Vec<u8> {
    let mut out = kind.opcode().to_be_bytes().to_vec();
    push_str(&mut out, filename);
    push_str(&mut out, mode);
    for (name, value) in options {
        push_str(&mut out, name.as_ref());
        push_str(&mut out, value.as_ref());
    }
    out
}

#[cfg(test)]
mod tests;
