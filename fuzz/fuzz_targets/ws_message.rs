//! WebSocket message assembly (fragments, UTF-8, close frames): the checks are `esockets_fuzz::message::check`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esockets_fuzz::message::check(data));
