//! The `extern "C"` glue behind [`crate::declare_plugin!`].
//!
//! Every function here is an entry point from the host. Each one checks its pointers,
//! runs the plugin's code inside `catch_unwind` and turns a panic into
//! `SY_ERR_PANICKED` plus an ERROR log line: a Rust panic must never unwind into the
//! host (that is undefined behaviour, and measured to abort the process).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, Once};

use crate::abi::{self, SyEvent, SyHostApi, SyHostCtx, SyInstance, SyPluginVTable, SyStr};
use crate::config::parse_config;
use crate::ctx::Ctx;
use crate::event::Event;
use crate::protocol::Protocol;

/// A plugin instance as the SDK keeps it behind the opaque `SyInstance` pointer.
struct Instance<P> {
    proto: P,
    /// Set after a panic: the state may be broken, so no further event is delivered.
    poisoned: bool,
}

/// Where our panic hook leaves the message and location of the last panic.
///
/// The hook replaces the plugin's copy of std's default hook, which would print to
/// stderr and call `thread::current()`, registering a thread-local destructor that
/// pins the library in memory (`docs/decisions/plugin-boundary.md`, "Rules that keep
/// unload and reload sound").
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);
static HOOK: Once = Once::new();

fn install_panic_hook() {
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let payload = info.payload();
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_string());
            let text = match info.location() {
                Some(loc) => format!("{msg} at {}:{}", loc.file(), loc.line()),
                None => msg,
            };
            if let Ok(mut last) = LAST_PANIC.lock() {
                *last = Some(text);
            }
        }));
    });
}

fn take_panic_message() -> String {
    LAST_PANIC
        .lock()
        .ok()
        .and_then(|mut m| m.take())
        .unwrap_or_else(|| "panic".to_string())
}

/// Log a caught panic through the host and return the status that says so.
///
/// # Safety
/// `api`/`ctx` are the host's pointers for this call (checked non-null by the caller).
unsafe fn report_panic(api: &SyHostApi, ctx: *mut SyHostCtx, during: &str) -> u32 {
    let text = format!("plugin panicked during {during}: {}", take_panic_message());
    // SAFETY: `text` outlives the call; `ctx` is this call's context.
    unsafe { (api.log)(ctx, abi::SY_LOG_ERROR, SyStr::from_str(&text)) };
    abi::SY_ERR_PANICKED
}

/// Checked view of the host API pointer. A host of this ABI version whose table is
/// shorter than this SDK's (an older host, without the calls added since) is refused
/// with an ERROR line through its own `log`, so the operator learns why.
///
/// # Safety
/// `api` is null or points to a host API table valid for the call; `ctx` is the call's.
unsafe fn host_api<'a>(api: *const SyHostApi, ctx: *mut SyHostCtx) -> Option<&'a SyHostApi> {
    if api.is_null() {
        return None;
    }
    // The table may be shorter than ours: read its header through the raw pointer,
    // and make a reference only to a table that is all there.
    // SAFETY: every host table starts with these two fields.
    let (size, version) = unsafe {
        (
            std::ptr::addr_of!((*api).struct_size).read(),
            std::ptr::addr_of!((*api).abi_version).read(),
        )
    };
    let need = std::mem::size_of::<SyHostApi>();
    if version != abi::SY_ABI_VERSION {
        return None;
    }
    if (size as usize) < need {
        if size as usize >= std::mem::offset_of!(SyHostApi, log) + std::mem::size_of::<usize>() {
            let text = format!(
                "this plugin was built with a newer Switchyard SDK than this host: the host's \
                 API table has {size} bytes, the plugin needs {need}; upgrade the host"
            );
            // SAFETY: `log` lies within the table (checked); `text` outlives the call.
            unsafe {
                let log = std::ptr::addr_of!((*api).log).read();
                log(ctx, abi::SY_LOG_ERROR, SyStr::from_str(&text));
            }
        }
        return None;
    }
    // SAFETY: checked above: the whole table is there, valid for the call.
    Some(unsafe { &*api })
}

/// Wall clock for calls that carry no event (config checks and `create`).
fn wall_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

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
    // SAFETY: host pointers, checked.
    let Some(api) = (unsafe { host_api(api, ctx) }) else {
        return abi::SY_ERR_INVALID;
    };
    // SAFETY: `inst` was made by `create::<P>`; the host serializes calls per instance.
    let Some(inst) = (unsafe { (inst as *mut Instance<P>).as_mut() }) else {
        return abi::SY_ERR_INVALID;
    };
    // SAFETY: the host lends the event for the call.
    let Some(raw) = (unsafe { event.as_ref() }) else {
        return abi::SY_ERR_INVALID;
    };
    if (raw.struct_size as usize) < std::mem::size_of::<SyEvent>() {
        return abi::SY_ERR_INVALID;
    }
    if inst.poisoned {
        return abi::SY_ERR_PANICKED;
    }
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: this call's pointers.
        let mut cx = unsafe { Ctx::from_raw(api, ctx, raw.now_ms, raw.wall_ms, P::PORTS) };
        // SAFETY: the event's pointers are valid for the call.
        let ev = unsafe { Event::from_raw(raw, P::PORTS) };
        inst.proto.on_event(&mut cx, ev);
    }));
    match result {
        Ok(()) => abi::SY_OK,
        Err(_) => {
            inst.poisoned = true;
            // SAFETY: this call's pointers.
            unsafe { report_panic(api, ctx, "on_event") }
        }
    }
}

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
}
