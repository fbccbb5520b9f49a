//! What every entry point shares: the instance box, catching and reporting panics,
//! and checking the host's table before using it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, Once};

use crate::abi::{self, SyHostApi, SyHostCtx, SyInstance, SyStr};
use crate::ctx::Ctx;
use crate::protocol::Protocol;

/// A plugin instance as the SDK keeps it behind the opaque `SyInstance` pointer.
pub(crate) struct Instance<P> {
    pub(crate) proto: P,
    /// Set after a panic: the state may be broken, so no further event is delivered.
    pub(crate) poisoned: bool,
}

/// Where our panic hook leaves the message and location of the last panic.
///
/// The hook replaces the plugin's copy of std's default hook, which would print to
/// stderr and call `thread::current()`, registering a thread-local destructor that
/// pins the library in memory (`docs/decisions/plugin-boundary.md`, "Rules that keep
/// unload and reload sound").
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);
static HOOK: Once = Once::new();

pub(crate) fn install_panic_hook() {
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
pub(crate) unsafe fn report_panic(api: &SyHostApi, ctx: *mut SyHostCtx, during: &str) -> u32 {
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
pub(crate) unsafe fn host_api<'a>(
    api: *const SyHostApi,
    ctx: *mut SyHostCtx,
) -> Option<&'a SyHostApi> {
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
pub(crate) fn wall_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The clock of one call into an instance: monotonic (the instance's) and wall.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    pub now_ms: u64,
    pub wall_ms: u64,
}

/// Run `f` on the instance behind `inst` with a [`Ctx`] for this call, as every entry
/// into a live instance must: the host's table checked, the instance there and not
/// poisoned, and a panic caught and reported as happening `during` the named entry. The
/// panic poisons the instance, unless `costs_connection` (the plugin's
/// `PANIC_COSTS_CONNECTION`, for an event of one connection): then the instance stays
/// usable and the answer is `SY_ERR_PANICKED_CONN`.
///
/// # Safety
/// `api`/`ctx` are the host's pointers for this call; `inst` came from `create::<P>`
/// and the host serializes calls per instance.
pub(crate) unsafe fn with_instance<P: Protocol>(
    inst: *mut SyInstance,
    api: *const SyHostApi,
    ctx: *mut SyHostCtx,
    clock: Clock,
    during: &str,
    costs_connection: bool,
    f: impl FnOnce(&mut P, &mut Ctx<'_>) -> u32,
) -> u32 {
    // SAFETY: host pointers, checked.
    let Some(api) = (unsafe { host_api(api, ctx) }) else {
        return abi::SY_ERR_INVALID;
    };
    // SAFETY: as the caller guarantees.
    let Some(inst) = (unsafe { (inst as *mut Instance<P>).as_mut() }) else {
        return abi::SY_ERR_INVALID;
    };
    if inst.poisoned {
        return abi::SY_ERR_PANICKED;
    }
    let proto = &mut inst.proto;
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: this call's pointers.
        let mut cx = unsafe { Ctx::from_raw(api, ctx, clock.now_ms, clock.wall_ms, P::PORTS) };
        f(proto, &mut cx)
    }));
    match result {
        Ok(status) => status,
        Err(_) => {
            // SAFETY: this call's pointers.
            let status = unsafe { report_panic(api, ctx, during) };
            if costs_connection {
                abi::SY_ERR_PANICKED_CONN
            } else {
                inst.poisoned = true;
                status
            }
        }
    }
}
