//! Nothing private is served by default (issue 14):
//! - the default topology's layout (derived from `config/topology.ron` itself): a chat
//!   line's marker reaches the audit transcript on disk, and no name a peer could try
//!   fetches it over TFTP (raw, curl, tftp-hpa), files v1 or files v2, nor lists it;
//!   the same probe on the old layout (audit under the served root, allowed with
//!   `allow_nested_roots`) does find it, so the probe can fail;
//! - hidden side files (`.x.sha256`, `.partial.<id>`) are neither served, written,
//!   deleted nor listed by TFTP and files, unless `serve_hidden: true`;
//! - `switchyard validate` refuses a private root inside a served one (exit 78, at
//!   `file:line:col`) unless `allow_nested_roots: true`; a C plugin built before the
//!   vtable's `storage` field loads and counts as served.

#[path = "privacy/probe.rs"]
mod probe;

use std::net::UdpSocket;
use std::path::Path;
use std::time::Duration;

use probe::{Probe, files_containing, names_to_try};
use switchyard_e2e::files_wire::V2;
use switchyard_e2e::{Host, compile_c, repo_root, run_switchyard, tftp_wire, wait_until};

/// `EX_CONFIG`: what `validate` exits with on a configuration error.
const EXIT_CONFIG: i32 = 78;

/// `config/topology.ron` as shipped, with every address on port 0 and every relative
/// root moved under `$TMP` (same layout below it).
fn default_topology() -> String {
    let text = std::fs::read_to_string(repo_root().join("config/topology.ron")).unwrap();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("\"127.0.0.1:") {
        let (head, tail) = rest.split_at(i + "\"127.0.0.1:".len());
        out.push_str(head);
        out.push('0');
        rest = tail.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    let out = out.replace("root: Some(\"./", "root: Some(\"$TMP/");
    assert!(
        out.contains("$TMP/data") && out.contains("$TMP/state/audit"),
        "the default layout changed; update this test:\n{out}"
    );
    out
}

/// A marker no file contains by chance.
fn marker() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("privacy-marker-{nanos:x}-{:x}", std::process::id())
}

/// Serve `topology`, say `marker` in the chat, wait until it is on disk, then try every
/// name for every file holding it. Returns what leaked (`how`), and how many files
/// held the marker.
fn chat_then_probe(topology: &str) -> (Vec<String>, usize) {
    let host = Host::start(topology);
    let marker = marker();
    let chat = UdpSocket::bind("127.0.0.1:0").unwrap();
    chat.send_to(format!("hello {marker}").as_bytes(), host.addr("chat_udp"))
        .unwrap();
    let tmp = host.temp_dir();
    // A file under its final name: the audit writes a hidden temp first and renames
    // it, and a probe run while only the temp exists would prove nothing.
    wait_until(
        "the audit flush writing the marker",
        Duration::from_secs(20),
        || {
            files_containing(tmp, marker.as_bytes()).iter().any(|rel| {
                !rel.components()
                    .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
            })
        },
    );
    let probe = Probe {
        tftp: host.addr("tftp_udp"),
        files: host.addr("files_tcp"),
    };
    let files = files_containing(tmp, marker.as_bytes());
    let mut leaks = Vec::new();
    for rel in &files {
        for name in names_to_try(rel) {
            for (how, got) in probe.fetch_all(&name) {
                if got.windows(marker.len()).any(|w| w == marker.as_bytes()) {
                    leaks.push(how);
                }
            }
            let (dir, file) = name.rsplit_once('/').unwrap_or(("", &name));
            let (head, listed) = probe.files_v2_list(dir);
            if listed.iter().any(|n| n == file) {
                leaks.push(format!("files v2 LIST {dir}: {head}"));
            }
        }
    }
    (leaks, files.len())
}

#[test]
fn the_default_layout_serves_no_transcript_by_any_name() {
    let (leaks, files) = chat_then_probe(&default_topology());
    assert!(
        files >= 1,
        "no file on disk held the marker: the probe proved nothing"
    );
    assert!(leaks.is_empty(), "the transcript leaked: {leaks:?}");
}

/// The layout before issue 14, audit under the served root: the same probe finds the
/// transcript, so the test above can fail.
#[test]
fn the_old_layout_is_caught_by_the_same_probe() {
    let old = default_topology()
        .replace("$TMP/state/audit", "$TMP/data/audit")
        .replacen(
            "listeners: {",
            "allow_nested_roots: true,\n    listeners: {",
            1,
        );
    assert!(old.contains("allow_nested_roots: true"));
    let (leaks, files) = chat_then_probe(&old);
    assert!(files >= 1);
    for how in [
        "tftp RRQ audit/",
        "files v1 1:audit/",
        "files v2 GET audit/",
    ] {
        assert!(
            leaks.iter().any(|l| l.starts_with(how)),
            "{how} did not fetch the transcript: {leaks:?}"
        );
    }
}

/// TFTP and files on one root holding a visible file and hidden side files.
fn side_files_host(serve_hidden: bool) -> (Host, Probe) {
    let host = Host::start(&format!(
        r#"(
    listeners: {{
        "tftp_udp": (kind: udp, bind: "127.0.0.1:0"),
        "files_tcp": (kind: tcp, bind: "127.0.0.1:0"),
    }},
    handlers: {{
        "tftp": (plugin: "tftp", root: Some("$TMP/data"),
                 config: (allow_create: true, allow_overwrite: true, serve_hidden: {serve_hidden})),
        "files": (plugin: "files", root: Some("$TMP/data"),
                  config: (allow_overwrite: true, allow_delete: true, serve_hidden: {serve_hidden})),
    }},
    routes: [ (from: "tftp_udp", to: "tftp"), (from: "files_tcp", to: "files") ],
)"#
    ));
    let data = host.temp_dir().join("data");
    std::fs::create_dir_all(data.join("d")).unwrap();
    std::fs::write(data.join("shown.txt"), "visible").unwrap();
    for name in HIDDEN {
        std::fs::write(data.join(name), format!("SIDE {name}")).unwrap();
    }
    let probe = Probe {
        tftp: host.addr("tftp_udp"),
        files: host.addr("files_tcp"),
    };
    (host, probe)
}

/// A digest side file, a kept partial (`.partial.<32 hex>`), one in a subdirectory.
const HIDDEN: [&str; 3] = [
    ".x.sha256",
    ".partial.0123456789abcdef0123456789abcdef",
    "d/.y.sha256",
];

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn hidden_side_files_are_not_served_written_deleted_or_listed() {
    let (host, probe) = side_files_host(false);
    for name in HIDDEN {
        for (how, got) in probe.fetch_all(name) {
            assert!(!contains(&got, "SIDE"), "{how} served it");
        }
        assert_eq!(tftp_wire::error_code(&probe.tftp_raw(name)), 1, "{name}");
        let (head, _) = probe.files_v2_get(name);
        assert!(head.starts_with("ERR 403"), "{name}: {head}");
        assert!(probe.files_v1(name).is_empty(), "{name}");
    }
    // Writes and deletes.
    let sock = tftp_wire::client_socket(probe.tftp);
    sock.send_to(&tftp_wire::wrq(".x.sha256", &[]), probe.tftp)
        .unwrap();
    assert_eq!(tftp_wire::error_code(&tftp_wire::recv(&sock).0), 2);
    let mut c = V2::open(probe.files);
    assert!(c.ask("PUT .x.sha256 5 - overwrite").starts_with("ERR 403"));
    assert!(c.ask("DELETE d/.y.sha256").starts_with("ERR 403"));
    let data = host.temp_dir().join("data");
    for name in HIDDEN {
        assert_eq!(
            std::fs::read_to_string(data.join(name)).unwrap(),
            format!("SIDE {name}"),
            "{name} was changed"
        );
    }
    // Listings show the visible file and no hidden one.
    let (_, root) = probe.files_v2_list("");
    assert!(root.contains(&"shown.txt".to_owned()), "{root:?}");
    let (_, sub) = probe.files_v2_list("d");
    for name in root.iter().chain(&sub) {
        assert!(!name.starts_with('.'), "listed {name}: {root:?} {sub:?}");
    }
    assert!(probe.files_v2_list(".git").0.starts_with("ERR 403"));
}

#[test]
fn serve_hidden_serves_and_lists_them() {
    let (_host, probe) = side_files_host(true);
    for name in HIDDEN {
        let want = format!("SIDE {name}");
        assert_eq!(probe.tftp_raw(name), want.as_bytes(), "tftp {name}");
        assert_eq!(probe.files_v1(name), want.as_bytes(), "v1 {name}");
        assert_eq!(probe.files_v2_get(name).1, want.as_bytes(), "v2 {name}");
    }
    let (_, sub) = probe.files_v2_list("d");
    assert_eq!(sub, [".y.sha256"]);
}

/// A topology in a temp dir: a served TFTP root and a private `keeper` root inside it.
fn nested_topology(dir: &Path, top: &str, keeper: &Path) -> String {
    format!(
        r#"(
    {top}
    plugins: {{ "keeper": "{lib}" }},
    listeners: {{ "t": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{
        "tftp": (plugin: "tftp", root: Some("{d}/data")),
        "keeper": (plugin: "keeper", root: Some("{d}/data/./keep")),
    }},
    routes: [ (from: "t", to: "tftp") ],
)
"#,
        d = dir.display(),
        lib = keeper.display()
    )
}

/// A C plugin declaring private storage; `size` is its vtable's `struct_size`.
fn keeper_source(size: &str) -> String {
    format!(
        r#"
#include "switchyard.h"
SWITCHYARD_DECLARE_C_PLUGIN();
struct SyInstance {{ int unused; }};
static SyInstance ONE;
static uint32_t create(const SyHostApi *a, SyHostCtx *c, SyStr cfg, SyInstance **out) {{
    (void)a; (void)c; (void)cfg; *out = &ONE; return SY_OK;
}}
static void destroy(SyInstance *i) {{ (void)i; }}
static uint32_t on_event(SyInstance *i, const SyHostApi *a, SyHostCtx *c, const SyEvent *e) {{
    (void)i; (void)a; (void)c; (void)e; return SY_OK;
}}
static const SyPluginVTable VTABLE = {{
    .struct_size = {size},
    .abi_version = SY_ABI_VERSION,
    .name = SY_STR("keeper"),
    .version = SY_STR("0.1.0"),
    .instance_mode = SY_INSTANCE_PER_HANDLER,
    .create = create,
    .destroy = destroy,
    .on_event = on_event,
    .storage = SY_STORAGE_PRIVATE,
}};
__attribute__((visibility("default"))) const SyPluginVTable *switchyard_plugin_entry(uint32_t v) {{
    (void)v; return &VTABLE;
}}
"#
    )
}

#[test]
fn validate_refuses_a_private_root_inside_a_served_one_at_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let keeper = compile_c(
        dir.path(),
        "libkeeper.so",
        &keeper_source("sizeof(SyPluginVTable)"),
    );
    let text = nested_topology(dir.path(), "", &keeper);
    let file = dir.path().join("nested.ron");
    std::fs::write(&file, &text).unwrap();
    let out = run_switchyard([Path::new("validate"), &file]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(EXIT_CONFIG), "{err}");
    let line = text.lines().position(|l| l.contains("/keep")).unwrap() + 1;
    let col = text.lines().nth(line - 1).unwrap().find("Some(").unwrap() + 1;
    for needle in [
        format!("{}:{line}:{col}", file.display()),
        "topology::nested_roots".to_owned(),
        "allow_nested_roots".to_owned(),
    ] {
        assert!(err.contains(&needle), "missing {needle:?} in:\n{err}");
    }

    std::fs::write(
        &file,
        nested_topology(dir.path(), "allow_nested_roots: true,", &keeper),
    )
    .unwrap();
    let out = run_switchyard([Path::new("validate"), &file]);
    assert!(out.status.success(), "{out:?}");
}

/// A plugin built before the vtable had `storage` ends its table there: whatever
/// follows is not its declaration, so it loads and counts as served.
#[test]
fn a_plugin_built_before_the_storage_field_loads_as_served() {
    let dir = tempfile::tempdir().unwrap();
    let keeper = compile_c(
        dir.path(),
        "libkeeper.so",
        &keeper_source("SY_VTABLE_SIZE_V1"),
    );
    let file = dir.path().join("old.ron");
    std::fs::write(&file, nested_topology(dir.path(), "", &keeper)).unwrap();
    let out = run_switchyard([Path::new("validate"), &file]);
    assert!(out.status.success(), "{out:?}");
    let out = run_switchyard([Path::new("plugins"), Path::new("--config"), &file]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("keeper "))
        .unwrap_or_else(|| panic!("keeper not listed:\n{stdout}"));
    assert_eq!(line.split_whitespace().nth(3), Some("served"), "{line}");
}
