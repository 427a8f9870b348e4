//! Fuzz target `quantity`: the properties of `fuzz_properties::quantity`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_properties::quantity::check(data));
