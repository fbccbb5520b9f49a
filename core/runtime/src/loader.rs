//! Loading plugin libraries: `dlopen`, the version handshake, and [`Plugin`].
//!
//! The order of checks is the point of this module. The declaration symbol is plain
//! data, so it is read and checked *before any plugin function is called* (only the
//! library's ELF initializers, which the SDK adds none of, run at `dlopen`): a library built for
//! another ABI, with `panic = "abort"`, or that is no Switchyard plugin at all is refused
//! with a message saying exactly that, without calling into it. Only then is the entry
//! function called and the returned vtable checked field by field.
//!
//! A [`Plugin`] keeps its library alive (`Arc`), and so does every instance made from
//! it, so the library is unloaded only after the last object from it is gone
//! (a call after `dlclose` is a segfault: `docs/decisions/plugin-boundary.md`, "Rules
//! that keep unload and reload sound").

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use switchyard_sdk::abi::{self, SyPluginDecl, SyPluginVTable, SyPortDecl};

/// Why a library was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// `dlopen` failed: missing file, not an ELF shared object, missing dependency.
    #[error("cannot load {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    /// The library has no Switchyard declaration symbol, or its magic is wrong.
    #[error("{path} is not a Switchyard plugin: {reason}")]
    NotAPlugin { path: PathBuf, reason: String },
    /// The plugin was built against another ABI version.
    #[error(
        "{path} was built for Switchyard plugin ABI {plugin}, this host speaks ABI {host}: rebuild the plugin against a matching switchyard-sdk"
    )]
    AbiMismatch {
        path: PathBuf,
        plugin: u32,
        host: u32,
    },
    /// The plugin cannot unwind, so a panic in it would abort the whole host.
    #[error(
        "{path} was built with panic=abort: a panic in it would abort the host; build it with panic=unwind (the default), or declare SY_FLAG_NO_UNWIND for a C plugin"
    )]
    PanicAbort { path: PathBuf },
    /// The entry function returned null, or its vtable is malformed.
    #[error("{path} refused to load: {reason}")]
    Refused { path: PathBuf, reason: String },
}

/// A port as the plugin declared it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    pub name: String,
    /// `true` for an input port.
    pub input: bool,
    pub type_name: String,
}

/// What a plugin declared about itself, copied out of its vtable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub description: String,
    pub abi_version: u32,
    /// `SY_LISTEN_*` mask.
    pub listener_kinds: u32,
    /// `SY_INSTANCE_*`.
    pub instance_mode: u32,
    /// `SY_STORAGE_*`; `SY_STORAGE_SERVED` for a vtable that predates the field.
    pub storage: u32,
    /// `SY_CONFIG_*`; `SY_CONFIG_RON` for a vtable that predates the field.
    pub config_format: u32,
    /// `SY_SHARD_*`; `SY_SHARD_NONE` (one worker) for a vtable that predates the field.
    pub sharding: u32,
    /// `SY_INPUT_*`; `SY_INPUT_ONE_WORKER` for a vtable that predates the field.
    pub input_delivery: u32,
    /// `SY_STORAGE_CALLS_*`; `SY_STORAGE_CALLS_SYNC` for a vtable that predates the
    /// field (such a plugin serves a dir storage only).
    pub storage_calls: u32,
    pub ports: Vec<PortInfo>,
    pub path: PathBuf,
}

struct Library {
    /// The plugin's vtable copied out (see [`read_vtable`]): its pointers still point
    /// into the library, which `_lib` keeps loaded.
    vtable: SyPluginVTable,
    info: PluginInfo,
    /// Dropped last (fields drop in order): nothing above points into it after drop.
    _lib: libloading::Library,
}

// SAFETY: the vtable's pointers point to immutable static data inside the library,
// which `_lib` keeps loaded; plugin calls themselves are serialized per instance by the
// host. (`SyPluginVTable` is Send and Sync already; `libloading::Library` too.)

/// A loaded, checked plugin library. Cheap to clone; the library stays loaded while any
/// clone (or instance) lives.
#[derive(Clone)]
pub struct Plugin(Arc<Library>);

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("info", &self.0.info)
            .finish()
    }
}

/// Which loaded library a [`Plugin`] handle refers to, as a plain value a reload plan
/// can compare without holding the library. Two ids are equal exactly when the handles
/// share one library, as long as both handles live (the id is the library's address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LibraryId(pub(crate) usize);

fn text(s: &abi::SyStr, what: &str) -> Result<String, String> {
    // SAFETY: the vtable's strings are static data of the loaded library.
    let bytes = unsafe { s.as_bytes() };
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("{what} is not UTF-8"))
}

impl Plugin {
    /// Load and check the library at `path`.
    pub fn load(path: &Path) -> Result<Plugin, LoadError> {
        Plugin::load_at(path, path)
    }

    /// Load the library at `open_path`, reporting it (in errors and [`PluginInfo::path`])
    /// as `path`. Reload uses this to load a changed library from a fresh copy: `dlopen`
    /// of a path that is already loaded returns the old library.
    pub fn load_at(open_path: &Path, path: &Path) -> Result<Plugin, LoadError> {
        let path_buf = path.to_path_buf();
        // SAFETY: loading a library runs its ELF initializers; Rust and C plugins built
        // with the SDK have none that matter. This is the trust boundary documented in
        // the README: a native plugin runs with the host's rights.
        // RTLD_NOW: an undefined symbol fails the load here, with a message, instead of
        // killing the whole host at the first call that needs it.
        let lib = unsafe {
            libloading::os::unix::Library::open(
                Some(open_path),
                libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL,
            )
        }
        .map(libloading::Library::from)
        .map_err(|e| LoadError::Open {
            path: path_buf.clone(),
            // The loader names the private copy it opened; the operator knows the file.
            reason: dl_reason(&e).replace(
                &open_path.display().to_string(),
                &path.display().to_string(),
            ),
        })?;
        let not_plugin = |reason: &str| LoadError::NotAPlugin {
            path: path_buf.clone(),
            reason: reason.into(),
        };

        // 1. The declaration: plain data, read before any plugin code runs.
        // SAFETY: we only take the symbol's address here.
        let decl_ptr = unsafe { lib.get::<*const c_void>(abi::SY_DECL_SYMBOL) }
            .map_err(|_| not_plugin("it exports no `switchyard_plugin_decl` symbol"))?;
        let decl_ptr = *decl_ptr as *const SyPluginDecl;
        if decl_ptr.is_null() {
            return Err(not_plugin("`switchyard_plugin_decl` is null"));
        }
        // SAFETY: the symbol is a `SyPluginDecl` static by contract; its first field is
        // the magic, read before trusting anything else. Unaligned read to be safe.
        let decl = unsafe { std::ptr::read_unaligned(decl_ptr) };
        if decl.magic != abi::SY_MAGIC {
            return Err(not_plugin(
                "`switchyard_plugin_decl` has the wrong magic number",
            ));
        }
        if decl.abi_version != abi::SY_ABI_VERSION {
            return Err(LoadError::AbiMismatch {
                path: path_buf,
                plugin: decl.abi_version,
                host: abi::SY_ABI_VERSION,
            });
        }
        if (decl.struct_size as usize) < std::mem::size_of::<SyPluginDecl>() {
            return Err(not_plugin("`switchyard_plugin_decl` is too small"));
        }
        if decl.flags & (abi::SY_FLAG_PANIC_UNWIND | abi::SY_FLAG_NO_UNWIND) == 0 {
            return Err(LoadError::PanicAbort { path: path_buf });
        }

        // 2. The entry function, then the vtable.
        let refused = |reason: String| LoadError::Refused {
            path: path_buf.clone(),
            reason,
        };
        // SAFETY: the declaration says this is a Switchyard plugin of our ABI, whose
        // entry has the `SyEntryFn` signature.
        let entry = unsafe { lib.get::<abi::SyEntryFn>(abi::SY_ENTRY_SYMBOL) }
            .map_err(|_| refused("it exports no `switchyard_plugin_entry` function".into()))?;
        // SAFETY: as above; the SDK's entry catches nothing because it cannot panic.
        let vtable = unsafe { entry(abi::SY_ABI_VERSION) };
        if vtable.is_null() {
            return Err(refused("its entry function refused this host".into()));
        }
        // SAFETY: non-null; a vtable is static data of the library, `struct_size` long.
        let vtable = unsafe { read_vtable(vtable) }.map_err(refused)?;
        let info = check_vtable(&vtable, &path_buf).map_err(refused)?;
        Ok(Plugin(Arc::new(Library {
            vtable,
            info,
            _lib: lib,
        })))
    }

    /// Whether both handles refer to the same loaded library (not just the same path).
    pub fn same_library(&self, other: &Plugin) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The library's identity, for comparing without a second handle at hand.
    pub fn library_id(&self) -> LibraryId {
        LibraryId(Arc::as_ptr(&self.0) as usize)
    }

    /// What the plugin declared.
    pub fn info(&self) -> &PluginInfo {
        &self.0.info
    }

    /// The checked vtable; its pointers are valid as long as `self` lives.
    pub fn vtable(&self) -> &SyPluginVTable {
        &self.0.vtable
    }
}

/// Copy a plugin's vtable out of the library, as much of it as the plugin built.
///
/// A plugin built against an older SDK of this ABI has a shorter table (it ends before
/// the fields added since, `storage` so far): reading our whole struct from its
/// pointer would read past its static. So only `struct_size` bytes are copied, over a
/// zeroed table, and every later field keeps its zero, which is chosen to be the safe
/// meaning (`SY_STORAGE_SERVED`). A table shorter than the first one is refused.
///
/// # Safety
/// `vt` is non-null and points to at least `struct_size` (its first field) readable
/// bytes, as the ABI requires of a plugin's vtable.
unsafe fn read_vtable(vt: *const SyPluginVTable) -> Result<SyPluginVTable, String> {
    // SAFETY: every vtable starts with its `struct_size`.
    let size = unsafe { std::ptr::addr_of!((*vt).struct_size).read_unaligned() };
    if size < abi::SY_VTABLE_SIZE_V1 {
        return Err(format!(
            "its vtable is {size} bytes, this host needs at least {}",
            abi::SY_VTABLE_SIZE_V1
        ));
    }
    let copied = (size as usize).min(std::mem::size_of::<SyPluginVTable>());
    // SAFETY: all-zero is a valid vtable (null pointers, `None` functions, zero
    // numbers); then `copied` bytes the plugin vouches for are laid over it.
    unsafe {
        let mut out = std::mem::MaybeUninit::<SyPluginVTable>::zeroed();
        std::ptr::copy_nonoverlapping(vt.cast::<u8>(), out.as_mut_ptr().cast::<u8>(), copied);
        Ok(out.assume_init())
    }
}

fn check_vtable(vt: &SyPluginVTable, path: &Path) -> Result<PluginInfo, String> {
    if vt.storage > abi::SY_STORAGE_PRIVATE {
        return Err(format!("unknown storage kind {}", vt.storage));
    }
    if vt.config_format > abi::SY_CONFIG_JSON {
        return Err(format!("unknown config format {}", vt.config_format));
    }
    if vt.sharding > abi::SY_SHARD_PEER_IP {
        return Err(format!("unknown sharding {}", vt.sharding));
    }
    if vt.input_delivery > abi::SY_INPUT_EVERY_WORKER {
        return Err(format!("unknown input delivery {}", vt.input_delivery));
    }
    if vt.storage_calls > abi::SY_STORAGE_CALLS_WAIT {
        return Err(format!("unknown storage calls {}", vt.storage_calls));
    }
    if vt.abi_version != abi::SY_ABI_VERSION {
        return Err(format!(
            "its vtable says ABI {}, this host speaks {}",
            vt.abi_version,
            abi::SY_ABI_VERSION
        ));
    }
    if vt.create.is_none() || vt.destroy.is_none() || vt.on_event.is_none() {
        return Err("its vtable lacks create, destroy or on_event".into());
    }
    if vt.export_state.is_some() != vt.import_state.is_some() {
        return Err(
            "its vtable sets one of export_state and import_state without the other".into(),
        );
    }
    if vt.listener_kinds & !(abi::SY_LISTEN_UDP | abi::SY_LISTEN_TCP) != 0 {
        return Err(format!("unknown listener kinds {:#x}", vt.listener_kinds));
    }
    if vt.instance_mode > abi::SY_INSTANCE_PER_CONNECTION {
        return Err(format!("unknown instance mode {}", vt.instance_mode));
    }
    let name = text(&vt.name, "name")?;
    if name.is_empty() {
        return Err("its name is empty".into());
    }
    if vt.port_count > 0 && vt.ports.is_null() {
        return Err("it declares ports but gives no port list".into());
    }
    let decls: &[SyPortDecl] = if vt.port_count == 0 {
        &[]
    } else {
        // SAFETY: non-null, `port_count` entries of static data by contract.
        unsafe { std::slice::from_raw_parts(vt.ports, vt.port_count as usize) }
    };
    let mut ports = Vec::with_capacity(decls.len());
    for p in decls {
        let input = match p.direction {
            abi::SY_PORT_IN => true,
            abi::SY_PORT_OUT => false,
            other => return Err(format!("a port has unknown direction {other}")),
        };
        let port_name = text(&p.name, "a port name")?;
        if ports.iter().any(|q: &PortInfo| q.name == port_name) {
            return Err(format!("port `{port_name}` is declared twice"));
        }
        ports.push(PortInfo {
            name: port_name,
            input,
            type_name: text(&p.type_name, "a port type")?,
        });
    }
    Ok(PluginInfo {
        name,
        version: text(&vt.version, "version")?,
        description: text(&vt.description, "description")?,
        abi_version: vt.abi_version,
        listener_kinds: vt.listener_kinds,
        instance_mode: vt.instance_mode,
        storage: vt.storage,
        config_format: vt.config_format,
        sharding: vt.sharding,
        input_delivery: vt.input_delivery,
        storage_calls: vt.storage_calls,
        ports,
        path: path.to_path_buf(),
    })
}

/// File names tried for plugin `name` in each directory, in order.
pub fn candidate_file_names(name: &str) -> Vec<String> {
    let stem = name.replace('-', "_");
    let ext = std::env::consts::DLL_EXTENSION;
    vec![
        format!("libswitchyard_{stem}.{ext}"),
        format!("lib{stem}.{ext}"),
        format!("{stem}.{ext}"),
    ]
}

/// libloading's error with the dynamic loader's own words: its `Display` alone says only
/// "dlopen failed", and `dlerror`'s text (in its source) is what tells the operator why
/// (not an ELF file, wrong architecture, a missing dependency).
fn dl_reason(e: &libloading::Error) -> String {
    use std::error::Error as _;
    match e.source() {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}

/// Find plugin `name` in `dirs` (in order). Returns the first existing candidate.
pub fn find_in_dirs(name: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    let names = candidate_file_names(name);
    dirs.iter()
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests;
