//! The pure decisions of a kubelet: given a pod and what the runtime reports, what happens
//! next, and what status does the pod have?
//!
//! # Why this crate is pure
//!
//! Everything the kubelet decides about a pod (which sandbox to create, which container to
//! start, kill or hold in CrashLoopBackOff, which image to pull, what phase, conditions and
//! container statuses to report) is here, as functions of their arguments: the pod spec, the
//! runtime's view of the pod ([`PodRuntimeStatus`]), probe results, back-off state and the
//! current time. No I/O, no async, no clock reads, no CRI types: this crate builds without
//! tokio, tonic, prost or protoc.
//!
//! That split is the design. The kubelet interleaves these decisions with CRI calls, which
//! is why its rules are hard to test and harder to reuse. Here the rules can be asked
//! directly ("a sandbox died under `restartPolicy: Never`: what now?"), checked as
//! invariants with proptest (no app container before init succeeded, `Never` never
//! restarts, statuses independent of the runtime's listing order), and run in virtual time.
//! The I/O lives around it, in `pod-lifecycle` (workers, PLEG, the CRI conversion of the
//! runtime view) and the sibling crates.
//!
//! Besides the plan ([`compute_pod_actions`], [`generate_pod_status`] and their helpers):
//!
//! - [`labels`]: the kubelet's labels and annotations on sandboxes and containers, which let
//!   an agent rebuild its view from the runtime after a restart;
//! - [`validation`]: what a pod's identity (name, namespace, UID, container names) and its
//!   enumerated spec fields must be before anything is done for it, and the path guards
//!   every crate uses before it creates or removes a file named after a pod (the one place
//!   here that touches the file system: removal checked to stay under its parent);
//! - [`defaults`]: the API's defaults, applied by a pod manager to pods that no API server
//!   defaulted (static pods);
//! - [`qos`] and [`quantity`]: the pod's QoS class and resource quantities, as the API
//!   computes and parses them (the cgroup enforcer places pods by the same class);
//! - [`eviction`]: the kubelet's eviction manager as pure decisions: thresholds met,
//!   pressure conditions with their transition period, pod ranking, the evicted pod's
//!   message and status, admission under pressure (the loop lives in `pod-lifecycle`);
//! - [`pod_full_name`] and [`is_sidecar`]: one definition each for every crate.
//!
//! # Asking the plan
//!
//! ```
//! use jiff::Timestamp;
//! use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
//! use pod_plan::{Backoff, PodRuntimeStatus, ProbeResults, StatusInput};
//!
//! let pod = Pod {
//!     metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
//!         name: Some("web".into()),
//!         namespace: Some("default".into()),
//!         uid: Some("uid-1".into()),
//!         ..Default::default()
//!     },
//!     spec: Some(PodSpec {
//!         containers: vec![Container { name: "app".into(), image: Some("busybox:1".into()), ..Default::default() }],
//!         ..Default::default()
//!     }),
//!     ..Default::default()
//! };
//! let nothing_runs = PodRuntimeStatus::default();
//! let now = Timestamp::from_second(1_700_000_000).unwrap();
//!
//! // What next? A sandbox (attempt 0), then the app container.
//! let actions = pod_plan::compute_pod_actions(&pod, &nothing_runs, &ProbeResults::new(), &Backoff::container(), now);
//! assert!(actions.create_sandbox);
//! assert_eq!(actions.attempt, 0);
//! assert_eq!(actions.containers_to_start[0].name, "app");
//!
//! // And the status meanwhile: Pending, the container waiting in ContainerCreating.
//! let status = pod_plan::generate_pod_status(&StatusInput::new(&pod, &nothing_runs, now));
//! assert_eq!(status.phase.as_deref(), Some("Pending"));
//! let waiting = status.container_statuses.unwrap()[0].state.clone().unwrap().waiting.unwrap();
//! assert_eq!(waiting.reason.as_deref(), Some("ContainerCreating"));
//! ```
//!
//! The example `examples/lifecycle_in_isolation.rs` of the workspace uses this crate alone:
//! it plays the runtime and asks the plan, step by step, what happens to a crash-looping
//! container. `examples/workers_in_virtual_time.rs` drives the same crash loop through
//! pod-lifecycle's workers against `cri_client::fake::FakeRuntime` in virtual time.
#![deny(missing_docs)]

pub mod admission;
pub mod defaults;
mod error;
pub mod eviction;
mod identity;
pub mod labels;
pub mod qos;
pub mod quantity;
pub mod validation;

mod actions;
mod backoff;
mod gc;
mod go_format;
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
    image_backoff_key, jitter,
};
pub use gc::dead_containers_to_remove;
pub use go_format::{
    GoDurationError, format_float_g, format_go_duration, go_quote, parse_go_duration,
};
pub use hash::container_hash;
pub use image_gc::{
    FsUsage, ImageGcPlan, ImageGcPolicy, ImageGcProblem, ImageRecord, image_gc_plan,
    unused_images_plan,
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
    FailureCondition, PodFailure, PodPhase, QosClass, StatusInput, active_deadline_in,
    generate_failed_pod_status, generate_pod_status, rejected_pod_status, status_changed,
    terminal_status,
};
pub use termination::{
    DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS, KillCause, MINIMUM_CONTAINER_GRACE_PERIOD_SECONDS,
    MINIMUM_POD_GRACE_PERIOD_SECONDS, container_grace_period, pod_grace_period, shrink_grace,
    stop_order, stop_timeout_after_pre_stop,
};

pub use error::{Error, Result};
pub use identity::{format_pod, is_sidecar, pod_full_name, pod_name, pod_namespace, pod_uid};
