//! The WebSocket frame parser and builders: the checks are `esockets_fuzz::frame::check`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esockets_fuzz::frame::check(data));
