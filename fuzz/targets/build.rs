//! Every plugin rlib carries the two `#[no_mangle]` symbols its cdylib exports to the
//! host (`switchyard_plugin_decl`, `switchyard_plugin_entry`, from `declare_plugin!`).
//! The replay test links all the plugins into one binary, where those symbols are
//! duplicates nobody calls: let the linker keep the first of each.

fn main() {
    println!("cargo:rustc-link-arg-tests=-Wl,--allow-multiple-definition");
}
