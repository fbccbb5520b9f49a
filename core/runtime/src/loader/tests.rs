//! The loader's tests: vtables read by size, checked field by field; load failures.
use super::*;

#[test]
fn candidates_map_dashes() {
    let names = candidate_file_names("my-proto");
    assert_eq!(
        names[0],
        format!("libswitchyard_my_proto.{}", std::env::consts::DLL_EXTENSION)
    );
    assert_eq!(names.len(), 3);
}

/// A vtable as the SDK builds it, with `storage` set to private.
fn private_vtable() -> SyPluginVTable {
    SyPluginVTable {
        storage: abi::SY_STORAGE_PRIVATE,
        ..switchyard_sdk::trampoline::vtable::<Nothing>()
    }
}

struct Nothing;

impl switchyard_sdk::Protocol for Nothing {
    type Config = ();
    const NAME: &'static str = "nothing";
    const LISTENERS: switchyard_sdk::Listeners = switchyard_sdk::Listeners::NONE;
    fn new(_: (), _: &mut switchyard_sdk::Ctx<'_>) -> Result<Nothing, String> {
        Ok(Nothing)
    }
    fn on_event(&mut self, _: &mut switchyard_sdk::Ctx<'_>, _: switchyard_sdk::Event<'_>) {}
}

#[test]
fn a_whole_vtable_is_read_with_its_storage_kind() {
    let vt = private_vtable();
    // SAFETY: a whole vtable on the stack.
    let read = unsafe { read_vtable(&vt) }.unwrap();
    let info = check_vtable(&read, Path::new("x.so")).unwrap();
    assert_eq!(info.storage, abi::SY_STORAGE_PRIVATE);
    assert_eq!(info.name, "nothing");
}

/// A plugin built before `storage` existed ends its table there: the host reads no
/// further (the bytes behind it are not the plugin's) and takes it as served.
#[test]
fn a_vtable_from_before_the_storage_field_loads_as_served() {
    let vt = SyPluginVTable {
        struct_size: abi::SY_VTABLE_SIZE_V1,
        ..private_vtable()
    };
    // SAFETY: a whole vtable, of which only the first 120 bytes are declared.
    let read = unsafe { read_vtable(&vt) }.unwrap();
    let info = check_vtable(&read, Path::new("x.so")).unwrap();
    assert_eq!(info.storage, abi::SY_STORAGE_SERVED);
    assert!(read.on_event.is_some() && read.active_sessions.is_some());
}

#[test]
fn a_vtable_shorter_than_the_first_one_or_of_unknown_storage_is_refused() {
    let short = SyPluginVTable {
        struct_size: abi::SY_VTABLE_SIZE_V1 - 8,
        ..private_vtable()
    };
    // SAFETY: a whole vtable.
    let err = unsafe { read_vtable(&short) }.unwrap_err();
    assert!(err.contains("at least 120"), "{err}");
    let odd = SyPluginVTable {
        storage: 7,
        ..private_vtable()
    };
    // SAFETY: a whole vtable.
    let read = unsafe { read_vtable(&odd) }.unwrap();
    let err = check_vtable(&read, Path::new("x.so")).unwrap_err();
    assert!(err.contains("unknown storage kind 7"), "{err}");
}

#[test]
fn missing_file_is_an_open_error() {
    let err = Plugin::load(Path::new("/nonexistent/libswitchyard_x.so")).unwrap_err();
    assert!(matches!(err, LoadError::Open { .. }), "{err}");
}

#[test]
fn a_library_without_declaration_is_not_a_plugin() {
    // libc is present on every Linux machine this runs on and is no plugin.
    let libc = [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib/aarch64-linux-gnu/libc.so.6",
        "/lib64/libc.so.6",
    ]
    .iter()
    .map(Path::new)
    .find(|p| p.exists());
    let Some(libc) = libc else { return };
    let err = Plugin::load(libc).unwrap_err();
    assert!(
        err.to_string().contains("is not a Switchyard plugin"),
        "{err}"
    );
}
