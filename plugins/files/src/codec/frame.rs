//! [`Frame`]: one line of space-separated tokens, the only frame of protocol v2.
//!
//! A frame is the bytes up to and including the first LF. A CR right before the LF is
//! dropped (so `nc -C` and telnet work), tokens are separated by runs of spaces, and
//! the line must be UTF-8 (names carry other bytes percent-encoded). The same frame
//! carries requests, replies and `LIST` entries; raw file bytes follow some of them.

use super::CodecError;

/// One parsed line. `tokens` never contain a space or a line break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub tokens: Vec<String>,
}

impl Frame {
    /// A frame of `tokens`, for encoding.
    pub fn new<I, S>(tokens: I) -> Frame
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Frame {
            tokens: tokens.into_iter().map(Into::into).collect(),
        }
    }

    /// Is a whole frame at the start of `buf`? Returns its length (LF included).
    ///
    /// [`CodecError::Incomplete`] while no LF is buffered and fewer than `max_line`
    /// bytes are; [`CodecError::TooLong`] once `max_line` bytes hold no LF (the line
    /// would only grow: the caller must stop buffering). Allocates nothing.
    pub fn check(buf: &[u8], max_line: usize) -> Result<usize, CodecError> {
        let window = &buf[..buf.len().min(max_line)];
        match window.iter().position(|&b| b == b'\n') {
            Some(i) => Ok(i + 1),
            None if buf.len() >= max_line => Err(CodecError::TooLong(max_line)),
            None => Err(CodecError::Incomplete),
        }
    }

    /// Parse one frame checked by [`Frame::check`]: `line` ends with its LF.
    pub fn parse(line: &[u8]) -> Result<Frame, CodecError> {
        let body = line
            .strip_suffix(b"\n")
            .ok_or_else(|| CodecError::invalid("frame without LF"))?;
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        let text =
            std::str::from_utf8(body).map_err(|_| CodecError::invalid("line is not UTF-8"))?;
        if let Some(c) = text.chars().find(|c| c.is_control() && *c != '\t') {
            return Err(CodecError::invalid(format!(
                "control character {:?} in line",
                c
            )));
        }
        if text.contains('\t') {
            return Err(CodecError::invalid(
                "tab in line: separate tokens with spaces",
            ));
        }
        Ok(Frame {
            tokens: text
                .split(' ')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }

    /// `check` then `parse` on the front of `buf`: the frame and the bytes it used.
    pub fn next(buf: &[u8], max_line: usize) -> Result<(Frame, usize), CodecError> {
        let len = Frame::check(buf, max_line)?;
        Ok((Frame::parse(&buf[..len])?, len))
    }

    /// Append the wire form (tokens, single spaces, LF) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        for (i, t) in self.tokens.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(t.as_bytes());
        }
        out.push(b'\n');
    }

    /// The wire form as a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// The first token (the verb or reply status), `""` for an empty line.
    pub fn head(&self) -> &str {
        self.tokens.first().map_or("", String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_with_rest_left() {
        let buf = b"GET a.txt 5\nLIST\n";
        let (f, used) = Frame::next(buf, 100).unwrap();
        assert_eq!(f, Frame::new(["GET", "a.txt", "5"]));
        assert_eq!(used, 12);
        let (f, used2) = Frame::next(&buf[used..], 100).unwrap();
        assert_eq!(f.head(), "LIST");
        assert_eq!(used + used2, buf.len());
    }

    #[test]
    fn every_split_point_is_incomplete_then_complete() {
        let line = b"PUT x%20y 10 overwrite\r\n";
        for cut in 0..line.len() {
            assert_eq!(
                Frame::check(&line[..cut], 100),
                Err(CodecError::Incomplete),
                "cut {cut}"
            );
        }
        let (f, used) = Frame::next(line, 100).unwrap();
        assert_eq!(used, line.len());
        assert_eq!(f.tokens, ["PUT", "x%20y", "10", "overwrite"]);
    }

    #[test]
    fn coalesced_frames_parse_in_order() {
        let buf = b"STAT a\nSTAT b\r\nQUIT\n";
        let mut at = 0;
        let mut heads = Vec::new();
        while at < buf.len() {
            let (f, used) = Frame::next(&buf[at..], 100).unwrap();
            heads.push(f.tokens.join(" "));
            at += used;
        }
        assert_eq!(heads, ["STAT a", "STAT b", "QUIT"]);
    }

    #[test]
    fn spaces_are_collapsed_and_empty_lines_have_no_tokens() {
        assert_eq!(Frame::parse(b"  GET   a  \n").unwrap().tokens, ["GET", "a"]);
        assert!(Frame::parse(b"\n").unwrap().tokens.is_empty());
        assert_eq!(Frame::parse(b"\r\n").unwrap().head(), "");
    }

    #[test]
    fn too_long_only_once_the_limit_holds_no_lf() {
        assert_eq!(Frame::check(b"abcdefgh", 8), Err(CodecError::TooLong(8)));
        assert_eq!(Frame::check(b"abcdefg", 8), Err(CodecError::Incomplete));
        assert_eq!(Frame::check(b"abcdefg\n", 8), Ok(8));
        // An LF beyond the limit does not count: the line itself is too long.
        assert_eq!(
            Frame::check(b"abcdefghij\n", 8),
            Err(CodecError::TooLong(8))
        );
    }

    #[test]
    fn malformed_lines_are_refused() {
        assert!(matches!(
            Frame::parse(b"GET \xff\xfe\n"),
            Err(CodecError::Invalid(_))
        ));
        assert!(matches!(
            Frame::parse(b"GET a\0b\n"),
            Err(CodecError::Invalid(_))
        ));
        assert!(matches!(
            Frame::parse(b"GET\ta\n"),
            Err(CodecError::Invalid(_))
        ));
        assert!(matches!(
            Frame::parse(b"GET a\rb\n"),
            Err(CodecError::Invalid(_))
        ));
        assert!(matches!(
            Frame::parse(b"GET a"),
            Err(CodecError::Invalid(_))
        ));
    }

    #[test]
    fn encode_round_trips() {
        let f = Frame::new(["OK", "12", "-"]);
        assert_eq!(f.to_bytes(), b"OK 12 -\n");
        assert_eq!(Frame::parse(&f.to_bytes()).unwrap(), f);
    }
}
