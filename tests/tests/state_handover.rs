//! State handed over across a reload (issue #16 part B), end to end: the real host,
//! plugins swapped under it by SIGHUP. The chat's case is `state_handover_chat.rs`.
//!
//! - A third party's key/value store (`tests/external-plugin/kv`, built here in three
//!   variants by cargo feature) keeps its keys and its open TCP connections, even a
//!   half-sent line, when its `.so` is swapped for a build that migrates the state; a
//!   build that refuses the old state starts fresh, the host logs the refusal, and the
//!   open connection goes on, presented to the new instance as a new one; a store that
//!   cannot quiesce keeps its sessions and the new build starts fresh.
//! - Each way a handover can fail (nothing handed over, `export_state` or
//!   `import_state` panicking) falls back, and the new instance serves (the test-only
//!   `faulty` plugin does each on command).
//!
//! Builds go to `<target>/handover-plugins` (variants copied apart, see
//! `build_plugin_variant`); loopback only, port 0, bounded waits.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use switchyard_e2e::{Host, build_plugin_variant, log_text, tcp_connect, udp_roundtrip};

const WAIT: Duration = Duration::from_secs(10);
const PLUGINS: &str = "handover-plugins";

// ---- the key/value store ------------------------------------------------------------

/// A variant of the kv plugin: `features` empty for the default build (state version 1).
fn kv_build(variant: &str, features: &str) -> PathBuf {
    let mut args = Vec::new();
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

    host.reload_to(&kv_topology(&v2), 1);
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

    host.reload_to(&kv_topology(&v3), 1);
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

/// A client that never reads while the store answers it megabytes: its output queue
/// never empties, so the old instance cannot quiesce. Past the limit (5 s) the host
/// gives up on the handover: the old instance keeps that connection (still answered),
/// the new one starts fresh.
#[test]
fn kv_that_cannot_quiesce_keeps_its_sessions_and_the_new_build_starts_fresh() {
    let v1 = kv_build("kv-v1", "");
    let v2 = kv_build("kv-v2", "state-v2");
    let host = Host::start(&kv_topology(&v1));
    let addr = host.addr("t");
    let mut stuck = Client::connect(addr);
    assert_eq!(stuck.ask(&format!("SET big {}", "x".repeat(4000))), "OK");
    stuck.send(&"GET big\n".repeat(10_000)); // 40 MB of answers, none read yet
    std::thread::sleep(Duration::from_millis(300));

    host.reload_to(&kv_topology(&v2), 1);
    let j = host.expect_log(
        "the handover given up",
        |j| {
            j["msg"]
                .as_str()
                .is_some_and(|m| m.contains("did not quiesce in time"))
        },
        Duration::from_secs(15),
    );
    assert_eq!(j["level"], "warn", "{j}");
    assert!(log_text(&j).contains("writes queued"), "{j}");
    let mut fresh = Client::connect(addr);
    assert_eq!(fresh.ask("INFO"), "INFO state_version=2");
    assert_eq!(
        fresh.ask("GET big"),
        "NOT_FOUND",
        "the new instance started fresh"
    );
    // The old instance still serves the connection it kept.
    assert!(stuck.reply().starts_with("VALUE xxxx"));
    assert!(
        host.logs_where(|j| j["msg"] == "state handed over")
            .is_empty()
    );
}

// ---- the fallbacks, with the test-only `faulty` plugin ------------------------------

fn faulty_topology(config: &str) -> String {
    format!(
        r#"(
    drain_timeout_secs: 30,
    listeners: {{ "u": (kind: udp, bind: "127.0.0.1:0"), "t": (kind: tcp, bind: "127.0.0.1:0") }},
    handlers: {{ "f": (plugin: "faulty", config: {config}) }},
    routes: [ (from: "u", to: "f"), (from: "t", to: "f") ],
)"#
    )
}

#[test]
fn each_way_a_handover_can_fail_falls_back_and_the_new_instance_serves() {
    let host = Host::start(&faulty_topology("(handover: nothing)"));
    let (u, t) = (host.addr("u"), host.addr("t"));
    // Commands the answering instance handled before this one.
    let count = || String::from_utf8(udp_roundtrip(u, b"count", WAIT)).unwrap();
    let log = |what: &str, starts: &str| {
        let j = host.expect_log(
            what,
            |j| j["msg"].as_str().is_some_and(|m| m.starts_with(starts)),
            WAIT,
        );
        j["level"].as_str().unwrap_or_default().to_owned()
    };
    let mut kept = Client::connect(t);
    assert_eq!(kept.ask("one"), "one");

    // Nothing handed over: the old instance keeps its connection and retires.
    host.reload_to(&faulty_topology("(handover: panic)"), 1);
    let level = log(
        "nothing handed over",
        "state not handed over: the old instance handed nothing over",
    );
    assert_eq!(level, "info");
    assert_eq!(count(), "count 0", "the new instance started fresh");
    assert_eq!(kept.ask("two"), "two", "still served by the old instance");
    let mut moved = Client::connect(t);
    assert_eq!(moved.ask("three"), "three");

    // export_state panics: the new instance starts fresh, the connections move as new.
    host.reload_to(&faulty_topology("(handover: state)"), 2);
    let level = log(
        "the export panic",
        "state not handed over: export_state panicked",
    );
    assert_eq!(level, "warn");
    assert_eq!(count(), "count 0");
    assert_eq!(moved.ask("four"), "four", "moved, presented as new");

    // import_state panics: a fresh instance takes over, the connection as new again.
    let config = "(handover: state, panic_in_import: true)";
    host.reload_to(&faulty_topology(config), 3);
    let level = log(
        "the import panic",
        "state handover refused: import_state panicked",
    );
    assert_eq!(level, "warn");
    assert_eq!(count(), "count 0");
    assert_eq!(moved.ask("five"), "five");

    // And when both sides do their part, the counter moves with the connection.
    host.reload_to(&faulty_topology("(handover: state)"), 4);
    log("the handover", "state handed over");
    assert_eq!(count(), "count 2", "count and five were handled before");
    assert_eq!(moved.ask("six"), "six");
    assert_eq!(
        kept.ask("seven"),
        "seven",
        "the first instance still drains"
    );
}

/// The kv plugin keeps its state per connection and opts in (`PANIC_COSTS_CONNECTION`):
/// a panic on one connection's line closes that connection only; the instance, its keys
/// and the other connections go on (without the opt-in, every connection and key would
/// go with the recreated instance).
#[test]
fn a_panic_on_one_kv_connection_costs_only_that_connection() {
    let lib = kv_build("v1", "");
    let host = Host::start(&kv_topology(&lib));
    let mut calm = Client::connect(host.addr("t"));
    assert_eq!(calm.ask("SET k v"), "OK");
    let mut crashing = Client::connect(host.addr("t"));
    assert_eq!(crashing.ask("GET k"), "VALUE v");
    crashing.send("PANIC\n");
    let mut rest = String::new();
    let _ = crashing.reader.read_line(&mut rest);
    assert_eq!(
        rest, "",
        "the panicking connection is closed, with no answer"
    );
    host.expect_log(
        "the connection-only panic",
        |j| j["msg"] == "plugin panicked on a connection; only it is closed",
        WAIT,
    );
    assert_eq!(calm.ask("GET k"), "VALUE v", "same instance, same keys");
    let mut fresh = Client::connect(host.addr("t"));
    assert_eq!(fresh.ask("KEYS"), "KEYS k");
}
