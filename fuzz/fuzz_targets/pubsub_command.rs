//! The pubsub command parser: the checks are `esockets_fuzz::pubsub::check`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esockets_fuzz::pubsub::check(data));
