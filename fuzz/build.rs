//! Every plugin rlib carries the two `#[no_mangle]` symbols its cdylib exports to the
//! host (`switchyard_plugin_decl`, `switchyard_plugin_entry`, from `declare_plugin!`).
//! A fuzz binary links several plugins, where those symbols are duplicates nobody
//! calls: let the linker keep the first of each.

fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,--allow-multiple-definition");
}
