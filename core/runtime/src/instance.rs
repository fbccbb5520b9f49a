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

/// Collects what a plugin says while checking or creating: config errors, logs, and
/// the host calls it made that a config check does not offer.
#[derive(Debug, Default)]
pub struct ConfigCollector {
    pub problems: Vec<ConfigProblem>,
    pub logs: Vec<(u32, String)>,
    pub refused_calls: Vec<&'static str>,
}

impl ConfigCollector {
    /// A failed check or create with no config error of its own: `what` with the
    /// status and the plugin's last log line (a panic's message, say).
    fn say_why(&mut self, what: &str, status: u32) {
        if !self.problems.is_empty() {
            return;
        }
        let detail = self.logs.last().map(|(_, m)| m.clone()).unwrap_or_default();
        self.problems.push(ConfigProblem {
            message: format!("{what} ({}) {detail}", abi::status_name(status)),
            line: 0,
            col: 0,
        });
    }
}

impl HostCalls for ConfigCollector {
    fn unsupported(&mut self, call: &'static str) -> u32 {
        self.refused_calls.push(call);
        abi::SY_ERR_UNSUPPORTED
    }
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

/// Ask `plugin` to check `config` (RON text): its `check_config` (the config parses),
/// then a dry `create` (the plugin's own value checks, Caddy's provision-and-validate
/// at `validate` time rather than at first use). The dry instance gets no I/O: every
/// host call but logging is refused. A refusal of its config counts only when it asked
/// for nothing it was refused; a `create` that failed after a refused call (a plugin
/// that lists its directory in `new`) cannot be judged here, and is left to the start.
pub fn check_config(plugin: &Plugin, config: &str) -> Vec<ConfigProblem> {
    let parsed = parse_check(plugin, config);
    if !parsed.is_empty() {
        return parsed;
    }
    dry_create(plugin, config)
}

/// The config in the form the plugin asked for (`config_format`): the RON as written,
/// or converted to JSON (`{}` for none) for a plugin that reads JSON (C plugins, with
/// `switchyard_json.h`). A RON syntax error is reported at its place in the RON.
fn config_for(plugin: &Plugin, ron_text: &str) -> Result<String, ConfigProblem> {
    if plugin.info().config_format != abi::SY_CONFIG_JSON {
        return Ok(ron_text.to_owned());
    }
    if ron_text.trim().is_empty() {
        return Ok("{}".to_owned());
    }
    let value: serde_json::Value = ron::from_str(ron_text).map_err(|e| ConfigProblem {
        message: e.code.to_string(),
        line: u32::try_from(e.span.start.line).unwrap_or(0),
        col: u32::try_from(e.span.start.col).unwrap_or(0),
    })?;
    // `()` reads as null: no options.
    Ok(match value {
        serde_json::Value::Null => "{}".to_owned(),
        v => v.to_string(),
    })
}

fn parse_check(plugin: &Plugin, ron_text: &str) -> Vec<ConfigProblem> {
    let Some(check) = plugin.vtable().check_config else {
        return Vec::new();
    };
    let config = match config_for(plugin, ron_text) {
        Ok(c) => c,
        Err(problem) => return vec![problem],
    };
    let config = config.as_str();
    let mut collector = ConfigCollector::default();
    let status = with_ctx(&mut collector, |api, ctx| {
        // SAFETY: a checked vtable function with this call's host pointers.
        unsafe { check(api, ctx, SyStr::from_str(config)) }
    });
    if status != abi::SY_OK {
        collector.say_why("the plugin refused its configuration", status);
    }
    json_positions_dropped(plugin, collector.problems)
}

/// Positions a JSON-config plugin reports are in the JSON, which the operator never
/// sees: dropped, so the problem lands on its named field or on the whole config.
fn json_positions_dropped(plugin: &Plugin, mut problems: Vec<ConfigProblem>) -> Vec<ConfigProblem> {
    if plugin.info().config_format == abi::SY_CONFIG_JSON {
        for p in &mut problems {
            (p.line, p.col) = (0, 0);
        }
    }
    problems
}

fn dry_create(plugin: &Plugin, config: &str) -> Vec<ConfigProblem> {
    let mut collector = ConfigCollector::default();
    let created = Instance::create(plugin, config, &mut collector);
    let status = match created {
        // Destroyed at once: it never saw an event.
        Ok(instance) => {
            drop(instance);
            return Vec::new();
        }
        Err(status) => status,
    };
    if !collector.refused_calls.is_empty() {
        return Vec::new();
    }
    collector.say_why(
        "the plugin cannot be created with this configuration",
        status,
    );
    json_positions_dropped(plugin, collector.problems)
}

impl Instance {
    /// Create an instance from `config` (RON text), lending `calls` for the call.
    pub fn create(
        plugin: &Plugin,
        config: &str,
        calls: &mut dyn HostCalls,
    ) -> Result<Instance, u32> {
        let create = plugin.vtable().create.ok_or(abi::SY_ERR_INVALID)?;
        let config = config_for(plugin, config).map_err(|_| abi::SY_ERR_CONFIG)?;
        let mut out: *mut SyInstance = std::ptr::null_mut();
        let status = with_ctx(calls, |api, ctx| {
            // SAFETY: a checked vtable function; `out` is a valid local.
            unsafe { create(api, ctx, SyStr::from_str(&config), &mut out) }
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
