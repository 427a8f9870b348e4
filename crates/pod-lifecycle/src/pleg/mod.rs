//! The pod lifecycle event generator (PLEG): how pod workers learn that something changed in
//! the runtime, and where they read what the runtime reports.
//!
//! The parts, in the order data flows:
//!
//! - [`pod_runtime_status`] reads one pod's [`PodRuntimeStatus`](crate::plan::PodRuntimeStatus)
//!   from the CRI (lists filtered by the `io.kubernetes.pod.uid` label, then one status call
//!   per sandbox and container); [`RuntimeListing`] and [`pod_runtime_statuses`] do the same
//!   for every pod from one pair of unfiltered lists.
//! - [`compute_events`] is the kubelet's pure diff from one look at a pod to the next:
//!   running → `ContainerStarted`, exited → `ContainerDied`, gone → `ContainerRemoved`.
//! - [`RuntimeCache`] holds the latest status of every pod with the instant it was read; a
//!   worker that acted at `t` waits in [`RuntimeCache::get_newer_than`] for a view read after
//!   `t`, so it never plans from a view older than its own last action.
//! - [`Pleg`] relists every second (the kubelet's generic PLEG), keeps the cache fresh and
//!   sends [`PodLifecycleEvent`]s, and reports its health the kubelet's way.
//!
//! # Why exit watchers
//!
//! The kubelet finds a container exit at the next relist, up to a second later, unless the
//! runtime streams CRI container events, which containerd 1.6 does not. nodelet's budget is
//! 100 ms, so between relists the [`Pleg`] uses CRI events where the runtime offers them and
//! otherwise watches each running container's init process directly: the pid from verbose
//! `ContainerStatus`, a pidfd on it, and tokio's reactor to wait for it to become readable.
//! The exit then triggers a relist of that one pod. That is cheap (one file descriptor and
//! one parked task per container) and needs no polling; the relist stays the safety net for
//! whatever a watcher cannot see (a kernel without pidfds, a runtime that reports no pid,
//! sandboxes, removals).

mod cache;
mod events;
mod exit_watch;
mod message;
mod relist;
mod status;

pub use cache::{CachedPodStatus, RuntimeCache};
pub use events::{
    PlegContainerState, PodLifecycleEvent, PodLifecycleEventKind, PodStates, compute_events,
    generate_events, states_from_status,
};
pub use message::{
    MAX_TERMINATION_MESSAGE_LENGTH, MAX_TERMINATION_MESSAGE_LOG_LENGTH,
    MAX_TERMINATION_MESSAGE_LOG_LINES, last_log_lines, termination_message,
};
pub use relist::{
    ContainerDiedCounts, DEFAULT_CHANNEL_CAPACITY, DEFAULT_RELIST_PERIOD, DEFAULT_RELIST_THRESHOLD,
    ExitDetection, Pleg, PlegConfig, PlegMetrics,
};
pub use status::{ListedPod, RuntimeListing, pod_runtime_status, pod_runtime_statuses};
