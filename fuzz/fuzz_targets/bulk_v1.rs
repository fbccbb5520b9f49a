#![no_main]
use switchyard_fuzz_targets::bulk_v1;
libfuzzer_sys::fuzz_target!(|data: &[u8]| bulk_v1::bulk_v1(data));
