//! A TLS server session fed a client's bytes: the checks are `esockets_fuzz::tls::check`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esockets_fuzz::tls::check(data));
