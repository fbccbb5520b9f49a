//! The chat's state handed over across reloads (issue #16 part B), end to end: a room
//! member, a logged-in agent holding a visitor, and that visitor waiting keep `/who`,
//! `/waiting` and the hold across a reload that changes one config value, across a
//! swap of the chat's `.so` for a test build with state version 2
//! (`--features state-v2-test`, which migrates version 1), and across a reload of that
//! build (version 2 to itself). Pings sent while the instances change over are all
//! answered. The other cases (a third party's plugin, the fallbacks):
//! `state_handover.rs`.
//!
//! The version 2 build goes to `<target>/handover-plugins` (see `build_plugin_variant`);
//! loopback only, port 0, bounded waits.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::Duration;

use switchyard_e2e::{Host, build_plugin_variant};

const WAIT: Duration = Duration::from_secs(10);
const PLUGINS: &str = "handover-plugins";

const SECRET: &str = "e2e-secret-123";

/// The chat, from `lib` (`None`: the workspace build, found by name).
fn chat_topology(lib: Option<&Path>, max_datagram: usize) -> String {
    let plugins = lib.map_or(String::new(), |l| {
        format!(r#"plugins: {{ "chat": "{}" }},"#, l.display())
    });
    format!(
        r#"(
    {plugins}
    listeners: {{ "chat_udp": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{ "chat": (plugin: "chat", config: (agent_secret: Some("{SECRET}"), max_datagram: {max_datagram})) }},
    routes: [ (from: "chat_udp", to: "chat") ],
)"#
    )
}

/// One chat session: its own UDP socket, talking to the chat listener.
struct Session {
    sock: UdpSocket,
}

impl Session {
    fn new(server: SocketAddr) -> Session {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.connect(server).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Session { sock }
    }

    fn send(&self, text: &str) {
        self.sock.send(text.as_bytes()).unwrap();
    }

    /// The first datagram that `wanted` accepts (others are skipped), within WAIT.
    fn expect(&self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + WAIT;
        let mut seen = Vec::new();
        let mut buf = [0u8; 65536];
        while std::time::Instant::now() < deadline {
            if let Ok(n) = self.sock.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                if wanted(&text) {
                    return text;
                }
                seen.push(text);
            }
        }
        panic!("no datagram for {what} within {WAIT:?}; got {seen:?}");
    }

    fn ask(&self, text: &str, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        self.send(text);
        self.expect(what, wanted)
    }
}

/// A room member, an agent holding a visitor, and that visitor, waiting.
struct Desk {
    member: Session,
    agent: Session,
    visitor: Session,
}

impl Desk {
    fn open(server: SocketAddr) -> Desk {
        let desk = Desk {
            member: Session::new(server),
            agent: Session::new(server),
            visitor: Session::new(server),
        };
        desk.member.ask("/nick alice", "the nick", |l| {
            l.ends_with("now known as alice")
        });
        desk.member
            .ask("/join lobby", "the join", |l| l.contains("joined #lobby"));
        desk.agent
            .ask(&format!("/agent {SECRET} bob"), "the welcome", |l| {
                l.starts_with("* welcome bob")
            });
        desk.visitor.send("help me please");
        desk.agent
            .expect("the visitor's line", |l| l == "[v3] help me please");
        desk.agent
            .ask("/take v3", "the take", |l| l == "* bob took v3");
        desk
    }

    /// `/who`, `/waiting` and the agent's hold are as `open` left them. The agent's
    /// answer takes the visitor off the waiting list, so the visitor asks again after
    /// it (the same text): the desk is left as it was found.
    fn check(&self, stage: &str) {
        let who = self
            .member
            .ask("/who", "the members", |l| l.starts_with("* #"));
        assert_eq!(who, "* #lobby (1): alice", "{stage}");
        let waiting = self
            .agent
            .ask("/waiting", "the waiting list", |l| l.contains("waiting"));
        assert!(
            waiting.starts_with("* 1 waiting\n  v3 ")
                && waiting.ends_with(" held by bob: help me please"),
            "{stage}: {waiting:?}"
        );
        let line = format!("still here ({stage})");
        self.agent.send(&line);
        self.visitor
            .expect("the held visitor's answer", |l| l == line);
        self.agent
            .expect("the confirmation", |l| l == "* sent to v3");
        self.visitor.send("help me please");
        self.agent.expect("the visitor's line, to its holder", |l| {
            l == "[v3] help me please"
        });
    }
}

#[test]
fn chat_keeps_rooms_agents_and_waiting_visitors_across_reloads() {
    let v2 = build_plugin_variant(
        ".",
        PLUGINS,
        &["-p", "switchyard-chat", "--features", "state-v2-test"],
        "switchyard_chat",
        "chat-v2",
    );
    let host = Host::start(&chat_topology(None, 1024));
    let desk = Desk::open(host.addr("chat_udp"));
    desk.check("before any reload");

    // One config value changed: a new instance of the same build. Pings sent while
    // the instances change over are all answered, by one or the other.
    std::fs::write(host.config_path(), chat_topology(None, 512)).unwrap();
    host.signal("HUP");
    for _ in 0..20 {
        desk.member.send("/ping");
    }
    for n in 0..20 {
        desk.member
            .expect(&format!("pong {n} of 20"), |l| l == "* pong");
    }
    let j = host.wait_for_nth_log(1, |j| j["msg"] == "state handed over", WAIT);
    assert_eq!(j.map(|j| j["version"].clone()), Some(1.into()));
    desk.check("after a config change");
    let long = "x".repeat(600);
    desk.member.ask(&long, "the new limit", |l| {
        l == "! message too long: 600 bytes, at most 512"
    });

    // The `.so` swapped for a build with state version 2: it migrates version 1...
    host.reload_to(&chat_topology(Some(&v2), 512), 2);
    let j = host.wait_for_nth_log(2, |j| j["msg"] == "state handed over", WAIT);
    assert_eq!(j.map(|j| j["version"].clone()), Some(1.into()));
    desk.check("after the swap to state version 2");

    // ...and hands over version 2 to itself.
    host.reload_to(&chat_topology(Some(&v2), 700), 3);
    let j = host.wait_for_nth_log(3, |j| j["msg"] == "state handed over", WAIT);
    assert_eq!(j.map(|j| j["version"].clone()), Some(2.into()));
    desk.check("after a reload of the version 2 build");
    assert!(
        host.logs_where(|j| j["level"] == "warn" || j["level"] == "error")
            .is_empty(),
        "{}",
        host.stderr_lines().join("\n")
    );
}
