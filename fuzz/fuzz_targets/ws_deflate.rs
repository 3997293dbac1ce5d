//! permessage-deflate's untrusted input (a compressed message, an offer): the checks are `esockets_fuzz::deflate::check`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esockets_fuzz::deflate::check(data));
