//! Two hosts' machines on a simulated bus: what one publishes reaches the other when
//! subscribed (never itself), and a key-value map decides claims as JetStream does.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::config::ClusterConfig;
use crate::wire::{DeskNote, Presence, RoomNote, Subjects};

const SOCK: SocketId = SocketId(9);
const SECRET: &str = "s3cret-pass";

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// One host: its machine, its subscriptions, what its peers got sent.
struct Host {
    name: &'static str,
    chat: Chat,
    subscribed: BTreeSet<String>,
    sent: Vec<(SocketAddr, String)>,
}

/// Two hosts, a bus and a claims bucket.
struct Cluster {
    hosts: Vec<Host>,
    kv: BTreeMap<String, (String, u64)>,
    revision: u64,
    now: u64,
}

/// A clustered chat's configuration, presence every second.
fn config() -> Config {
    Config {
        agent_secret: Some(SECRET.into()),
        cluster: Some(ClusterConfig {
            presence_secs: 3,
            ..ClusterConfig::default()
        }),
        ..Config::default()
    }
}

impl Cluster {
    fn new() -> Cluster {
        let hosts = ["host-a", "host-b"]
            .into_iter()
            .map(|name| {
                let mut chat = Chat::new(config()).unwrap();
                chat.join_cluster(0, name);
                Host {
                    name,
                    chat,
                    subscribed: BTreeSet::new(),
                    sent: Vec::new(),
                }
            })
            .collect();
        let mut cluster = Cluster {
            hosts,
            kv: BTreeMap::new(),
            revision: 0,
            now: 0,
        };
        cluster.settle();
        cluster
    }

    /// `port` sends `text` to host `h`.
    fn say(&mut self, h: usize, port: u16, text: &str) {
        let now = self.now;
        self.hosts[h]
            .chat
            .handle_datagram(now, SOCK, addr(port), text.as_bytes());
        self.settle();
    }

    /// Advance the clock to `until`, running every host's timers.
    fn run_until(&mut self, until: u64) {
        loop {
            let next = self
                .hosts
                .iter()
                .filter_map(|h| h.chat.poll_timeout())
                .filter(|d| *d <= until)
                .min();
            let Some(due) = next else { break };
            self.now = self.now.max(due);
            for h in 0..self.hosts.len() {
                if self.hosts[h]
                    .chat
                    .poll_timeout()
                    .is_some_and(|d| d <= self.now)
                {
                    let now = self.now;
                    self.hosts[h].chat.handle_timeout(now);
                }
            }
            self.settle();
        }
        self.now = until;
    }

    /// Carry every output out until nothing moves (the bus and the bucket answer at once).
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            for h in 0..self.hosts.len() {
                while let Some(out) = self.hosts[h].chat.poll_output() {
                    moved = true;
                    self.carry(h, out);
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn carry(&mut self, h: usize, out: Output) {
        let now = self.now;
        match out {
            Output::Send { to, payload } => self.hosts[h].sent.push((to.addr, payload)),
            Output::Fanout { to, payload } => {
                for d in to.iter() {
                    self.hosts[h].sent.push((d.addr, payload.clone()));
                }
            }
            Output::Line { .. } => {}
            Output::Bus(BusOut::Subscribe { subject }) => {
                self.hosts[h].subscribed.insert(subject);
            }
            Output::Bus(BusOut::Unsubscribe { subject }) => {
                self.hosts[h].subscribed.remove(&subject);
            }
            Output::Bus(BusOut::Publish {
                subject,
                type_name,
                data,
            }) => {
                let from = self.hosts[h].name;
                let subjects = Subjects::new("chat");
                for other in (0..self.hosts.len()).filter(|o| *o != h) {
                    let host = &mut self.hosts[other];
                    if !host.subscribed.contains(&subject) {
                        continue;
                    }
                    match type_name {
                        DeskNote::TYPE => host
                            .chat
                            .handle_desk(now, serde_json::from_slice(&data).unwrap()),
                        RoomNote::TYPE => {
                            let room = subjects.room_of(&subject).unwrap();
                            let note = serde_json::from_slice(&data).unwrap();
                            host.chat.handle_room(now, from, &room, note);
                        }
                        Presence::TYPE => {
                            let p = serde_json::from_slice(&data).unwrap();
                            host.chat.handle_presence(now, from, p);
                        }
                        other => panic!("unknown type {other}"),
                    }
                }
            }
            Output::Bus(BusOut::Kv { token, write, .. }) => {
                let result = self.write(write);
                self.hosts[h].chat.kv_done(now, token, result);
            }
        }
    }

    fn write(&mut self, write: KvWrite) -> KvResult {
        self.revision += 1;
        match write {
            KvWrite::Create { key, value } => {
                if self.kv.contains_key(&key) {
                    return KvResult::Lost;
                }
                self.kv.insert(key, (value, self.revision));
            }
            KvWrite::Update {
                key,
                value,
                revision,
            } => match self.kv.get(&key) {
                Some((_, r)) if *r == revision => {
                    self.kv.insert(key, (value, self.revision));
                }
                _ => return KvResult::Lost,
            },
            KvWrite::Delete { key } => {
                self.kv.remove(&key);
            }
        }
        KvResult::Done(self.revision)
    }

    /// What `port` on host `h` got since the last call.
    fn got(&mut self, h: usize, port: u16) -> Vec<String> {
        let sent = std::mem::take(&mut self.hosts[h].sent);
        let (mine, rest): (Vec<_>, Vec<_>) = sent.into_iter().partition(|(a, _)| *a == addr(port));
        self.hosts[h].sent = rest;
        mine.into_iter().map(|(_, p)| p).collect()
    }
}

const A: usize = 0;
const B: usize = 1;

#[test]
fn a_visitor_on_one_host_talks_with_an_agent_on_the_other() {
    let mut c = Cluster::new();
    c.say(B, 2000, &format!("/agent {SECRET} bob"));
    c.run_until(1500);
    c.got(B, 2000);
    c.say(A, 1000, "my order is late");
    assert_eq!(c.got(B, 2000), vec!["[v1@host-a] my order is late"]);
    assert!(
        c.got(A, 1000).is_empty(),
        "no auto-reply: an agent is online elsewhere"
    );
    c.say(B, 2000, "/waiting");
    let waiting = c.got(B, 2000);
    assert!(
        waiting[0].starts_with("* 1 waiting\n  v1@host-a 0s: my order is late"),
        "{waiting:?}"
    );
    c.say(B, 2000, "/reply v1@host-a sorry, on its way");
    assert_eq!(c.got(A, 1000), vec!["sorry, on its way"]);
    assert_eq!(c.got(B, 2000), vec!["* sent to v1@host-a"]);
    // Taken, the agent's plain text goes to the visitor, and only it sees them.
    c.say(B, 2000, "/take v1@host-a");
    assert!(
        c.got(B, 2000)
            .iter()
            .any(|l| l.contains("bob took v1@host-a"))
    );
    c.say(B, 2001, &format!("/agent {SECRET} carol"));
    c.got(B, 2000);
    c.say(A, 1000, "thanks");
    assert_eq!(c.got(B, 2000), vec!["[v1@host-a] thanks"]);
    assert!(
        !c.got(B, 2001).iter().any(|l| l.contains("thanks")),
        "a held visitor reaches its holder only"
    );
    c.say(B, 2000, "you are welcome");
    assert_eq!(c.got(A, 1000), vec!["you are welcome"]);
}

#[test]
fn of_two_agents_on_two_hosts_exactly_one_holds_a_visitor() {
    let mut c = Cluster::new();
    c.say(A, 2000, &format!("/agent {SECRET} alice"));
    c.say(B, 3000, &format!("/agent {SECRET} bob"));
    c.run_until(1500);
    // Alice is v1 on host A; the visitor is v2 there.
    c.say(A, 1000, "help");
    c.got(A, 2000);
    c.got(B, 3000);
    // Both ask before either answer arrives: the bucket decides.
    c.hosts[A]
        .chat
        .handle_datagram(c.now, SOCK, addr(2000), b"/take v2");
    c.hosts[B]
        .chat
        .handle_datagram(c.now, SOCK, addr(3000), b"/take v2@host-a");
    c.settle();
    let (alice, bob) = (c.got(A, 2000), c.got(B, 3000));
    let won = |l: &[String], me: &str| {
        l.iter()
            .any(|x| x == &format!("* {me} took v2") || x.contains(&format!("{me} took v2@")))
    };
    assert!(won(&alice, "alice") ^ won(&bob, "bob"), "{alice:?} {bob:?}");
    let loser = if won(&alice, "alice") { &bob } else { &alice };
    assert!(
        loser
            .iter()
            .any(|l| l.starts_with("! v2") && l.contains("held by")),
        "{loser:?}"
    );
    assert_eq!(c.kv.len(), 1);
}

#[test]
fn rooms_span_hosts_and_a_silent_host_leaves_them_and_releases_its_visitors() {
    let mut c = Cluster::new();
    c.say(A, 1000, "/join lobby");
    c.say(B, 2000, "/join lobby");
    assert!(
        c.got(A, 1000)
            .iter()
            .any(|l| l.contains("v1@host-b joined #lobby"))
    );
    c.say(B, 2000, "hello from b");
    assert!(
        c.got(A, 1000)
            .contains(&"#lobby <v1@host-b> hello from b".to_string())
    );
    c.run_until(1500);
    c.say(A, 1000, "/who");
    assert!(
        c.got(A, 1000)
            .iter()
            .any(|l| l.contains("(2)") && l.contains("v1@host-b"))
    );
    // An agent on B holds a visitor of A; then B falls silent.
    c.say(B, 3000, &format!("/agent {SECRET} bob"));
    c.say(A, 1001, "anyone?");
    c.say(B, 3000, "/take v2@host-a");
    assert!(
        c.got(B, 3000)
            .iter()
            .any(|l| l.contains("bob took v2@host-a"))
    );
    c.say(A, 2001, &format!("/agent {SECRET} alice"));
    c.got(A, 2001);
    c.hosts.truncate(1);
    c.run_until(c.now + 3_500);
    let alice = c.got(A, 2001);
    assert!(
        alice
            .iter()
            .any(|l| l.contains("v2 is back in the queue: host host-b is gone")),
        "{alice:?}"
    );
    assert!(
        c.got(A, 1000)
            .iter()
            .any(|l| l.contains("members of host host-b left #lobby"))
    );
}

#[test]
fn a_reload_hands_the_claims_over_and_the_successor_renews_them() {
    let mut c = Cluster::new();
    c.say(B, 2000, &format!("/agent {SECRET} bob"));
    c.run_until(1500);
    c.say(A, 1000, "hi");
    c.say(B, 2000, "/take v1@host-a");
    let (_, taken_at) = c.kv["v.host-a.1"].clone();
    // Host B reloads: its state goes through the handover's bytes to a new machine.
    let bytes = serde_json::to_vec(&c.hosts[B].chat.snapshot(c.now)).unwrap();
    let mut next = Chat::new(config()).unwrap();
    next.join_cluster(c.now, "host-b");
    next.restore(serde_json::from_slice(&bytes).unwrap(), c.now)
        .unwrap();
    c.hosts[B].chat = next;
    c.hosts[B].subscribed.clear();
    c.settle();
    c.run_until(c.now + 1200);
    let (holder, revision) = c.kv["v.host-a.1"].clone();
    assert_eq!(holder, "bob@host-b");
    assert!(revision > taken_at, "the successor renewed the claim");
    c.got(A, 1000);
    c.say(B, 2000, "still with you");
    assert_eq!(
        c.got(A, 1000),
        vec!["still with you"],
        "bob still holds the visitor"
    );
}
