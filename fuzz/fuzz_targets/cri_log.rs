//! Fuzz target `cri_log`: the properties of `fuzz_properties::cri_log`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_properties::cri_log::check(data));
