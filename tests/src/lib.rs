//! # switchyard-e2e — the end-to-end test harness
//!
//! Tests in `tests/tests/*.rs` run the **real** `switchyard` binary, as an operator
//! would, and talk to it over loopback sockets. This crate is the shared harness. It
//! finds the build output, starts a host on a topology, reads its JSON logs, learns
//! the real addresses of listeners bound to port 0, and kills the process when the
//! test ends (also when it panics).
//!
//! ```ignore
//! use std::time::Duration;
//! use switchyard_e2e::{Host, udp_roundtrip};
//!
//! let host = Host::start(r#"(
//!     listeners: { "echo_udp": (kind: udp, bind: "127.0.0.1:0") },
//!     handlers: { "echo": (plugin: "echo") },
//!     routes: [ (from: "echo_udp", to: "echo") ],
//! )"#);
//! let reply = udp_roundtrip(host.addr("echo_udp"), b"hi", Duration::from_secs(5));
//! assert_eq!(reply, b"hi");
//! assert!(host.logs_contain("serving"));
//! ```
//!
//! # Conventions
//! - **Build first.** The harness does not run cargo. `cargo build --workspace` before
//!   `cargo test --workspace` (the README's test command) puts `switchyard` and every
//!   plugin library in `target/<profile>/`. A missing binary panics with that
//!   instruction. Running cargo from inside a test would wait on the lock of the cargo
//!   process that runs the tests.
//! - **Port 0, loopback only.** Bind listeners to `127.0.0.1:0` or `[::1]:0` and ask
//!   [`Host::addr`] for the address the host really bound. It reads the `listening` log
//!   lines, so parallel tests never collide on ports. A listener bound to a host name
//!   (`"localhost:0"`) has one socket, and one `listening` line, per address the name
//!   resolves to: [`Host::addrs_of`] gives them all, [`Host::addr`] the first.
//! - **Bounded waits.** Every wait here has a timeout and panics with the host's log
//!   when it expires, so a broken host fails a test instead of hanging CI.
//! - **Paths.** The host runs with the repository root as its working directory
//!   (relative paths in topologies resolve against it, as for an operator). In
//!   topology text, `$TMP` is replaced by the host's own temporary directory (absolute,
//!   deleted on drop). Use it for storage roots: `root: Some("$TMP/data")`.
//!
//! # Layout
//! - locating the build: [`repo_root`], [`bin_dir`], [`target_root`], [`switchyard_bin`],
//!   [`plugin_lib`];
//! - running the CLI once: [`run_switchyard`], [`run_switchyard_with`];
//! - a served topology: [`Host`], [`HostBuilder`];
//! - client helpers: [`udp_roundtrip`], [`try_udp_roundtrip`], [`udp_request`],
//!   [`tcp_connect`], [`tcp_roundtrip`], [`wait_until`], [`sha256_hex`];
//! - building plugins that are not workspace members: [`build_c_echo`], [`compile_c`],
//!   [`build_external_plugin`], [`build_plugin_variant`] (also a workspace plugin with a
//!   test-only feature);
//! - a host logging to a file, started through a shell line: [`logfile_host`];
//! - fault injection (a tmpfs to fill, root-only preconditions, connections from other
//!   loopback addresses, temp-file checks): [`faults`];
//! - protocol clients written from the specs: [`files_wire`] (files v2), [`tftp_wire`]
//!   (TFTP packets by hand); a host serving one TFTP handler: [`tftp_server`].
//! - reading `/metrics` with the reference Prometheus text-format parser: [`prometheus`].
//! - a real S3 store (SeaweedFS `weed mini` on free loopback ports): [`seaweed`].
//! - a real NATS server with JetStream (`nats-server`, stoppable and restartable on its
//!   port): [`nats`].
//! - hosts on a cluster bus (topology, bus metrics, subscriptions, transcripts):
//!   [`cluster`].
//! - loopback ports below the ephemeral range for those servers: [`ports`].
//! - relays that pace a transfer, so it lasts as long as a test needs on any machine:
//!   [`slow_link`].
//! - the operator console: HTTP requests and its event stream ([`admin_http`]), and
//!   headless Chromium over the DevTools protocol ([`cdp`]).

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

pub mod admin_http;
pub mod bulk_wire;
pub mod cdp;
pub mod cluster;
pub mod faults;
pub mod files_wire;
pub mod logfile_host;
pub mod nats;
pub mod ports;
pub mod prometheus;
pub mod seaweed;
pub mod slow_link;
pub mod tftp_server;
pub mod tftp_wire;

/// How long [`Host::start`] waits for `serving`. A debug build on 2 busy cores loads
/// plugins and binds in well under a second, but CI compiles other tests alongside.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The default bound of [`run_switchyard`]: `validate`, `plugins` and a refused `serve`
/// finish in milliseconds, so this only matters when something hangs.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

// ---- locating the build ---------------------------------------------------------------

/// The repository root (the workspace directory). Topologies' relative paths resolve
/// against it, because it is the working directory of every process the harness starts.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The build output directory of the current profile, e.g. `target/debug`.
///
/// Derived from the running test executable (`target/debug/deps/<test>-<hash>`), so it
/// follows `CARGO_TARGET_DIR`, `--target <triple>` and `--profile` automatically:
/// `switchyard` and the plugin libraries were built beside `deps/`.
pub fn bin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("current test executable");
        let deps = exe.parent().expect("test executable has a directory");
        let dir = if deps.file_name().is_some_and(|n| n == "deps") {
            deps.parent().expect("deps/ has a parent")
        } else {
            deps
        };
        dir.to_path_buf()
    })
    .clone()
}

/// The cargo target directory itself (`target/` or `$CARGO_TARGET_DIR`): the parent of
/// [`bin_dir`]. Builds of crates outside the workspace go in subdirectories of it, so
/// `cargo clean` removes them too and nothing is written into the source tree.
pub fn target_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        return if dir.is_absolute() {
            dir
        } else {
            repo_root().join(dir)
        };
    }
    bin_dir()
        .parent()
        .expect("target/<profile> has a parent")
        .to_path_buf()
}

fn must_exist(path: PathBuf, what: &str) -> PathBuf {
    assert!(
        path.is_file(),
        "{what} not found at {}: run `cargo build --workspace` first \
         (the end-to-end tests run the real binary and plugins, and do not build them)",
        path.display()
    );
    path
}

/// The `switchyard` executable under test; panics with instructions when not built.
pub fn switchyard_bin() -> PathBuf {
    must_exist(bin_dir().join("switchyard"), "the switchyard binary")
}

/// The built library of workspace plugin `name` (`-` becomes `_`), e.g. `echo` ->
/// `target/debug/libswitchyard_echo.so`; panics with instructions when not built.
pub fn plugin_lib(name: &str) -> PathBuf {
    let file = format!(
        "libswitchyard_{}.{}",
        name.replace('-', "_"),
        std::env::consts::DLL_EXTENSION
    );
    must_exist(bin_dir().join(file), &format!("plugin `{name}`"))
}

// ---- one-shot CLI runs ------------------------------------------------------------------

/// Run `switchyard ARGS` in the repository root and return its output (bounded by
/// [`RUN_TIMEOUT`]). For `validate`, `plugins`, `--version`, and `serve` runs that are
/// expected to be refused.
pub fn run_switchyard<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(switchyard_bin());
    cmd.args(args).current_dir(repo_root());
    run_with_timeout(cmd, RUN_TIMEOUT)
}

/// Like [`run_switchyard`], for a command set up by the caller (extra environment,
/// another working directory). Bounded by `timeout`: the process is killed and the test
/// panics if it runs longer.
pub fn run_switchyard_with(configure: impl FnOnce(&mut Command), timeout: Duration) -> Output {
    let mut cmd = Command::new(switchyard_bin());
    cmd.current_dir(repo_root());
    configure(&mut cmd);
    run_with_timeout(cmd, timeout)
}

/// Run `cmd` to completion, collecting stdout and stderr, killing it after `timeout`.
pub fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    let out = drain_pipe(child.stdout.take());
    let err = drain_pipe(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{shown} did not finish within {timeout:?}\nstderr:\n{}",
                String::from_utf8_lossy(&err.join().unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

fn drain_pipe<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

// ---- a served topology -------------------------------------------------------------------

/// Log lines of a running host, shared with the threads that read its pipes.
#[derive(Debug, Default)]
struct LogBuf {
    /// stderr lines (the host's log), in order.
    stderr: Vec<String>,
    /// stdout lines (the host prints nothing there while serving; a C plugin might).
    stdout: Vec<String>,
    /// Set once stderr reached EOF: the process is gone.
    closed: bool,
}

#[derive(Debug, Default)]
struct Logs {
    buf: Mutex<LogBuf>,
    changed: Condvar,
}

/// Configures a [`Host`] before it starts: extra arguments and environment, another
/// working directory. [`Host::start`] is `Host::builder(topology).start()`.
#[derive(Debug)]
pub struct HostBuilder {
    topology: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    cwd: Option<PathBuf>,
    log_level: String,
    start_timeout: Duration,
}

impl HostBuilder {
    /// An extra command-line argument after `serve --config FILE ...`.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// An environment variable for the host process.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The host's working directory (default: the repository root).
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// `--log-level` (default `info`; `debug` shows plugins' debug lines).
    pub fn log_level(mut self, level: impl Into<String>) -> Self {
        self.log_level = level.into();
        self
    }

    /// How long to wait for `serving` (default [`START_TIMEOUT`]).
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Write the topology, spawn `switchyard serve`, and wait until it is serving.
    /// Panics (with the host's log) if it exits or is not serving in time.
    pub fn start(self) -> Host {
        match self.try_start() {
            Ok(host) => host,
            Err(failure) => panic!("{failure}"),
        }
    }

    /// Like [`HostBuilder::start`], but a host that exits or does not start in time is
    /// an `Err` with its exit status and log, for tests that expect `serve` to refuse.
    pub fn try_start(self) -> Result<Host, StartFailure> {
        let dir = tempfile::Builder::new()
            .prefix("switchyard-e2e-")
            .tempdir()
            .expect("create a temp dir");
        let tmp = dir.path().to_str().expect("UTF-8 temp path").to_owned();
        let config = dir.path().join("topology.ron");
        std::fs::write(&config, self.topology.replace("$TMP", &tmp)).expect("write topology");

        let mut cmd = Command::new(switchyard_bin());
        cmd.arg("serve")
            .arg("--config")
            .arg(&config)
            .args(["--log-format", "json", "--log-level", &self.log_level])
            .arg("--plugin-dir")
            .arg(bin_dir())
            .args(&self.args)
            .current_dir(self.cwd.unwrap_or_else(repo_root))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn switchyard serve");
        let logs = Arc::new(Logs::default());
        spawn_reader(child.stderr.take(), Arc::clone(&logs), true);
        spawn_reader(child.stdout.take(), Arc::clone(&logs), false);

        let mut host = Host {
            child,
            logs,
            addrs: HashMap::new(),
            all_addrs: HashMap::new(),
            config,
            dir,
        };
        let deadline = Instant::now() + self.start_timeout;
        let serving = host.wait_for_log_until(|j| j["msg"] == "serving", deadline);
        if serving.is_none() {
            let _ = host.child.kill();
            let status = host.child.wait().ok();
            return Err(StartFailure {
                status,
                log: host.stderr_lines(),
            });
        }
        for line in host.json_logs() {
            if line["msg"] == "listening" {
                let (Some(name), Some(addr)) = (line["listener"].as_str(), line["addr"].as_str())
                else {
                    continue;
                };
                let addr: SocketAddr = addr
                    .parse()
                    .unwrap_or_else(|e| panic!("bad listening addr {addr:?}: {e}"));
                host.addrs.entry(name.to_owned()).or_insert(addr);
                host.all_addrs
                    .entry(name.to_owned())
                    .or_default()
                    .push(addr);
            }
        }
        Ok(host)
    }
}

/// Why [`HostBuilder::try_start`] got no serving host.
#[derive(Debug)]
pub struct StartFailure {
    /// The exit status; `None` if it had to be killed (it hung instead of serving).
    pub status: Option<ExitStatus>,
    /// Its stderr, line by line.
    pub log: Vec<String>,
}

impl StartFailure {
    /// The exit code, when it exited on its own.
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    /// The whole log as one string, for `contains` assertions.
    pub fn text(&self) -> String {
        self.log.join("\n")
    }
}

impl std::fmt::Display for StartFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "switchyard serve did not start (status {:?}); its log:\n{}",
            self.status,
            self.log.join("\n")
        )
    }
}

fn spawn_reader<R: Read + Send + 'static>(pipe: Option<R>, logs: Arc<Logs>, stderr: bool) {
    let Some(pipe) = pipe else { return };
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            let mut buf = logs.buf.lock().unwrap_or_else(|e| e.into_inner());
            if stderr {
                buf.stderr.push(line);
            } else {
                buf.stdout.push(line);
            }
            drop(buf);
            logs.changed.notify_all();
        }
        if stderr {
            logs.buf.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
            logs.changed.notify_all();
        }
    });
}

/// A running `switchyard serve --log-format json` on a topology, killed on drop.
///
/// The host's stderr is read line by line in a thread and kept whole, so a test can
/// assert on any log line, at any time, and wait for one to appear.
#[derive(Debug)]
pub struct Host {
    child: Child,
    logs: Arc<Logs>,
    /// The first `listening` address of each listener.
    addrs: HashMap<String, SocketAddr>,
    /// Every `listening` address of each listener, in log order.
    all_addrs: HashMap<String, Vec<SocketAddr>>,
    config: PathBuf,
    dir: tempfile::TempDir,
}

impl Host {
    /// Serve `topology` (RON text) and wait until the host logs `serving`.
    pub fn start(topology: &str) -> Host {
        Host::builder(topology).start()
    }

    /// Configure a host before starting it; see [`HostBuilder`].
    pub fn builder(topology: &str) -> HostBuilder {
        HostBuilder {
            topology: topology.to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            log_level: "info".into(),
            start_timeout: START_TIMEOUT,
        }
    }

    /// The address listener `name` is bound to (the real port, when bound to port 0);
    /// the first one for a listener bound to several ([`Host::addrs_of`]).
    pub fn addr(&self, name: &str) -> SocketAddr {
        self.addrs_of(name)[0]
    }

    /// Every address listener `name` is bound to, in the order the host logged them:
    /// one for an IP literal, one per resolved address for a host name.
    pub fn addrs_of(&self, name: &str) -> &[SocketAddr] {
        match self.all_addrs.get(name) {
            Some(a) => a,
            None => panic!(
                "no listener `{name}`; the host logged these: {:?}",
                self.all_addrs
            ),
        }
    }

    /// The current value of the Prometheus sample `sample` (`name{labels}`) from the
    /// host's admin listener (the topology needs `admin: Some(...)`), if recorded.
    pub fn metric(&self, sample: &str) -> Option<f64> {
        metric_value(&http_get(self.addr("(admin)"), "/metrics"), sample)
    }

    /// Every listener's name and bound address (the first, for a listener with several).
    pub fn addrs(&self) -> &HashMap<String, SocketAddr> {
        &self.addrs
    }

    /// The host's process id (to send it signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The topology file the host was started with (inside [`Host::temp_dir`]).
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// This host's temporary directory (the `$TMP` of its topology).
    pub fn temp_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every stderr line so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.logs
            .buf
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stderr
            .clone()
    }

    /// Every stdout line so far (the host itself writes none while serving).
    pub fn stdout_lines(&self) -> Vec<String> {
        self.logs
            .buf
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stdout
            .clone()
    }

    /// The stderr lines that are JSON log records (fields at top level: `msg`, `level`,
    /// `handler`, ...), in order.
    pub fn json_logs(&self) -> Vec<Value> {
        self.stderr_lines()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Whether any stderr line contains `needle` (raw text, so it matches JSON keys,
    /// values and non-JSON lines alike).
    pub fn logs_contain(&self, needle: &str) -> bool {
        self.stderr_lines().iter().any(|l| l.contains(needle))
    }

    /// The JSON log records matching `pred`.
    pub fn logs_where(&self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.json_logs().into_iter().filter(|j| pred(j)).collect()
    }

    /// Wait up to `timeout` for a JSON log record matching `pred` (one already logged
    /// counts) and return it; `None` on timeout or if the host exited without one.
    pub fn wait_for_log(&self, pred: impl Fn(&Value) -> bool, timeout: Duration) -> Option<Value> {
        self.wait_for_log_until(pred, Instant::now() + timeout)
    }

    /// [`Host::wait_for_log`] that panics with the whole log on timeout: `what` says
    /// what was expected.
    pub fn expect_log(
        &self,
        what: &str,
        pred: impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Value {
        match self.wait_for_log(pred, timeout) {
            Some(j) => j,
            None => panic!(
                "no log line for {what} within {timeout:?}; the host logged:\n{}",
                self.stderr_lines().join("\n")
            ),
        }
    }

    /// Wait for the `n`-th (1-based) JSON record matching `pred`.
    pub fn wait_for_nth_log(
        &self,
        n: usize,
        pred: impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        self.wait_on_logs(deadline, |lines| {
            lines
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|j| pred(j))
                .nth(n.saturating_sub(1))
        })
    }

    fn wait_for_log_until(
        &self,
        pred: impl Fn(&Value) -> bool,
        deadline: Instant,
    ) -> Option<Value> {
        self.wait_on_logs(deadline, |lines| {
            lines
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|j| pred(j))
        })
    }

    /// Re-check `find` on the stderr lines whenever one arrives, until it finds
    /// something, the process closes stderr, or `deadline` passes.
    fn wait_on_logs<T>(
        &self,
        deadline: Instant,
        find: impl Fn(&[String]) -> Option<T>,
    ) -> Option<T> {
        let mut buf = self.logs.buf.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(found) = find(&buf.stderr) {
                return Some(found);
            }
            let now = Instant::now();
            if buf.closed || now >= deadline {
                return None;
            }
            buf = self
                .logs
                .changed
                .wait_timeout(buf, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Replace the topology file by `topology`, reload (SIGHUP), and wait until the
    /// host logs its `n`-th `reloaded` (1-based, counted from the start); panics with
    /// the log if it does not.
    pub fn reload_to(&self, topology: &str, n: usize) {
        std::fs::write(&self.config, topology).expect("write the topology");
        self.signal("HUP");
        if self
            .wait_for_nth_log(n, |j| j["msg"] == "reloaded", Duration::from_secs(20))
            .is_none()
        {
            panic!(
                "reload {n} not applied; the host logged:\n{}",
                self.stderr_lines().join("\n")
            );
        }
    }

    /// Send `signal` (e.g. `"TERM"`, `"INT"`, `"HUP"`) to the host with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill(1)");
        assert!(status.success(), "kill -{signal} {} failed", self.pid());
    }

    /// Whether the host process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Wait up to `timeout` for the host to exit; panics with its log if it does not.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for switchyard") {
                return status;
            }
            if Instant::now() >= deadline {
                panic!(
                    "switchyard did not exit within {timeout:?}; its log:\n{}",
                    self.stderr_lines().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Host {
    /// SIGKILL: a test that failed half-way must not leave a server behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- client helpers ---------------------------------------------------------------------

/// A UDP socket on the loopback address of `peer`'s family, ephemeral port.
fn udp_client_for(peer: SocketAddr) -> UdpSocket {
    let local: SocketAddr = if peer.is_ipv6() {
        "[::1]:0".parse().expect("v6 addr")
    } else {
        "127.0.0.1:0".parse().expect("v4 addr")
    };
    UdpSocket::bind(local).expect("bind a UDP client socket")
}

/// Send one datagram to `addr` and wait up to `timeout` for one reply; `None` if none
/// came (UDP: the request or the reply may be lost, or nobody answers).
pub fn try_udp_roundtrip(addr: SocketAddr, payload: &[u8], timeout: Duration) -> Option<Vec<u8>> {
    let sock = udp_client_for(addr);
    sock.connect(addr).expect("connect UDP client");
    sock.set_read_timeout(Some(timeout)).expect("set timeout");
    sock.send(payload).expect("send datagram");
    let mut buf = vec![0u8; 65_536];
    match sock.recv(&mut buf) {
        Ok(n) => {
            buf.truncate(n);
            Some(buf)
        }
        Err(_) => None,
    }
}

/// Send one datagram to `addr` and return the reply; panics after `timeout`.
pub fn udp_roundtrip(addr: SocketAddr, payload: &[u8], timeout: Duration) -> Vec<u8> {
    try_udp_roundtrip(addr, payload, timeout)
        .unwrap_or_else(|| panic!("no UDP reply from {addr} within {timeout:?}"))
}

/// [`try_udp_roundtrip`] retried `attempts` times, each waiting `per_try`: for a server
/// that may be busy restarting, where one lost datagram is not the point of the test.
pub fn udp_request(
    addr: SocketAddr,
    payload: &[u8],
    attempts: u32,
    per_try: Duration,
) -> Option<Vec<u8>> {
    (0..attempts).find_map(|_| try_udp_roundtrip(addr, payload, per_try))
}

/// Connect to `addr` within `timeout`, with `timeout` as the read and write timeout.
pub fn tcp_connect(addr: SocketAddr, timeout: Duration) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, timeout)
        .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
    s.set_read_timeout(Some(timeout)).expect("set read timeout");
    s.set_write_timeout(Some(timeout))
        .expect("set write timeout");
    s
}

/// Connect, write `payload`, shut down our write side, and read until the server
/// closes: the whole reply of a request/response exchange. Panics on a timeout.
pub fn tcp_roundtrip(addr: SocketAddr, payload: &[u8], timeout: Duration) -> Vec<u8> {
    let mut s = tcp_connect(addr, timeout);
    s.write_all(payload).expect("write request");
    s.shutdown(Shutdown::Write).expect("shut down write side");
    let mut out = Vec::new();
    s.read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("reading the reply from {addr}: {e}"));
    out
}

/// `GET path` over HTTP/1.0 (the admin endpoint): the whole response, head and body.
pub fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut s = tcp_connect(addr, Duration::from_secs(30));
    s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .expect("request");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("response");
    out
}

/// The value of the Prometheus sample `name{labels}` in a `/metrics` text, if present.
pub fn metric_value(metrics: &str, sample: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let rest = line.strip_prefix(sample)?.strip_prefix(' ')?;
        rest.trim().parse().ok()
    })
}

/// Write `path` to disk and evict it from the page cache, so the next read of it is
/// a cold one (needs a file system that honours `POSIX_FADV_DONTNEED`, as ext4 does).
pub fn evict_from_page_cache(path: &Path) {
    let file = std::fs::File::open(path).expect("open for eviction");
    file.sync_all().expect("fsync before eviction");
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).expect("fadvise");
}

/// Poll `cond` every 10 ms until it holds; panics with `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Lower-case hex sha256 of `data`, for checking transferred files.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---- plugins built outside cargo's workspace build -------------------------------------

/// The ABI header's directory, for compiling C plugins.
pub fn sdk_include_dir() -> PathBuf {
    repo_root().join("core/sdk/include")
}

/// Run `make -C examples/plugins/c-echo` (once per test process) and return the path of
/// `libswitchyard_c_echo.so`. `config/examples/echo-c.ron` names that path, so any test
/// validating it needs this first.
pub fn build_c_echo() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = repo_root().join("examples/plugins/c-echo");
            let mut cmd = Command::new("make");
            cmd.arg("-C").arg(&dir);
            let out = run_with_timeout(cmd, Duration::from_secs(120));
            assert!(
                out.status.success(),
                "make -C examples/plugins/c-echo failed (is a C compiler installed?):\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            must_exist(dir.join("libswitchyard_c_echo.so"), "the c-echo plugin")
        })
        .clone()
}

/// Compile C `source` into the shared library `dir/name` with the system `cc`, against
/// the ABI header. Tests use it to make deliberately broken plugins.
pub fn compile_c(dir: &Path, name: &str, source: &str) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).expect("write C source");
    let lib = dir.join(name);
    let mut cmd = Command::new("cc");
    cmd.args([
        "-std=c11", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared",
    ])
    .arg("-I")
    .arg(sdk_include_dir())
    .arg("-o")
    .arg(&lib)
    .arg(&src);
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "cc failed for {name}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lib
}

/// Build the third-party plugin crate `tests/external-plugin` (not a workspace member)
/// with plain `cargo build`, into `<target>/<subdir>`, with extra cargo `args` (e.g.
/// `--config profile.dev.panic="abort"`), and return its `.so`.
///
/// A separate target directory keeps it from contending with the workspace build's lock
/// and keeps the source tree clean. The build is incremental, so repeated runs are cheap.
pub fn build_external_plugin(subdir: &str, args: &[&str]) -> PathBuf {
    let key = format!("{subdir} {args:?}");
    built_once(key, || {
        cargo_build("tests/external-plugin", subdir, args, "switchyard_reverse")
    })
}

/// Build one variant of a plugin crate (`cargo build ARGS` in `crate_dir`, relative to
/// the repository root, into `<target>/<subdir>`) and return a copy of its library
/// `lib<lib>.so` at `<target>/<subdir>/<variant>/`, which no later build overwrites.
///
/// Why a copy: variants differ by cargo features, so they share one target directory
/// (dependencies built once) and the same output path; a test that serves one variant
/// and then reloads to another needs both files at once. The copy is renamed into
/// place, so a host that loaded an earlier copy keeps its own.
///
/// `crate_dir` may be `.` with `-p NAME` among `args`, for a workspace plugin built with
/// a test-only feature (the workspace's lock file, a target directory of its own).
pub fn build_plugin_variant(
    crate_dir: &str,
    subdir: &str,
    args: &[&str],
    lib: &str,
    variant: &str,
) -> PathBuf {
    let key = format!("{crate_dir} {subdir} {args:?} {variant}");
    built_once(key, || {
        let built = cargo_build(crate_dir, subdir, args, lib);
        let dir = target_root().join(subdir).join(variant);
        std::fs::create_dir_all(&dir).expect("create the variant directory");
        let file = built.file_name().expect("a library file name");
        let tmp = dir.join(format!(".{}.tmp", file.to_string_lossy()));
        std::fs::copy(&built, &tmp).expect("copy the built library");
        let copy = dir.join(file);
        std::fs::rename(&tmp, &copy).expect("rename the copy into place");
        copy
    })
}

/// Run `build` once per process and `key`; tests of one file run in parallel and share
/// builds, and one cargo at a time keeps a target directory's lock uncontended.
fn built_once(key: String, build: impl FnOnce() -> PathBuf) -> PathBuf {
    static BUILT: Mutex<Vec<(String, PathBuf)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, lib)) = built.iter().find(|(k, _)| *k == key) {
        return lib.clone();
    }
    let lib = build();
    built.push((key, lib.clone()));
    lib
}

/// Build `tests/external-plugin` into `<target>/subdir` with extra cargo `args`, and
/// return cargo's output whatever it is (for builds that must fail).
pub fn try_build_external_plugin(subdir: &str, args: &[&str]) -> Output {
    let cmd = cargo_command("tests/external-plugin", subdir, args);
    run_with_timeout(cmd, Duration::from_secs(600))
}

/// `cargo build ARGS` in `crate_dir` (relative to the repository root), into
/// `<target>/subdir`.
fn cargo_command(crate_dir: &str, subdir: &str, args: &[&str]) -> Command {
    let target = target_root().join(subdir);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .args(args)
        .current_dir(repo_root().join(crate_dir))
        .env("CARGO_TARGET_DIR", &target)
        // Flags meant for the workspace build must not leak into a third party's build.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET");
    cmd
}

fn cargo_build(crate_dir: &str, subdir: &str, args: &[&str], lib: &str) -> PathBuf {
    let target = target_root().join(subdir);
    let out = run_with_timeout(
        cargo_command(crate_dir, subdir, args),
        Duration::from_secs(600),
    );
    assert!(
        out.status.success(),
        "building {crate_dir} {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    must_exist(
        target
            .join("debug")
            .join(format!("lib{lib}.{}", std::env::consts::DLL_EXTENSION)),
        "the plugin library",
    )
}

/// A JSON log record as one line of text: the message, then every field but the
/// host's own (`ts`, `level`, `msg`, `handler`, `plugin`) as `key=value`, sorted by
/// key, a string quoted as Rust's `{:?}` quotes it when it holds a space, a quote or
/// `=`. Plugins' fields are JSON keys of their own; this gives a test one string to
/// search, as an operator's `grep` would.
pub fn log_text(j: &Value) -> String {
    let mut out = j["msg"].as_str().unwrap_or("").to_owned();
    let fields: BTreeMap<&String, &Value> = j
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !["ts", "level", "msg", "handler", "plugin"].contains(&k.as_str()))
                .collect()
        })
        .unwrap_or_default();
    for (k, v) in fields {
        let v = match v.as_str() {
            Some(s) if s.is_empty() || s.contains([' ', '"', '=']) => format!("{s:?}"),
            Some(s) => s.to_owned(),
            None => v.to_string(),
        };
        out.push_str(&format!(" {k}={v}"));
    }
    out
}

/// `len` bytes that do not repeat in any way a transfer could hide.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_abc() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn bin_dir_is_the_profile_dir() {
        // The unit-test executable lives in target/<profile>/deps too.
        let dir = bin_dir();
        assert!(dir.join("deps").is_dir(), "{}", dir.display());
        assert!(target_root().is_dir());
    }

    #[test]
    fn repo_root_holds_the_workspace() {
        assert!(repo_root().join("Cargo.toml").is_file());
        assert!(repo_root().join("core/sdk/include/switchyard.h").is_file());
    }

    #[test]
    fn run_with_timeout_collects_output_and_status() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2; exit 3"]);
        let out = run_with_timeout(cmd, Duration::from_secs(10));
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
    }

    #[test]
    #[should_panic(expected = "did not finish")]
    fn run_with_timeout_kills_a_hung_process() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        run_with_timeout(cmd, Duration::from_millis(200));
    }
}
