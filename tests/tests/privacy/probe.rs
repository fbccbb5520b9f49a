//! Asking the serving plugins for a file every way a peer could: TFTP (raw packets,
//! curl, tftp-hpa when installed), files v1 `1:NAME`, files v2 `GET` and `LIST`.
//!
//! Each fetch returns what the peer received, so a test can look for a secret in it;
//! a `LIST` returns the names it showed.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use switchyard_e2e::faults::tool;
use switchyard_e2e::files_wire::V2;
use switchyard_e2e::{tcp_connect, tftp_wire};

/// Every way to ask, by name, and what came back.
pub type Answers = Vec<(String, Vec<u8>)>;

/// The TFTP and files listeners of one host.
pub struct Probe {
    pub tftp: SocketAddr,
    pub files: SocketAddr,
}

impl Probe {
    /// Fetch `path` over every client and protocol; `(how, bytes received)`.
    pub fn fetch_all(&self, path: &str) -> Answers {
        let mut out = vec![
            (format!("tftp RRQ {path}"), self.tftp_raw(path)),
            (format!("files v1 1:{path}"), self.files_v1(path)),
            (format!("files v2 GET {path}"), self.files_v2_get(path).1),
        ];
        if let Some(curl) = tool("curl") {
            out.push((format!("curl tftp {path}"), self.curl(&curl, path)));
        }
        if let Some(tftp) = tool("tftp") {
            out.push((format!("tftp-hpa get {path}"), self.tftp_hpa(&tftp, path)));
        }
        out
    }

    /// A raw RRQ: the whole file when DATA comes back, the ERROR packet otherwise.
    pub fn tftp_raw(&self, path: &str) -> Vec<u8> {
        let sock = tftp_wire::client_socket(self.tftp);
        sock.send_to(&tftp_wire::rrq(path, "octet", &[]), self.tftp)
            .unwrap();
        let (first, tid) = tftp_wire::recv(&sock);
        if first.starts_with(&[0, 3]) {
            tftp_wire::finish_raw_download(&sock, first, tid)
        } else {
            first
        }
    }

    /// curl's TFTP client (`--path-as-is`, so `..` reaches the server as written).
    fn curl(&self, curl: &Path, path: &str) -> Vec<u8> {
        let out = Command::new(curl)
            .args(["-s", "--path-as-is", "--max-time", "20"])
            .arg(format!("tftp://{}/{path}", self.tftp))
            .output()
            .expect("run curl");
        out.stdout
    }

    /// tftp-hpa, into a scratch file (absent when the server refused).
    fn tftp_hpa(&self, tftp: &Path, path: &str) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let local: PathBuf = dir.path().join("got");
        let _ = Command::new(tftp)
            .args(["127.0.0.1", &self.tftp.port().to_string(), "-m", "binary"])
            .args(["-c", "get", path])
            .arg(&local)
            .output()
            .expect("run tftp");
        std::fs::read(&local).unwrap_or_default()
    }

    /// files v1 `1:NAME`: everything the server sends until it closes.
    pub fn files_v1(&self, path: &str) -> Vec<u8> {
        let mut s = tcp_connect(self.files, Duration::from_secs(20));
        s.write_all(format!("1:{path}\n").as_bytes()).unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        got
    }

    /// files v2 `GET`: the reply line and the body.
    pub fn files_v2_get(&self, path: &str) -> (String, Vec<u8>) {
        V2::open(self.files).get(path)
    }

    /// files v2 `LIST dir`: the reply line and the names listed.
    pub fn files_v2_list(&self, dir: &str) -> (String, Vec<String>) {
        let mut c = V2::open(self.files);
        let head = c.ask(format!("LIST {dir}").trim_end());
        let shown: usize = match head.strip_prefix("OK ") {
            Some(rest) => rest.split(' ').next().unwrap().parse().unwrap(),
            None => 0,
        };
        let names = (0..shown)
            .map(|_| c.line().rsplit(' ').next().unwrap().to_owned())
            .collect();
        (head, names)
    }
}

/// Every file under `dir` whose content contains `marker`, relative to `dir`.
pub fn files_containing(dir: &Path, marker: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                todo.push(path);
            } else if std::fs::read(&path)
                .is_ok_and(|b| b.windows(marker.len()).any(|w| w == marker))
            {
                found.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    found
}

/// The names a peer might try for `rel` (a path under the test's temp dir): every
/// suffix (`state/audit/t.jsonl`, `audit/t.jsonl`, `t.jsonl`), and the whole path one
/// level up from a served root (`../state/audit/t.jsonl`).
pub fn names_to_try(rel: &Path) -> Vec<String> {
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let mut names: Vec<String> = (0..parts.len()).map(|i| parts[i..].join("/")).collect();
    names.push(format!("../{}", parts.join("/")));
    names
}
