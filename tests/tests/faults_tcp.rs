//! TCP faults, end to end: floods of connections (total and per address), slowloris
//! bodies, peers that stop reading a download, and half-open connections.
//!
//! Limits and timeouts are set small in each topology so that every test ends in
//! seconds; other clients are served while the bad one is being dealt with. Extra
//! client addresses are other loopback addresses (`127.0.0.2`, ...), which Linux routes
//! to `lo` without configuration.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use switchyard_e2e::faults::{
    open_files, pattern, read_until_closed, tcp_connect_from, temps_below,
};
use switchyard_e2e::files_wire::V2;
use switchyard_e2e::{Host, log_text, tcp_connect, wait_until};

const WAIT: Duration = Duration::from_secs(20);

fn lo(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

/// An echo handler on TCP with the given `limits: (...)`.
fn echo_with_limits(limits: &str) -> (Host, SocketAddr) {
    let host = Host::start(&format!(
        r#"(
    listeners: {{ "t": (kind: tcp, bind: "127.0.0.1:0") }},
    handlers: {{ "echo": (plugin: "echo", limits: ({limits})) }},
    routes: [ (from: "t", to: "echo") ],
)"#
    ));
    let addr = host.addr("t");
    (host, addr)
}

/// A files handler rooted in the host's temp dir.
fn files_with(config: &str) -> (Host, SocketAddr) {
    let host = Host::start(&format!(
        r#"(
    listeners: {{ "f": (kind: tcp, bind: "127.0.0.1:0") }},
    handlers: {{ "files": (plugin: "files", root: Some("$TMP/data"), config: ({config})) }},
    routes: [ (from: "f", to: "files") ],
)"#
    ));
    std::fs::create_dir_all(host.temp_dir().join("data")).unwrap();
    let addr = host.addr("f");
    (host, addr)
}

/// The connection echoes: it was admitted and is being served.
fn echoes(s: &mut TcpStream) {
    s.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
}

/// Connect from `from` and check that the host closes the connection unserved, after
/// its refusal line.
fn refused(from: IpAddr, addr: SocketAddr, line: &str) {
    let mut s = tcp_connect_from(from, addr, WAIT);
    let _ = s.set_read_timeout(Some(WAIT));
    let mut got = String::new();
    let _ = s.read_to_string(&mut got);
    assert_eq!(
        got,
        format!("{line}\n"),
        "refused with the line, not served"
    );
}

fn refusals(host: &Host, limit: &str) -> usize {
    host.logs_where(|j| j["msg"] == "connection refused: limit reached" && j["limit"] == limit)
        .len()
}

// ---- floods ---------------------------------------------------------------------------

/// One address opens its 3 allowed connections and then 40 more: the 40 are told why
/// and closed at once, logged in one line (not 40), the 3 keep being served, other
/// addresses are not affected, and a closed connection gives its slot back.
#[test]
fn flood_from_one_address_is_cut_at_the_per_address_limit_and_others_are_served() {
    let (host, addr) = echo_with_limits("max_connections: 100, max_connections_per_ip: 3");
    let mut kept: Vec<TcpStream> = (0..3)
        .map(|_| tcp_connect_from(lo(1), addr, WAIT))
        .collect();
    kept.iter_mut().for_each(echoes);
    for _ in 0..40 {
        refused(
            lo(1),
            addr,
            "too many connections from your address, try later",
        );
    }
    // The peer hears the line before the log is written: wait for the log, then
    // check that the 40 refusals made one line, not 40.
    wait_until("the refusal logged", WAIT, || {
        refusals(&host, "max_connections_per_ip") >= 1
    });
    assert_eq!(
        refusals(&host, "max_connections_per_ip"),
        1,
        "one line per address per period"
    );
    let mut other = tcp_connect_from(lo(2), addr, WAIT);
    echoes(&mut other);
    kept.iter_mut().for_each(echoes);

    drop(kept.pop());
    wait_until("the freed slot taken again", WAIT, || {
        let mut s = tcp_connect_from(lo(1), addr, WAIT);
        s.write_all(b"ping").is_ok() && {
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).is_ok()
        }
    });
}

/// Many addresses together reach the handler's total: the next connection, from a
/// fresh address, is refused with `max_connections`, and the admitted ones are served.
#[test]
fn flood_from_many_addresses_is_cut_at_the_total_limit_and_admitted_ones_are_served() {
    let (host, addr) = echo_with_limits("max_connections: 6, max_connections_per_ip: 2");
    let mut kept: Vec<TcpStream> = (1..=3)
        .flat_map(|n| [lo(n), lo(n)])
        .map(|ip| tcp_connect_from(ip, addr, WAIT))
        .collect();
    kept.iter_mut().for_each(echoes);
    for n in 4..24 {
        refused(lo(n), addr, "server busy: too many connections, try later");
    }
    wait_until("20 refusals logged", WAIT, || {
        refusals(&host, "max_connections") == 20
    });
    assert_eq!(refusals(&host, "max_connections_per_ip"), 0);
    kept.iter_mut().for_each(echoes);
}

// ---- bad input ------------------------------------------------------------------------

/// A 1 MiB request line without a newline: the server answers `ERR 414` as soon as
/// `max_line_bytes` is passed, without buffering the rest, and closes; a line that is
/// not UTF-8 is `ERR 400` and the connection stays usable. Others are served.
#[test]
fn a_megabyte_line_without_newline_is_414_and_non_utf8_is_400() {
    let (host, addr) = files_with("");
    std::fs::write(host.temp_dir().join("data/f"), b"data").unwrap();
    let mut c = V2::open(addr);
    c.s.write_all(b"GET \xff\xfe\n").unwrap();
    assert!(c.line().starts_with("ERR 400 "), "non-UTF-8");
    assert_eq!(c.get("f"), ("OK 4 -".to_owned(), b"data".to_vec()));

    let mut long = V2::open(addr);
    // The server may close before all of it is written: a failed write is expected.
    let _ = long.s.write_all(&vec![b'a'; 1 << 20]);
    assert_eq!(long.line(), "ERR 414 request line over 4096 bytes");
    read_until_closed(&mut long.s, WAIT);
    assert_eq!(c.get("f"), ("OK 4 -".to_owned(), b"data".to_vec()));
}

// ---- slow peers -----------------------------------------------------------------------

/// A `PUT` body trickled one byte at a time (slowloris on the body) is cut off when
/// its transfer deadline (`idle_timeout + size / min_transfer_rate`) passes: nothing
/// is stored, the temp is removed, and another client is served meanwhile.
#[test]
fn slowloris_body_is_cut_off_at_the_transfer_deadline_and_stores_nothing() {
    let (host, addr) = files_with("idle_timeout_secs: 1, min_transfer_rate: 1048576");
    let root = host.temp_dir().join("data");
    std::fs::write(root.join("f"), b"data").unwrap();
    let mut slow = V2::open(addr);
    assert_eq!(slow.ask("PUT slow.bin 1048576"), "CONTINUE");
    let started = Instant::now();
    let mut trickle = slow.s.try_clone().unwrap();
    let trickler = std::thread::spawn(move || {
        // One byte every 50 ms until the server has had enough (at most 20 s).
        for _ in 0..400 {
            if trickle.write_all(b"x").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let mut fast = V2::open(addr);
    assert_eq!(fast.get("f"), ("OK 4 -".to_owned(), b"data".to_vec()));
    read_until_closed(&mut slow.s, WAIT);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(8),
        "deadline is 2 s, took {took:?}"
    );
    trickler.join().unwrap();
    wait_until("the temp removed", WAIT, || temps_below(&root).is_empty());
    assert!(!root.join("slow.bin").exists());
    host.expect_log(
        "the abandoned upload",
        |j| {
            Some(log_text(j))
                .is_some_and(|m| m.contains("slow.bin") && m.contains("result=timeout"))
        },
        WAIT,
    );
}

/// A client asks for a 32 MiB file and never reads. The host does not buffer the
/// file: the transfer deadline (here 1 s + 32 MiB at 16 MiB/s) ends the transfer, the
/// host lets go of the file and the connection after its close linger (5 s), and only
/// what socket buffers held ever reaches the client. Another client downloads at once
/// meanwhile.
#[test]
fn a_download_that_is_never_read_is_ended_at_its_deadline() {
    let (host, addr) = files_with("idle_timeout_secs: 1, min_transfer_rate: 16777216");
    let root = host.temp_dir().join("data");
    let size = 32 << 20;
    let big = root.join("big.bin");
    std::fs::write(&big, pattern(size, 5)).unwrap();
    std::fs::write(root.join("f"), b"data").unwrap();
    let mut stuck = V2::open(addr);
    stuck.s.write_all(b"GET big.bin\n").unwrap();
    let started = Instant::now();
    wait_until("the host sending big.bin", WAIT, || {
        open_files(host.pid()).contains(&big)
    });
    let mut fast = V2::open(addr);
    assert_eq!(fast.get("f"), ("OK 4 -".to_owned(), b"data".to_vec()));
    host.expect_log(
        "the stalled download",
        |j| {
            Some(log_text(j)).is_some_and(|m| m.contains("big.bin") && m.contains("result=timeout"))
        },
        WAIT,
    );
    wait_until("the host letting go of big.bin", WAIT, || {
        !open_files(host.pid()).contains(&big)
    });
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(15),
        "deadline 3 s + linger 5 s, took {took:?}"
    );
    let got = read_until_closed(&mut stuck.s, WAIT);
    assert!(got < size, "all {got} bytes arrived: nothing was cut off");
}

/// A peer that sends into an echo and never reads: echo's replies pile up in the
/// host's write buffer until `max_write_buffer`, and then the connection is closed
/// instead of buffering without bound.
#[test]
fn a_peer_that_never_reads_its_echo_is_cut_off_at_the_write_buffer_limit() {
    let (_host, addr) = echo_with_limits("max_write_buffer: 65536");
    let mut s = tcp_connect(addr, WAIT);
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0usize;
    // A write that times out would mean the host merely stopped reading: only a reset
    // or a broken pipe is the cut-off this test wants.
    let cut = (0..1024).find_map(|_| match s.write(&chunk) {
        Ok(n) => {
            sent += n;
            None
        }
        Err(e) => Some(e.kind()),
    });
    assert!(
        matches!(
            cut,
            Some(ErrorKind::ConnectionReset | ErrorKind::BrokenPipe)
        ),
        "after {sent} bytes: {cut:?}"
    );
}

// ---- half-open ------------------------------------------------------------------------

/// A client that vanishes without a FIN (a half-open connection: from the server's
/// side it simply goes silent) is closed by the idle timeout, mid-session or before
/// its first request.
#[test]
fn half_open_connections_are_closed_by_the_idle_timeout() {
    let (host, addr) = files_with("idle_timeout_secs: 1");
    let mut before_request = tcp_connect(addr, WAIT);
    let mut mid_session = V2::open(addr);
    assert!(mid_session.ask("LIST").starts_with("OK"));
    let started = Instant::now();
    assert_eq!(read_until_closed(&mut before_request, WAIT), 0);
    assert_eq!(read_until_closed(&mut mid_session.s, WAIT), 0);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(host.logs_where(|j| j["level"] == "error").len(), 0);
}

/// A client that half-closes (FIN) in the middle of a request line is done: the
/// server ends the connection at once rather than waiting for the header timeout.
#[test]
fn a_half_close_mid_request_ends_the_connection_without_waiting() {
    let (_host, addr) = files_with("header_timeout_secs: 30, idle_timeout_secs: 30");
    let mut s = tcp_connect(addr, WAIT);
    s.write_all(b"SYFILES/2\nGET f").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let started = Instant::now();
    read_until_closed(&mut s, WAIT);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
