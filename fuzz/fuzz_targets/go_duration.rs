//! Fuzz target `go_duration`: the properties of `fuzz_properties::go_duration`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_properties::go_duration::check(data));
