#![no_main]
use switchyard_fuzz_targets::files_machine;
libfuzzer_sys::fuzz_target!(|data: &[u8]| files_machine::files_machine(data));
