//! The heart of a kubelet, as a library: given a pod and what the runtime reports, what
//! happens next, and what status does the pod have?
//!
//! # Why `plan` is pure
//!
//! Everything the kubelet decides about a pod — which sandbox to create, which container to
//! start, kill or hold in CrashLoopBackOff, which image to pull, what phase, conditions and
//! container statuses to report — is in [`plan`], as functions of their arguments: the pod
//! spec, the runtime's view of the pod ([`plan::PodRuntimeStatus`]), probe results, back-off
//! state and the current time. No I/O, no async, no clock reads.
//!
//! That split is the design. The kubelet interleaves these decisions with CRI calls, which
//! is why its rules are hard to test and harder to reuse. Here the rules can be asked
//! directly ("a sandbox died under `restartPolicy: Never`: what now?"), checked as
//! invariants with proptest (no app container before init succeeded, `Never` never
//! restarts, statuses independent of the runtime's listing order), and run in virtual time.
//! The I/O lives in three thin layers around it:
//!
//! - [`worker`]: one tokio task per pod that reads the runtime, asks `plan`, and applies the
//!   answer through the `cri-client` traits (hooks, grace periods, image pulls, status
//!   publishing). Volumes, cgroups, probes and status reporting are reached through small
//!   traits ([`worker::PodVolumes`], [`worker::PodCgroups`], [`worker::PodProbes`],
//!   [`worker::StatusSink`]) that their own crates implement.
//! - [`pleg`]: the relist, the runtime cache and exit watchers that wake the workers.
//! - [`pod_manager`]: from source snapshots to workers (admission, static pod replacement,
//!   orphans).
//! - [`image_gc`]: image garbage collection when the image filesystem fills up.
//! - [`validation`]: what a pod's identity (name, namespace, UID, container names) and its
//!   enumerated spec fields must be before anything is done for it; every pod source calls
//!   it, and the path builders check their components again.
//! - [`defaults`]: the API's defaults, applied by the pod manager to every source's pods
//!   (static pods are not defaulted by an API server).
//!
//! [`cri_config`] turns a pod spec into CRI sandbox and container configs, also purely.
//! [`logs`] keeps container log files bounded (size-based rotation through CRI
//! `ReopenContainerLog`) and maintains the legacy `/var/log/containers` symlinks.
//!
//! # Asking the plan
//!
//! ```
//! use jiff::Timestamp;
//! use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
//! use pod_lifecycle::plan::{self, Backoff, PodRuntimeStatus, ProbeResults, StatusInput};
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
//! let actions = plan::compute_pod_actions(&pod, &nothing_runs, &ProbeResults::new(), &Backoff::container(), now);
//! assert!(actions.create_sandbox);
//! assert_eq!(actions.attempt, 0);
//! assert_eq!(actions.containers_to_start[0].name, "app");
//!
//! // And the status meanwhile: Pending, the container waiting in ContainerCreating.
//! let status = plan::generate_pod_status(&StatusInput::new(&pod, &nothing_runs, now));
//! assert_eq!(status.phase.as_deref(), Some("Pending"));
//! let waiting = status.container_statuses.unwrap()[0].state.clone().unwrap().waiting.unwrap();
//! assert_eq!(waiting.reason.as_deref(), Some("ContainerCreating"));
//! ```
//!
//! The example `examples/lifecycle_in_isolation.rs` of the workspace drives a crash loop
//! through [`worker::PodWorkers`] against `cri_client::fake::FakeRuntime` in virtual time
//! and prints the status history: restarts immediately, then after 10, 20, 40, 80, 160 and
//! 300 s, each wait shown as `CrashLoopBackOff`.
#![deny(missing_docs)]

pub mod cri_config;
pub mod defaults;
mod error;
pub mod image_gc;
pub mod labels;
pub mod logs;
pub mod plan;
pub mod pleg;
pub mod pod_manager;
pub mod validation;
pub mod worker;

pub use error::{Error, Result};
