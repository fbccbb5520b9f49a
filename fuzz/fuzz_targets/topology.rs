#![no_main]
use switchyard_fuzz_targets::topology;
libfuzzer_sys::fuzz_target!(|data: &[u8]| topology::topology(data));
