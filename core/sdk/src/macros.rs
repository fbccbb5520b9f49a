//! `declare_plugin!`: the one line that turns a [`crate::Protocol`] into a plugin library.

/// Export `$ty` (a [`crate::Protocol`]) as a Switchyard plugin.
///
/// Generates the two symbols the host looks for: the `switchyard_plugin_decl` data
/// symbol (magic, ABI version, panic strategy; read before any plugin code runs) and
/// the `switchyard_plugin_entry` function returning a static vtable whose every entry
/// catches panics. The crate must be built as a `cdylib` with `panic = "unwind"`; under
/// `panic = "abort"` the macro does not compile.
#[macro_export]
macro_rules! declare_plugin {
    ($ty:ty) => {
        // A panic in a plugin built with `panic = "abort"` would abort the whole host, and
        // the host refuses such a library at load; say so at build time instead, where
        // the fix is (the crate's or the workspace's Cargo profile).
        #[cfg(panic = "abort")]
        ::core::compile_error!(
            "switchyard plugins must be built with panic = \"unwind\" (the default): remove `panic = \"abort\"` from this build's Cargo profile; under abort, one panic in the plugin would stop the whole host"
        );

        #[allow(non_upper_case_globals)]
        #[unsafe(no_mangle)]
        pub static switchyard_plugin_decl: $crate::abi::SyPluginDecl = $crate::abi::SyPluginDecl {
            magic: $crate::abi::SY_MAGIC,
            abi_version: $crate::abi::SY_ABI_VERSION,
            struct_size: ::std::mem::size_of::<$crate::abi::SyPluginDecl>() as u32,
            // Evaluated in the plugin's own crate, under its own panic strategy.
            flags: if cfg!(panic = "unwind") {
                $crate::abi::SY_FLAG_PANIC_UNWIND
            } else {
                0
            },
        };

        /// # Safety
        /// Called by the Switchyard host with its ABI version.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn switchyard_plugin_entry(
            host_abi_version: u32,
        ) -> *const $crate::abi::SyPluginVTable {
            static VTABLE: $crate::abi::SyPluginVTable = $crate::trampoline::vtable::<$ty>();
            $crate::trampoline::entry(host_abi_version, &VTABLE)
        }
    };
}
