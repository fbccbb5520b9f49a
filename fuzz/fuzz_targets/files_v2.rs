#![no_main]
use switchyard_fuzz_targets::files_v2;
libfuzzer_sys::fuzz_target!(|data: &[u8]| files_v2::files_v2(data));
