//! Fuzz target `static_pod_manifest`: the properties of `fuzz_properties::manifest`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_properties::manifest::check(data));
