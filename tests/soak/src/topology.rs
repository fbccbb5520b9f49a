//! The topology the soak serves, and the fixture files it downloads.
//!
//! Every client comes from 127.0.0.1, so the per-address limits that protect a real
//! server would throttle the soak itself: they are raised here (connections per IP,
//! TFTP transfers per client and request rate). Everything else keeps its default, so
//! the soak exercises the limits operators actually run with.

use std::collections::BTreeMap;
use std::path::Path;

use crate::data::{content, sha256_hex};

/// Sizes around the protocols' edges: empty, one byte, TFTP block boundaries
/// (512 and 1468 bytes, plus and minus one), a window's worth, and larger files.
pub const FIXTURE_SIZES: &[usize] = &[
    0,
    1,
    511,
    512,
    513,
    1467,
    1468,
    1469,
    65_536,
    100_000,
    1 << 20,
];

/// Fixture name for a size.
pub fn fixture_name(size: usize) -> String {
    format!("fx-{size}.bin")
}

/// Name -> (size, sha256 hex) of every fixture.
pub type Fixtures = BTreeMap<String, (usize, String)>;

/// Write the fixtures under `root` (served by files and tftp) and `root/incoming`
/// (served by bulk), and return their digests.
pub fn write_fixtures(root: &Path) -> std::io::Result<Fixtures> {
    let incoming = root.join("incoming");
    std::fs::create_dir_all(&incoming)?;
    let mut out = Fixtures::new();
    for &size in FIXTURE_SIZES {
        let name = fixture_name(size);
        let bytes = content(0xF1_u64 << 32 | size as u64, size);
        std::fs::write(root.join(&name), &bytes)?;
        std::fs::write(incoming.join(&name), &bytes)?;
        out.insert(name, (size, sha256_hex(&bytes)));
    }
    Ok(out)
}

/// The soak topology: all four protocols and the audit trail on loopback port 0,
/// storage under `dir`.
pub fn topology(dir: &Path) -> String {
    let d = dir.display();
    format!(
        r#"(
    drain_timeout_secs: 10,
    admin: Some("127.0.0.1:0"),
    listeners: {{
        "chat_udp": (kind: udp, bind: "127.0.0.1:0"),
        "tftp_udp": (kind: udp, bind: "127.0.0.1:0"),
        "files_tcp": (kind: tcp, bind: "127.0.0.1:0"),
        "bulk_tcp": (kind: tcp, bind: "127.0.0.1:0"),
    }},
    handlers: {{
        "chat": (plugin: "chat", config: ()),
        "tftp": (
            plugin: "tftp",
            root: Some("{d}/data"),
            // Uploads on, so the soak can write and read back; every client is
            // 127.0.0.1, hence the raised per-client limit and request rate.
            config: (
                allow_create: true,
                max_transfers: 4096,
                max_transfers_per_client: 4096,
                requests_per_sec: 100000,
                request_burst: 100000,
            ),
        ),
        "files": (
            plugin: "files",
            root: Some("{d}/data"),
            // DELETE on, so uploads are removed after checking and the disk stays small.
            config: (allow_delete: true),
            limits: (max_connections: 4096, max_connections_per_ip: 4096),
        ),
        "bulk": (
            plugin: "bulk",
            root: Some("{d}/data"),
            create_dirs: ["incoming"],
            config: (incoming_dir: "incoming"),
            limits: (max_connections: 4096, max_connections_per_ip: 4096),
        ),
        "audit": (
            plugin: "audit",
            root: Some("{d}/audit"),
            config: (file: "transcript.jsonl", flush_interval_ms: 1000),
        ),
    }},
    routes: [
        (from: "chat_udp", to: "chat"),
        (from: "tftp_udp", to: "tftp"),
        (from: "files_tcp", to: "files"),
        (from: "bulk_tcp", to: "bulk"),
        (from: "chat.messages", to: "audit.events"),
        (from: "tftp.transfers", to: "audit.events"),
        (from: "files.transfers", to: "audit.events"),
        (from: "bulk.transfers", to: "audit.events"),
    ],
)"#
    )
}
