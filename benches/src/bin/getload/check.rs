//! What a response must be: the exact bytes of the expected file, framed as the
//! protocol says. Nothing is counted that is not checked, so a server cannot win by
//! answering fast with something else (an error, a short body, a stale copy).

use sha2::{Digest, Sha256};
use switchyard_files::cmd::get::{Get, GetOk};
use switchyard_files::codec::{CodecError, Frame, Reply};

/// Longest reply line or header block accepted before the response is called broken.
const MAX_HEAD: usize = 8 * 1024;

/// The two protocols the load generator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Proto {
    /// Switchyard's files protocol v2: `GET name` -> `OK <len> <sha256|->` + body.
    Files,
    /// HTTP/1.1 keep-alive: `GET /name` -> `200` with `Content-Length` + body.
    Http,
}

/// One request, sent again and again, and the one response accepted for it.
#[derive(Debug)]
pub struct Check {
    pub proto: Proto,
    /// The request's bytes on the wire.
    pub request: Vec<u8>,
    expected: Vec<u8>,
    sha256: String,
}

impl Check {
    pub fn new(proto: Proto, name: &str, expected: Vec<u8>) -> Check {
        let request = match proto {
            Proto::Files => Get {
                name: name.into(),
                offset: 0,
            }
            .to_frame()
            .to_bytes(),
            Proto::Http => format!("GET /{name} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes(),
        };
        let sha256 = switchyard_files::cmd::hex(&Sha256::digest(&expected));
        Check {
            proto,
            request,
            expected,
            sha256,
        }
    }

    /// Largest response there can be: the head and the body.
    pub fn max_response(&self) -> usize {
        MAX_HEAD + self.expected.len()
    }

    /// The length of the whole, verified response at the front of `buf`; `None` while
    /// it is incomplete; an error for anything but the expected file.
    pub fn response_len(&self, buf: &[u8]) -> Result<Option<usize>, String> {
        let head = match self.proto {
            Proto::Files => self.files_head(buf)?,
            Proto::Http => self.http_head(buf)?,
        };
        let Some(head) = head else { return Ok(None) };
        let end = head + self.expected.len();
        if buf.len() < end {
            return Ok(None);
        }
        if buf[head..end] != self.expected[..] {
            return Err(format!(
                "CORRUPT body: {} bytes differ from the expected file",
                buf[head..end]
                    .iter()
                    .zip(&self.expected)
                    .filter(|(a, b)| a != b)
                    .count()
            ));
        }
        Ok(Some(end))
    }

    /// `OK <len> <sha256|->`: its length once whole, checked against the file.
    fn files_head(&self, buf: &[u8]) -> Result<Option<usize>, String> {
        let line = match Frame::check(buf, MAX_HEAD) {
            Ok(n) => n,
            Err(CodecError::Incomplete) => return Ok(None),
            Err(e) => return Err(format!("reply line: {e}")),
        };
        let frame = Frame::parse(&buf[..line]).map_err(|e| format!("reply line: {e}"))?;
        let ok = match Reply::from_frame(frame).map_err(|e| format!("reply: {e}"))? {
            Reply::Ok(fields) => {
                GetOk::from_fields(&fields).map_err(|e| format!("GET reply: {e}"))?
            }
            Reply::Err { code, message } => {
                return Err(format!("server: ERR {} {message}", code.code()));
            }
            Reply::Continue => return Err("server: CONTINUE to a GET".into()),
        };
        if ok.len != self.expected.len() as u64 {
            return Err(format!(
                "GET announced {} bytes, the file has {}",
                ok.len,
                self.expected.len()
            ));
        }
        if let Some(sha) = ok.sha256
            && !sha.eq_ignore_ascii_case(&self.sha256)
        {
            return Err(format!(
                "GET announced sha256 {sha}, the file's is {}",
                self.sha256
            ));
        }
        Ok(Some(line))
    }

    /// `HTTP/1.1 200` with `Content-Length` equal to the file's and no close: the
    /// length of the head (blank line included) once whole.
    fn http_head(&self, buf: &[u8]) -> Result<Option<usize>, String> {
        let window = &buf[..buf.len().min(MAX_HEAD)];
        let Some(at) = window.windows(4).position(|w| w == b"\r\n\r\n") else {
            return if buf.len() >= MAX_HEAD {
                Err(format!("no end of headers in {MAX_HEAD} bytes"))
            } else {
                Ok(None)
            };
        };
        let head = std::str::from_utf8(&buf[..at]).map_err(|_| "headers are not UTF-8")?;
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap_or("");
        if !status.starts_with("HTTP/1.1 200 ") {
            return Err(format!("status line {status:?}"));
        }
        let mut len = None;
        for line in lines {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| format!("header {line:?}"))?;
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                len = Some(
                    value
                        .parse::<usize>()
                        .map_err(|_| format!("Content-Length {value:?}"))?,
                );
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(format!("Transfer-Encoding {value:?}: want a plain body"));
            } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close")
            {
                return Err("Connection: close on a keep-alive benchmark".into());
            }
        }
        match len {
            Some(n) if n == self.expected.len() => Ok(Some(at + 4)),
            Some(n) => Err(format!(
                "Content-Length {n}, the file has {}",
                self.expected.len()
            )),
            None => Err("no Content-Length".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Vec<u8> {
        (0..1024u32).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn files_reply_is_complete_only_with_its_whole_body() {
        let c = Check::new(Proto::Files, "k1", file());
        let mut wire = format!("OK 1024 {}\n", c.sha256).into_bytes();
        wire.extend(file());
        for cut in 0..wire.len() {
            assert_eq!(c.response_len(&wire[..cut]), Ok(None), "cut {cut}");
        }
        assert_eq!(c.response_len(&wire), Ok(Some(wire.len())));
        let mut unknown = b"OK 1024 -\n".to_vec();
        unknown.extend(file());
        assert_eq!(c.response_len(&unknown), Ok(Some(unknown.len())));
    }

    #[test]
    fn files_errors_wrong_digests_and_corrupt_bodies_fail() {
        let c = Check::new(Proto::Files, "k1", file());
        assert!(
            c.response_len(b"ERR 404 no such file\n")
                .unwrap_err()
                .contains("404")
        );
        let wrong = format!("OK 1024 {}\n", "0".repeat(64));
        assert!(
            c.response_len(wrong.as_bytes())
                .unwrap_err()
                .contains("sha256")
        );
        assert!(c.response_len(b"OK 1000 -\n").unwrap_err().contains("1000"));
        let mut bad = b"OK 1024 -\n".to_vec();
        let mut body = file();
        body[500] ^= 1;
        bad.extend(body);
        assert!(c.response_len(&bad).unwrap_err().contains("CORRUPT"));
    }

    #[test]
    fn http_response_needs_200_length_and_keep_alive() {
        let c = Check::new(Proto::Http, "k1", file());
        assert_eq!(c.request, b"GET /k1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        let head = "HTTP/1.1 200 OK\r\nServer: x\r\ncontent-length: 1024\r\n\r\n";
        let mut wire = head.as_bytes().to_vec();
        wire.extend(file());
        for cut in 0..wire.len() {
            assert_eq!(c.response_len(&wire[..cut]), Ok(None), "cut {cut}");
        }
        assert_eq!(c.response_len(&wire), Ok(Some(wire.len())));
        for (bad, why) in [
            (
                "HTTP/1.1 404 Not Found\r\nContent-Length: 1024\r\n\r\n",
                "status",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
                "Content-Length 10",
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                "Transfer-Encoding",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 1024\r\nConnection: close\r\n\r\n",
                "close",
            ),
            ("HTTP/1.1 200 OK\r\n\r\n", "no Content-Length"),
        ] {
            let err = c.response_len(bad.as_bytes()).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }
}
