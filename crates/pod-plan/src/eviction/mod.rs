//! The kubelet's eviction manager, as pure decisions (`pkg/kubelet/eviction`): which
//! thresholds are met, which pressure conditions the node reports, what to reclaim, which
//! pod goes first, what its status and event say, and which new pods are refused while the
//! node is under pressure.
//!
//! The manager's loop (stats, node-level reclaim, killing the pod) is I/O and lives in
//! `pod-lifecycle`; everything it decides is here, with the time as an argument, so the
//! soft grace periods, the minimum reclaim and the 5 minute transition period are tested in
//! virtual time:
//!
//! - [`Observations`] (the node's signals and the pods' usage, from any stats source) go
//!   into [`EvictionState::observe`] with the [`EvictionConfig`] and the time; the [`Step`]
//!   that comes out holds the thresholds met, the [`NodePressure`] and the [`Reclaim`]
//!   (starved resource, node-level reclaim to try first);
//! - [`local_storage_evictions`] finds pods over their emptyDir `sizeLimit` or
//!   ephemeral-storage limits;
//! - [`rank_for_eviction`] orders the pods for the starved resource; [`is_critical_pod`]
//!   marks the ones never evicted;
//! - [`eviction_message`] and [`evicted_failure`] make the evicted pod's status (phase
//!   Failed, reason `Evicted`, the message, `DisruptionTarget`); [`admission_failure`]
//!   refuses pods under pressure.
//!
//! ```
//! use jiff::Timestamp;
//! use pod_plan::eviction::*;
//!
//! let config = EvictionConfig::default();
//! let mut state = EvictionState::new();
//! let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
//! let low = |at: Timestamp, available: i64| Observations {
//!     node: NodeObservations {
//!         time: Some(at),
//!         memory: Some(Available { available, capacity: 8 << 30 }),
//!         ..Default::default()
//!     },
//!     pods: vec![],
//! };
//! let step = state.observe(&config, t0, &low(t0, 80 << 20));
//! assert!(step.pressure.memory);
//! // Recovered, but MemoryPressure stays for the transition period (5m).
//! let t1 = t0 + std::time::Duration::from_secs(60);
//! let step = state.observe(&config, t1, &low(t1, 1 << 30));
//! assert!(step.pressure.memory && step.reclaim.is_none());
//! let t2 = t0 + std::time::Duration::from_secs(301);
//! assert!(!state.observe(&config, t2, &low(t2, 1 << 30)).pressure.memory);
//! ```

mod config;
mod message;
mod observations;
mod rank;
mod signal;
mod state;

pub use config::{
    DEFAULT_PRESSURE_TRANSITION_PERIOD, EvictionConfig, IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS,
    Threshold, default_eviction_hard,
};
pub use message::{
    EVICTED_REASON, EVICTION_THRESHOLD_MET, EvictionMessage, LocalStorageEviction,
    OFFENDING_CONTAINERS_KEY, OFFENDING_CONTAINERS_USAGE_KEY, OFFENDING_POD_KEY,
    OFFENDING_POD_USAGE_KEY, SIGNAL_EMPTY_DIR_FS_LIMIT, SIGNAL_EPHEMERAL_CONTAINER_FS_LIMIT,
    SIGNAL_EPHEMERAL_POD_FS_LIMIT, STARVED_RESOURCE_KEY, TAINT_NODE_MEMORY_PRESSURE,
    TERMINATION_BY_KUBELET, admission_failure, disruption_target_condition, evicted_failure,
    eviction_message, format_binary_si, format_decimal_si, format_threshold_quantity,
    local_storage_evictions, local_storage_failure, node_condition_message,
};
pub use observations::{
    Available, ContainerUsage, FsObservation, NodeObservations, Observations, PodUsage,
};
pub use rank::{
    DiskMeasure, SYSTEM_CRITICAL_PRIORITY, is_critical_pod, pod_disk_usage, pod_priority,
    pod_request, rank_for_eviction, rank_pods,
};
pub use signal::{
    EvictionSignal, NodeCondition, StarvedResource, ThresholdValue, parse_grace_periods,
    parse_minimum_reclaims, parse_threshold_value, parse_thresholds,
};
pub use state::{
    EvictionState, NodePressure, NodeReclaimAction, Reclaim, SignalObservation, Step, ThresholdMet,
    node_reclaim, resolved_after_reclaim, signal_observations, thresholds_met,
};

#[cfg(test)]
mod tests;
