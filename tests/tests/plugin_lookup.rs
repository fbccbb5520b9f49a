//! `switchyard plugins` shows every file plugin lookup could load, under each name form
//! lookup tries (`libswitchyard_NAME.so`, `libNAME.so`, `NAME.so`), refused ones with
//! their reason; it fails (78) only when a plugin the topology names is refused, and
//! still lists the rest.

use std::path::Path;

use switchyard_e2e::{plugin_lib, run_switchyard};

fn listing(args: &[&Path]) -> (Option<i32>, String, String) {
    let out = run_switchyard(args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn line_for<'a>(stdout: &'a str, file: &Path) -> &'a str {
    let file = file.display().to_string();
    stdout
        .lines()
        .find(|l| l.contains(&file))
        .unwrap_or_else(|| panic!("{file} not listed:\n{stdout}"))
}

#[test]
fn every_name_form_is_listed_and_refused_files_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("echo.so");
    let aliased = dir.path().join("libshout.so");
    let bogus = dir.path().join("libbogus.so");
    std::fs::copy(plugin_lib("echo"), &bare).unwrap();
    std::fs::copy(plugin_lib("echo"), &aliased).unwrap();
    std::fs::write(&bogus, b"not a shared object").unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"not a library at all").unwrap();

    let (code, stdout, _) = listing(&[Path::new("plugins"), Path::new("--plugin-dir"), dir.path()]);
    assert_eq!(
        code,
        Some(0),
        "nothing named by a topology is refused:\n{stdout}"
    );
    let bare_line = line_for(&stdout, &bare);
    assert!(bare_line.starts_with("echo "), "{bare_line}");
    assert!(
        bare_line.ends_with("echo.so"),
        "found under its own name: {bare_line}"
    );
    let alias_line = line_for(&stdout, &aliased);
    assert!(alias_line.starts_with("echo "), "{alias_line}");
    assert!(
        alias_line.contains("found as `shout`, which it does not declare"),
        "{alias_line}"
    );
    let bogus_line = line_for(&stdout, &bogus);
    assert!(bogus_line.starts_with("- "), "{bogus_line}");
    assert!(
        bogus_line.contains("file too short"),
        "dlerror's own reason: {bogus_line}"
    );
    assert!(!stdout.contains("notes.txt"), "{stdout}");
}

#[test]
fn a_refused_plugin_named_by_the_topology_fails_the_command_but_the_rest_is_listed() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("kv.so");
    std::fs::write(&bogus, b"\x7fELF but no more").unwrap();
    let file = dir.path().join("t.ron");
    std::fs::write(
        &file,
        format!(
            r#"(
    plugins: {{ "kv": "{}" }},
    listeners: {{ "l": (kind: tcp, bind: "127.0.0.1:0") }},
    handlers: {{ "h": (plugin: "kv") }},
    routes: [(from: "l", to: "h")],
)"#,
            bogus.display()
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = listing(&[Path::new("plugins"), Path::new("--config"), &file]);
    assert_eq!(code, Some(78), "{stdout}\n{stderr}");
    let line = line_for(&stdout, &bogus);
    assert!(line.starts_with("- "), "{line}");
    assert!(
        stderr.contains("plugin `kv` named by the topology"),
        "{stderr}"
    );
    let echo = plugin_lib("echo");
    assert!(line_for(&stdout, &echo).starts_with("echo "), "{stdout}");
}
