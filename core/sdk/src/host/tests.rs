//! The table's decoding, checked once for every host: the runtime's contexts and
//! `MockHost` both run behind these same functions.

use std::net::SocketAddr;

use super::{HOST_API, HostCalls, with_ctx};
use crate::abi::{self, SY_ERR_INVALID, SY_ERR_IO, SY_ERR_UNSUPPORTED, SyAddr, SyBytes, SyStr};
use crate::testing::{Action, MockHost};

#[derive(Default)]
struct Recorder {
    sends: Vec<(u64, SocketAddr, Vec<u8>)>,
    logs: Vec<String>,
    malformed: Vec<&'static str>,
}

impl HostCalls for Recorder {
    fn log(&mut self, _level: u32, msg: &str) {
        self.logs.push(msg.to_owned());
    }
    fn send_datagram(&mut self, socket: u64, to: SocketAddr, data: &[u8]) -> u32 {
        self.sends.push((socket, to, data.to_vec()));
        abi::SY_OK
    }
    fn malformed(&mut self, call: &'static str) {
        self.malformed.push(call);
    }
}

#[test]
fn a_call_reaches_the_context_it_was_lent_to() {
    let mut rec = Recorder::default();
    let to: SocketAddr = "[::1]:5353".parse().unwrap();
    let status = with_ctx(&mut rec, |api, ctx| {
        let addr = SyAddr::from(to);
        // SAFETY: our own table and context.
        unsafe { ((*api).send_datagram)(ctx, 9, &addr, SyBytes::from_slice(b"abc")) }
    });
    assert_eq!(status, abi::SY_OK);
    assert_eq!(rec.sends, vec![(9, to, b"abc".to_vec())]);
}

#[test]
fn malformed_arguments_are_refused_before_dispatch() {
    let mut rec = Recorder::default();
    let statuses = with_ctx(&mut rec, |api, ctx| {
        // SAFETY: deliberately bad arguments; the table must refuse them.
        unsafe {
            let api = &*api;
            let bad_bytes = SyBytes {
                ptr: std::ptr::null(),
                len: 5,
            };
            let bad_family = SyAddr {
                family: 9,
                ..SyAddr::default()
            };
            let good = SyAddr::from("127.0.0.1:1".parse::<SocketAddr>().unwrap());
            [
                (api.send_datagram)(ctx, 1, std::ptr::null(), SyBytes::EMPTY),
                (api.send_datagram)(ctx, 1, &bad_family, SyBytes::EMPTY),
                (api.send_datagram)(ctx, 1, &good, bad_bytes),
                (api.open_read)(
                    ctx,
                    SyStr {
                        ptr: std::ptr::null(),
                        len: 3,
                    },
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                ),
                (api.open_read)(
                    ctx,
                    SyStr::from_str("\u{0}"),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                ),
                (api.read_file)(ctx, 1, 0, std::ptr::null_mut(), 10, std::ptr::null_mut()),
            ]
        }
    });
    assert_eq!(&statuses[..3], &[SY_ERR_INVALID; 3]);
    assert_eq!(statuses[3], SY_ERR_INVALID);
    // Valid UTF-8 reaches the context, which does not offer storage here.
    assert_eq!(statuses[4], SY_ERR_UNSUPPORTED);
    assert_eq!(statuses[5], SY_ERR_INVALID);
    assert!(rec.sends.is_empty());
    // Each refusal is reported to the context (which logs it), the valid call not.
    assert_eq!(
        rec.malformed,
        [
            "send_datagram",
            "send_datagram",
            "send_datagram",
            "open_read",
            "read_file"
        ]
    );
}

#[test]
fn a_null_context_is_refused() {
    // SAFETY: a null ctx must be refused, not dereferenced.
    let status = unsafe { (HOST_API.close)(std::ptr::null_mut(), 1) };
    assert_eq!(status, SY_ERR_IO);
}

#[test]
fn non_utf8_logs_are_kept_lossily() {
    let mut rec = Recorder::default();
    with_ctx(&mut rec, |api, ctx| {
        let bytes = [b'o', b'k', 0xff];
        // SAFETY: our own table and context.
        unsafe {
            ((*api).log)(
                ctx,
                abi::SY_LOG_INFO,
                SyStr {
                    ptr: bytes.as_ptr(),
                    len: bytes.len(),
                },
            )
        }
    });
    assert_eq!(rec.logs, vec!["ok\u{fffd}".to_string()]);
}

/// `MockHost` is decoded by this table too: what it refuses, the host refuses, before
/// any of the mock's own code runs (its old shims read a non-UTF-8 path lossily, and
/// copied into a null buffer).
#[test]
fn the_mock_runs_behind_the_same_table() {
    assert!(std::ptr::eq(MockHost::api(), &HOST_API));
    let mut host = MockHost::new();
    host.files.insert("a".into(), b"xyz".to_vec());
    let bad_path = [b'a', 0xff];
    // SAFETY: the mock's own table and context; deliberately bad arguments.
    let statuses = unsafe {
        [
            (HOST_API.open_read)(
                host.raw_ctx(),
                SyStr {
                    ptr: bad_path.as_ptr(),
                    len: bad_path.len(),
                },
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            ),
            (HOST_API.read_file)(
                host.raw_ctx(),
                1,
                0,
                std::ptr::null_mut(),
                10,
                std::ptr::null_mut(),
            ),
        ]
    };
    assert_eq!(statuses, [SY_ERR_INVALID; 2]);
    assert_eq!(host.reads, 0);
    let refused: Vec<String> = host
        .take_actions()
        .into_iter()
        .map(|a| match a {
            Action::Log { msg, .. } => msg,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        refused,
        [
            "plugin call refused: malformed arguments (call open_read)",
            "plugin call refused: malformed arguments (call read_file)"
        ]
    );
    // A valid call reaches the mock through the same table, out-pointers and all.
    let (mut file, mut size) = (0u64, 0u64);
    // SAFETY: as above, with valid arguments.
    let status =
        unsafe { (HOST_API.open_read)(host.raw_ctx(), SyStr::from_str("a"), &mut file, &mut size) };
    assert_eq!((status, size), (abi::SY_OK, 3));
    assert_eq!(host.open_files(), 1);
}

#[test]
fn storage_begin_refuses_a_short_or_unknown_op_and_answers_a_dir_at_once() {
    let mut host = MockHost::new();
    host.files.insert("a.txt".into(), b"hello".to_vec());
    let ctx = host.raw_ctx();
    let api = MockHost::api();
    let mut out = abi::SyStorageDone::default();
    let op = crate::StoreOp::OpenRead("a.txt").to_raw();
    // SAFETY: our own table and context; `op` and `out` are valid locals.
    let ok = unsafe { (api.storage_begin)(ctx, &op, 7, &mut out) };
    assert_eq!(ok, abi::SY_OK);
    assert_eq!((out.kind, out.stat.size), (abi::SY_STORE_OPEN_READ, 5));
    assert_ne!(out.file, 0);
    let unknown = abi::SyStorageOp { kind: 99, ..op };
    let short = abi::SyStorageOp {
        struct_size: 8,
        ..op
    };
    for bad in [unknown, short] {
        // SAFETY: as above.
        let status = unsafe { (api.storage_begin)(ctx, &bad, 8, &mut out) };
        assert_eq!(status, SY_ERR_INVALID);
    }
    // SAFETY: as above; a null op is refused, not read.
    let null = unsafe { (api.storage_begin)(ctx, std::ptr::null(), 9, &mut out) };
    assert_eq!(null, SY_ERR_INVALID);
}

#[test]
fn a_listing_is_read_only_by_its_own_token() {
    let mut host = MockHost::new();
    host.files.insert("d/x".into(), b"1".to_vec());
    host.with_ctx(0, |cx| {
        let done = cx.storage_begin(crate::StoreOp::List("d"), 3);
        assert_eq!(done, std::task::Poll::Ready(Ok(crate::StoreDone::Listed)));
        let entries = cx.storage_listing(3).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].0, "x");
        assert_eq!(cx.storage_listing(4), Err(crate::HostError::Invalid));
    });
}
