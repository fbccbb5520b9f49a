//! Per-event cost of the plugin boundary: one `DATAGRAM` event delivered through the
//! C ABI to the echo plugin (`.so`), which answers with one `send_datagram` host call.
//! Baseline in the same run: the same host-call dispatch with no plugin in between
//! (what a host with the protocol compiled in would still pay for its send).
//!
//! Run: `cargo build --release -p switchyard-echo && cargo bench -p switchyard-benches --bench boundary`

use std::hint::black_box;
use std::net::SocketAddr;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use switchyard_runtime::hostapi::{HostCalls, with_ctx};
use switchyard_runtime::instance::Instance;
use switchyard_runtime::loader::Plugin;
use switchyard_sdk::abi::{self, SyAddr, SyBytes, SyEvent};

/// Counts sends; does no I/O, so only the boundary is measured.
#[derive(Default)]
struct CountingHost {
    sent: u64,
    bytes: u64,
}

impl HostCalls for CountingHost {
    fn log(&mut self, _level: u32, _msg: &str) {}
    fn send_datagram(&mut self, _socket: u64, _to: SocketAddr, data: &[u8]) -> u32 {
        self.sent += 1;
        self.bytes += data.len() as u64;
        abi::SY_OK
    }
}

fn echo_library() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let name = format!("libswitchyard_echo.{}", std::env::consts::DLL_EXTENSION);
    for profile in ["release", "debug"] {
        let p = target.join(profile).join(&name);
        if p.exists() {
            return p;
        }
    }
    panic!("build the echo plugin first: cargo build --release -p switchyard-echo");
}

fn boundary(c: &mut Criterion) {
    let plugin = Plugin::load(&echo_library()).expect("echo plugin loads");
    let mut host = CountingHost::default();
    let mut inst = Instance::create(&plugin, "()", &mut host).expect("instance");
    let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let mut group = c.benchmark_group("boundary");
    for size in [64usize, 1024] {
        let payload = vec![7u8; size];
        let mut ev = SyEvent::new(abi::SY_EV_DATAGRAM, 0);
        ev.socket = 1;
        ev.peer = SyAddr::from(peer);
        ev.local = SyAddr::from(peer);
        ev.data = SyBytes::from_slice(&payload);
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("plugin_echo_{size}B"), |b| {
            b.iter(|| black_box(inst.deliver(black_box(&ev), &mut host)))
        });
        group.bench_function(format!("host_send_only_{size}B"), |b| {
            b.iter(|| {
                with_ctx(&mut host, |api, ctx| {
                    let to = SyAddr::from(peer);
                    // SAFETY: the host's own table and context, for this call.
                    black_box(unsafe {
                        ((*api).send_datagram)(ctx, 1, &to, SyBytes::from_slice(&payload))
                    })
                })
            })
        });
    }
    group.finish();
    assert!(host.sent > 0, "the plugin answered every event with a send");
}

criterion_group!(benches, boundary);
criterion_main!(benches);
