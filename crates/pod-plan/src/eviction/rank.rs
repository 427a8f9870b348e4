//! Which pod goes first (`rankMemoryPressure`, `rankDiskPressureFunc`, `rankPIDPressure` in
//! `helpers.go`), and which pods never go (`kubelettypes.IsCriticalPod`).

use std::cmp::Reverse;
use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Container, Pod};

use super::observations::PodUsage;
use super::signal::{EvictionSignal, StarvedResource};
use super::state::Reclaim;
use crate::quantity::QuantityValue;
use crate::status::{is_mirror_pod, is_static_pod};

/// `scheduling.SystemCriticalPriority`: pods at or above it are critical.
pub const SYSTEM_CRITICAL_PRIORITY: i32 = 2_000_000_000;

/// Whether the eviction manager must never evict the pod (`IsCriticalPod`): a static pod
/// (its `kubernetes.io/config.source` is not `api`), a mirror pod, or a pod whose priority
/// is at least [`SYSTEM_CRITICAL_PRIORITY`] (`system-node-critical`,
/// `system-cluster-critical`).
pub fn is_critical_pod(pod: &Pod) -> bool {
    is_static_pod(pod)
        || is_mirror_pod(pod)
        || pod
            .spec
            .as_ref()
            .and_then(|s| s.priority)
            .is_some_and(|p| p >= SYSTEM_CRITICAL_PRIORITY)
}

/// The pod's priority (`corev1helpers.PodPriority`: 0 when unset).
pub fn pod_priority(pod: &Pod) -> i32 {
    pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

fn quantity_value(q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity) -> i64 {
    QuantityValue::parse(&q.0)
        .and_then(|v| v.value())
        .unwrap_or(0)
}

fn container_request(c: &Container, resource: &str) -> i64 {
    c.resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get(resource))
        .map_or(0, quantity_value)
}

/// The pod's request of `resource` in units (`GetResourceRequestQuantity`, `PodRequests`):
/// the pod-level request when the pod sets one; otherwise the regular containers and
/// sidecars summed, at least what any init container needs beside the sidecars started
/// before it, plus the pod overhead.
pub fn pod_request(pod: &Pod, resource: &str) -> i64 {
    let Some(spec) = pod.spec.as_ref() else {
        return 0;
    };
    if let Some(q) = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get(resource))
    {
        return quantity_value(q);
    }
    let mut total: i64 = spec
        .containers
        .iter()
        .map(|c| container_request(c, resource))
        .fold(0, i64::saturating_add);
    let (mut sidecars, mut init_max) = (0i64, 0i64);
    for c in spec.init_containers.iter().flatten() {
        let r = container_request(c, resource);
        if c.restart_policy.as_deref() == Some("Always") {
            sidecars = sidecars.saturating_add(r);
            total = total.saturating_add(r);
        } else {
            init_max = init_max.max(r.saturating_add(sidecars));
        }
    }
    let overhead = spec
        .overhead
        .as_ref()
        .and_then(|o| o.get(resource))
        .map_or(0, quantity_value);
    total.max(init_max).saturating_add(overhead)
}

/// What counts towards a pod's disk usage for a disk signal (`fsStatsType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskMeasure {
    /// Containers' writable layers.
    pub rootfs: bool,
    /// Containers' logs.
    pub logs: bool,
    /// Local volumes (emptyDir not on memory, hostPath, configMap, gitRepo).
    pub local_volumes: bool,
}

impl DiskMeasure {
    /// `buildSignalToRankFunc`: on a single filesystem everything counts; with a dedicated
    /// image filesystem `nodefs.*` counts logs and local volumes, `imagefs.*` and
    /// `containerfs.*` the writable layers.
    pub fn for_signal(signal: EvictionSignal, dedicated_imagefs: bool) -> Self {
        use EvictionSignal::*;
        let all = DiskMeasure {
            rootfs: true,
            logs: true,
            local_volumes: true,
        };
        if !dedicated_imagefs {
            return all;
        }
        match signal {
            NodefsAvailable | NodefsInodesFree => DiskMeasure {
                rootfs: false,
                ..all
            },
            _ => DiskMeasure {
                rootfs: true,
                logs: false,
                local_volumes: false,
            },
        }
    }
}

/// The pod's volumes that use local disk (`localVolumeNames`: hostPath, emptyDir on the
/// node's disk, configMap, gitRepo).
fn local_volume_names(pod: &Pod) -> Vec<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
        .filter(|v| {
            v.host_path.is_some()
                || v.git_repo.is_some()
                || v.config_map.is_some()
                || v.empty_dir
                    .as_ref()
                    .is_some_and(|e| e.medium.as_deref().unwrap_or("").is_empty())
        })
        .map(|v| v.name.as_str())
        .collect()
}

/// The pod's disk usage as `measure` counts it (`podDiskUsage`), in bytes.
pub fn pod_disk_usage(pod: &Pod, usage: &PodUsage, measure: DiskMeasure) -> i64 {
    let mut total: u64 = 0;
    for c in &usage.containers {
        if measure.rootfs {
            total = total.saturating_add(c.rootfs_bytes.unwrap_or(0));
        }
        if measure.logs {
            total = total.saturating_add(c.logs_bytes.unwrap_or(0));
        }
    }
    if measure.local_volumes {
        for name in local_volume_names(pod) {
            if let Some((_, bytes)) = usage.volumes.iter().find(|(n, _)| n == name) {
                total = total.saturating_add(*bytes);
            }
        }
    }
    i64::try_from(total).unwrap_or(i64::MAX)
}

/// The last key: the pod's identity, so the order is total and does not depend on the
/// order the pods were given in (the kubelet's unstable sort leaves ties in any order).
fn identity(pod: &Pod) -> (String, String, String) {
    (
        pod.metadata.namespace.clone().unwrap_or_default(),
        pod.metadata.name.clone().unwrap_or_default(),
        pod.metadata.uid.clone().unwrap_or_default(),
    )
}

/// `cmpBool` over "no stats" then the comparison: a pod without stats goes first.
fn exceeds_key(stats: bool, exceeds: bool) -> u8 {
    match (stats, exceeds) {
        (false, _) => 0,
        (true, true) => 1,
        (true, false) => 2,
    }
}

fn usage_key(stats: Option<i128>) -> (bool, Reverse<i128>) {
    match stats {
        None => (false, Reverse(0)),
        Some(v) => (true, Reverse(v)),
    }
}

type RankKey = (u8, i32, (bool, Reverse<i128>), (String, String, String));

/// The pods in the order the kubelet evicts them for `reclaim`'s resource, critical pods
/// included (the caller skips them, as `evictPod` refuses them); `usage` is joined to the
/// pods by UID, and a pod without stats ranks first in every comparison that reads stats.
///
/// - memory: usage over the memory request first, then lower priority, then the larger
///   usage − request;
/// - disk: usage over the ephemeral-storage request first, then lower priority, then the
///   larger usage − request (usage as [`DiskMeasure::for_signal`] counts it; inode signals
///   are ranked by bytes, as the stats carry no inode counts per pod);
/// - pids: lower priority, then more processes.
pub fn rank_for_eviction<'a>(
    reclaim: &Reclaim,
    pods: &[&'a Pod],
    usage: &[PodUsage],
) -> Vec<&'a Pod> {
    rank_pods(reclaim.signal(), reclaim.dedicated_imagefs, pods, usage)
}

/// [`rank_for_eviction`] for a signal.
pub fn rank_pods<'a>(
    signal: EvictionSignal,
    dedicated_imagefs: bool,
    pods: &[&'a Pod],
    usage: &[PodUsage],
) -> Vec<&'a Pod> {
    let by_uid: HashMap<&str, &PodUsage> = usage.iter().map(|u| (u.uid.as_str(), u)).collect();
    let mut keyed: Vec<(RankKey, &'a Pod)> = pods
        .iter()
        .map(|pod| {
            let stats = pod
                .metadata
                .uid
                .as_deref()
                .and_then(|uid| by_uid.get(uid).copied());
            let priority = pod_priority(pod);
            let key: RankKey = match signal.resource() {
                StarvedResource::Memory => {
                    let used = stats.map(|s| i128::from(s.memory_working_set.unwrap_or(0)));
                    let request = i128::from(pod_request(pod, "memory"));
                    (
                        exceeds_key(used.is_some(), used.is_some_and(|u| u > request)),
                        priority,
                        usage_key(used.map(|u| u - request)),
                        identity(pod),
                    )
                }
                StarvedResource::Pids => (
                    0,
                    priority,
                    usage_key(stats.map(|s| i128::from(s.process_count.unwrap_or(0)))),
                    identity(pod),
                ),
                StarvedResource::EphemeralStorage | StarvedResource::Inodes => {
                    let measure = DiskMeasure::for_signal(signal, dedicated_imagefs);
                    let used = stats.map(|s| i128::from(pod_disk_usage(pod, s, measure)));
                    let request = i128::from(pod_request(pod, "ephemeral-storage"));
                    // Inodes have no request: any use exceeds it.
                    let exceeds_over = if signal.resource() == StarvedResource::Inodes {
                        0
                    } else {
                        request
                    };
                    (
                        exceeds_key(used.is_some(), used.is_some_and(|u| u > exceeds_over)),
                        priority,
                        usage_key(used.map(|u| u - request)),
                        identity(pod),
                    )
                }
            };
            (key, *pod)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, p)| p).collect()
}
