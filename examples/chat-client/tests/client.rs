//! The client binary against a real UDP server on loopback: a small loop around the
//! chat plugin's state machine (no host needed), so the client's own behaviour —
//! greeting, lines shown as they arrive, clean `bye` on Ctrl-D, giving up on a
//! silent server — is tested with real sockets and processes.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchyard_chat::config::Config;
use switchyard_chat::machine::{Chat, Output};
use switchyard_sdk::SocketId;

const SECRET: &str = "test-secret-1";

/// A chat server on 127.0.0.1:0, driven by the plugin's state machine.
struct Server {
    addr: SocketAddr,
    chat: Arc<Mutex<Chat>>,
    stop: Arc<AtomicBool>,
}

impl Server {
    fn start() -> Server {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let cfg = Config {
            agent_secret: Some(SECRET.into()),
            auto_reply: "no agents".into(),
            ..Config::default()
        };
        let chat = Arc::new(Mutex::new(Chat::new(cfg).unwrap()));
        let stop = Arc::new(AtomicBool::new(false));
        let (chat2, stop2) = (chat.clone(), stop.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut buf = [0u8; 65536];
            while !stop2.load(Ordering::Relaxed) {
                let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let mut chat = chat2.lock().unwrap();
                chat.handle_datagram(
                    start.elapsed().as_millis() as u64,
                    SocketId(1),
                    peer,
                    &buf[..n],
                );
                while let Some(out) = chat.poll_output() {
                    match out {
                        Output::Send { to, payload } => {
                            let _ = sock.send_to(payload.as_bytes(), to.addr);
                        }
                        Output::Fanout { to, payload } => {
                            for d in to.iter() {
                                let _ = sock.send_to(payload.as_bytes(), d.addr);
                            }
                        }
                        Output::Line { .. } => {}
                        // This server joined no cluster: it asks nothing of a bus.
                        Output::Bus(out) => panic!("a bus request outside a cluster: {out:?}"),
                    }
                }
            }
        });
        Server { addr, chat, stop }
    }

    fn sessions(&self) -> usize {
        self.chat.lock().unwrap().session_count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The client process, killed if a test fails midway.
struct Client(Child);

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn client(args: &[&str]) -> (Client, BufReader<ChildStdout>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard-chat"))
        .args(args)
        .env_remove("SWITCHYARD_CHAT_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    (Client(child), out)
}

fn line(out: &mut BufReader<ChildStdout>) -> String {
    let mut l = String::new();
    out.read_line(&mut l).unwrap();
    l.trim_end().to_string()
}

fn wait_exit(c: &mut Client) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = c.0.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "client did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn until(cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn visitor_gets_replies_and_ctrl_d_says_bye() {
    let server = Server::start();
    let (mut c, mut out) = client(&[&server.addr.to_string()]);
    c.0.stdin
        .as_mut()
        .unwrap()
        .write_all("你好\n".as_bytes())
        .unwrap();
    assert_eq!(line(&mut out), "[you] 你好", "own lines are marked");
    assert_eq!(line(&mut out), "[agent] no agents");
    assert_eq!(server.sessions(), 1);
    drop(c.0.stdin.take()); // Ctrl-D
    assert!(wait_exit(&mut c).success());
    assert!(until(|| server.sessions() == 0), "the client said bye");
}

#[test]
fn agent_sees_visitors_as_they_arrive_and_answers() {
    let server = Server::start();
    let addr = server.addr.to_string();
    let (mut agent, mut out) = client(&[&addr, "--agent", "--secret", SECRET, "--name", "alice"]);
    assert!(line(&mut out).starts_with("* welcome alice"));

    let visitor = UdpSocket::bind("127.0.0.1:0").unwrap();
    visitor
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    visitor
        .send_to("订单在哪里".as_bytes(), server.addr)
        .unwrap();
    // Shown without the agent typing anything.
    assert_eq!(line(&mut out), "[v2] 订单在哪里");

    agent
        .0
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"/reply v2 on its way\n")
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = visitor.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"on its way");
    assert_eq!(line(&mut out), "[you] /reply v2 on its way");
    assert_eq!(line(&mut out), "* sent to v2");

    agent.0.stdin.as_mut().unwrap().write_all(b"bye\n").unwrap();
    assert!(wait_exit(&mut agent).success());
    assert!(until(|| server.chat.lock().unwrap().agent_count() == 0));
}

#[test]
fn a_wrong_secret_is_reported_and_fails() {
    let server = Server::start();
    let (mut c, _out) = client(&[
        &server.addr.to_string(),
        "--agent",
        "--secret",
        "wrong-secret",
    ]);
    let status = wait_exit(&mut c);
    assert_eq!(status.code(), Some(9), "remote access denied");
    let mut err = String::new();
    std::io::Read::read_to_string(c.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("wrong secret"), "{err}");
}

#[test]
fn a_silent_server_is_retried_then_given_up() {
    // A bound socket that never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let started = Instant::now();
    let (mut c, _out) = client(&[&addr, "--timeout", "0.2", "--retries", "2"]);
    assert_eq!(wait_exit(&mut c).code(), Some(28), "timeout");
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "three tries of 0.2 s"
    );
    let mut buf = [0u8; 64];
    silent
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let tries = std::iter::from_fn(|| silent.recv(&mut buf).ok()).count();
    assert_eq!(tries, 3, "greeting sent 1 + 2 retries");
    let mut err = String::new();
    std::io::Read::read_to_string(c.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("no answer"), "{err}");
}

#[test]
fn a_closed_port_fails_at_once_with_7() {
    // A port nobody listens on: the kernel answers "port unreachable".
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let (mut c, _out) = client(&[&format!("127.0.0.1:{port}"), "--timeout", "3"]);
    assert_eq!(wait_exit(&mut c).code(), Some(7), "cannot connect");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no waiting out the timeout: {:?}",
        started.elapsed()
    );
}
