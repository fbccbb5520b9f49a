#![no_main]
use switchyard_fuzz_targets::chat_datagram;
libfuzzer_sys::fuzz_target!(|data: &[u8]| chat_datagram::chat_datagram(data));
