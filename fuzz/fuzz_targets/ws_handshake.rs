//! The WebSocket opening handshake: the checks are `esockets_fuzz::handshake::check`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esockets_fuzz::handshake::check(data));
