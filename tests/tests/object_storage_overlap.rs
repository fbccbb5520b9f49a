//! Transfers on an `s3` storage overlap with the store (SeaweedFS): a cold read is
//! served while the object is being spooled, and a replacement during the spool ends
//! that read with an error, never with mixed bytes; an upload's parts leave while it
//! arrives, and one cut off leaves nothing visible and its multipart upload aborted.
//! See docs/decisions/object-store-spool.md.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use switchyard_e2e::files_wire::V2;
use switchyard_e2e::seaweed::{BUCKET, Seaweed, http};
use switchyard_e2e::slow_link::SlowTcp;
use switchyard_e2e::{Host, log_text, pseudo_random, sha256_hex, wait_until};

const WAIT: Duration = Duration::from_secs(30);
const MIB: usize = 1 << 20;
/// The store's bytes reach the host at this rate per connection when relayed: the
/// spool (8 MiB ranges, four at a time) then takes seconds on any machine.
const STORE_RATE: u64 = 4 << 20;

/// A host serving files (TCP) from storage "s3" at `endpoint`, under prefix
/// "overlap".
fn host(endpoint: &str) -> Host {
    Host::builder(&format!(
        r#"(
    storages: {{ "s3": (kind: s3, endpoint: "{endpoint}", bucket: "{BUCKET}", prefix: "overlap") }},
    listeners: {{ "files_tcp": (kind: tcp, bind: "127.0.0.1:0") }},
    handlers: {{ "files": (plugin: "files", storage: "s3",
        config: (max_upload_bytes: 1073741824, reserve_free_bytes: 0, allow_overwrite: true)) }},
    routes: [ (from: "files_tcp", to: "files") ],
)"#
    ))
    .log_level("debug")
    .start()
}

/// Place `body` as object `name` under the prefix, straight on the store, with its
/// sha256 in the metadata as every upload through a host has it.
fn place(store: &Seaweed, name: &str, body: &[u8]) {
    let digest = sha256_hex(body);
    let (code, reply) = http(
        store_addr(store),
        "PUT",
        &format!("/{BUCKET}/overlap/{name}"),
        &[("x-amz-meta-sha256", &digest)],
        body,
    )
    .unwrap();
    assert_eq!(code, 200, "placing {name}: {reply}");
}

/// The ids of the multipart uploads in progress for object `name`.
fn uploads_of(store: &Seaweed, name: &str) -> Vec<String> {
    let (code, xml) = store
        .request("GET", &format!("/{BUCKET}?uploads"), b"")
        .unwrap();
    assert_eq!(code, 200, "list uploads: {xml}");
    let key = format!("<Key>overlap/{name}</Key>");
    xml.split("<Upload>")
        .skip(1)
        .filter(|u| u.contains(&key))
        .filter_map(|u| {
            let id = u.split("<UploadId>").nth(1)?.split("</UploadId>").next()?;
            Some(id.to_owned())
        })
        .collect()
}

/// The parts the store holds of the uploads in progress for `name`.
fn parts_of(store: &Seaweed, name: &str) -> usize {
    uploads_of(store, name)
        .iter()
        .map(|id| {
            let path = format!("/{BUCKET}/overlap/{name}?uploadId={id}");
            let (_, xml) = store.request("GET", &path, b"").unwrap();
            xml.matches("<Part>").count()
        })
        .sum()
}

/// Send `GET name`; the reply line and when it came.
fn ask_get(c: &mut V2, name: &str) -> (String, Instant) {
    let head = c.ask(&format!("GET {name}"));
    (head, Instant::now())
}

/// Everything the connection gives until it ends or `len` bytes came.
fn body_upto(c: &mut V2, len: usize) -> Vec<u8> {
    let mut got = Vec::with_capacity(len);
    let mut buf = vec![0u8; 1 << 20];
    while got.len() < len {
        match c.r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

fn store_addr(store: &Seaweed) -> SocketAddr {
    store
        .endpoint()
        .trim_start_matches("http://")
        .parse()
        .unwrap()
}

#[test]
fn a_cold_read_is_served_while_it_is_spooled_and_shared_by_a_second_reader() {
    let Some(store) = Seaweed::start() else {
        return;
    };
    let relay = SlowTcp::start(store_addr(&store), Some(STORE_RATE), None);
    let host = host(&format!("http://{}", relay.addr()));
    // Six ranges: four arrive together, the last two one range-time later.
    let body = pseudo_random(48 * MIB, 31);
    place(&store, "cold.bin", &body);

    let mut first = V2::open(host.addr("files_tcp"));
    let (head, answered) = ask_get(&mut first, "cold.bin");
    assert_eq!(head, format!("OK {} {}", body.len(), sha256_hex(&body)));
    // A second reader of the same version joins the spool under way.
    let mut second = V2::open(host.addr("files_tcp"));
    let (head2, _) = ask_get(&mut second, "cold.bin");
    assert_eq!(head2, head);
    let got = body_upto(&mut first, body.len());
    let done = Instant::now();
    assert!(
        got == body,
        "the first reader got {} bytes, not the object",
        got.len()
    );
    assert!(
        body_upto(&mut second, body.len()) == body,
        "the second reader"
    );
    // The open answered with the first range in; the last ranges came a range-time
    // (2 s through the relay) later, and the body waited for them. Had the open
    // waited for the whole spool, the body would follow it at loopback speed.
    let waited = done - answered;
    assert!(
        waited >= Duration::from_millis(1000),
        "the body came {waited:?} after the open answered: the open waited for the whole spool"
    );
}

#[test]
fn an_object_replaced_while_it_is_spooled_ends_its_read_with_an_error() {
    let Some(store) = Seaweed::start() else {
        return;
    };
    let relay = SlowTcp::start(store_addr(&store), Some(STORE_RATE), None);
    let host = host(&format!("http://{}", relay.addr()));
    // Twelve ranges, asked four at a time: the last four are asked long after the
    // replacement below.
    let old = pseudo_random(96 * MIB, 32);
    place(&store, "swap.bin", &old);

    let mut c = V2::open(host.addr("files_tcp"));
    let (head, _) = ask_get(&mut c, "swap.bin");
    assert_eq!(head, format!("OK {} {}", old.len(), sha256_hex(&old)));
    let new = pseudo_random(MIB, 33);
    place(&store, "swap.bin", &new);
    let got = body_upto(&mut c, old.len());
    assert!(
        got.len() < old.len(),
        "a read of a replaced object must not complete"
    );
    assert!(
        got == old[..got.len()],
        "what arrived is the old version's beginning, never the new bytes"
    );
    // The plugin logs the download as failed (the host's send ended with an error).
    let failed = |j: &serde_json::Value| {
        let line = log_text(j);
        line.contains("swap.bin")
            && line.contains("direction=download")
            && line.contains("result=error")
    };
    assert!(
        host.wait_for_log(failed, WAIT).is_some(),
        "no failed download logged"
    );
    // The failed spool is not kept: the next read gets the new version whole.
    let (head, got) = V2::open(host.addr("files_tcp")).get("swap.bin");
    assert_eq!(head, format!("OK {} {}", new.len(), sha256_hex(&new)));
    assert!(got == new);
}

#[test]
fn an_upload_sends_its_parts_while_it_arrives() {
    let Some(store) = Seaweed::start() else {
        return;
    };
    let host = host(&store.endpoint());
    let body = pseudo_random(40 * MIB, 34);
    let mut c = V2::open(host.addr("files_tcp"));
    assert_eq!(c.ask(&format!("PUT up.bin {}", body.len())), "CONTINUE");
    c.s.write_all(&body[..32 * MIB]).unwrap();
    // Before the last byte is sent, parts of it are on the store.
    wait_until("parts of up.bin on the store mid-upload", WAIT, || {
        parts_of(&store, "up.bin") >= 2
    });
    c.s.write_all(&body[32 * MIB..]).unwrap();
    let digest = sha256_hex(&body);
    assert_eq!(c.line(), format!("OK up.bin {} {digest}", body.len()));
    // The object is whole, its digest known to any reader (from its digest record).
    let (head, got) = V2::open(host.addr("files_tcp")).get("up.bin");
    assert_eq!(head, format!("OK {} {digest}", body.len()));
    assert!(got == body);
    assert!(uploads_of(&store, "up.bin").is_empty(), "completed");
}

#[test]
fn an_upload_cut_off_leaves_nothing_and_its_parts_are_aborted() {
    let Some(store) = Seaweed::start() else {
        return;
    };
    let host = host(&store.endpoint());
    let started = Instant::now();
    let body = pseudo_random(32 * MIB, 35);
    let mut c = V2::open(host.addr("files_tcp"));
    assert_eq!(c.ask(&format!("PUT cut.bin {}", 64 * MIB)), "CONTINUE");
    c.s.write_all(&body).unwrap();
    wait_until("parts of cut.bin on the store", WAIT, || {
        parts_of(&store, "cut.bin") >= 1
    });
    drop(c);
    // Aborted by the host at once, not left to the sweeper (every 30 s).
    wait_until("the upload of cut.bin aborted", WAIT, || {
        uploads_of(&store, "cut.bin").is_empty()
    });
    assert!(
        started.elapsed() < Duration::from_secs(29),
        "aborted too late to tell from the sweeper"
    );
    let (head, _) = V2::open(host.addr("files_tcp")).get("cut.bin");
    assert!(head.starts_with("ERR"), "nothing visible: {head}");
    let (code, _) = store
        .request("GET", &format!("/{BUCKET}/overlap/cut.bin"), b"")
        .unwrap();
    assert_eq!(code, 404, "no object on the store");
}
