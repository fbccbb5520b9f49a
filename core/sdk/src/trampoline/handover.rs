//! `export_state` and `import_state`: a plugin's state across a reload.
//!
//! Set in the vtable only for a [`Protocol`] with `HANDS_OVER_STATE`. Like every entry,
//! each catches a panic: a panic while exporting poisons the old instance (the host
//! then starts the successor fresh); one while importing refuses the state, and the
//! instance, which may be half-changed, is poisoned so the host replaces it.

use super::guard::{Clock, wall_now, with_instance};
use crate::abi::{self, SyBytes, SyHostApi, SyHostCtx, SyInstance};
use crate::ctx::Ctx;
use crate::protocol::Protocol;

/// # Safety
/// Called by the host with pointers valid for the call; `inst` came from `create::<P>`.
pub unsafe extern "C" fn export_state<P: Protocol>(
    inst: *mut SyInstance,
    api: *const SyHostApi,
    ctx: *mut SyHostCtx,
    now_ms: u64,
) -> u32 {
    let clock = Clock {
        now_ms,
        wall_ms: wall_now(),
    };
    let export = |proto: &mut P, cx: &mut Ctx<'_>| {
        let Some((version, bytes)) = proto.export_state(cx) else {
            return abi::SY_OK;
        };
        // SAFETY: this call's pointers; `bytes` outlives the call, the host copies it.
        unsafe { (cx.api.hand_over_state)(cx.raw, version, SyBytes::from_slice(&bytes)) }
    };
    // SAFETY: the host's pointers for this call.
    unsafe { with_instance::<P>(inst, api, ctx, clock, "export_state", false, export) }
}

/// # Safety
/// Called by the host with pointers valid for the call; `inst` came from `create::<P>`.
pub unsafe extern "C" fn import_state<P: Protocol>(
    inst: *mut SyInstance,
    api: *const SyHostApi,
    ctx: *mut SyHostCtx,
    now_ms: u64,
    version: u32,
    data: SyBytes,
) -> u32 {
    // SAFETY: the host lends `data` for the call.
    let state = unsafe { data.as_slice() };
    let clock = Clock {
        now_ms,
        wall_ms: wall_now(),
    };
    // SAFETY: the host's pointers for this call.
    unsafe {
        with_instance::<P>(
            inst,
            api,
            ctx,
            clock,
            "import_state",
            false,
            |proto: &mut P, cx| match proto.import_state(cx, version, state) {
                Ok(()) => abi::SY_OK,
                Err(why) => {
                    cx.warn(format_args!("state version {version} refused: {why}"));
                    abi::SY_ERR_UNSUPPORTED
                }
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::abi::{self, SyBytes, SyInstance, SyStr};
    use crate::testing::MockHost;
    use crate::trampoline::{create, destroy, vtable};
    use crate::{Ctx, Event, Listeners, Protocol};

    /// Counts datagrams; hands the count over as version 2, takes versions 1 and 2.
    struct Counter(u64);

    impl Protocol for Counter {
        type Config = ();
        const NAME: &'static str = "counter";
        const LISTENERS: Listeners = Listeners::UDP;
        const HANDS_OVER_STATE: bool = true;
        fn new(_: (), _: &mut Ctx<'_>) -> Result<Counter, String> {
            Ok(Counter(0))
        }
        fn on_event(&mut self, _: &mut Ctx<'_>, _: Event<'_>) {}
        fn export_state(&mut self, _: &mut Ctx<'_>) -> Option<(u32, Vec<u8>)> {
            Some((2, self.0.to_le_bytes().to_vec()))
        }
        fn import_state(
            &mut self,
            _: &mut Ctx<'_>,
            version: u32,
            state: &[u8],
        ) -> Result<(), String> {
            match version {
                1 => self.0 = u64::from(*state.first().ok_or("empty")?),
                2 => self.0 = u64::from_le_bytes(state.try_into().map_err(|_| "length")?),
                v => return Err(format!("unknown version {v}")),
            }
            Ok(())
        }
    }

    fn make(host: &mut MockHost) -> *mut SyInstance {
        let mut inst = std::ptr::null_mut();
        // SAFETY: the mock's table and context; `inst` a valid local.
        let status = unsafe {
            create::<Counter>(
                MockHost::api(),
                host.raw_ctx(),
                SyStr::from_str("()"),
                &mut inst,
            )
        };
        assert_eq!(status, abi::SY_OK);
        inst
    }

    #[test]
    fn state_goes_out_through_the_host_and_comes_back_in_migrated() {
        let vt = vtable::<Counter>();
        let (export, import) = (vt.export_state.unwrap(), vt.import_state.unwrap());
        let mut host = MockHost::new();
        let old = make(&mut host);
        let new = make(&mut host);
        let v1 = [7u8];
        // SAFETY: live instances, the mock's table and context, data valid for the call.
        unsafe {
            let status = import(
                old,
                MockHost::api(),
                host.raw_ctx(),
                5,
                1,
                SyBytes::from_slice(&v1),
            );
            assert_eq!(status, abi::SY_OK, "version 1 is migrated");
            assert_eq!(export(old, MockHost::api(), host.raw_ctx(), 9), abi::SY_OK);
        }
        let (version, bytes) = host.take_handed_over().expect("handed over");
        assert_eq!(
            (version, bytes.as_slice()),
            (2, 7u64.to_le_bytes().as_slice())
        );
        // SAFETY: as above.
        unsafe {
            let refused = import(
                new,
                MockHost::api(),
                host.raw_ctx(),
                0,
                3,
                SyBytes::from_slice(&bytes),
            );
            assert_eq!(refused, abi::SY_ERR_UNSUPPORTED);
            destroy::<Counter>(old);
            destroy::<Counter>(new);
        }
        assert!(
            host.take_actions().iter().any(|a| matches!(a,
                crate::testing::Action::Log { msg, .. } if msg.contains("state version 3 refused: unknown version 3"))),
            "the refusal is logged with the plugin's reason"
        );
    }

    #[test]
    fn a_plugin_that_hands_nothing_over_leaves_both_entries_null() {
        struct Plain;
        impl Protocol for Plain {
            type Config = ();
            const NAME: &'static str = "plain";
            const LISTENERS: Listeners = Listeners::UDP;
            fn new(_: (), _: &mut Ctx<'_>) -> Result<Plain, String> {
                Ok(Plain)
            }
            fn on_event(&mut self, _: &mut Ctx<'_>, _: Event<'_>) {}
        }
        let vt = vtable::<Plain>();
        assert!(vt.export_state.is_none() && vt.import_state.is_none());
        assert_eq!(
            vt.struct_size as usize,
            std::mem::size_of::<abi::SyPluginVTable>()
        );
    }
}
