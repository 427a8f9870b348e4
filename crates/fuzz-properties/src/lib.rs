//! The properties nodelet's fuzz targets check, one function per target, written once for
//! two runners:
//!
//! - the coverage-guided fuzzer: `fuzz/` at the root of the repository is a cargo-fuzz
//!   crate (libFuzzer, nightly, outside the workspace) whose targets are one line each,
//!   `fuzz_properties::<target>::check(data)`;
//! - the replay on stable: this crate's `tests/corpora.rs` runs every committed corpus file
//!   and crash case (`fuzz/corpus/<target>/`, `fuzz/regressions/<target>/`) through the same
//!   function, so `cargo test --workspace` keeps checking what the fuzzer found.
//!
//! # Why properties, not only "no panic"
//!
//! A parser that never panics can still be wrong in a way a fuzzer finds quickly once it is
//! told what right is. Each check therefore states what the code promises its callers, in
//! terms the fuzzer can test on any input: a quantity's canonical text parses back to the
//! same value; a duration's Go spelling parses back to the same duration, and zeros that do
//! not change a number do not change the result; a refused manifest names its file and a
//! field; a config file is either refused naming a field or loads into a configuration that
//! validates and survives `/configz`; the log reader gives back exactly the lines a model of
//! the CRI log format predicts. A check panics (an `assert!`) when a property fails, which
//! is what both runners detect.
//!
//! | target | checks |
//! |---|---|
//! | [`manifest`] | `agent::static_pods::parse_manifest` with pod validation |
//! | [`quantity`] | `pod_plan::quantity::QuantityValue` and the validation of a pod's resources |
//! | [`go_duration`] | `pod_plan::parse_go_duration` and the agent's `GoDuration` |
//! | [`kubelet_config`] | `agent::config::KubeletConfiguration::from_yaml` |
//! | [`cri_log`] | `container_logs::parse_record` and `container_logs::LogReader` on a file |
//!
//! # Example
//!
//! ```
//! // What the replay test does with one corpus file of each target.
//! fuzz_properties::quantity::check(b"1.5Gi");
//! fuzz_properties::go_duration::check(b"1h30m");
//! for (name, check) in fuzz_properties::TARGETS {
//!     check(b"");
//!     assert!(!name.is_empty());
//! }
//! ```
#![deny(missing_docs)]

pub mod cri_log;
pub mod go_duration;
pub mod kubelet_config;
pub mod manifest;
pub mod quantity;

/// A target's check: panics when a property fails on the input.
pub type Check = fn(&[u8]);

/// Every target: its name (the fuzz target's and its corpus directory's) and its check.
pub const TARGETS: [(&str, Check); 5] = [
    ("static_pod_manifest", manifest::check),
    ("quantity", quantity::check),
    ("go_duration", go_duration::check),
    ("kubelet_config", kubelet_config::check),
    ("cri_log", cri_log::check),
];
