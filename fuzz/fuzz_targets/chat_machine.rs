#![no_main]
use switchyard_fuzz_targets::chat_machine;
libfuzzer_sys::fuzz_target!(|data: &[u8]| chat_machine::chat_machine(data));
