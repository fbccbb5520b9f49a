//! The chat across hosts (issue 22): two real `switchyard` processes on one real
//! `nats-server`, chat clients as plain UDP sockets. A visitor on host A and an agent
//! on host B talk both ways; a room has members on both hosts; of two agents on two
//! hosts taking one visitor exactly one wins (100 visitors, each host winning some);
//! the conversation goes on across a NATS restart; a killed host's members leave and
//! its agent's visitor goes back to the queue after the presence expiry.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use switchyard_e2e::Host;
use switchyard_e2e::cluster::{BUS_WAIT, wait_connected};
use switchyard_e2e::nats::NatsServer;

const SECRET: &str = "s3cret-pass";
/// The chats' presence period: a silent host is gone after this.
const PRESENCE_SECS: u64 = 3;

/// A host named `name` on `url` with a clustered chat on UDP listener `c`.
fn host(url: &str, name: &str) -> Host {
    Host::start(&format!(
        r#"(
    drain_timeout_secs: 5,
    admin: Some("127.0.0.1:0"),
    bus: Some((kind: nats, servers: ["{url}"], name: "{name}", subject_prefix: "sy.chat")),
    listeners: {{ "c": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{
        "chat": (plugin: "chat", config: (
            agent_secret: Some("{SECRET}"),
            rate_per_sec: 1000, burst: 1000,
            cluster: Some((presence_secs: {PRESENCE_SECS})),
        )),
    }},
    routes: [ (from: "c", to: "chat") ],
)"#
    ))
}

/// One chat client: a UDP socket talking to one host.
struct Client {
    sock: UdpSocket,
    server: SocketAddr,
}

impl Client {
    fn new(host: &Host) -> Client {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        Client {
            sock,
            server: host.addr("c"),
        }
    }

    fn send(&self, text: &str) {
        self.sock
            .send_to(text.as_bytes(), self.server)
            .expect("send");
    }

    /// Lines received until one satisfies `pred` (returned with those before it);
    /// panics after `timeout` with everything received.
    fn until(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        while Instant::now() < deadline {
            if let Ok((n, _)) = self.sock.recv_from(&mut buf) {
                let line = String::from_utf8_lossy(&buf[..n]).into_owned();
                let done = pred(&line);
                got.push(line);
                if done {
                    return got;
                }
            }
        }
        panic!("{what}: not within {timeout:?}; got {got:?}");
    }

    /// Send `text` every second until a line `to` gets satisfies `pred` (a
    /// subscription or a presence may still be on its way); that line.
    fn resend_until(&self, text: &str, to: &Client, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + BUS_WAIT;
        let mut buf = [0u8; 2048];
        let mut got = Vec::new();
        while Instant::now() < deadline {
            self.send(text);
            let round = Instant::now() + Duration::from_secs(1);
            while Instant::now() < round {
                if let Ok((n, _)) = to.sock.recv_from(&mut buf) {
                    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if pred(&line) {
                        return line;
                    }
                    got.push(line);
                }
            }
        }
        panic!("after {text:?}: no line as awaited within {BUS_WAIT:?}; got {got:?}");
    }

    /// [`Client::resend_until`] this client's own reply satisfies `pred`.
    fn send_until(&self, text: &str, pred: impl Fn(&str) -> bool) -> String {
        self.resend_until(text, self, pred)
    }

    /// [`Client::resend_until`] `to` gets a line ending with `suffix`.
    fn deliver(&self, text: &str, to: &Client, suffix: &str) -> String {
        self.resend_until(text, to, |l| l.ends_with(suffix))
    }

    /// Become an agent named `name`.
    fn agent(&self, name: &str) {
        self.send(&format!("/agent {SECRET} {name}"));
        self.until("the agent's welcome", BUS_WAIT, |l| {
            l.starts_with("* welcome")
        });
    }
}

#[test]
fn a_visitor_on_host_a_and_an_agent_on_host_b_talk_both_ways_and_a_room_spans_both() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let (a, b) = (host(&nats.url(), "host-a"), host(&nats.url(), "host-b"));
    let agent = Client::new(&b);
    agent.agent("bob");
    let visitor = Client::new(&a);
    let line = visitor.deliver("my order is late", &agent, "@host-a] my order is late");
    let id = &line[1..line.find(']').unwrap()];
    agent.send(&format!("/reply {id} sorry, it ships today"));
    visitor.until("the answer reaches the visitor on A", BUS_WAIT, |l| {
        l == "sorry, it ships today"
    });
    agent.send(&format!("/take {id}"));
    agent.until("bob holds the visitor", BUS_WAIT, |l| {
        l.contains(&format!("bob took {id}"))
    });
    visitor.send("thanks!");
    agent.until("the held visitor reaches bob", BUS_WAIT, |l| {
        l.ends_with("] thanks!")
    });
    agent.send("you are welcome");
    visitor.until(
        "plain text of the holder reaches the visitor",
        BUS_WAIT,
        |l| l == "you are welcome",
    );

    // A room with a member on each host.
    let (ann, ben) = (Client::new(&a), Client::new(&b));
    ann.send("/nick ann");
    ann.until("ann's nick", BUS_WAIT, |l| l.contains("now known as ann"));
    ann.send("/join lobby");
    ann.until("ann joined", BUS_WAIT, |l| l.contains("ann joined #lobby"));
    ben.send("/nick ben");
    ben.until("ben's nick", BUS_WAIT, |l| l.contains("now known as ben"));
    ben.send("/join lobby");
    ann.until("ann sees ben join from B", BUS_WAIT, |l| {
        l.contains("ben@host-b joined #lobby")
    });
    ben.send("hello from b");
    ann.until("ben's line reaches ann on A", BUS_WAIT, |l| {
        l == "#lobby <ben@host-b> hello from b"
    });
    ann.send("hello from a");
    ben.until("ann's line reaches ben on B", BUS_WAIT, |l| {
        l == "#lobby <ann@host-a> hello from a"
    });
    ben.send_until("/who", |l| {
        l.contains("#lobby (2)") && l.contains("ann@host-a") && l.contains("ben")
    });
}

#[test]
fn of_two_agents_on_two_hosts_exactly_one_takes_each_of_100_visitors() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let (a, b) = (host(&nats.url(), "host-a"), host(&nats.url(), "host-b"));
    let (alice, bob) = (Client::new(&a), Client::new(&b));
    alice.agent("alice");
    bob.agent("bob");
    let (mut wins_a, mut wins_b) = (0, 0);
    for round in 0..100 {
        let visitor = Client::new(&a);
        let text = format!("help {round}");
        let suffix = format!("] {text}");
        let line = if round == 0 {
            // The first message may beat B's subscription: repeat until bob sees it.
            visitor.deliver(&text, &bob, &suffix)
        } else {
            visitor.send(&text);
            let seen = bob.until("bob sees the visitor", BUS_WAIT, |l| l.ends_with(&suffix));
            seen.last().unwrap().clone()
        };
        let remote_id = line[1..line.find(']').unwrap()].to_owned();
        let local_id = remote_id.split('@').next().unwrap().to_owned();
        alice.until("alice sees the visitor", BUS_WAIT, |l| l.ends_with(&suffix));
        // Both at once, in alternating order.
        if round % 2 == 0 {
            alice.send(&format!("/take {local_id}"));
            bob.send(&format!("/take {remote_id}"));
        } else {
            bob.send(&format!("/take {remote_id}"));
            alice.send(&format!("/take {local_id}"));
        }
        let alice_took = format!("* alice took {local_id}");
        let bob_took = format!("bob took {remote_id}");
        let alice_says = alice.until("alice's answer", BUS_WAIT, |l| {
            l == alice_took || (l.starts_with(&format!("! {local_id} ")) && l.contains("held by"))
        });
        let bob_says = bob.until("bob's answer", BUS_WAIT, |l| {
            l.ends_with(&bob_took)
                || (l.starts_with(&format!("! {remote_id} ")) && l.contains("held by"))
        });
        let alice_won = alice_says.last().unwrap() == &alice_took;
        let bob_won = bob_says.last().unwrap().ends_with(&bob_took);
        assert!(
            alice_won ^ bob_won,
            "round {round}: exactly one wins: alice {alice_says:?}, bob {bob_says:?}"
        );
        if alice_won {
            wins_a += 1;
        } else {
            wins_b += 1;
        }
        visitor.send("bye");
    }
    eprintln!("claim race over 100 visitors: host A won {wins_a}, host B won {wins_b}");
    assert_eq!(wins_a + wins_b, 100);
    assert!(
        wins_a > 0 && wins_b > 0,
        "each host wins some: A {wins_a}, B {wins_b}"
    );
}

#[test]
fn the_conversation_goes_on_across_a_nats_restart() {
    let Some(mut nats) = NatsServer::start() else {
        return;
    };
    let (a, b) = (host(&nats.url(), "host-a"), host(&nats.url(), "host-b"));
    let agent = Client::new(&b);
    agent.agent("bob");
    let visitor = Client::new(&a);
    visitor.deliver("before", &agent, "] before");
    nats.restart();
    wait_connected(&a, true);
    wait_connected(&b, true);
    // Messages may be lost while NATS is away (at most once); once both hosts are back,
    // the conversation goes on without a restart of either.
    let line = visitor.deliver("after", &agent, "] after");
    let id = &line[1..line.find(']').unwrap()];
    agent.send(&format!("/reply {id} still here"));
    visitor.until("the answer after the restart", BUS_WAIT, |l| {
        l == "still here"
    });
}

#[test]
fn a_killed_host_leaves_its_rooms_and_its_agents_visitor_goes_back_to_the_queue() {
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let a = host(&nats.url(), "host-a");
    let b = host(&nats.url(), "host-b");
    let (alice, bob) = (Client::new(&a), Client::new(&b));
    alice.agent("alice");
    bob.agent("bob");
    let member = Client::new(&a);
    member.send("/join lobby");
    member.until("joined", BUS_WAIT, |l| l.contains("joined #lobby"));
    let other = Client::new(&b);
    other.send("/join lobby");
    member.until("B's member seen", BUS_WAIT, |l| {
        l.contains("@host-b joined #lobby")
    });
    let visitor = Client::new(&a);
    let line = visitor.deliver("need help", &bob, "] need help");
    let remote_id = line[1..line.find(']').unwrap()].to_owned();
    let local_id = remote_id.split('@').next().unwrap().to_owned();
    bob.send(&format!("/take {remote_id}"));
    alice.until("alice hears bob took it", BUS_WAIT, |l| {
        l.contains(&format!("bob@host-b took {local_id}"))
    });
    let killed = Instant::now();
    drop(b);
    let back = format!("{local_id} is back in the queue: host host-b is gone");
    alice.until("the visitor is released", BUS_WAIT, |l| l.contains(&back));
    let after = killed.elapsed();
    assert!(
        after <= Duration::from_secs(PRESENCE_SECS * 2 + 2),
        "released {after:?} after the kill: bounded by the presence expiry"
    );
    member.until("the room hears the host is gone", BUS_WAIT, |l| {
        l.contains("host host-b left #lobby")
    });
    // The claim lapses with the presence: alice can take the visitor now.
    alice.send_until(&format!("/take {local_id}"), |l| {
        l == format!("* alice took {local_id}")
    });
    visitor.send("still there?");
    alice.until("the visitor reaches alice", BUS_WAIT, |l| {
        l.ends_with("] still there?")
    });
}
