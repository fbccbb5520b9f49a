//! A real NATS server for tests: `nats-server` (Debian's package, which `.ci/run`
//! installs) with JetStream, storing in a temp directory, on a loopback port.
//!
//! Missing binary: the test is skipped with a message, or fails under CI
//! ([`crate::faults::tool`]). Only the client port is opened: the monitoring port (`-m`),
//! clustering (`--cluster`), leaf nodes and websockets are off unless asked for, and
//! none is asked for, so servers run side by side. The port is picked below the
//! ephemeral range ([`crate::ports`]); a start that loses it is tried again on another.
//! [`NatsServer::stop`] and [`NatsServer::restart`] keep the port and the JetStream
//! directory, so a test can take NATS away under a connected client and bring the same
//! server (with its streams and buckets) back. Killed on drop.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::faults;
use crate::ports::free_ports;

/// How long nats-server may take to accept clients with JetStream ready.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Starts tried on fresh ports before giving up.
const ATTEMPTS: usize = 3;

/// A nats-server, running or stopped; killed (and its directory deleted) on drop.
#[derive(Debug)]
pub struct NatsServer {
    binary: PathBuf,
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    /// Starts so far, so each run logs to a file of its own.
    runs: u32,
}

impl NatsServer {
    /// Start a server, or `None` when `nats-server` is not installed (outside CI).
    /// Panics, with the server's log, if it does not come up.
    pub fn start() -> Option<NatsServer> {
        let binary = faults::tool("nats-server")?;
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            let mut server = NatsServer {
                binary: binary.clone(),
                child: None,
                port: free_ports(1)[0],
                dir: tempfile::tempdir().expect("temp dir"),
                runs: 0,
            };
            match server.run() {
                Ok(()) => return Some(server),
                Err(why) => failures.push(why),
            }
        }
        panic!(
            "nats-server did not come up in {ATTEMPTS} starts:\n{}",
            failures.join("\n----\n")
        );
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port (the same across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kill the server (as a crash would); its port and JetStream data stay.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start the server again on the same port and directory (stopping it first if it
    /// runs). Panics with the log if the port was taken meanwhile.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(why) = self.run() {
            panic!("nats-server did not restart on port {}:\n{why}", self.port);
        }
    }

    /// The current run's log (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("nats-{}.log", self.runs))
    }

    /// Spawn on `self.port` and wait until ready; `Err` with why and the log.
    fn run(&mut self) -> Result<(), String> {
        self.runs += 1;
        let log = std::fs::File::create(self.log_path()).expect("log file");
        let store = self.dir.path().join("jetstream");
        let child = Command::new(&self.binary)
            .args(["-js", "-sd"])
            .arg(&store)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", self.binary.display()))?;
        self.child = Some(child);
        let ready = self.wait_ready();
        if ready.is_err() {
            self.stop();
        }
        ready
    }

    /// Ready: the log says so (JetStream is up then) and a client gets the greeting.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        while Instant::now() < deadline {
            let child = self.child.as_mut().expect("running");
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("nats-server exited ({status}):\n{}", self.log()));
            }
            if self.log().contains("Server is ready") && greets(addr) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "nats-server not ready on {addr} within {START_TIMEOUT:?}:\n{}",
            self.log()
        ))
    }
}

/// Whether a client connecting to `addr` is greeted with the protocol's `INFO` line.
fn greets(addr: SocketAddr) -> bool {
    let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("INFO ")
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}
