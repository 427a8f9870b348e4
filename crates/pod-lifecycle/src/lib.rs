//! The heart of a kubelet, as a library: given a pod and what the runtime reports, what
//! happens next, and what status does the pod have?
//!
//! The decisions themselves are in the `pod-plan` crate, pure and free of any runtime; it is
//! re-exported here as [`plan`] (with [`labels`], [`validation`] and [`defaults`]). This
//! crate is the I/O around it:
//!
//! - [`worker`]: one tokio task per pod that reads the runtime, asks `plan`, and applies the
//!   answer through the `cri-client` traits (hooks, grace periods, image pulls, status
//!   publishing). Volumes, cgroups, probes and status reporting are reached through small
//!   traits ([`worker::PodVolumes`], [`worker::PodCgroups`], [`worker::PodProbes`],
//!   [`worker::StatusSink`]) that their own crates implement.
//! - [`pleg`]: the relist, the runtime cache and exit watchers that wake the workers.
//! - [`runtime_view`]: the plan's view of a pod ([`plan::PodRuntimeStatus`]) built from CRI
//!   replies.
//! - [`pod_manager`]: from source snapshots to workers (validation, API defaults,
//!   admission, static pod replacement, orphans).
//! - [`housekeeping`]: what is left of pods that are gone (orphaned workers, sandboxes,
//!   volumes, cgroups), removed in the kubelet's order every 2 s.
//! - [`image_gc`]: image garbage collection when the image filesystem fills up.
//! - [`eviction`]: the eviction manager's loop: stats through a seam, the pure decisions of
//!   `pod_plan::eviction`, node pressure conditions, node-level reclaim, and one pod
//!   evicted a sync through the workers.
//! - [`cri_config`]: a pod spec turned into CRI sandbox and container configs, purely. It
//!   lives here, not in `pod-plan`, because what it produces are CRI messages: it is the
//!   translation into the runtime's language, and the crate that speaks CRI owns it.
//! - `fake` (feature `fake`): the workers' clock over `cri_client::fake::FakeRuntime`'s
//!   clock (`FakeRuntimeClock`), for tests and examples in virtual time.
//! - [`logs`]: the `container-logs` crate, re-exported: container log files kept bounded
//!   (size-based rotation through CRI `ReopenContainerLog`), the legacy
//!   `/var/log/containers` symlinks, and the reader of the CRI log format that the
//!   termination messages of [`pleg`] come from.
//!
//! # Cargo features
//!
//! - `probes`: the adapter to the probes crate (`worker::RecordedProbeEvents`,
//!   `worker::wake_on_probe_results`); without it the crate does not build probe workers,
//!   and a node plugs in its own [`worker::PodProbes`]. The agent and the facade switch it
//!   on.
//! - `fake`: the workers' clock over `cri_client::fake::FakeRuntime`'s clock, for tests.
//!
//! The volume-manager, cgroup-enforcer and probes crates are not optional: the pod directory
//! layout (`volume_manager::layout`) and the kubelet's resource formulas
//! (`cgroup_enforcer::resources`) are part of every CRI config and pod directory the
//! workers make, and HTTP lifecycle hooks send their GET through the probes crate's
//! `HttpGetRequest`, as the kubelet's hooks use its prober's request code; only the
//! node-wide managers sit behind the seams.
//!
//! # Asking the plan
//!
//! ```
//! use jiff::Timestamp;
//! use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
//! use pod_lifecycle::plan::{self, Backoff, PodRuntimeStatus, ProbeResults};
//!
//! let mut pod = Pod::default();
//! pod.metadata.uid = Some("uid-1".into());
//! pod.spec = Some(PodSpec {
//!     containers: vec![Container { name: "app".into(), image: Some("busybox:1".into()), ..Default::default() }],
//!     ..Default::default()
//! });
//! let now = Timestamp::from_second(1_700_000_000).unwrap();
//! let actions = plan::compute_pod_actions(&pod, &PodRuntimeStatus::default(), &ProbeResults::new(), &Backoff::container(), now);
//! assert!(actions.create_sandbox);
//! ```
//!
//! The example `examples/workers_in_virtual_time.rs` of the workspace drives a crash loop
//! through [`worker::PodWorkers`] against `cri_client::fake::FakeRuntime` in virtual time
//! and prints the status history: restarts immediately, then after 10, 20, 40, 80, 160 and
//! 300 s, each wait shown as `CrashLoopBackOff`.
#![deny(missing_docs)]

pub mod cri_config;
mod error;
pub mod eviction;
#[cfg(feature = "fake")]
pub mod fake;
pub mod housekeeping;
pub mod image_gc;
pub use container_logs as logs;
pub mod pleg;
pub mod pod_manager;
pub mod runtime_view;
pub mod worker;

pub use pod_plan as plan;
pub use pod_plan::{defaults, labels, validation};
pub use runtime_view::FromCri;

pub use error::{Error, Result};
