//! End-to-end tests of the chat and audit plugins against the real `switchyard`
//! binary: the seed's UDP chat client driven through stdin (auto-reply and agent
//! answers), agent answers reaching the right visitor among several, room fan-out
//! surviving a dead member, malformed datagrams answered while the server keeps
//! serving, and the audit transcript of it all (`chat.messages` -> `audit.events`).
//!
//! Loopback only, port 0, bounded waits; hosts come from the shared harness
//! (`switchyard_e2e::Host`), so `cargo build --workspace` first.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use switchyard_e2e::faults::skip;
use switchyard_e2e::{Host, bin_dir};

const WAIT: Duration = Duration::from_secs(20);
const SECRET: &str = "e2e-secret-123";
const AUTO: &str = "AUTO: no agent online";

/// The seed's client (`a_udp_chat_client.py`, seed 1.7) verbatim, so the test needs
/// nothing outside the repository.
const SEED_CLIENT: &str = r#"# Seed 1.7 (UDP chat client). Only change: host/port (env SEED_PORT, default 46000) + import os.
import os
from socket import *
client = socket(AF_INET, SOCK_DGRAM)
server_host_port = ('127.0.0.1', int(os.environ.get('SEED_PORT', '46000')))   # 指定数据接收方

while True:
    data = input('访问者:')
    data = data.encode('utf-8')
    client.sendto(data, server_host_port)   # 发送数据

    if data.decode('utf-8') == 'bye':
        break

    """接收返回数据数据"""
    recv_data = client.recvfrom(1024)
    print(f"客服说:{recv_data[0].decode('utf-8')}")

print('程序关闭')
client.close()
"#;

/// The chat topology: a chat handler routed to an audit handler whose root is in the
/// host's temporary directory.
fn topology() -> String {
    format!(
        r#"(
    drain_timeout_secs: 5,
    listeners: {{ "chat_udp": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{
        "chat": (plugin: "chat", config: (agent_secret: Some("{SECRET}"), auto_reply: "{AUTO}", max_datagram: 1024)),
        "audit": (plugin: "audit", root: Some("$TMP/audit"), config: (file: "transcript.jsonl", flush_interval_ms: 100)),
    }},
    routes: [
        (from: "chat_udp", to: "chat"),
        (from: "chat.messages", to: "audit.events"),
    ],
)"#
    )
}

/// A served chat topology (the shared harness's [`Host`], killed on drop).
struct Server {
    host: Host,
    addr: SocketAddr,
}

impl Server {
    fn start() -> Server {
        let host = Host::start(&topology());
        let addr = host.addr("chat_udp");
        Server { host, addr }
    }

    /// SIGTERM, then wait for the drained exit.
    fn stop(&mut self) {
        self.host.signal("TERM");
        assert!(self.host.wait_exit(WAIT).success());
    }

    /// Every record of every transcript segment, in order.
    fn transcript(&self) -> Vec<serde_json::Value> {
        let audit = self.host.temp_dir().join("audit");
        let mut names: Vec<_> = std::fs::read_dir(&audit)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("transcript-") && n.ends_with(".jsonl"))
            .collect();
        names.sort();
        names
            .iter()
            .flat_map(|n| {
                let text = std::fs::read_to_string(audit.join(n)).unwrap();
                text.lines()
                    .map(|l| serde_json::from_str(l).expect("one JSON record per line"))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn panics(&self) -> Vec<String> {
        self.host
            .stderr_lines()
            .into_iter()
            .filter(|l| l.contains("panic"))
            .collect()
    }
}

/// The example client, built with the workspace.
fn chat_client_bin() -> PathBuf {
    let bin = bin_dir().join("switchyard-chat");
    assert!(
        bin.is_file(),
        "{} not found: run `cargo build --workspace` first",
        bin.display()
    );
    bin
}

/// A UDP peer of the chat server.
struct Peer {
    sock: UdpSocket,
}

impl Peer {
    fn new(server: &Server) -> Peer {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.connect(server.addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        Peer { sock }
    }

    fn send(&self, data: impl AsRef<[u8]>) {
        self.sock.send(data.as_ref()).unwrap();
    }

    fn recv(&self) -> String {
        let mut buf = [0u8; 65536];
        let n = self
            .sock
            .recv(&mut buf)
            .expect("a datagram from the server");
        String::from_utf8(buf[..n].to_vec()).expect("UTF-8 from the server")
    }

    /// Send and return the first reply.
    fn ask(&self, data: impl AsRef<[u8]>) -> String {
        self.send(data);
        self.recv()
    }

    /// Nothing arrives within `wait`.
    fn silent_for(&self, wait: Duration) -> bool {
        self.sock.set_read_timeout(Some(wait)).unwrap();
        let mut buf = [0u8; 65536];
        let silent = self.sock.recv(&mut buf).is_err();
        self.sock
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        silent
    }

    fn agent(server: &Server, name: &str) -> Peer {
        let p = Peer::new(server);
        let welcome = p.ask(format!("/agent {SECRET} {name}"));
        assert!(
            welcome.starts_with(&format!("* welcome {name}")),
            "{welcome}"
        );
        p
    }
}

/// Run the seed client with `input` on stdin; `None` if there is no python3 (a skip
/// with its reason printed locally, a failure under CI).
fn seed_client(server: &Server, input: &str, before_wait: impl FnOnce()) -> Option<Output> {
    let script = server.host.temp_dir().join("a_udp_chat_client.py");
    std::fs::write(&script, SEED_CLIENT).unwrap();
    let mut child = match Command::new("python3")
        .arg(&script)
        .env("SEED_PORT", server.addr.port().to_string())
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            skip(&format!("the seed client needs python3 ({e})"));
            return None;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    before_wait();
    let deadline = Instant::now() + WAIT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the seed client hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(child.wait_with_output().unwrap())
}

#[test]
fn seed_client_gets_the_auto_reply_for_every_message_and_bye_ends_it() {
    let server = Server::start();
    let Some(out) = seed_client(&server, "你好\nwhere is my order?\nbye\n", || {}) else {
        return;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.matches(&format!("客服说:{AUTO}")).count(),
        2,
        "{stdout}"
    );
    assert!(stdout.contains("程序关闭"), "{stdout}");
    // `bye` got no reply: a probe from a fresh socket is the next thing answered.
    assert_eq!(Peer::new(&server).ask("/ping"), "* pong");
}

#[test]
fn seed_client_gets_the_agents_answer() {
    let server = Server::start();
    let agent = Peer::agent(&server, "alice");
    let answer = || {
        let line = agent.recv();
        let (id, text) = line
            .strip_prefix('[')
            .and_then(|l| l.split_once("] "))
            .expect("a tagged visitor line");
        assert_eq!(text, "我的订单呢?");
        assert_eq!(
            agent.ask(format!("/reply {id} 已经发货了")),
            format!("* sent to {id}")
        );
    };
    let Some(out) = seed_client(&server, "我的订单呢?\nbye\n", answer) else {
        return;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("客服说:已经发货了"), "{stdout}");
    assert!(!stdout.contains(AUTO), "an agent was online: {stdout}");
}

#[test]
fn agent_answers_reach_the_right_visitor_among_several() {
    let server = Server::start();
    let alice = Peer::agent(&server, "alice");
    let bob = Peer::agent(&server, "bob");
    assert_eq!(alice.recv(), "* agent bob is online");
    let visitors: Vec<Peer> = (0..3).map(|_| Peer::new(&server)).collect();
    let mut ids = Vec::new();
    for (i, v) in visitors.iter().enumerate() {
        v.send(format!("question {i}"));
        let seen_by_alice = alice.recv();
        assert_eq!(seen_by_alice, bob.recv(), "every agent sees every visitor");
        let (id, text) = seen_by_alice[1..].split_once("] ").unwrap();
        assert_eq!(text, format!("question {i}"));
        ids.push(id.to_string());
    }
    assert_eq!(
        alice.ask(format!("/reply {} answer for 1", ids[1])),
        format!("* sent to {}", ids[1])
    );
    assert_eq!(visitors[1].recv(), "answer for 1");
    assert_eq!(bob.recv(), format!("[{}] <alice> answer for 1", ids[1]));
    assert!(visitors[0].silent_for(Duration::from_millis(300)));
    assert!(visitors[2].silent_for(Duration::from_millis(300)));

    // Takeover: bob holds visitor 2 and answers by just typing.
    assert_eq!(
        bob.ask(format!("/take {}", ids[2])),
        format!("* bob took {}", ids[2])
    );
    assert_eq!(alice.recv(), format!("* bob took {}", ids[2]));
    visitors[2].send("only bob sees this");
    assert_eq!(bob.recv(), format!("[{}] only bob sees this", ids[2]));
    assert!(alice.silent_for(Duration::from_millis(300)));
    assert_eq!(bob.ask("here you go"), format!("* sent to {}", ids[2]));
    assert_eq!(visitors[2].recv(), "here you go");

    let waiting = alice.ask("/waiting");
    assert!(waiting.starts_with("* 1 waiting"), "{waiting}");
    assert!(waiting.contains(&ids[0]), "{waiting}");
    assert!(server.panics().is_empty());
}

#[test]
fn rooms_fan_out_and_a_dead_member_stops_nothing() {
    let server = Server::start();
    let members: Vec<Peer> = (0..4).map(|_| Peer::new(&server)).collect();
    for (i, m) in members.iter().enumerate() {
        assert_eq!(
            m.ask(format!("/nick m{i}")),
            format!("* v{} is now known as m{i}", i + 1)
        );
        let joined = m.ask("/join #lobby");
        assert_eq!(joined, format!("* m{i} joined #lobby ({} members)", i + 1));
        for earlier in &members[..i] {
            assert_eq!(earlier.recv(), joined);
        }
    }
    // m3's socket goes away: sends to it now fail (ICMP port unreachable).
    let mut members = members;
    drop(members.pop());
    for round in 0..3 {
        members[0].send(format!("hello {round}"));
        for m in &members {
            assert_eq!(m.recv(), format!("#lobby <m0> hello {round}"));
        }
    }
    assert_eq!(members[1].ask("/who"), "* #lobby (4): m0, m1, m2, m3");
    assert_eq!(members[2].ask("/leave"), "* you left #lobby");
    assert_eq!(members[0].recv(), "* m2 left #lobby");
    assert_eq!(members[1].recv(), "* m2 left #lobby");
    assert!(server.panics().is_empty());
}

#[test]
fn oversized_and_invalid_utf8_get_error_replies_and_the_server_keeps_serving() {
    let server = Server::start();
    let p = Peer::new(&server);
    assert_eq!(
        p.ask(vec![b'x'; 2000]),
        "! message too long: 2000 bytes, at most 1024"
    );
    assert_eq!(p.ask(b"\xff\xfe"), "! invalid UTF-8 at byte 0");
    let mut split = "你好".as_bytes().to_vec();
    split.pop();
    assert_eq!(p.ask(&split), "! invalid UTF-8 at byte 3");
    assert_eq!(p.ask(b"/bogus"), "! unknown command /bogus; try /help");
    assert_eq!(p.ask("still there?"), AUTO);
    assert_eq!(Peer::new(&server).ask("newcomer"), AUTO);
    assert!(server.panics().is_empty());
}

#[test]
fn the_transcript_has_every_chat_line_as_a_typed_record() {
    let mut server = Server::start();
    let visitor = Peer::new(&server);
    assert_eq!(visitor.ask("hello desk"), AUTO);
    let agent = Peer::agent(&server, "alice");
    visitor.send("anyone now?");
    let tagged = agent.recv();
    let id = tagged[1..].split_once(']').unwrap().0.to_string();
    agent.ask(format!("/reply {id} yes, me"));
    assert_eq!(visitor.recv(), "yes, me");
    agent.ask("/join ops");
    assert_eq!(agent.ask("room line"), "#ops <alice> room line");
    server.stop(); // the drain commits the last segment

    let records = server.transcript();
    let lines: Vec<(String, String, String)> = records
        .iter()
        .map(|r| {
            assert_eq!(r["type"], "switchyard.ChatMessage/1");
            assert_eq!(r["handler_port"], "chat.messages");
            assert!(r["at_ms"].as_u64().unwrap() > 1_600_000_000_000);
            let d = &r["data"];
            assert!(d["at_unix_ms"].as_u64().is_some());
            (
                d["from"].as_str().unwrap().into(),
                d["channel"].as_str().unwrap().into(),
                d["text"].as_str().unwrap().into(),
            )
        })
        .collect();
    let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        lines,
        vec![
            s(&id, &id, "hello desk"),
            s("auto", &id, AUTO),
            s(&id, &id, "anyone now?"),
            s("alice", &id, "yes, me"),
            s("alice", "#ops", "room line"),
        ]
    );
}

#[test]
fn the_chat_client_as_an_agent_shows_visitors_live_and_answers() {
    let server = Server::start();
    let mut agent = Command::new(chat_client_bin())
        .arg(server.addr.to_string())
        .args(["--agent", "--name", "carol"])
        .env("SWITCHYARD_CHAT_SECRET", SECRET)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn switchyard-chat");
    let mut out = BufReader::new(agent.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.starts_with("* welcome carol"), "{line}");

    let visitor = Peer::new(&server);
    visitor.send("hi from a visitor");
    line.clear();
    out.read_line(&mut line).unwrap(); // arrives while the agent types nothing
    let (id, text) = line.trim_end()[1..]
        .split_once("] ")
        .expect("a tagged line");
    assert_eq!(text, "hi from a visitor");
    let mut stdin = agent.stdin.take().unwrap();
    writeln!(stdin, "/reply {id} hello from carol").unwrap();
    assert_eq!(visitor.recv(), "hello from carol");
    drop(stdin); // Ctrl-D: the client says bye and exits 0
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = agent.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "client did not exit on EOF");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    // The agent is gone: the next visitor line gets the auto-reply.
    assert_eq!(visitor.ask("still there?"), AUTO);
}
