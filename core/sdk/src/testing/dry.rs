//! The check `switchyard validate` runs on a handler's config, for unit tests: parse
//! with positions, then `new` in a context that offers no I/O (as the host's dry run).

use crate::config::{ConfigError, parse_config};
use crate::ctx::Ctx;
use crate::host::{HostCalls, with_ctx};
use crate::protocol::Protocol;

/// The dry context: logs are dropped, every other call is refused and remembered.
#[derive(Debug, Default)]
struct Dry {
    refused: bool,
}

impl HostCalls for Dry {
    fn log(&mut self, _level: u32, _msg: &str) {}
    fn unsupported(&mut self, _call: &'static str) -> u32 {
        self.refused = true;
        crate::abi::SY_ERR_UNSUPPORTED
    }
}

pub(super) fn check_config<P: Protocol>(text: &str) -> Result<(), ConfigError> {
    let config = parse_config::<P::Config>(text)?;
    let mut dry = Dry::default();
    let created = with_ctx(&mut dry, |api, raw| {
        // SAFETY: the pointers `with_ctx` made, lending `dry` for the call.
        let mut cx = unsafe { Ctx::from_raw(&*api, raw, 0, 0, P::PORTS) };
        P::new(config, &mut cx).map(drop)
    });
    match created {
        Err(message) if !dry.refused => Err(ConfigError {
            message,
            line: 0,
            col: 0,
        }),
        _ => Ok(()),
    }
}
