//! The example clients as a script or a person meets them (issue #20): every exit
//! status of the shared table provoked for real, `.NAME.part` files that no failure or
//! Ctrl-C leaves behind, `--force`, `--checksum`, `--json`, `ls -l` lines, the menu's
//! locale, and the host's refusal line for a connection limit read by the clients.
//! Terminal matters (progress under a pseudo-terminal, completions, man pages) are in
//! `clients_terminal.rs`.

use std::net::{TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use switchyard_e2e::slow_link::{SlowTcp, SlowUdp};
use switchyard_e2e::{Host, bin_dir, pseudo_random, run_with_timeout, sha256_hex, wait_until};

const WAIT: Duration = Duration::from_secs(60);

/// One host serving TFTP, files and bulk from one root (`bulk` under `incoming/`).
struct Servers {
    host: Host,
}

impl Servers {
    fn start(limits: &str) -> Servers {
        Servers::start_with(limits, "()")
    }

    /// With `bulk_config` as the bulk handler's `config`.
    fn start_with(limits: &str, bulk_config: &str) -> Servers {
        let host = Host::start(&format!(
            r#"(
    listeners: {{
        "tftp_udp": (kind: udp, bind: "127.0.0.1:0"),
        "files_tcp": (kind: tcp, bind: "127.0.0.1:0"),
        "bulk_tcp": (kind: tcp, bind: "127.0.0.1:0"),
    }},
    handlers: {{
        "tftp": (plugin: "tftp", root: Some("$TMP/data"), config: (allow_create: true)),
        "files": (plugin: "files", root: Some("$TMP/data"), limits: ({limits}), config: ()),
        "bulk": (plugin: "bulk", root: Some("$TMP/data"), limits: ({limits}), config: {bulk_config}),
    }},
    routes: [
        (from: "tftp_udp", to: "tftp"),
        (from: "files_tcp", to: "files"),
        (from: "bulk_tcp", to: "bulk"),
    ],
)"#
        ));
        std::fs::create_dir_all(host.temp_dir().join("data/incoming")).unwrap();
        Servers { host }
    }

    fn root(&self) -> std::path::PathBuf {
        self.host.temp_dir().join("data")
    }

    fn addr(&self, listener: &str) -> String {
        self.host.addr(listener).to_string()
    }
}

/// Run client `bin` in `cwd` with the locale unset (English); stdin empty.
fn run(bin: &str, cwd: &Path, args: &[&str]) -> Output {
    run_env(bin, cwd, args, &[])
}

fn run_env(bin: &str, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let exe = bin_dir().join(bin);
    assert!(
        exe.is_file(),
        "{} not built: cargo build --workspace",
        exe.display()
    );
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_with_timeout(cmd, WAIT)
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Names in `dir`, hidden ones included, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A port with nothing behind it, TCP and UDP.
fn closed_port() -> String {
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

fn assert_exit(o: &Output, want: i32, what: &str) {
    assert_eq!(code(o), want, "{what}: {}{}", stdout(o), stderr(o));
}

/// A download (`args`) onto the existing `file` in `w`: 73 and untouched, then with
/// `--force` replaced by `data`, and no part left behind.
fn refused_then_forced(bin: &str, w: &Path, args: &[&str], file: &str, data: &[u8]) {
    let before = std::fs::read(w.join(file)).unwrap();
    assert_exit(&run(bin, w, args), 73, "exists");
    assert_eq!(std::fs::read(w.join(file)).unwrap(), before, "untouched");
    let forced: Vec<&str> = args.iter().copied().chain(["--force"]).collect();
    assert_exit(&run(bin, w, &forced), 0, "--force");
    assert_eq!(std::fs::read(w.join(file)).unwrap(), data);
    assert_eq!(names(w), [file], "no part left behind");
}

#[test]
fn tftp_client_exit_statuses_and_parts() {
    let s = Servers::start("");
    let data = pseudo_random(100_000, 20);
    std::fs::write(s.root().join("t.bin"), &data).unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let tftp = s.addr("tftp_udp");

    // A closed port: the ICMP error ends it at once (it took 31.8 s of retries).
    let started = Instant::now();
    let o = run("switchyard-tftp", w, &["get", &closed_port(), "t.bin"]);
    assert_exit(&o, 7, "closed port");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // A missing file: 78, and nothing created.
    let o = run("switchyard-tftp", w, &["get", &tftp, "nope.bin"]);
    assert_exit(&o, 78, "missing file");
    assert!(names(w).is_empty(), "{:?}", names(w));
    // A name the server refuses: 9.
    let o = run("switchyard-tftp", w, &["get", &tftp, "../etc/passwd", "x"]);
    assert_exit(&o, 9, "refused name");
    assert!(names(w).is_empty(), "{:?}", names(w));
    // Bad arguments: 2.
    assert_exit(&run("switchyard-tftp", w, &["get"]), 2, "usage");

    // --json: one line with the file's digest.
    let o = run("switchyard-tftp", w, &["get", &tftp, "t.bin", "--json"]);
    assert_exit(&o, 0, "get");
    let j: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(j["name"], "t.bin");
    assert_eq!(j["bytes"], 100_000);
    assert_eq!(j["sha256"], sha256_hex(&data));
    assert!(j["seconds"].as_f64().unwrap() > 0.0 && j["rate"].as_f64().unwrap() > 0.0);
    // An existing file without --force: 73, untouched; with --force replaced.
    std::fs::write(w.join("t.bin"), b"mine").unwrap();
    let o = run("switchyard-tftp", w, &["get", &tftp, "t.bin"]);
    assert_exit(&o, 73, "exists");
    assert_eq!(std::fs::read(w.join("t.bin")).unwrap(), b"mine");
    let o = run("switchyard-tftp", w, &["get", &tftp, "t.bin", "--force"]);
    assert_exit(&o, 0, "--force");
    assert_eq!(std::fs::read(w.join("t.bin")).unwrap(), data);
    // An upload of a name the server holds: the server says "exists".
    let o = run("switchyard-tftp", w, &["put", &tftp, "t.bin"]);
    assert_exit(&o, 73, "put over an existing name");
    // A local file that cannot be read: 26.
    let o = run("switchyard-tftp", w, &["put", &tftp, "absent.bin"]);
    assert_exit(&o, 26, "local read");
    assert_eq!(names(w), ["t.bin"], "no part left by any of it");
}

/// Servers, the address of `listener`, and a work directory holding `name` with `len`
/// pseudo-random bytes.
fn with_local_file(
    listener: &str,
    name: &str,
    len: usize,
) -> (Servers, String, Vec<u8>, tempfile::TempDir) {
    let s = Servers::start("");
    let addr = s.addr(listener);
    let data = pseudo_random(len, len as u64);
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join(name), &data).unwrap();
    (s, addr, data, work)
}

#[test]
fn files_client_exit_statuses_force_checksum_json_ls_and_menu() {
    let (s, files, data, work) = with_local_file("files_tcp", "up.bin", 300_000);
    let w = work.path();

    assert_exit(
        &run("switchyard-files", w, &["ls", &closed_port()]),
        7,
        "closed port",
    );
    assert_exit(
        &run("switchyard-files", w, &["ls", "nosuch.invalid"]),
        6,
        "resolve",
    );
    let o = run("switchyard-files", w, &["get", &files, "nope.bin"]);
    assert_exit(&o, 78, "missing file");
    assert_eq!(names(w), ["up.bin"], "nothing created for a missing file");
    assert_exit(
        &run("switchyard-files", w, &["get", &files, "../x", "y"]),
        9,
        "refused",
    );

    let o = run("switchyard-files", w, &["--json", "put", &files, "up.bin"]);
    assert_exit(&o, 0, "put");
    let j: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(
        (j["name"].as_str(), j["sha256"].as_str()),
        (Some("up.bin"), Some(&*sha256_hex(&data)))
    );
    // Again: the name exists (73); with --checksum the same bytes are skipped, and no
    // second copy (`up-1.bin`) appears.
    assert_exit(
        &run("switchyard-files", w, &["put", &files, "up.bin"]),
        73,
        "exists",
    );
    let o = run(
        "switchyard-files",
        w,
        &["--json", "put", &files, "up.bin", "--checksum"],
    );
    assert_exit(&o, 0, "--checksum");
    let j: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(j["skipped"], true);
    assert_eq!(
        names(&s.root())
            .iter()
            .filter(|n| n.starts_with("up"))
            .count(),
        1
    );

    std::fs::write(w.join("up.bin"), b"old").unwrap();
    refused_then_forced(
        "switchyard-files",
        w,
        &["get", &files, "up.bin"],
        "up.bin",
        &data,
    );

    // `ls -l`: kind, size, local time (`Mon DD HH:MM`), name.
    let o = run("switchyard-files", w, &["ls", &files]);
    let line = stdout(&o)
        .lines()
        .find(|l| l.ends_with(" up.bin"))
        .unwrap()
        .to_owned();
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!((cols[0], cols[1]), ("-", "300000"), "{line}");
    assert!(
        cols[4].contains(':') && cols[2].len() == 3,
        "a local time: {line}"
    );

    // The menu: English by default, the seed's Chinese under a zh locale.
    let menu = |env: &[(&str, &str)]| {
        let exe = bin_dir().join("switchyard-files");
        let mut child = Command::new(exe)
            .args(["shell", &files])
            .current_dir(w)
            .env_remove("LC_ALL")
            .env_remove("LANG")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"3\n0\n").unwrap();
        String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
    };
    let en = menu(&[]);
    assert!(
        en.contains("0.quit  1.download") && en.contains("Client closed"),
        "{en}"
    );
    let zh = menu(&[("LANG", "zh_CN.UTF-8")]);
    assert!(
        zh.contains("请选择操作: 0.退出") && zh.contains("客户端关闭"),
        "{zh}"
    );
}

#[test]
fn bulk_client_exit_statuses_force_checksum_and_json() {
    let (s, bulk, data, work) = with_local_file("bulk_tcp", "b.bin", 200_000);
    let w = work.path();

    assert_exit(
        &run("switchyard-bulk", w, &["get", &closed_port(), "c.bin"]),
        7,
        "closed",
    );
    // A missing file creates nothing (it left an empty `.nope.bin.part`).
    assert_exit(
        &run("switchyard-bulk", w, &["get", &bulk, "nope.bin"]),
        78,
        "missing",
    );
    assert_eq!(names(w), ["b.bin"]);
    // A digest the bytes do not have: 65, nothing stored.
    let zeros = "0".repeat(64);
    let o = run(
        "switchyard-bulk",
        w,
        &["send", &bulk, "b.bin", "--sha256", &zeros],
    );
    assert_exit(&o, 65, "bad digest");
    assert!(!s.root().join("incoming/b.bin").exists());

    let o = run("switchyard-bulk", w, &["--json", "send", &bulk, "b.bin"]);
    assert_exit(&o, 0, "send");
    let j: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(j["sha256"], sha256_hex(&data));
    // The same bytes again with --checksum: skipped, no `b-1.bin`.
    let o = run(
        "switchyard-bulk",
        w,
        &["--json", "send", &bulk, "b.bin", "--checksum"],
    );
    assert_exit(&o, 0, "--checksum");
    let j: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(j["skipped"], true, "{j}");
    assert!(!s.root().join("incoming/b-1.bin").exists());

    refused_then_forced(
        "switchyard-bulk",
        w,
        &["get", &bulk, "b.bin"],
        "b.bin",
        &data,
    );
}

/// `send` onto a taken name: refused before anything is sent (73, whether the stored
/// file is longer or shorter), nothing stored beside it; `--force` replaces it in
/// place (same name, the new bytes by sha256).
#[test]
fn bulk_send_refuses_a_taken_name_and_force_replaces_it() {
    let s = Servers::start_with("", "(allow_overwrite: true)");
    let bulk = s.addr("bulk_tcp");
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let stored = s.root().join("incoming/r.bin");
    let old = pseudo_random(100_000, 31);
    std::fs::write(w.join("r.bin"), &old).unwrap();
    assert_exit(
        &run("switchyard-bulk", w, &["send", &bulk, "r.bin"]),
        0,
        "free",
    );
    for len in [150_000, 50_000] {
        std::fs::write(w.join("r.bin"), pseudo_random(len, 32)).unwrap();
        let o = run("switchyard-bulk", w, &["send", &bulk, "r.bin"]);
        assert_exit(&o, 73, "taken");
        assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
        assert_eq!(
            sha256_hex(&std::fs::read(&stored).unwrap()),
            sha256_hex(&old)
        );
        assert_eq!(
            names(&s.root().join("incoming")),
            [".r.bin.sha256", "r.bin"],
            "no second copy"
        );
    }
    let new = pseudo_random(120_000, 33);
    std::fs::write(w.join("r.bin"), &new).unwrap();
    let o = run(
        "switchyard-bulk",
        w,
        &["--json", "send", &bulk, "r.bin", "--force"],
    );
    assert_exit(&o, 0, "--force");
    let j: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(
        (&j["name"], &j["sha256"]),
        (&"r.bin".into(), &sha256_hex(&new).into())
    );
    assert_eq!(
        sha256_hex(&std::fs::read(&stored).unwrap()),
        sha256_hex(&new)
    );
    assert_eq!(
        names(&s.root().join("incoming")),
        [".r.bin.sha256", "r.bin"]
    );
    // The remembered digest is the new file's: --checksum now skips it.
    let o = run(
        "switchyard-bulk",
        w,
        &["--json", "send", &bulk, "r.bin", "--checksum"],
    );
    assert_exit(&o, 0, "--checksum after --force");
    assert!(stdout(&o).contains("\"skipped\":true"), "{}", stdout(&o));
}

/// `--force` where replacing is impossible: a handler without `allow_overwrite`
/// (exit 9, the file untouched), and a server from before the replace flag, which
/// answers `BAD_REQUEST unknown flags` (exit 9, said in words).
#[test]
fn bulk_force_is_refused_clearly_where_the_server_cannot_replace() {
    let (s, bulk, data, work) = with_local_file("bulk_tcp", "k.bin", 30_000);
    let w = work.path();
    assert_exit(
        &run("switchyard-bulk", w, &["send", &bulk, "k.bin"]),
        0,
        "first",
    );
    std::fs::write(w.join("k.bin"), b"other").unwrap();
    let o = run("switchyard-bulk", w, &["send", &bulk, "k.bin", "--force"]);
    assert_exit(&o, 9, "allow_overwrite off");
    assert!(stderr(&o).contains("allow_overwrite"), "{}", stderr(&o));
    let stored = std::fs::read(s.root().join("incoming/k.bin")).unwrap();
    assert_eq!(sha256_hex(&stored), sha256_hex(&data));

    let old = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = old.local_addr().unwrap().to_string();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut c, _) = old.accept().unwrap();
        let mut header = [0u8; 16];
        c.read_exact(&mut header).unwrap();
        assert_eq!(header[6] & 0x08, 0x08, "the replace flag is sent");
        // What a bulk server before the flag answers, then closes.
        let text = b"unknown flags";
        let mut reply = vec![0xB5, b'B', b'L', b'K', 0x10, 0];
        reply.extend_from_slice(&(text.len() as u16).to_be_bytes());
        reply.extend_from_slice(&[0; 8 + 32]);
        reply.extend_from_slice(text);
        c.write_all(&reply).unwrap();
        let _ = c.shutdown(std::net::Shutdown::Write);
        let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = std::io::copy(&mut c, &mut std::io::sink());
    });
    let o = run("switchyard-bulk", w, &["send", &addr, "k.bin", "--force"]);
    server.join().unwrap();
    assert_exit(&o, 9, "old server");
    assert!(
        stderr(&o).contains("cannot replace files"),
        "{}",
        stderr(&o)
    );
}

/// Over `max_connections_per_ip` the host writes its line before the close; the files
/// and bulk clients print it and exit 75, and the host logs the address once.
#[test]
fn a_connection_limit_is_read_by_the_clients_as_busy() {
    let s = Servers::start("max_connections_per_ip: 1");
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    std::fs::write(w.join("x.bin"), b"x").unwrap();
    let held: Vec<TcpStream> = ["files_tcp", "bulk_tcp"]
        .iter()
        .map(|l| TcpStream::connect(s.host.addr(l)).unwrap())
        .collect();
    wait_until("both slots taken", WAIT, || {
        run("switchyard-files", w, &["ls", &s.addr("files_tcp")])
            .status
            .code()
            == Some(75)
    });
    for _ in 0..3 {
        let o = run("switchyard-files", w, &["ls", &s.addr("files_tcp")]);
        assert_exit(&o, 75, "files over the limit");
        assert!(
            stderr(&o).contains("too many connections from your address, try later"),
            "{}",
            stderr(&o)
        );
        let o = run(
            "switchyard-bulk",
            w,
            &["send", &s.addr("bulk_tcp"), "x.bin"],
        );
        assert_exit(&o, 75, "bulk over the limit");
        assert!(
            stderr(&o).contains("too many connections from your address"),
            "{}",
            stderr(&o)
        );
    }
    let lines = s
        .host
        .logs_where(|j| j["msg"] == "connection refused: limit reached");
    assert_eq!(
        lines.len(),
        2,
        "one line per handler for the address, not one per try"
    );
    drop(held);
}

/// Ctrl-C in the middle of a download removes `.NAME.part` (it stayed, with the pid in
/// its name); `--keep-partial` keeps it.
#[test]
fn sigint_mid_transfer_leaves_no_part() {
    let s = Servers::start("");
    let data = pseudo_random(1 << 20, 23);
    std::fs::write(s.root().join("slow.bin"), &data).unwrap();
    std::fs::write(s.root().join("incoming/slow.bin"), &data).unwrap();
    let tftp_link = SlowUdp::start(s.host.addr("tftp_udp"), 128 * 1024);
    let bulk_link = SlowTcp::start(s.host.addr("bulk_tcp"), Some(128 * 1024), None);
    let (tftp, bulk) = (tftp_link.addr().to_string(), bulk_link.addr().to_string());
    let cases: [(&str, &str, Option<&str>); 3] = [
        ("switchyard-tftp", &tftp, None),
        ("switchyard-bulk", &bulk, None),
        ("switchyard-bulk", &bulk, Some("--keep-partial")),
    ];
    for (bin, server, flag) in cases {
        let args: Vec<&str> = ["get", server, "slow.bin"]
            .into_iter()
            .chain(flag)
            .collect();
        let kept = flag.is_some();
        let work = tempfile::tempdir().unwrap();
        let w = work.path();
        let mut child = Command::new(bin_dir().join(bin))
            .args(&args)
            .current_dir(w)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let part = w.join(".slow.bin.part");
        wait_until("the part appears", WAIT, || part.exists());
        std::thread::sleep(Duration::from_millis(200)); // well into the transfer
        let pid = rustix::process::Pid::from_child(&child);
        rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "{bin} {args:?}");
        assert_eq!(part.exists(), kept, "{bin} {args:?}: {:?}", names(w));
        assert!(!w.join("slow.bin").exists(), "never a partial target");
    }
    drop((tftp_link, bulk_link));
}
