#![no_main]
use switchyard_fuzz_targets::bulk_machine;
libfuzzer_sys::fuzz_target!(|data: &[u8]| bulk_machine::bulk_machine(data));
