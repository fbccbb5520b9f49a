//! `switchyard new-plugin` writes plugins that build, pass their own tests, validate,
//! and serve: the Rust crate (built by cargo outside the workspace, its MockHost tests
//! run) and the C file (built by its Makefile), each served through its sample topology
//! with one datagram through the listener.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use switchyard_e2e::{Host, run_switchyard, run_with_timeout, target_root, udp_roundtrip};

const WAIT: Duration = Duration::from_secs(5);

fn new_plugin(dir: &Path, name: &str, lang: &str) {
    let out = run_switchyard([
        "new-plugin".as_ref(),
        name.as_ref(),
        "--lang".as_ref(),
        lang.as_ref(),
        "--dir".as_ref(),
        dir.as_os_str(),
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("next: cd "),
        "{out:?}"
    );
}

fn run(mut cmd: Command, what: &str) {
    let out = run_with_timeout(
        {
            cmd.env_remove("RUSTFLAGS")
                .env_remove("CARGO_ENCODED_RUSTFLAGS")
                .env_remove("CARGO_BUILD_TARGET");
            cmd
        },
        Duration::from_secs(600),
    );
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Serve the scaffold's own sample topology (its port moved to 0) from its directory.
fn serve_sample(dir: &Path) -> Host {
    let sample = std::fs::read_to_string(dir.join("topology.ron")).unwrap();
    let lib_rel = sample
        .lines()
        .find_map(|l| {
            l.split("\": \"")
                .nth(1)?
                .split('"')
                .next()
                .filter(|p| p.ends_with(".so"))
        })
        .expect("the sample names its library");
    let text = sample
        .replace("127.0.0.1:7070", "127.0.0.1:0")
        .replace(lib_rel, &dir.join(lib_rel).display().to_string());
    let file = dir.join("served.ron");
    std::fs::write(&file, &text).unwrap();
    let out = run_switchyard(["validate".as_ref(), file.as_os_str()]);
    assert!(out.status.success(), "{out:?}");
    Host::start(&text)
}

#[test]
fn a_new_rust_plugin_tests_builds_validates_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let crate_dir = dir.path().join("greeter");
    new_plugin(&crate_dir, "greeter", "rust");
    let target = target_root().join("new-plugin-greeter");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut test = Command::new(&cargo);
    test.arg("test")
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", &target);
    run(test, "cargo test of the new plugin");
    let mut build = Command::new(&cargo);
    build
        .arg("build")
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", &target);
    run(build, "cargo build of the new plugin");
    // Where the sample topology expects it.
    std::fs::create_dir_all(crate_dir.join("target/debug")).unwrap();
    std::fs::copy(
        target.join("debug/libgreeter.so"),
        crate_dir.join("target/debug/libgreeter.so"),
    )
    .unwrap();
    let host = serve_sample(&crate_dir);
    assert_eq!(udp_roundtrip(host.addr("udp"), b"you", WAIT), b"hello you");
}

#[test]
fn a_new_c_plugin_builds_validates_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let plugin_dir = dir.path().join("hi-c");
    new_plugin(&plugin_dir, "hi-c", "c");
    let mut make = Command::new("make");
    make.arg("-C").arg(&plugin_dir);
    run(make, "make of the new C plugin");
    let host = serve_sample(&plugin_dir);
    assert_eq!(udp_roundtrip(host.addr("udp"), b"you", WAIT), b"hello you");
}

#[test]
fn a_bad_name_or_a_taken_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_switchyard([
        "new-plugin".as_ref(),
        "Bad Name".as_ref(),
        "--dir".as_ref(),
        dir.path().join("x").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(64), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot name a plugin"),
        "{out:?}"
    );
    std::fs::write(dir.path().join("taken"), b"x").unwrap();
    let out = run_switchyard([
        "new-plugin".as_ref(),
        "ok".as_ref(),
        "--dir".as_ref(),
        dir.path().as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(64), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not empty"),
        "{out:?}"
    );
}
