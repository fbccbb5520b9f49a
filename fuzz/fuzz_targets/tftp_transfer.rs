#![no_main]
use switchyard_fuzz_targets::tftp_transfer;
libfuzzer_sys::fuzz_target!(|data: &[u8]| tftp_transfer::tftp_transfer(data));
