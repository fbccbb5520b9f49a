#![no_main]
use switchyard_fuzz_targets::chat_command;
libfuzzer_sys::fuzz_target!(|data: &[u8]| chat_command::chat_command(data));
