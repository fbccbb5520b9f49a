//! The storage operations that wait (`storage_begin`), end to end from a C plugin:
//! the same commands answer the same on a `dir` storage (at once) and on an `s3`
//! storage (SeaweedFS, by `STORAGE_DONE`), two hosts on one bucket see each other's
//! files, and the synchronous calls are refused on the store.

use std::path::Path;
use std::time::Duration;

use switchyard_e2e::seaweed::{BUCKET, Seaweed};
use switchyard_e2e::{Host, compile_c, log_text, udp_roundtrip};

const WAIT: Duration = Duration::from_secs(20);

fn plugin(dir: &Path) -> std::path::PathBuf {
    compile_c(
        dir,
        "libstore_cmd.so",
        include_str!("object_storage_abi/store_cmd.c"),
    )
}

/// A host serving `store-cmd` on UDP from `storage` (a `storages` entry named "s").
fn host(lib: &Path, storage: &str) -> Host {
    Host::start(&format!(
        r#"(
    plugins: {{ "store-cmd": "{}" }},
    storages: {{ "s": {storage} }},
    listeners: {{ "u": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{ "h": (plugin: "store-cmd", storage: "s") }},
    routes: [ (from: "u", to: "h") ],
)"#,
        lib.display()
    ))
}

fn ask(host: &Host, command: &str) -> String {
    String::from_utf8_lossy(&udp_roundtrip(host.addr("u"), command.as_bytes(), WAIT)).into_owned()
}

/// The commands and what each must answer, on any storage.
fn exercise(host: &Host) {
    assert_eq!(ask(host, "put d/a.txt hello"), "ok");
    assert_eq!(ask(host, "put d/b.txt second"), "ok");
    assert_eq!(ask(host, "get d/a.txt"), "data hello");
    assert_eq!(ask(host, "stat d/b.txt"), "size 6");
    assert_eq!(ask(host, "list d"), "entries a.txt,b.txt");
    // Create-only: the name is taken (SY_ERR_EXISTS).
    assert_eq!(ask(host, "put d/a.txt again"), "err 5");
    assert_eq!(ask(host, "get d/a.txt"), "data hello");
    assert_eq!(ask(host, "del d/a.txt"), "ok");
    // Gone (SY_ERR_NOT_FOUND); a name leaving the storage is refused (SY_ERR_ACCESS).
    assert_eq!(ask(host, "get d/a.txt"), "err 3");
    assert_eq!(ask(host, "get ../x"), "err 4");
    assert_eq!(ask(host, "list d"), "entries b.txt");
}

#[test]
fn a_dir_storage_answers_storage_begin_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let lib = plugin(dir.path());
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("d")).unwrap();
    let h = host(&lib, &format!(r#"(kind: dir, path: "{}")"#, data.display()));
    exercise(&h);
    assert_eq!(std::fs::read(data.join("d/b.txt")).unwrap(), b"second");
    // On a dir the synchronous call works too.
    assert_eq!(ask(&h, "sync d/b.txt"), "ok");
}

#[test]
fn an_s3_storage_answers_by_event_and_two_hosts_share_its_files() {
    let Some(store) = Seaweed::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lib = plugin(dir.path());
    let storage = format!(
        r#"(kind: s3, endpoint: "{}", bucket: "{BUCKET}", prefix: "abi")"#,
        store.endpoint()
    );
    let a = host(&lib, &storage);
    let b = host(&lib, &storage);
    exercise(&a);
    // Host B sees what host A committed, and the reverse.
    assert_eq!(ask(&b, "get d/b.txt"), "data second");
    assert_eq!(ask(&b, "put d/c.txt from-b"), "ok");
    assert_eq!(ask(&a, "get d/c.txt"), "data from-b");
    assert_eq!(ask(&a, "list d"), "entries b.txt,c.txt");
    // A name taken on one host is taken for the other.
    assert_eq!(ask(&a, "put d/c.txt again"), "err 5");
    // The object is where a client of the store finds it, under the prefix.
    let (code, body) = store
        .request("GET", &format!("/{BUCKET}/abi/d/c.txt"), b"")
        .unwrap();
    assert_eq!((code, body.as_str()), (200, "from-b"));
    // The synchronous calls would read the spool as if it were the store: refused
    // (SY_ERR_UNSUPPORTED), and said in the log.
    assert_eq!(ask(&a, "sync d/b.txt"), "err 11");
    let said = a.wait_for_log(
        |j| log_text(j).contains("synchronous storage call refused on an s3 storage"),
        WAIT,
    );
    assert!(said.is_some(), "no log line for the refused call");
}

#[test]
fn a_kept_partial_is_continued_by_one_of_eight_claimers_on_two_hosts_then_by_the_other_host() {
    let Some(store) = Seaweed::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lib = plugin(dir.path());
    let storage = format!(
        r#"(kind: s3, endpoint: "{}", bucket: "{BUCKET}", prefix: "claims")"#,
        store.endpoint()
    );
    let hosts = [host(&lib, &storage), host(&lib, &storage)];
    let partial = "up/.partial.0123456789abcdef";
    assert_eq!(ask(&hosts[0], &format!("put {partial} abc")), "ok");
    // Eight claims at once, four on each host: exactly one holds the partial.
    let answers: Vec<String> = std::thread::scope(|s| {
        let asks: Vec<_> = (0..8)
            .map(|k| {
                let h = &hosts[k % 2];
                s.spawn(move || ask(h, &format!("claim {partial}")))
            })
            .collect();
        asks.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let won: Vec<usize> = (0..8).filter(|&k| answers[k] == "claimed 3").collect();
    assert_eq!(won.len(), 1, "{answers:?}");
    // The others were told the partial is in use (SY_ERR_BUSY).
    assert!(
        answers.iter().filter(|a| *a == "err 13").count() == 7,
        "{answers:?}"
    );
    let (holder, other) = (&hosts[won[0] % 2], &hosts[(won[0] + 1) % 2]);
    assert_eq!(ask(holder, &format!("append {partial} def")), "ok");
    // Released: what was appended is kept, and the other host continues it.
    assert_eq!(ask(holder, &format!("release {partial}")), "ok");
    let mut claimed = String::new();
    for _ in 0..50 {
        claimed = ask(other, &format!("claim {partial}"));
        if claimed == "claimed 6" {
            break;
        }
        // The release uploads and unlocks in the background.
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(claimed, "claimed 6");
    assert_eq!(ask(other, &format!("append {partial} ghi")), "ok");
    assert_eq!(ask(other, "finish up/whole.txt"), "ok");
    assert_eq!(ask(holder, "get up/whole.txt"), "data abcdefghi");
    // Nothing of the partial is an object under the final name before the finish,
    // and the finished file is whole on the store.
    let (code, body) = store
        .request("GET", &format!("/{BUCKET}/claims/up/whole.txt"), b"")
        .unwrap();
    assert_eq!((code, body.as_str()), (200, "abcdefghi"));
}

#[test]
fn a_store_lost_fails_its_operations_clearly_and_the_host_serves_again_when_it_is_back() {
    let Some(mut store) = Seaweed::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let lib = plugin(dir.path());
    let storage = format!(
        r#"(kind: s3, endpoint: "{}", bucket: "{BUCKET}", prefix: "lost")"#,
        store.endpoint()
    );
    let h = host(&lib, &storage);
    assert_eq!(ask(&h, "put kept.txt before"), "ok");
    store.stop();
    // Every operation that needs the store fails with SY_ERR_IO, logged naming the
    // storage; the host stays up.
    assert_eq!(ask(&h, "put lost.txt during"), "err 7");
    assert_eq!(ask(&h, "stat kept.txt"), "err 7");
    let said = h.wait_for_log(|j| log_text(j).contains("object storage error"), WAIT);
    assert!(said.is_some(), "no log line naming the storage's failure");
    store.restart();
    // Nothing of the failed upload became visible; the host serves again.
    assert_eq!(ask(&h, "get lost.txt"), "err 3");
    assert_eq!(ask(&h, "get kept.txt"), "data before");
    assert_eq!(ask(&h, "put after.txt back"), "ok");
    assert_eq!(ask(&h, "list "), "entries after.txt,kept.txt");
}

#[test]
fn a_host_does_not_start_on_a_store_it_cannot_reach_and_names_the_storage() {
    let dir = tempfile::tempdir().unwrap();
    let lib = plugin(dir.path());
    // A port nothing listens on (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let failure = Host::builder(&format!(
        r#"(
    plugins: {{ "store-cmd": "{}" }},
    storages: {{ "gone": (kind: s3, endpoint: "http://127.0.0.1:{port}", bucket: "{BUCKET}") }},
    listeners: {{ "u": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{ "h": (plugin: "store-cmd", storage: "gone") }},
    routes: [ (from: "u", to: "h") ],
)"#,
        lib.display()
    ))
    .try_start()
    .expect_err("a store that does not answer refuses the start");
    let text = failure.text();
    assert!(text.contains("storage `gone`"), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
}

#[test]
fn missing_credentials_are_named_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let lib = plugin(dir.path());
    let failure = Host::builder(&format!(
        r#"(
    plugins: {{ "store-cmd": "{}" }},
    storages: {{ "keyed": (kind: s3, endpoint: "http://127.0.0.1:9", bucket: "{BUCKET}",
        access_key_env: "SY_TEST_NO_SUCH_KEY", secret_key_env: "SY_TEST_NO_SUCH_SECRET") }},
    listeners: {{ "u": (kind: udp, bind: "127.0.0.1:0") }},
    handlers: {{ "h": (plugin: "store-cmd", storage: "keyed") }},
    routes: [ (from: "u", to: "h") ],
)"#,
        lib.display()
    ))
    .try_start()
    .expect_err("credentials that are not there refuse the start");
    let text = failure.text();
    assert!(
        text.contains("storage `keyed`: environment variable `SY_TEST_NO_SUCH_KEY`"),
        "{text}"
    );
}
