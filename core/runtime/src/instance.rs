//! [`Instance`]: one live plugin instance, and config checks through a plugin.
//!
//! An instance holds a clone of its [`Plugin`], so the library cannot be unloaded while
//! the instance exists; `destroy` is called exactly once, on drop, also after a panic.

use std::ptr::NonNull;

use switchyard_sdk::abi::{self, SyBytes, SyEvent, SyInstance, SyStr};
use switchyard_sdk::host::{HostCalls, with_ctx};

use crate::loader::Plugin;

/// A plugin instance. Not `Send`: calls into one instance are serialized on its actor.
#[derive(Debug)]
pub struct Instance {
    plugin: Plugin,
    ptr: NonNull<SyInstance>,
}

/// A configuration error reported by a plugin, 1-based inside the config text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub message: String,
    pub line: u32,
    pub col: u32,
}

/// Collects what a plugin says while checking or creating: config errors and logs.
#[derive(Debug, Default)]
pub struct ConfigCollector {
    pub problems: Vec<ConfigProblem>,
    pub logs: Vec<(u32, String)>,
}

impl HostCalls for ConfigCollector {
    fn log(&mut self, level: u32, msg: &str) {
        self.logs.push((level, msg.to_owned()));
    }
    fn config_error(&mut self, msg: &str, line: u32, col: u32) {
        self.problems.push(ConfigProblem {
            message: msg.to_owned(),
            line,
            col,
        });
    }
}

/// Ask `plugin` to check `config` (RON text) without creating anything.
pub fn check_config(plugin: &Plugin, config: &str) -> Vec<ConfigProblem> {
    let Some(check) = plugin.vtable().check_config else {
        return Vec::new();
    };
    let mut collector = ConfigCollector::default();
    let status = with_ctx(&mut collector, |api, ctx| {
        // SAFETY: a checked vtable function with this call's host pointers.
        unsafe { check(api, ctx, SyStr::from_str(config)) }
    });
    if status != abi::SY_OK && collector.problems.is_empty() {
        let detail = collector
            .logs
            .last()
            .map(|(_, m)| m.clone())
            .unwrap_or_default();
        collector.problems.push(ConfigProblem {
            message: format!(
                "the plugin refused its configuration ({}) {detail}",
                abi::status_name(status)
            ),
            line: 0,
            col: 0,
        });
    }
    collector.problems
}

impl Instance {
    /// Create an instance from `config` (RON text), lending `calls` for the call.
    pub fn create(
        plugin: &Plugin,
        config: &str,
        calls: &mut dyn HostCalls,
    ) -> Result<Instance, u32> {
        let create = plugin.vtable().create.ok_or(abi::SY_ERR_INVALID)?;
        let mut out: *mut SyInstance = std::ptr::null_mut();
        let status = with_ctx(calls, |api, ctx| {
            // SAFETY: a checked vtable function; `out` is a valid local.
            unsafe { create(api, ctx, SyStr::from_str(config), &mut out) }
        });
        if status != abi::SY_OK {
            return Err(status);
        }
        let ptr = NonNull::new(out).ok_or(abi::SY_ERR_INVALID)?;
        Ok(Instance {
            plugin: plugin.clone(),
            ptr,
        })
    }

    /// Deliver one event; the plugin acts through `calls` during the call.
    /// Returns the plugin's status (`SY_ERR_PANICKED` means: recreate me).
    pub fn deliver(&mut self, event: &SyEvent, calls: &mut dyn HostCalls) -> u32 {
        let Some(on_event) = self.plugin.vtable().on_event else {
            return abi::SY_ERR_INVALID;
        };
        let inst = self.ptr.as_ptr();
        with_ctx(calls, |api, ctx| {
            // SAFETY: `inst` is live (we own it); pointers valid for the call.
            unsafe { on_event(inst, api, ctx, event) }
        })
    }

    /// Ask the instance for its state (a reload replaces it): the plugin hands it out
    /// through `calls.hand_over_state` during the call. `UNSUPPORTED` without the hook.
    pub fn export_state(&mut self, now_ms: u64, calls: &mut dyn HostCalls) -> u32 {
        let Some(export) = self.plugin.vtable().export_state else {
            return abi::SY_ERR_UNSUPPORTED;
        };
        let inst = self.ptr.as_ptr();
        with_ctx(calls, |api, ctx| {
            // SAFETY: `inst` is live (we own it); pointers valid for the call.
            unsafe { export(inst, api, ctx, now_ms) }
        })
    }

    /// Give a fresh instance its predecessor's state: `SY_OK` if it took it.
    pub fn import_state(
        &mut self,
        now_ms: u64,
        version: u32,
        data: &[u8],
        calls: &mut dyn HostCalls,
    ) -> u32 {
        let Some(import) = self.plugin.vtable().import_state else {
            return abi::SY_ERR_UNSUPPORTED;
        };
        let inst = self.ptr.as_ptr();
        with_ctx(calls, |api, ctx| {
            // SAFETY: `inst` is live; `data` outlives the call; pointers valid for it.
            unsafe { import(inst, api, ctx, now_ms, version, SyBytes::from_slice(data)) }
        })
    }

    /// Sessions the plugin still has in flight (0 if it does not say).
    pub fn active_sessions(&self) -> u64 {
        match self.plugin.vtable().active_sessions {
            // SAFETY: `inst` is live.
            Some(f) => unsafe { f(self.ptr.as_ptr()) },
            None => 0,
        }
    }

    /// The plugin this instance came from.
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(destroy) = self.plugin.vtable().destroy {
            // SAFETY: created by this plugin's `create`, destroyed exactly once here.
            unsafe { destroy(self.ptr.as_ptr()) }
        }
    }
}
