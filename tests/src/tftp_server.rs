//! A host serving one TFTP handler, for the TFTP end-to-end tests (`tftp.rs`,
//! `tftp_names.rs`): its root, files put there, the summary line of a transfer; and
//! running a third-party client to completion.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::{Host, log_text, run_with_timeout, sha256_hex};

/// How long a transfer or a client may take on a loaded test machine.
pub const WAIT: Duration = Duration::from_secs(60);

/// A host serving one tftp handler with `config`, rooted at `$TMP/data`.
#[derive(Debug)]
pub struct Server {
    pub host: Host,
    pub addr: SocketAddr,
}

impl Server {
    pub fn start(config: &str) -> Server {
        Server::start_on("127.0.0.1:0", config)
    }

    pub fn start_on(bind: &str, config: &str) -> Server {
        Server::start_with(bind, "", config)
    }

    /// With `handler_fields` added to the handler (e.g. `symlinks: refuse,`).
    pub fn start_with(bind: &str, handler_fields: &str, config: &str) -> Server {
        // At `debug`: the tests read the plugin's request lines, which a request that
        // went as asked logs at that level (at `info` its record is the access log's
        // line: docs/decisions/access-log.md).
        let host = Host::builder(&format!(
            r#"(
    admin: Some("127.0.0.1:0"),
    listeners: {{ "tftp_udp": (kind: udp, bind: "{bind}") }},
    handlers: {{ "tftp": (plugin: "tftp", root: Some("$TMP/data"), {handler_fields} config: ({config})) }},
    routes: [ (from: "tftp_udp", to: "tftp") ],
)"#
        ))
        .log_level("debug")
        .start();
        let addr = host.addr("tftp_udp");
        let server = Server { host, addr };
        std::fs::create_dir_all(server.root()).unwrap();
        server
    }

    pub fn root(&self) -> PathBuf {
        self.host.temp_dir().join("data")
    }

    /// Every name in the root, hidden temp files included.
    pub fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.root())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    pub fn put_file(&self, name: &str, data: &[u8]) {
        std::fs::write(self.root().join(name), data).unwrap();
    }

    pub fn sha(&self, name: &str) -> String {
        sha256_hex(&std::fs::read(self.root().join(name)).unwrap())
    }

    /// Wait for the summary line of a transfer of `file` with `result`.
    /// `result` is the outcome, optionally followed by ` reason=...` as logged.
    pub fn expect_transfer(&self, file: &str, result: &str) -> String {
        let (outcome, reason) = match result.split_once(" reason=") {
            Some((o, r)) => (o, Some(format!("reason={r}"))),
            None => (result, None),
        };
        let line = self.host.expect_log(
            &format!("transfer of {file} with result={result}"),
            |j| {
                j["msg"] == "transfer"
                    && j["file"] == file
                    && j["result"] == outcome
                    && reason.as_ref().is_none_or(|r| log_text(j).contains(r))
            },
            WAIT,
        );
        log_text(&line)
    }
}

/// Run a client command to completion (bounded); panics with its output on failure.
pub fn run_ok(mut cmd: Command) {
    let shown = format!("{cmd:?}");
    cmd.current_dir(std::env::temp_dir());
    let out = run_with_timeout(cmd, WAIT);
    assert!(
        out.status.success(),
        "{shown} failed ({:?}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
