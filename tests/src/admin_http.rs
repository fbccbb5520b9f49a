//! Talking to the admin listener's console as a script would: one HTTP/1.1 request
//! with headers ([`request`]), and the `/api/events` stream read event by event
//! ([`Events`]).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

/// An answer: the status code, the head (lower-cased names) and the body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Answer {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// `method path` with `headers` (name, value) and an empty body; `Connection: close`.
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n"
    );
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("send the request");
    let raw = read_answer(&mut s);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text}"));
    Answer {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

/// The whole answer: up to `Content-Length` when the head gives one (a server may
/// keep the connection open), else to the close.
fn read_answer(s: &mut TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = find(&raw, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if length.is_some_and(|len| raw.len() >= end + 4 + len) {
                return raw;
            }
        }
        match s.read(&mut chunk) {
            Ok(0) => return raw,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("read the answer: {e}"),
        }
    }
}

/// `GET path` with no headers.
pub fn get(addr: SocketAddr, path: &str) -> Answer {
    request(addr, "GET", path, &[])
}

/// The first session of `handler` in `/api/status` for which `pred` holds.
pub fn session_where(
    admin: SocketAddr,
    handler: &str,
    pred: impl Fn(&Value) -> bool,
) -> Option<Value> {
    get(admin, "/api/status").json()["sessions"]
        .as_array()
        .expect("`sessions` is a list")
        .iter()
        .find(|s| s["handler"] == handler && pred(s))
        .cloned()
}

/// The `/api/events` stream (HTTP/1.0: the body runs until the close, unchunked).
#[derive(Debug)]
pub struct Events {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Events {
    pub fn open(addr: SocketAddr, headers: &[(&str, &str)]) -> Events {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut req = "GET /api/events HTTP/1.0\r\n".to_owned();
        for (name, value) in headers {
            req.push_str(&format!("{name}: {value}\r\n"));
        }
        req.push_str("\r\n");
        stream.write_all(req.as_bytes()).unwrap();
        Events {
            stream,
            buf: Vec::new(),
        }
    }

    /// The answer's head, once it is in (waits up to `timeout`).
    pub fn head(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 4);
                return head;
            }
            assert!(Instant::now() < deadline, "no answer head in {timeout:?}");
            self.fill();
        }
    }

    /// The next `status` event's data as JSON, or `None` after `timeout`.
    pub fn next_status(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(end) = find(&self.buf, b"\n\n") {
                let frame = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 2);
                if frame.lines().any(|l| l == "event: status")
                    && let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: "))
                {
                    return Some(serde_json::from_str(data).expect("event data is JSON"));
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            self.fill();
        }
    }

    /// The first status event (within `timeout`) for which `pred` holds.
    pub fn wait_for(&mut self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.next_status(left) {
                Some(v) if pred(&v) => return Some(v),
                Some(_) => continue,
                None => return None,
            }
        }
        None
    }

    fn fill(&mut self) {
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => panic!("the event stream closed"),
            Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("reading the event stream: {e}"),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
