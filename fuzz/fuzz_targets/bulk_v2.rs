#![no_main]
use switchyard_fuzz_targets::bulk_v2;
libfuzzer_sys::fuzz_target!(|data: &[u8]| bulk_v2::bulk_v2(data));
