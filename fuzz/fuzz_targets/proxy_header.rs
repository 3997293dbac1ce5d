//! The PROXY protocol header parser: the checks are `esockets_fuzz::proxy::check`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esockets_fuzz::proxy::check(data));
