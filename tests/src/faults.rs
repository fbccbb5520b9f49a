//! Helpers for the fault-injection tests (`tests/tests/faults_*.rs`): a small tmpfs to
//! fill up, root-only preconditions, connections from chosen loopback addresses, and
//! checks that the server ended a connection or left no temp file behind.
//!
//! Tests that need root (mounting, switching users) call [`Tmpfs::mount`] or
//! [`require_root`]: without root they skip with a printed reason, except under CI
//! (see [`in_ci`]), where a missing precondition is a failure (CI runs as root).

use std::io::{ErrorKind, Read};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Whether this is CI, where a skipped precondition is a failure. CI systems spell it
/// differently (`CI=true`, `CI=1`, `CI=yes`), so any non-empty `CI` counts except an
/// explicit `false` or `0`: a check that silently stops running in CI is worse than one
/// that fails there by mistake.
pub fn in_ci() -> bool {
    ci_value_means_ci(std::env::var("CI").ok().as_deref())
}

fn ci_value_means_ci(value: Option<&str>) -> bool {
    match value.map(str::trim) {
        None | Some("") => false,
        Some(v) => !(v.eq_ignore_ascii_case("false") || v == "0"),
    }
}

/// Skip a test that cannot run its check here: print `skipped: reason` and return
/// `false`, or, under CI ([`in_ci`]), fail with the reason. The caller returns.
pub fn skip(reason: &str) -> bool {
    assert!(!in_ci(), "CI is set, so this cannot be skipped: {reason}");
    eprintln!("skipped: {reason}");
    false
}

/// A program on `PATH`, or `None` (skip, with the reason printed) when it is not
/// installed; under CI a missing program is a failure.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        skip(&format!("{name} is not installed"));
    }
    found
}

/// Whether the test process runs as root; otherwise skips (or fails in CI) with `why`.
pub fn require_root(why: &str) -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false);
    root || skip(&format!("needs root to {why}"))
}

/// A tmpfs of a given size mounted on a fresh temp directory, unmounted on drop (drop
/// it after the host using it: a busy mount is detached lazily).
#[derive(Debug)]
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mount a tmpfs of `size` (as `mount -o size=`, e.g. `"2m"`); `None` when the test
    /// must be skipped (not root, or mount refused, outside CI).
    pub fn mount(size: &str) -> Option<Tmpfs> {
        if !require_root("mount a tmpfs") {
            return None;
        }
        let dir = tempfile::tempdir().expect("a mount point");
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .expect("run mount(8)");
        if !out.status.success() {
            skip(&format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            return None;
        }
        Some(Tmpfs { dir })
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The mount point, as topology text.
    pub fn text(&self) -> String {
        self.path().to_str().expect("UTF-8 temp path").to_owned()
    }

    /// Fill the file system with `name` (at the mount point) until it is full, then
    /// shrink that file so that about `leave` bytes are free again: the next writer runs
    /// out of space soon, whatever was free before.
    pub fn fill_leaving(&self, name: &str, leave: u64) -> PathBuf {
        use std::io::Write;
        let path = self.path().join(name);
        let mut f = std::fs::File::create(&path).expect("create the filler");
        let chunk = vec![0x5au8; 64 * 1024];
        let mut written = 0u64;
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
        f.set_len(written.saturating_sub(leave))
            .expect("shrink the filler");
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Every file below `dir` (not directories), as paths relative to it, sorted: hidden
/// temps and side files included, in subdirectories too.
pub fn files_below(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).expect("below base");
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The storage layer's temp files below `dir` (names starting `.sy-tmp.`).
pub fn temps_below(dir: &Path) -> Vec<String> {
    files_below(dir)
        .into_iter()
        .filter(|p| {
            Path::new(p)
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".sy-tmp."))
        })
        .collect()
}

/// Deterministic bytes that do not compress or repeat within a block.
pub fn pattern(n: usize, seed: u32) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// A TCP connection to `addr` from the loopback address `from` (e.g. `127.0.0.2`, to be
/// another client address), with `timeout` for connecting, reading and writing.
pub fn tcp_connect_from(from: IpAddr, addr: SocketAddr, timeout: Duration) -> TcpStream {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )
    .expect("a TCP socket");
    sock.bind(&SocketAddr::new(from, 0).into())
        .unwrap_or_else(|e| panic!("bind {from}: {e}"));
    sock.connect_timeout(&addr.into(), timeout)
        .unwrap_or_else(|e| panic!("connect {from} -> {addr}: {e}"));
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(timeout)).expect("read timeout");
    s.set_write_timeout(Some(timeout)).expect("write timeout");
    s
}

/// Read from `s` until the server ends the connection (EOF or reset) and return how many
/// bytes came first. Panics if the connection is still open after `within`: the server
/// was expected to end it.
pub fn read_until_closed(s: &mut TcpStream, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "the server did not end the connection within {within:?} ({total} bytes read)"
        );
        s.set_read_timeout(Some(left)).expect("read timeout");
        match s.read(&mut buf) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return total,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("reading until the server closes: {e}"),
        }
    }
}

/// The files process `pid` holds open (targets of `/proc/<pid>/fd/*`): to see that a
/// server let go of a file, not just stopped talking about it.
pub fn open_files(pid: u32) -> Vec<PathBuf> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Topology text serving files, bulk and tftp with their roots at `<root>/files`,
/// `<root>/bulk` (uploads in `incoming/`) and `<root>/tftp`, listeners `files_tcp`,
/// `bulk_tcp` and `tftp_udp` on loopback port 0, uploads allowed, every free-space
/// reserve off (the disk itself is the limit) and bulk's resume off. `top` goes first
/// inside the topology (e.g. `user: Some("nobody"),`), `""` for nothing.
pub fn storage_trio(root: &str, top: &str) -> String {
    format!(
        r#"(
    {top}
    listeners: {{
        "files_tcp": (kind: tcp, bind: "127.0.0.1:0"),
        "bulk_tcp": (kind: tcp, bind: "127.0.0.1:0"),
        "tftp_udp": (kind: udp, bind: "127.0.0.1:0"),
    }},
    handlers: {{
        "files": (plugin: "files", root: Some("{root}/files"), config: (reserve_free_bytes: 0)),
        "bulk": (plugin: "bulk", root: Some("{root}/bulk"), create_dirs: ["incoming"],
                 config: (reserve_free_bytes: 0, resume: false)),
        "tftp": (plugin: "tftp", root: Some("{root}/tftp"),
                 config: (allow_create: true, reserve_free_bytes: 0)),
    }},
    routes: [
        (from: "files_tcp", to: "files"),
        (from: "bulk_tcp", to: "bulk"),
        (from: "tftp_udp", to: "tftp"),
    ],
)"#
    )
}

/// A directory that outlives one host, so a second host can be started on the same
/// storage root (crash and restart tests). Deleted on drop.
#[derive(Debug)]
pub struct SharedDir(tempfile::TempDir);

impl SharedDir {
    /// A fresh empty directory.
    pub fn new() -> SharedDir {
        SharedDir(tempfile::tempdir().expect("a temp dir"))
    }

    /// `dir/rel`.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.0.path().join(rel)
    }

    /// The directory, as topology text (absolute, UTF-8).
    pub fn text(&self) -> String {
        self.0.path().to_str().expect("UTF-8 temp path").to_owned()
    }
}

impl Default for SharedDir {
    fn default() -> Self {
        SharedDir::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_below_lists_nested_and_hidden_files_and_temps_picks_the_temps() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("a"), b"").unwrap();
        std::fs::write(d.path().join("sub/.sy-tmp.1.2.3"), b"").unwrap();
        assert_eq!(files_below(d.path()), ["a", "sub/.sy-tmp.1.2.3"]);
        assert_eq!(temps_below(d.path()), ["sub/.sy-tmp.1.2.3"]);
    }

    #[test]
    fn any_non_empty_ci_but_false_or_0_is_ci() {
        for v in ["true", "1", "yes", "TRUE", "gitlab"] {
            assert!(ci_value_means_ci(Some(v)), "{v}");
        }
        for v in [
            None,
            Some(""),
            Some(" "),
            Some("false"),
            Some("False"),
            Some("0"),
        ] {
            assert!(!ci_value_means_ci(v), "{v:?}");
        }
    }

    #[test]
    fn pattern_is_deterministic_and_seeded() {
        assert_eq!(pattern(100, 1), pattern(100, 1));
        assert_ne!(pattern(100, 1), pattern(100, 2));
    }
}
