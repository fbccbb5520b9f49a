#![no_main]
use switchyard_fuzz_targets::tftp_options;
libfuzzer_sys::fuzz_target!(|data: &[u8]| tftp_options::tftp_options(data));
