//! The host side of [`SyHostApi`](switchyard_sdk::abi::SyHostApi), which lives in
//! `switchyard_sdk::host`: the [`HostCalls`] trait and the one `extern "C"` table,
//! [`HOST_API`], that decodes a plugin's calls into it.
//!
//! Why in the SDK: `switchyard_sdk::testing::MockHost` runs behind the very same table,
//! so plugin unit tests see the host's argument decoding, status codes and refusals,
//! not a copy that can drift. The runtime implements the trait twice: `actor::calls`
//! (a running instance) and [`crate::instance::ConfigCollector`] (config checks).
//! Re-exported here so the runtime's users keep one path for the host side.

pub use switchyard_sdk::host::{HOST_API, HostCalls, with_ctx};

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use switchyard_sdk::abi::{self, SyAddr, SyBytes, SyStr};
    use switchyard_sdk::testing::{Action, MockHost};

    use super::*;
    use crate::instance::ConfigCollector;

    /// The runtime lends its contexts through the table `MockHost` hands to plugins, so a
    /// malformed call gets the same status from both, and both are told of it.
    #[test]
    fn the_runtime_and_the_mock_share_one_table() {
        assert!(std::ptr::eq(&HOST_API, MockHost::api()));
        let bad = SyBytes {
            ptr: std::ptr::null(),
            len: 4,
        };
        let to = SyAddr::from("127.0.0.1:69".parse::<SocketAddr>().unwrap());

        let mut collector = ConfigCollector::default();
        let (host_api, host_status) = with_ctx(&mut collector, |api, ctx| {
            // SAFETY: the table and context `with_ctx` made; a deliberately bad slice.
            (api, unsafe { ((*api).send_datagram)(ctx, 1, &to, bad) })
        });
        let mut mock = MockHost::new();
        // SAFETY: the mock's own table and context; the same bad slice.
        let mock_status = unsafe { (MockHost::api().send_datagram)(mock.raw_ctx(), 1, &to, bad) };

        assert!(std::ptr::eq(host_api, MockHost::api()));
        assert_eq!(host_status, abi::SY_ERR_INVALID);
        assert_eq!(mock_status, host_status);
        // The mock recorded no send, only the refusal, logged as the host logs it.
        assert!(collector.problems.is_empty());
        assert_eq!(
            mock.take_actions(),
            vec![Action::Log {
                level: abi::SY_LOG_WARN,
                msg: "plugin call refused: malformed arguments (call send_datagram)".into()
            }]
        );
        // A config check offers no sockets: refused as unsupported, by the same table.
        let status = with_ctx(&mut collector, |api, ctx| {
            // SAFETY: the table and context `with_ctx` made; valid arguments.
            unsafe { ((*api).remove_file)(ctx, SyStr::from_str("a")) }
        });
        assert_eq!(status, abi::SY_ERR_UNSUPPORTED);
    }
}
