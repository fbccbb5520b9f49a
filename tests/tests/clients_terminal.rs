//! The example clients and the host on a terminal (issue #20): the progress display
//! under a pseudo-terminal (`script` from util-linux gives the client one), shell
//! completions that bash parses, and man pages that `man` renders, for every binary.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use switchyard_e2e::{Host, bin_dir, pseudo_random, run_with_timeout};

const WAIT: Duration = Duration::from_secs(60);
const BINARIES: [&str; 5] = [
    "switchyard",
    "switchyard-tftp",
    "switchyard-files",
    "switchyard-bulk",
    "switchyard-chat",
];

/// `tool` must be installed (`.ci/run` installs it): fail, never skip, when it is not.
fn require(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{tool}` is not installed: .ci/run installs it (apt)"
    );
}

fn run(cmd: Command) -> Output {
    run_with_timeout(cmd, WAIT)
}

/// `bin ARGS` run by `script` on a pseudo-terminal in `cwd`; what the terminal showed.
fn on_a_terminal(cwd: &Path, bin: &str, args: &[&str]) -> String {
    let line = std::iter::once(bin_dir().join(bin).display().to_string())
        .chain(args.iter().map(|a| a.to_string()))
        .collect::<Vec<_>>()
        .join(" ");
    let log = cwd.join(format!("{bin}.typescript"));
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &line])
        .arg(&log)
        .current_dir(cwd);
    let o = run(cmd);
    assert!(
        o.status.success(),
        "{line}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned()
}

#[test]
fn progress_shows_name_percent_and_eta_on_a_terminal_only() {
    require("script");
    let host = Host::start(
        r#"(
    listeners: {
        "tftp_udp": (kind: udp, bind: "127.0.0.1:0"),
        "files_tcp": (kind: tcp, bind: "127.0.0.1:0"),
        "bulk_tcp": (kind: tcp, bind: "127.0.0.1:0"),
    },
    handlers: {
        "tftp": (plugin: "tftp", root: Some("$TMP/data"), config: ()),
        "files": (plugin: "files", root: Some("$TMP/data"), config: ()),
        "bulk": (plugin: "bulk", root: Some("$TMP/data"), config: ()),
    },
    routes: [
        (from: "tftp_udp", to: "tftp"),
        (from: "files_tcp", to: "files"),
        (from: "bulk_tcp", to: "bulk"),
    ],
)"#,
    );
    let root = host.temp_dir().join("data");
    std::fs::create_dir_all(root.join("incoming")).unwrap();
    // Long enough (a second or so in a debug build) for the bar to be drawn a few times.
    let data = pseudo_random(16 << 20, 24);
    std::fs::write(root.join("movie.bin"), &data).unwrap();
    std::fs::write(root.join("incoming/movie.bin"), &data).unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let tftp = host.addr("tftp_udp").to_string();
    let files = host.addr("files_tcp").to_string();
    let bulk = host.addr("bulk_tcp").to_string();
    let shown = [
        (
            "switchyard-tftp",
            on_a_terminal(w, "switchyard-tftp", &["get", &tftp, "movie.bin", "t.bin"]),
        ),
        (
            "switchyard-files",
            on_a_terminal(
                w,
                "switchyard-files",
                &["get", &files, "movie.bin", "f.bin"],
            ),
        ),
        (
            "switchyard-bulk",
            on_a_terminal(
                w,
                "switchyard-bulk",
                &["get", &bulk, "movie.bin", "-o", "b.bin"],
            ),
        ),
    ];
    for (bin, screen) in &shown {
        let bar = screen
            .split(['\r', '\n'])
            .find(|l| l.contains("movie.bin") && l.contains('%') && l.contains("ETA"))
            .unwrap_or_else(|| panic!("{bin}: no bar with name, percent and ETA in {screen:?}"));
        assert!(bar.contains("MiB"), "{bin}: bytes and rate: {bar:?}");
    }
    // Not a terminal (or --quiet): no bar at all.
    let mut cmd = Command::new(bin_dir().join("switchyard-files"));
    cmd.args(["get", &files, "movie.bin", "g.bin"])
        .current_dir(w);
    let o = run(cmd);
    assert!(o.status.success());
    assert!(!String::from_utf8_lossy(&o.stderr).contains('%'));
    let quiet = on_a_terminal(
        w,
        "switchyard-bulk",
        &["-q", "get", &bulk, "movie.bin", "-o", "q.bin"],
    );
    assert!(!quiet.contains("ETA"), "{quiet:?}");
}

#[test]
fn completions_parse_and_man_pages_render_for_every_binary() {
    require("bash");
    require("man");
    let work = tempfile::tempdir().unwrap();
    for bin in BINARIES {
        let exe = bin_dir().join(bin);
        for shell in ["bash", "zsh", "fish"] {
            let mut cmd = Command::new(&exe);
            cmd.args(["completions", shell]);
            let o = run(cmd);
            assert!(o.status.success(), "{bin} completions {shell}");
            assert!(
                String::from_utf8_lossy(&o.stdout).contains(bin),
                "{bin} {shell}"
            );
            if shell == "bash" {
                let file = work.path().join(format!("{bin}.bash"));
                std::fs::write(&file, &o.stdout).unwrap();
                let mut check = Command::new("bash");
                check.arg("-n").arg(&file);
                let c = run(check);
                assert!(
                    c.status.success(),
                    "{bin}: {}",
                    String::from_utf8_lossy(&c.stderr)
                );
            }
        }
        let mut cmd = Command::new(&exe);
        cmd.arg("man");
        let o = run(cmd);
        assert!(o.status.success(), "{bin} man");
        let page = work.path().join(format!("{bin}.1"));
        std::fs::write(&page, &o.stdout).unwrap();
        let mut render = Command::new("man");
        render.arg("-l").arg(&page).env("MANWIDTH", "80");
        let r = run(render);
        let text = plain(&String::from_utf8_lossy(&r.stdout));
        assert!(
            r.status.success(),
            "{bin}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        assert!(
            text.contains("EXIT STATUS") && text.contains("NAME"),
            "{bin}: {text}"
        );
        if bin != "switchyard" {
            assert!(
                text.contains("server busy"),
                "{bin}: the clients' table: {text}"
            );
        }
        // `--help` shows the same table, and so does every subcommand's `--help`
        // (`switchyard-tftp get --help`), each subcommand listed by the help itself.
        let h = help_of(&exe, &[]);
        if bin != "switchyard" {
            let subcommands = subcommands_in(&h);
            assert!(subcommands.contains(&"man".to_owned()), "{bin}: {h}");
            for args in std::iter::once(vec![]).chain(subcommands.iter().map(|s| vec![s.as_str()]))
            {
                let h = help_of(&exe, &args);
                assert!(
                    h.contains("EXIT STATUS:") && h.contains(" 78  the remote file does not exist"),
                    "{bin} {args:?} --help: {h}"
                );
            }
        }
    }
}

/// `exe ARGS --help` on stdout.
fn help_of(exe: &std::path::Path, args: &[&str]) -> String {
    let mut help = Command::new(exe);
    help.args(args).arg("--help");
    let o = run(help);
    assert!(o.status.success(), "{} {args:?} --help", exe.display());
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The names in a help text's `Commands:` section, but clap's own `help`.
fn subcommands_in(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// `man`'s output without its overstrikes (`N\x08N` for bold), as `col -b` would.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\u{8}' {
            out.pop();
        } else {
            out.push(c);
        }
    }
    out
}
