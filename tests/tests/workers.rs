//! `workers: N`: a handler on several threads, each with its own instances.
//!
//! What must hold with several workers (and is checked here on the real binary):
//! connections are spread over the workers and the host's connection limits count
//! across them; a plugin's own limit kept with the host's counters (TFTP's
//! `max_transfers`) is exact however the clients are sharded, and given back when a
//! transfer ends; a panic on one worker costs only that worker's instance; state moves
//! worker by worker across a reload; a typed message reaches one worker or every
//! worker, as the plugin declares. Drain and reload of multi-worker file transfers are
//! in `reload_sessions.rs`, which runs its handlers on several workers.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use switchyard_e2e::tftp_wire::{client_socket_from, error_code, recv, rrq, try_recv};
use switchyard_e2e::{Host, build_plugin_variant, log_text, tcp_connect};

const WAIT: Duration = Duration::from_secs(10);

/// Poll `sample` on the admin listener until it reads `want` (the per-worker gauges
/// are sampled every second).
fn wait_metric(host: &Host, sample: &str, want: f64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let got = host.metric(sample);
        if got == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{sample} is {got:?}, not {want}, after {WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---- connections -------------------------------------------------------------------

#[test]
fn connections_spread_over_the_workers_and_the_limits_count_across_them() {
    let host = Host::start(
        r#"(
    admin: Some("127.0.0.1:0"),
    listeners: { "t": (kind: tcp, bind: "127.0.0.1:0") },
    handlers: { "files": (plugin: "files", root: Some("$TMP/data"), workers: 3,
        limits: (max_connections_per_ip: 7)) },
    routes: [ (from: "t", to: "files") ],
)"#,
    );
    let addr = host.addr("t");
    let held: Vec<TcpStream> = (0..6).map(|_| tcp_connect(addr, WAIT)).collect();
    // Six idle connections on three workers: two each (least loaded first).
    for w in 0..3 {
        wait_metric(
            &host,
            &format!(r#"switchyard_worker_busy{{handler="files",worker="{w}"}}"#),
            2.0,
        );
    }
    // The per-IP limit is the handler's, not each worker's: the 7th is taken, the 8th
    // refused, though no worker holds more than three.
    let seventh = tcp_connect(addr, WAIT);
    let mut eighth = tcp_connect(addr, WAIT);
    eighth.set_read_timeout(Some(WAIT)).unwrap();
    let mut told = String::new();
    let _ = std::io::Read::read_to_string(&mut eighth, &mut told);
    assert_eq!(
        told, "too many connections from your address, try later\n",
        "the 8th connection from one IP must be told why and closed"
    );
    wait_metric(
        &host,
        r#"switchyard_errors_total{handler="files",kind="conn_limit"}"#,
        1.0,
    );
    drop((held, seventh));
}

// ---- TFTP: max_transfers across shards ---------------------------------------------

fn lo(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

/// A download asked for from `from`; returns the socket and the first reply.
fn ask(server: SocketAddr, from: IpAddr) -> (UdpSocket, Vec<u8>, SocketAddr) {
    let sock = client_socket_from(from);
    sock.send_to(&rrq("big.bin", "octet", &[]), server).unwrap();
    let (reply, tid) = recv(&sock);
    (sock, reply, tid)
}

#[test]
fn max_transfers_holds_across_the_workers_and_an_ended_transfer_frees_its_slot() {
    let host = Host::start(
        r#"(
    admin: Some("127.0.0.1:0"),
    listeners: { "u": (kind: udp, bind: "127.0.0.1:0") },
    handlers: { "tftp": (plugin: "tftp", root: Some("$TMP/data"), workers: 2,
        config: (max_transfers: 4, max_transfers_per_client: 1, timeout_ms: 3000, max_retries: 5)) },
    routes: [ (from: "u", to: "tftp") ],
)"#,
    );
    std::fs::write(host.temp_dir().join("data/big.bin"), vec![7u8; 1 << 20]).unwrap();
    let server = host.addr("u");
    // Four clients (four IPs: one transfer each): each gets DATA 1 and never ACKs, so
    // its transfer stays in flight.
    let running: Vec<(UdpSocket, Vec<u8>, SocketAddr)> =
        (2..6).map(|n| ask(server, lo(n))).collect();
    for (_, reply, _) in &running {
        assert_eq!(reply[..4], [0, 3, 0, 1], "DATA 1: {reply:?}");
    }
    // The clients landed on both workers: neither alone is at the limit.
    let per_worker: Vec<f64> = (0..2)
        .map(|w| {
            let sample = format!(r#"switchyard_worker_busy{{handler="tftp",worker="{w}"}}"#);
            let deadline = Instant::now() + WAIT;
            loop {
                let total: f64 = (0..2)
                    .filter_map(|v| {
                        host.metric(&format!(
                            r#"switchyard_worker_busy{{handler="tftp",worker="{v}"}}"#
                        ))
                    })
                    .sum();
                if total == 4.0 || Instant::now() > deadline {
                    break host.metric(&sample).unwrap_or(0.0);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
        .collect();
    assert_eq!(per_worker.iter().sum::<f64>(), 4.0, "{per_worker:?}");
    assert!(
        per_worker.iter().all(|&n| n > 0.0 && n < 4.0),
        "{per_worker:?}"
    );
    // A fifth and a sixth client, whichever worker they land on: server busy.
    for n in [6, 7] {
        let (_, reply, _) = ask(server, lo(n));
        assert_eq!(error_code(&reply), 0, "{reply:?}");
        assert!(
            String::from_utf8_lossy(&reply).contains("server busy"),
            "{reply:?}"
        );
    }
    // One transfer aborted by its client (ERROR to its TID): its slot comes back.
    let (sock, _, tid) = &running[0];
    sock.send_to(&[0, 5, 0, 0, b'b', b'y', b'e', 0], tid)
        .unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let s = client_socket_from(lo(6));
        s.send_to(&rrq("big.bin", "octet", &[]), server).unwrap();
        let (reply, _) = try_recv(&s, WAIT).expect("an answer");
        if reply[..4] == [0, 3, 0, 1] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the slot never came back: {reply:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---- the sharded test plugin -------------------------------------------------------

const PLUGINS: &str = "workers-plugins";

/// The faulty plugin built with `features` (`sharded`, `every-worker`).
fn faulty(features: &str) -> PathBuf {
    build_plugin_variant(
        "tests/plugins/faulty",
        PLUGINS,
        &["--features", features],
        "switchyard_faulty",
        features,
    )
}

fn faulty_topology(lib: &Path, config: &str) -> String {
    format!(
        r#"(
    plugins: {{ "faulty": "{}" }},
    listeners: {{ "u": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{ "f": (plugin: "faulty", workers: 2, config: ({config})) }},
    routes: [ (from: "u", to: "f") ],
)"#,
        lib.display()
    )
}

/// A UDP client of the faulty plugin (one source address: one worker).
struct Client(UdpSocket);

impl Client {
    fn new(server: SocketAddr) -> Client {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.connect(server).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        Client(s)
    }

    fn ask(&self, command: &str) -> String {
        self.0.send(command.as_bytes()).unwrap();
        let mut buf = [0u8; 512];
        let n = self.0.recv(&mut buf).expect("a reply");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    fn count(&self) -> u64 {
        let reply = self.ask("count");
        reply
            .strip_prefix("count ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not a count: {reply}"))
    }
}

/// Two clients served by different workers (instances), found by asking `whoami`.
fn clients_on_two_workers(server: SocketAddr) -> (Client, Client) {
    let a = Client::new(server);
    let home = a.ask("whoami");
    for _ in 0..64 {
        let b = Client::new(server);
        if b.ask("whoami") != home {
            return (a, b);
        }
    }
    panic!("64 client addresses all landed on the worker of the first");
}

#[test]
fn a_panic_on_one_worker_costs_only_that_workers_instance() {
    let host = Host::start(&faulty_topology(&faulty("sharded"), ""));
    let (a, b) = clients_on_two_workers(host.addr("u"));
    let before = a.count();
    let b_instance = b.ask("whoami");
    b.0.send(b"panic").unwrap();
    host.expect_log(
        "the panicked instance recreated",
        |j| j["msg"] == "plugin panicked; instance recreated",
        WAIT,
    );
    // A's instance (the other worker) kept its state; B's is a fresh one.
    assert_eq!(a.count(), before + 1);
    assert_ne!(b.ask("whoami"), b_instance);
    assert_eq!(b.count(), 1, "a fresh instance has handled only `whoami`");
}

#[test]
fn state_moves_worker_by_worker_across_a_reload() {
    let lib = faulty("sharded");
    let host = Host::start(&faulty_topology(&lib, "handover: state"));
    let (a, b) = clients_on_two_workers(host.addr("u"));
    // Finding B may have sent A's worker many `whoami`s: ping B until its worker has
    // clearly handled more, so that the counts tell the two states apart.
    for _ in 0..200 {
        if b.count() > a.count() + 3 {
            break;
        }
        b.ask("ping");
    }
    let (a1, b1) = (a.count(), b.count());
    assert!(b1 > a1, "b's worker handled more: {a1} {b1}");
    let (a_was, b_was) = (a.ask("whoami"), b.ask("whoami"));
    host.reload_to(
        &faulty_topology(&lib, "handover: state, panic_in_import: false"),
        1,
    );
    // New instances, each with its own worker's count (+1 for `whoami`, +1 for this).
    assert_ne!(a.ask("whoami"), a_was);
    assert_ne!(b.ask("whoami"), b_was);
    assert_eq!(a.count(), a1 + 3);
    assert_eq!(b.count(), b1 + 3);
    let handed = |j: &Value| j["msg"] == "state handed over";
    host.wait_for_nth_log(2, handed, WAIT)
        .expect("one handover per worker");
    let workers: BTreeSet<String> = host
        .logs_where(handed)
        .iter()
        .map(|j| j["worker"].to_string())
        .collect();
    assert_eq!(workers.len(), 2, "{workers:?}");
}

/// Two faulty handlers: `src` (one worker) emits on `out` when told, `dst` (two
/// workers) logs what arrives on `any`, with its instance's number.
fn emit_topology(lib: &Path) -> String {
    format!(
        r#"(
    plugins: {{ "faulty": "{}" }},
    listeners: {{ "u": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{
        "src": (plugin: "faulty", workers: 1),
        "dst": (plugin: "faulty", workers: 2),
    }},
    routes: [ (from: "u", to: "src"), (from: "src.out", to: "dst.any") ],
)"#,
        lib.display()
    )
}

/// Emit four messages; which `dst` instances got how many.
fn deliveries(lib: &Path, expected: usize) -> BTreeMap<String, usize> {
    let host = Host::start(&emit_topology(lib));
    let src = Client::new(host.addr("u"));
    for _ in 0..4 {
        assert_eq!(src.ask("emit"), "emitted 0");
    }
    let got = |j: &Value| j["handler"] == "dst" && log_text(j).contains("faulty got message");
    host.wait_for_nth_log(expected, got, WAIT)
        .unwrap_or_else(|| panic!("{expected} deliveries expected"));
    std::thread::sleep(Duration::from_millis(300)); // and no more
    let mut per_instance = BTreeMap::new();
    for j in host.logs_where(got) {
        let text = log_text(&j);
        let instance = text.rsplit(' ').next().unwrap_or_default().to_owned();
        *per_instance.entry(instance).or_insert(0) += 1;
    }
    per_instance
}

#[test]
fn a_typed_message_reaches_one_worker_or_every_worker_as_the_plugin_declares() {
    // One worker in turn: four messages, two to each of the two instances.
    let one = deliveries(&faulty("sharded"), 4);
    assert_eq!(one.values().copied().collect::<Vec<_>>(), [2, 2], "{one:?}");
    // Every worker: each of the two instances gets all four.
    let every = deliveries(&faulty("every-worker"), 8);
    assert_eq!(
        every.values().copied().collect::<Vec<_>>(),
        [4, 4],
        "{every:?}"
    );
    let instances: BTreeSet<&String> = every.keys().collect();
    assert_eq!(instances.len(), 2);
}
