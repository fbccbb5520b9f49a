//! What a plugin exports: [`SyPluginDecl`] (read first) and [`SyPluginVTable`].

use super::data::*;
use super::host_api::SyHostApi;

/// What a plugin's entry function returns. Static for the library's lifetime.
#[repr(C)]
#[derive(Debug)]
pub struct SyPluginVTable {
    pub struct_size: u32,
    pub abi_version: u32,
    pub name: SyStr,
    pub version: SyStr,
    pub description: SyStr,
    /// `SY_LISTEN_*` bit mask of the listener kinds this plugin serves (0 = none).
    pub listener_kinds: u32,
    /// `SY_INSTANCE_*`.
    pub instance_mode: u32,
    pub ports: *const SyPortDecl,
    pub port_count: u32,
    /// Check a configuration (RON text) without creating anything. Errors are reported
    /// with `config_error`. May be null: every configuration is accepted.
    pub check_config: Option<
        unsafe extern "C" fn(api: *const SyHostApi, ctx: *mut SyHostCtx, config: SyStr) -> u32,
    >,
    /// Create an instance from a configuration (RON text).
    pub create: Option<
        unsafe extern "C" fn(
            api: *const SyHostApi,
            ctx: *mut SyHostCtx,
            config: SyStr,
            out: *mut *mut SyInstance,
        ) -> u32,
    >,
    /// Destroy an instance. Called exactly once per created instance, also after a panic.
    pub destroy: Option<unsafe extern "C" fn(inst: *mut SyInstance)>,
    /// Deliver one event. The plugin answers by calling `api` functions during the call.
    pub on_event: Option<
        unsafe extern "C" fn(
            inst: *mut SyInstance,
            api: *const SyHostApi,
            ctx: *mut SyHostCtx,
            event: *const SyEvent,
        ) -> u32,
    >,
    /// Number of sessions still in flight (used while draining). May be null.
    pub active_sessions: Option<unsafe extern "C" fn(inst: *mut SyInstance) -> u64>,
    /// `SY_STORAGE_*`: whether peers are served files from the handler's root. Added
    /// after the first vtable of ABI version 1: a vtable whose `struct_size` ends before
    /// it ([`SY_VTABLE_SIZE_V1`]) is read as `SY_STORAGE_SERVED`.
    pub storage: u32,
    /// State handover across a reload (Erlang/OTP's `code_change`), added after
    /// `storage`: both null, or both set. `export_state` hands the instance's state out
    /// with `hand_over_state` during the call; its connections move to the successor.
    /// If the successor takes the state, the host then destroys the instance without
    /// another event; if it refuses, the instance gets `SY_EV_CONN_CLOSED`
    /// (`SY_ERR_CLOSED`) for each moved connection, then `SY_EV_REPLACED` and
    /// `SY_EV_DRAIN`. Handing nothing over keeps everything here (the instance retires
    /// as without the hook). May be null.
    /// `now_ms` is the instance's clock, as in its events: state holding deadlines
    /// should hand them over as time left.
    pub export_state: Option<
        unsafe extern "C" fn(
            inst: *mut SyInstance,
            api: *const SyHostApi,
            ctx: *mut SyHostCtx,
            now_ms: u64,
        ) -> u32,
    >,
    /// Take the state a predecessor (the same or an older build) handed over, right
    /// after `create` and before any event. `SY_OK` takes it (migrating an older
    /// `version`); any other status refuses it, and the instance must then be as
    /// `create` left it: it starts fresh. `now_ms` is the new instance's clock (which
    /// starts anew). May be null.
    pub import_state: Option<
        unsafe extern "C" fn(
            inst: *mut SyInstance,
            api: *const SyHostApi,
            ctx: *mut SyHostCtx,
            now_ms: u64,
            version: u32,
            data: SyBytes,
        ) -> u32,
    >,
    /// `SY_CONFIG_*`: the form `check_config` and `create` get the config in. Added
    /// after `import_state`: an older vtable reads as `SY_CONFIG_RON`.
    pub config_format: u32,
    /// The padding a vtable of [`SY_VTABLE_SIZE_V4`] bytes ended with, named so that
    /// `sharding` starts after that size: always 0.
    pub reserved0: u32,
    /// `SY_SHARD_*`: whether a handler may run on several workers, and which worker gets
    /// what. Added after `config_format`: an older vtable reads as `SY_SHARD_NONE` (one
    /// worker).
    pub sharding: u32,
    /// `SY_INPUT_*`: typed messages to one worker in turn, or to every worker.
    pub input_delivery: u32,
    /// `SY_STORAGE_CALLS_*`: whether the plugin's storage calls may wait (needed on an
    /// s3 storage). Added after `input_delivery`: an older vtable reads as
    /// `SY_STORAGE_CALLS_SYNC`.
    pub storage_calls: u32,
    /// Always 0.
    pub reserved1: u32,
}

/// `struct_size` of a vtable built before `storage` was added: the host still loads
/// such plugins, and takes their storage as served.
pub const SY_VTABLE_SIZE_V1: u32 = std::mem::offset_of!(SyPluginVTable, storage) as u32;
/// `struct_size` of a vtable built before the state handover was added: the host still
/// loads such plugins, as plugins that hand no state over.
pub const SY_VTABLE_SIZE_V2: u32 = std::mem::offset_of!(SyPluginVTable, export_state) as u32;
/// `struct_size` of a vtable built before `config_format` was added: its config is RON.
pub const SY_VTABLE_SIZE_V3: u32 = std::mem::offset_of!(SyPluginVTable, config_format) as u32;
/// `struct_size` of a vtable built before `sharding` was added: it runs on one worker.
pub const SY_VTABLE_SIZE_V4: u32 = std::mem::offset_of!(SyPluginVTable, sharding) as u32;
/// `struct_size` of a vtable built before `storage_calls` was added: synchronous
/// storage calls only.
pub const SY_VTABLE_SIZE_V5: u32 = std::mem::offset_of!(SyPluginVTable, storage_calls) as u32;

// SAFETY: the vtable is immutable static data; its pointers point to static data too.
unsafe impl Sync for SyPluginVTable {}
unsafe impl Send for SyPluginVTable {}

/// The declaration data symbol, read by the host before any plugin code runs.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SyPluginDecl {
    pub magic: u32,
    pub abi_version: u32,
    pub struct_size: u32,
    /// `SY_FLAG_*`.
    pub flags: u32,
}

/// Type of the entry function. Returns null to refuse this host.
pub type SyEntryFn = unsafe extern "C" fn(host_abi_version: u32) -> *const SyPluginVTable;
