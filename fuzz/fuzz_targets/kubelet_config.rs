//! Fuzz target `kubelet_config`: the properties of `fuzz_properties::kubelet_config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_properties::kubelet_config::check(data));
