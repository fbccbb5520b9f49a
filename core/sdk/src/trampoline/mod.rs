//! The `extern "C"` glue behind [`crate::declare_plugin!`].
//!
//! Every function here is an entry point from the host. Each one checks its pointers,
//! runs the plugin's code inside `catch_unwind` and turns a panic into
//! `SY_ERR_PANICKED` plus an ERROR log line: a Rust panic must never unwind into the
//! host (that is undefined behaviour, and measured to abort the process).
//!
//! # Layout
//! - `guard.rs`: the instance box, the panic hook and report, the host table check.
//! - `handover.rs`: `export_state` and `import_state` (state across a reload).
//! - this file: the vtable, `entry`, and the other entries.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::abi::{self, SyEvent, SyHostApi, SyHostCtx, SyInstance, SyPluginVTable, SyStr};
use crate::config::parse_config;
use crate::ctx::Ctx;
use crate::event::Event;
use crate::protocol::{InstanceMode, Protocol};

mod guard;
mod handover;

use guard::{Clock, Instance, host_api, install_panic_hook, report_panic, wall_now, with_instance};

/// The `switchyard_plugin_entry` body: refuse a host of another ABI.
pub fn entry(host_abi_version: u32, vtable: &'static SyPluginVTable) -> *const SyPluginVTable {
    if host_abi_version != abi::SY_ABI_VERSION {
        return std::ptr::null();
    }
    install_panic_hook();
    vtable
}

/// The static vtable for `P`.
pub const fn vtable<P: Protocol>() -> SyPluginVTable {
    SyPluginVTable {
        struct_size: std::mem::size_of::<SyPluginVTable>() as u32,
        abi_version: abi::SY_ABI_VERSION,
        name: SyStr::from_str(P::NAME),
        version: SyStr::from_str(P::VERSION),
        description: SyStr::from_str(P::DESCRIPTION),
        listener_kinds: P::LISTENERS.0,
        instance_mode: P::MODE.raw(),
        ports: P::PORTS.as_ptr(),
        port_count: P::PORTS.len() as u32,
        check_config: Some(check_config::<P>),
        create: Some(create::<P>),
        destroy: Some(destroy::<P>),
        on_event: Some(on_event::<P>),
        active_sessions: Some(active_sessions::<P>),
        storage: P::STORAGE.raw(),
        export_state: if P::HANDS_OVER_STATE {
            Some(handover::export_state::<P>)
        } else {
            None
        },
        import_state: if P::HANDS_OVER_STATE {
            Some(handover::import_state::<P>)
        } else {
            None
        },
        // serde reads the RON as written, with positions.
        config_format: abi::SY_CONFIG_RON,
        reserved0: 0,
        sharding: P::SHARDING.raw(),
        input_delivery: P::INPUT_DELIVERY.raw(),
        storage_calls: if P::STORAGE_WAITS {
            abi::SY_STORAGE_CALLS_WAIT
        } else {
            abi::SY_STORAGE_CALLS_SYNC
        },
        reserved1: 0,
    }
}

/// # Safety
/// Called by the host with pointers valid for the call.
pub unsafe extern "C" fn check_config<P: Protocol>(
    api: *const SyHostApi,
    ctx: *mut SyHostCtx,
    config: SyStr,
) -> u32 {
    // SAFETY: host pointers, checked.
    let Some(api) = (unsafe { host_api(api, ctx) }) else {
        return abi::SY_ERR_INVALID;
    };
    // SAFETY: the host lends `config` for the call.
    let text = unsafe { config.to_string_lossy() };
    let result = catch_unwind(AssertUnwindSafe(|| parse_config::<P::Config>(&text)));
    // SAFETY: this call's pointers.
    let mut cx = unsafe { Ctx::from_raw(api, ctx, 0, wall_now(), P::PORTS) };
    match result {
        Ok(Ok(_)) => abi::SY_OK,
        Ok(Err(e)) => {
            cx.config_error(&e.message, e.line, e.col);
            abi::SY_ERR_CONFIG
        }
        // SAFETY: this call's pointers.
        Err(_) => unsafe { report_panic(api, ctx, "check_config") },
    }
}

/// # Safety
/// Called by the host with pointers valid for the call.
pub unsafe extern "C" fn create<P: Protocol>(
    api: *const SyHostApi,
    ctx: *mut SyHostCtx,
    config: SyStr,
    out: *mut *mut SyInstance,
) -> u32 {
    // SAFETY: host pointers, checked.
    let Some(api) = (unsafe { host_api(api, ctx) }) else {
        return abi::SY_ERR_INVALID;
    };
    if out.is_null() {
        return abi::SY_ERR_INVALID;
    }
    // SAFETY: the host lends `config` for the call.
    let text = unsafe { config.to_string_lossy() };
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: this call's pointers.
        let mut cx = unsafe { Ctx::from_raw(api, ctx, 0, wall_now(), P::PORTS) };
        let config = match parse_config::<P::Config>(&text) {
            Ok(c) => c,
            Err(e) => {
                cx.config_error(&e.message, e.line, e.col);
                return Err(abi::SY_ERR_CONFIG);
            }
        };
        P::new(config, &mut cx).map_err(|msg| {
            cx.config_error(&msg, 0, 0);
            abi::SY_ERR_CONFIG
        })
    }));
    match result {
        Ok(Ok(proto)) => {
            let inst = Box::new(Instance {
                proto,
                poisoned: false,
            });
            // SAFETY: `out` checked non-null.
            unsafe { *out = Box::into_raw(inst) as *mut SyInstance };
            abi::SY_OK
        }
        Ok(Err(status)) => status,
        // SAFETY: this call's pointers.
        Err(_) => unsafe { report_panic(api, ctx, "create") },
    }
}

/// # Safety
/// `inst` came from `create::<P>` and is destroyed once.
pub unsafe extern "C" fn destroy<P: Protocol>(inst: *mut SyInstance) {
    if inst.is_null() {
        return;
    }
    // SAFETY: `inst` was made by `Box::into_raw` in `create::<P>`.
    let boxed = unsafe { Box::from_raw(inst as *mut Instance<P>) };
    // A panicking Drop must not unwind into the host; the memory is then leaked.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(boxed)));
}

/// # Safety
/// Called by the host with pointers valid for the call; `inst` came from `create::<P>`.
pub unsafe extern "C" fn on_event<P: Protocol>(
    inst: *mut SyInstance,
    api: *const SyHostApi,
    ctx: *mut SyHostCtx,
    event: *const SyEvent,
) -> u32 {
    // SAFETY: the host lends the event for the call.
    let Some(raw) = (unsafe { event.as_ref() }) else {
        return abi::SY_ERR_INVALID;
    };
    if (raw.struct_size as usize) < std::mem::size_of::<SyEvent>() {
        return abi::SY_ERR_INVALID;
    }
    let clock = Clock {
        now_ms: raw.now_ms,
        wall_ms: raw.wall_ms,
    };
    let deliver = |proto: &mut P, cx: &mut Ctx<'_>| {
        // SAFETY: the event's pointers are valid for the call.
        let ev = unsafe { Event::from_raw(raw, P::PORTS) };
        proto.on_event(cx, ev);
        abi::SY_OK
    };
    // A panic on one connection's event costs that connection only, if the plugin
    // asked (`PANIC_COSTS_CONNECTION`) and its instance serves the whole handler.
    let costs_connection = P::PANIC_COSTS_CONNECTION
        && P::MODE == InstanceMode::PerHandler
        && raw.conn != 0
        && CONNECTION_EVENTS.contains(&raw.tag);
    // SAFETY: the host's pointers for this call.
    unsafe { with_instance::<P>(inst, api, ctx, clock, "on_event", costs_connection, deliver) }
}

/// The events that belong to one connection (`event.conn`).
const CONNECTION_EVENTS: [u32; 7] = [
    abi::SY_EV_CONN_OPENED,
    abi::SY_EV_BYTES,
    abi::SY_EV_PEER_EOF,
    abi::SY_EV_CONN_CLOSED,
    abi::SY_EV_DRAINED,
    abi::SY_EV_FILE_SENT,
    abi::SY_EV_FILE_RECEIVED,
];

/// # Safety
/// `inst` came from `create::<P>`.
pub unsafe extern "C" fn active_sessions<P: Protocol>(inst: *mut SyInstance) -> u64 {
    // SAFETY: `inst` was made by `create::<P>`.
    let Some(inst) = (unsafe { (inst as *mut Instance<P>).as_ref() }) else {
        return 0;
    };
    if inst.poisoned {
        return 0;
    }
    catch_unwind(AssertUnwindSafe(|| inst.proto.active_sessions())).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Action, MockHost};
    use crate::{Event, Listeners, Protocol};

    struct Nothing;

    impl Protocol for Nothing {
        type Config = ();
        const NAME: &'static str = "nothing";
        const LISTENERS: Listeners = Listeners::NONE;
        fn new(_: (), _: &mut Ctx<'_>) -> Result<Nothing, String> {
            Ok(Nothing)
        }
        fn on_event(&mut self, _: &mut Ctx<'_>, _: Event<'_>) {}
    }

    /// An older host's table ends before the calls added since: the plugin refuses it
    /// without touching past its end, and says why through the host's own log.
    #[test]
    fn an_older_hosts_shorter_table_is_refused_with_a_message() {
        let mut host = MockHost::new();
        let mut older = *MockHost::api();
        older.struct_size = std::mem::offset_of!(SyHostApi, open_partial) as u32;
        // SAFETY: a table (declared shorter than it is) and the mock's context.
        let status =
            unsafe { check_config::<Nothing>(&older, host.raw_ctx(), SyStr::from_str("()")) };
        assert_eq!(status, abi::SY_ERR_INVALID);
        let logs: Vec<String> = host
            .take_actions()
            .into_iter()
            .filter_map(|a| match a {
                Action::Log { msg, .. } => Some(msg),
                _ => None,
            })
            .collect();
        assert!(
            logs.iter()
                .any(|m| m.contains("newer Switchyard SDK") && m.contains("upgrade the host")),
            "{logs:?}"
        );
        // The full table is accepted.
        // SAFETY: the mock's own table and context.
        let status = unsafe {
            check_config::<Nothing>(MockHost::api(), host.raw_ctx(), SyStr::from_str("()"))
        };
        assert_eq!(status, abi::SY_OK);
    }

    /// Panics on any event whose data is `boom`; opts into connection-only panics.
    struct Fragile;

    impl Protocol for Fragile {
        type Config = ();
        const NAME: &'static str = "fragile";
        const LISTENERS: Listeners = Listeners::UDP_AND_TCP;
        const PANIC_COSTS_CONNECTION: bool = true;
        fn new(_: (), _: &mut Ctx<'_>) -> Result<Fragile, String> {
            Ok(Fragile)
        }
        fn on_event(&mut self, _: &mut Ctx<'_>, event: Event<'_>) {
            let data = match event {
                Event::Bytes { data, .. } | Event::Datagram { data, .. } => data,
                _ => return,
            };
            assert_ne!(data, b"boom", "boom");
        }
    }

    #[test]
    fn an_opted_in_panic_on_a_connection_costs_it_only_elsewhere_the_instance() {
        let mut host = MockHost::new();
        let mut inst = std::ptr::null_mut();
        // SAFETY: the mock's table and context; `inst` a valid local.
        let status = unsafe {
            create::<Fragile>(
                MockHost::api(),
                host.raw_ctx(),
                SyStr::from_str("()"),
                &mut inst,
            )
        };
        assert_eq!(status, abi::SY_OK);
        let event = |tag, conn| {
            let mut ev = SyEvent::new(tag, 0);
            ev.conn = conn;
            ev.data = abi::SyBytes::from_slice(b"boom");
            ev
        };
        // SAFETY (all calls below): a live instance, the mock's table and context.
        let deliver = |host: &mut MockHost, ev: &SyEvent| unsafe {
            on_event::<Fragile>(inst, MockHost::api(), host.raw_ctx(), ev)
        };
        let bytes = event(abi::SY_EV_BYTES, 7);
        assert_eq!(deliver(&mut host, &bytes), abi::SY_ERR_PANICKED_CONN);
        assert_eq!(
            deliver(&mut host, &bytes),
            abi::SY_ERR_PANICKED_CONN,
            "not poisoned"
        );
        let datagram = event(abi::SY_EV_DATAGRAM, 0);
        assert_eq!(deliver(&mut host, &datagram), abi::SY_ERR_PANICKED);
        assert_eq!(
            deliver(&mut host, &bytes),
            abi::SY_ERR_PANICKED,
            "poisoned now"
        );
        // SAFETY: created above, destroyed once.
        unsafe { destroy::<Fragile>(inst) };
    }
}
