//! State handed over across a reload (issue #16 part B), end to end: the real host,
//! plugins swapped under it by SIGHUP.
//!
//! - A third party's key/value store (`tests/external-plugin/kv`, built here in three
//!   variants by cargo feature) keeps its keys and its open TCP connections, even a
//!   half-sent line, when its `.so` is swapped for a build that migrates the state; a
//!   build that refuses the old state starts fresh, the host logs the refusal, and the
//!   open connection goes on, presented to the new instance as a new one.
//! - The chat keeps a room member, a logged-in agent holding a visitor, and a waiting
//!   visitor across a reload that changes one config value, and across a swap to a
//!   test build with state version 2 (`--features state-v2-test`), which migrates.
//!
//! Builds go to `<target>/handover-plugins` (variants copied apart, see
//! `build_plugin_variant`); loopback only, port 0, bounded waits.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use switchyard_e2e::{Host, build_plugin_variant, log_text, tcp_connect};

const WAIT: Duration = Duration::from_secs(10);
const PLUGINS: &str = "handover-plugins";

// ---- the key/value store ------------------------------------------------------------

/// A variant of the kv plugin: `features` empty for the default build (state version 1).
fn kv_build(variant: &str, features: &str) -> PathBuf {
    let mut args = vec!["--offline"];
    if !features.is_empty() {
        args.extend(["--features", features]);
    }
    build_plugin_variant(
        "tests/external-plugin/kv",
        PLUGINS,
        &args,
        "switchyard_kv",
        variant,
    )
}

fn kv_topology(lib: &Path) -> String {
    format!(
        r#"(
    plugins: {{ "kv": "{}" }},
    listeners: {{ "t": (kind: tcp, bind: "127.0.0.1:0") }},
    handlers: {{ "kv": (plugin: "kv") }},
    routes: [ (from: "t", to: "kv") ],
)"#,
        lib.display()
    )
}

/// A line client of the kv store.
struct Client {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = tcp_connect(addr, WAIT);
        let reader = BufReader::new(stream.try_clone().unwrap());
        Client { stream, reader }
    }

    /// Send `bytes` as they are (a line, or part of one).
    fn send(&mut self, bytes: &str) {
        self.stream.write_all(bytes.as_bytes()).unwrap();
    }

    /// The next reply line, without its newline.
    fn reply(&mut self) -> String {
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("no reply: {e}"));
        assert!(line.ends_with('\n'), "connection closed: got {line:?}");
        line.trim_end().to_owned()
    }

    fn ask(&mut self, line: &str) -> String {
        self.send(&format!("{line}\n"));
        self.reply()
    }
}

/// Swap the topology file for `topology` and reload; wait for the answer.
fn reload(host: &Host, topology: &str, nth: usize) {
    std::fs::write(host.config_path(), topology).unwrap();
    host.signal("HUP");
    host.wait_for_nth_log(nth, |j| j["msg"] == "reloaded", WAIT)
        .unwrap_or_else(|| {
            panic!(
                "reload {nth} not applied:\n{}",
                host.stderr_lines().join("\n")
            )
        });
}

fn handed_over(host: &Host) -> Value {
    host.expect_log(
        "the state handed over",
        |j| j["msg"] == "state handed over",
        WAIT,
    )
}

#[test]
fn kv_keeps_its_keys_and_open_connections_across_a_so_swap() {
    let v1 = kv_build("kv-v1", "");
    let v2 = kv_build("kv-v2", "state-v2");
    let host = Host::start(&kv_topology(&v1));
    let addr = host.addr("t");
    let mut talker = Client::connect(addr);
    let mut idle = Client::connect(addr);
    assert_eq!(talker.ask("SET a 1"), "OK");
    assert_eq!(talker.ask("SET b two words"), "OK");
    assert_eq!(talker.ask("INFO"), "INFO state_version=1");
    assert_eq!(idle.ask("GET a"), "VALUE 1");
    // Half a line before the reload; its end after.
    talker.send("GET b");
    std::thread::sleep(Duration::from_millis(100));

    reload(&host, &kv_topology(&v2), 1);
    let j = handed_over(&host);
    assert_eq!(j["level"], "info", "{j}");
    assert_eq!(
        (j["version"].as_u64(), j["connections"].as_u64()),
        (Some(1), Some(2)),
        "{j}"
    );
    assert!(j["bytes"].as_u64().unwrap() > 0, "{j}");

    talker.send("\n");
    assert_eq!(talker.reply(), "VALUE two words", "the half line moved too");
    assert_eq!(
        talker.ask("INFO"),
        "INFO state_version=2",
        "the new build serves"
    );
    assert_eq!(idle.ask("KEYS"), "KEYS a b");
    let mut newcomer = Client::connect(addr);
    assert_eq!(newcomer.ask("SET c 3"), "OK");
    assert_eq!(talker.ask("KEYS"), "KEYS a b c");
    assert!(
        host.logs_where(|j| j["level"] == "warn" || j["level"] == "error")
            .is_empty(),
        "{}",
        host.stderr_lines().join("\n")
    );
}

#[test]
fn kv_build_refusing_the_old_state_starts_fresh_and_keeps_the_connection() {
    let v1 = kv_build("kv-v1", "");
    let v3 = kv_build("kv-v3", "refuse-old-state");
    let host = Host::start(&kv_topology(&v1));
    let mut client = Client::connect(host.addr("t"));
    assert_eq!(client.ask("SET a 1"), "OK");

    reload(&host, &kv_topology(&v3), 1);
    let j = host.expect_log(
        "the refusal",
        |j| {
            j["msg"]
                .as_str()
                .is_some_and(|m| m.starts_with("state handover refused"))
        },
        WAIT,
    );
    assert_eq!(j["level"], "warn", "{j}");
    let text = log_text(&j);
    assert!(
        text.contains("state version 1 is older than this build takes"),
        "the plugin's reason: {text}"
    );
    assert_eq!(j["connections"].as_u64(), Some(1), "{j}");

    // The same connection, now the fresh instance's.
    assert_eq!(client.ask("GET a"), "NOT_FOUND", "the keys are gone");
    assert_eq!(client.ask("INFO"), "INFO state_version=3");
    assert_eq!(client.ask("SET z 9"), "OK");
    assert_eq!(client.ask("KEYS"), "KEYS z");
    assert!(
        host.logs_where(|j| j["msg"] == "state handed over")
            .is_empty()
    );
}
