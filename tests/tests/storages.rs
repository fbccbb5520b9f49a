//! The topology's `storages`: a handler on a `dir` storage is served exactly as one
//! with `root:` (the files plugin, end to end), and `validate` refuses a handler on an
//! `s3` storage at its `storage:` value when its plugin's storage calls cannot wait.

use switchyard_e2e::files_wire::V2;
use switchyard_e2e::{Host, run_switchyard, sha256_hex};

#[test]
fn a_files_handler_on_a_dir_storage_serves_its_directory() {
    let host = Host::start(
        r#"(
    storages: { "local": (kind: dir, path: "$TMP/data") },
    listeners: { "files_tcp": (kind: tcp, bind: "127.0.0.1:0") },
    handlers: { "files": (plugin: "files", storage: "local") },
    routes: [ (from: "files_tcp", to: "files") ],
)"#,
    );
    let data = b"bytes through a dir storage\n".repeat(1000);
    let digest = sha256_hex(&data);
    let mut c = V2::open(host.addr("files_tcp"));
    assert_eq!(
        c.put("up.bin", &data),
        format!("OK up.bin {} {digest}", data.len())
    );
    let on_disk = host.temp_dir().join("data/up.bin");
    assert_eq!(
        std::fs::read(&on_disk).unwrap(),
        data,
        "written to the path"
    );
    std::fs::write(host.temp_dir().join("data/seeded.txt"), b"seeded").unwrap();
    let (head, body) = c.get("seeded.txt");
    // As from a root: a file put there by hand has no digest yet (`-`).
    assert_eq!(head, "OK 6 -");
    assert_eq!(body, b"seeded");
    assert!(
        c.ask("GET ../escape").starts_with("ERR "),
        "confined as a root"
    );
}

#[test]
fn validate_refuses_an_s3_storage_to_a_plugin_that_cannot_wait_at_its_storage_value() {
    let topology = r#"(
    storages: {
        "shared": (kind: s3, endpoint: "http://127.0.0.1:8333", bucket: "switchyard"),
        "bad": (kind: s3, endpoint: "http://127.0.0.1:8333/switchyard", bucket: "x"),
    },
    listeners: { "u": (kind: udp, bind: "127.0.0.1:0") },
    handlers: { "chat": (plugin: "chat", storage: "shared") },
    routes: [ (from: "u", to: "chat") ],
)"#;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s3.ron");
    std::fs::write(&file, topology).unwrap();
    let out = run_switchyard([std::path::Path::new("validate"), &file]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("topology::unsupported_storage"), "{err}");
    assert!(
        err.contains("plugin `chat` makes synchronous storage calls only"),
        "{err}"
    );
    assert!(
        err.contains("s3.ron:7:51"),
        "file:line:col of `storage`: {err}"
    );
    assert!(err.contains("invalid `endpoint` of storage `bad`"), "{err}");
    assert!(
        err.contains("s3.ron:4:37"),
        "file:line:col of the endpoint: {err}"
    );
    assert!(err.contains("invalid `bucket` of storage `bad`"), "{err}");
}
