#![no_main]
use switchyard_fuzz_targets::files_v1;
libfuzzer_sys::fuzz_target!(|data: &[u8]| files_v1::files_v1(data));
