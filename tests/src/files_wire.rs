//! A raw client of the files protocol v2 (`docs/files-protocol.md`): one connection,
//! request lines out, reply lines and bodies in. Written from the spec, not from the
//! plugin's codec.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long each read and write may block.
const TIMEOUT: Duration = Duration::from_secs(20);

/// A v2 connection: `SYFILES/2` already sent.
#[derive(Debug)]
pub struct V2 {
    /// The socket, for raw writes (bodies, partial lines) and timeouts.
    pub s: TcpStream,
    /// A buffered reader on the same socket, for reply lines and bodies.
    pub r: BufReader<TcpStream>,
}

impl V2 {
    /// Connect to `addr` and send the v2 greeting.
    pub fn open(addr: SocketAddr) -> V2 {
        V2::over(crate::tcp_connect(addr, TIMEOUT))
    }

    /// Speak v2 over an already connected socket (e.g. from another source address).
    pub fn over(mut s: TcpStream) -> V2 {
        s.write_all(b"SYFILES/2\n").unwrap();
        let r = BufReader::new(s.try_clone().unwrap());
        V2 { s, r }
    }

    /// The next reply line, without its line end (empty at EOF).
    pub fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        l.trim_end().to_owned()
    }

    /// Send one request line and return the reply line.
    pub fn ask(&mut self, req: &str) -> String {
        self.s.write_all(format!("{req}\n").as_bytes()).unwrap();
        self.line()
    }

    /// `PUT name len`, the body, and the final reply line.
    pub fn put(&mut self, name: &str, data: &[u8]) -> String {
        assert_eq!(self.ask(&format!("PUT {name} {}", data.len())), "CONTINUE");
        self.s.write_all(data).unwrap();
        self.line()
    }

    /// `GET name`: the reply line and the body it announces (empty on `ERR`).
    pub fn get(&mut self, name: &str) -> (String, Vec<u8>) {
        let head = self.ask(&format!("GET {name}"));
        let len: usize = head
            .split(' ')
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; if head.starts_with("OK") { len } else { 0 }];
        self.r.read_exact(&mut body).unwrap();
        (head, body)
    }
}
