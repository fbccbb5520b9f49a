//! A `GET` body that ends before its announced length: the server's error tail, or a
//! plain close.
//!
//! A server that must stop in the middle of a body (shutting down: `ERR 503`) cannot
//! send a reply line in front of bytes already sent, so it writes
//! `\nERR <code> <message>\n` right after the last body byte and closes
//! (`docs/files-protocol.md`, "Shutting down"). A client sees it only when the stream
//! ends early; then those bytes are the server's error, not file content.

use switchyard_files::codec::{ErrorCode, Frame, Reply};

/// The most bytes of a stream's end worth looking at: the tail is one short line.
pub const MAX_TAIL: usize = 512;

/// The server's error at the end of `end` (the last bytes received, at most
/// [`MAX_TAIL`]): its code, its message and how many bytes of `end` it takes (the
/// leading LF included). `None`: the stream just stopped.
pub fn server_error(end: &[u8]) -> Option<(ErrorCode, String, usize)> {
    let body = end.strip_suffix(b"\n")?;
    let start = body.iter().rposition(|&b| b == b'\n')?;
    let line = &end[start + 1..];
    if !line.starts_with(b"ERR ") {
        return None;
    }
    let (frame, used) = Frame::next(line, MAX_TAIL).ok()?;
    match (Reply::from_frame(frame).ok()?, used == line.len()) {
        (Reply::Err { code, message }, true) => Some((code, message, end.len() - start)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_after_the_bytes_sent_is_the_servers_error() {
        let mut end = vec![0xAB; 100];
        end.extend_from_slice(b"\nERR 503 server shutting down\n");
        let (code, message, len) = server_error(&end).unwrap();
        assert_eq!(code.code(), 503);
        assert_eq!(message, "server shutting down");
        assert_eq!(len, 30, "the tail with its leading line end");
    }

    #[test]
    fn a_plain_early_end_is_not_an_error_reply() {
        assert_eq!(server_error(b"some file bytes"), None);
        assert_eq!(server_error(b"abc\nnot an error\n"), None);
        assert_eq!(server_error(b"ERR 503 no leading line end\n"), None);
        assert_eq!(server_error(b"\nERR\n"), None);
        assert_eq!(server_error(b""), None);
    }
}
