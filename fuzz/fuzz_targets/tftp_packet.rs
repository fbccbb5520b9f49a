#![no_main]
use switchyard_fuzz_targets::tftp_packet;
libfuzzer_sys::fuzz_target!(|data: &[u8]| tftp_packet::tftp_packet(data));
