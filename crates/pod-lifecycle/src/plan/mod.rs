//! The pure plan: what should happen next to a pod, and what status it has.
//!
//! Everything here is a function of its arguments: the pod spec, the runtime's view of the
//! pod ([`PodRuntimeStatus`]), probe results, back-off state and the current time. No I/O,
//! no async, no clock reads. That is what lets a user ask "given this pod and what the
//! runtime reports, what happens next?" in a unit test, and what lets proptest check the
//! kubelet's rules as invariants.

mod actions;
mod backoff;
mod gc;
mod hash;
mod image_gc;
mod images;
mod probe_results;
mod reasons;
mod runtime_view;
pub mod status;
mod termination;

pub use actions::{
    ContainerKind, ContainerToKill, ContainerToStart, KillPodReason, KillReason, PodActions,
    compute_pod_actions, should_container_be_restarted,
};
pub use backoff::{
    Backoff, CONTAINER_BACKOFF_INITIAL, CONTAINER_BACKOFF_MAX, CONTAINER_BACKOFF_RESET,
    CrashLoopBackOffConfig, IMAGE_PULL_BACKOFF_INITIAL, IMAGE_PULL_BACKOFF_MAX,
    REDUCED_CONTAINER_BACKOFF_INITIAL, REDUCED_CONTAINER_BACKOFF_MAX, container_backoff_key,
    format_go_duration, image_backoff_key,
};
pub use gc::dead_containers_to_remove;
pub use hash::container_hash;
pub use image_gc::{
    FsUsage, ImageGcPlan, ImageGcPolicy, ImageGcProblem, ImageRecord, image_gc_plan,
};
pub use images::{
    DEFAULT_IMAGE_TAG, ImagePullDecision, ImagePullPolicy, ImageReference, InvalidImageName,
    already_present_message, back_off_pulling_message, image_with_default_tag,
    inspect_failed_reason, previous_pull_error, pull_decision, pull_failed_message,
    pull_failed_reason, pulled_message, pulling_message,
};
pub use probe_results::{ProbeKind, ProbeResult, ProbeResults};
pub use reasons::{ReasonCache, WaitingReason};
pub use runtime_view::{
    ContainerState, ContainerStatus, PodRuntimeStatus, SandboxState, SandboxStatus,
    timestamp_from_nanos,
};
pub use status::{
    PodFailure, PodPhase, QosClass, StatusInput, active_deadline_in, generate_failed_pod_status,
    generate_pod_status, rejected_pod_status, status_changed, terminal_status,
};
pub use termination::{
    DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS, KillCause, MINIMUM_CONTAINER_GRACE_PERIOD_SECONDS,
    MINIMUM_POD_GRACE_PERIOD_SECONDS, container_grace_period, pod_grace_period, shrink_grace,
    stop_order, stop_timeout_after_pre_stop,
};
