//! The pure plan: what should happen next to a pod, and what status it has.
//!
//! Everything here is a function of its arguments: the pod spec, the runtime's view of the
//! pod ([`PodRuntimeStatus`]), probe results, back-off state and the current time. No I/O,
//! no async, no clock reads. That is what lets a user ask "given this pod and what the
//! runtime reports, what happens next?" in a unit test, and what lets proptest check the
//! kubelet's rules as invariants.

mod hash;
mod probe_results;
mod reasons;
mod runtime_view;

pub use hash::container_hash;
pub use probe_results::{ProbeKind, ProbeResult, ProbeResults};
pub use reasons::{ReasonCache, WaitingReason};
pub use runtime_view::{
    ContainerState, ContainerStatus, PodRuntimeStatus, SandboxState, SandboxStatus,
    timestamp_from_nanos,
};
