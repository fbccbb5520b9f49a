//! Two hosts, each with its own topology file (same `s3` storage, different ports),
//! against one SeaweedFS: the files, bulk and TFTP plugins serve one set of files.
//! A file uploaded through bulk on host A is listed and downloaded through files and
//! TFTP on host B byte-exact (its digest from the object's metadata); an upload broken
//! off on A is resumed on B; a partial upload is never listed on either.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use switchyard_e2e::bulk_wire::{
    CONTINUE, DIGEST_FIRST, DIGEST_LAST, OK, RESUMABLE, put_header, read_reply, sha,
};
use switchyard_e2e::faults::pattern;
use switchyard_e2e::files_wire::V2;
use switchyard_e2e::seaweed::{BUCKET, Seaweed};
use switchyard_e2e::{Host, sha256_hex, tcp_connect, tftp_wire, wait_until};

const WAIT: Duration = Duration::from_secs(20);

/// One host of the pair: files (TCP), bulk (TCP) and TFTP (UDP) on storage "shared".
fn host(store: &Seaweed) -> Host {
    Host::builder(&format!(
        r#"(
    storages: {{ "shared": (kind: s3, endpoint: "{}", bucket: "{BUCKET}", prefix: "hosts") }},
    listeners: {{
        "files_tcp": (kind: tcp, bind: "127.0.0.1:0"),
        "bulk_tcp": (kind: tcp, bind: "127.0.0.1:0"),
        "tftp_udp": (kind: udp, bind: "127.0.0.1:0"),
    }},
    handlers: {{
        "files": (plugin: "files", storage: "shared"),
        "bulk": (plugin: "bulk", storage: "shared"),
        "tftp": (plugin: "tftp", storage: "shared"),
    }},
    routes: [
        (from: "files_tcp", to: "files"),
        (from: "bulk_tcp", to: "bulk"),
        (from: "tftp_udp", to: "tftp"),
    ],
)"#,
        store.endpoint()
    ))
    .log_level("debug")
    .start()
}

/// The names a files `LIST` of `dir` shows.
fn listed(c: &mut V2, dir: &str) -> Vec<String> {
    let head = c.ask(&format!("LIST {dir}"));
    let count: usize = head
        .split(' ')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("LIST {dir}: {head}"));
    (0..count)
        .map(|_| c.line().rsplit(' ').next().unwrap_or_default().to_owned())
        .collect()
}

fn bulk_connect(host: &Host) -> TcpStream {
    tcp_connect(host.addr("bulk_tcp"), WAIT)
}

#[test]
fn two_hosts_on_one_store_serve_one_set_of_files() {
    let Some(store) = Seaweed::start() else {
        return;
    };
    let (a, b) = (host(&store), host(&store));

    // A bulk upload on host A...
    let body = pattern(700_000, 21);
    let mut s = bulk_connect(&a);
    s.write_all(&put_header(
        "boot.img",
        body.len() as u64,
        DIGEST_FIRST,
        Some(sha(&body)),
        None,
    ))
    .unwrap();
    // Not resumable: the body follows the header at once (no CONTINUE).
    s.write_all(&body).unwrap();
    let r = read_reply(&mut s);
    assert_eq!((r.status, r.text.as_str()), (OK, "boot.img"), "{r:?}");

    // ...is listed and read through files on host B, with its digest from the store.
    let mut files_b = V2::open(b.addr("files_tcp"));
    assert_eq!(listed(&mut files_b, "incoming"), ["boot.img"]);
    let (head, got) = files_b.get("incoming/boot.img");
    assert_eq!(head, format!("OK {} {}", body.len(), sha256_hex(&body)));
    assert_eq!(got, body);
    // ...and through TFTP on host B.
    assert_eq!(
        tftp_wire::download(b.addr("tftp_udp"), "incoming/boot.img"),
        body
    );

    // A resumable upload broken off on A keeps a partial, listed on neither host.
    let big = pattern(3_000_000, 22);
    let id = [0x3C; 16];
    let head = put_header(
        "movie.mkv",
        big.len() as u64,
        DIGEST_LAST | RESUMABLE,
        None,
        Some(id),
    );
    let mut s = bulk_connect(&a);
    s.write_all(&head).unwrap();
    assert_eq!(read_reply(&mut s).status, CONTINUE);
    s.write_all(&big[..1_500_000]).unwrap();
    drop(s);
    let mut files_a = V2::open(a.addr("files_tcp"));
    wait_until("host A keeping the partial", WAIT, || {
        a.logs_contain("kept for resume")
    });
    for c in [&mut files_a, &mut files_b] {
        assert_eq!(
            listed(c, "incoming"),
            ["boot.img"],
            "a partial is never listed"
        );
    }

    // Host B continues it from where A kept it, and stores the whole file.
    let mut s = bulk_connect(&b);
    s.write_all(&head).unwrap();
    let r = read_reply(&mut s);
    assert_eq!(r.status, CONTINUE, "{r:?}");
    let from = r.value as usize;
    assert!(from > 0 && from <= 1_500_000, "resumed from {from}");
    s.write_all(&big[from..]).unwrap();
    s.write_all(&sha(&big)).unwrap();
    let r = read_reply(&mut s);
    assert_eq!((r.status, r.text.as_str()), (OK, "movie.mkv"), "{r:?}");
    assert_eq!(r.digest, Some(sha(&big)), "the digest of the whole file");

    // Host A serves it byte-exact; the partial is gone from the listing.
    let (head, got) = files_a.get("incoming/movie.mkv");
    assert_eq!(head, format!("OK {} {}", big.len(), sha256_hex(&big)));
    assert_eq!(got, big);
    let mut names = listed(&mut files_a, "incoming");
    names.sort();
    assert_eq!(names, ["boot.img", "movie.mkv"]);
}
