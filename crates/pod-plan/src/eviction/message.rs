//! What an eviction says: the pod's status message and the `Evicted` event's annotations
//! (`evictionMessage`), the local-storage messages, and the admission refusal under
//! pressure (`Admit`), with quantities written as apimachinery's `Quantity.String()`
//! writes them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, PodCondition};

use super::observations::{Observations, PodUsage};
use super::rank::is_critical_pod;
use super::signal::{StarvedResource, ThresholdValue};
use super::state::{NodePressure, ThresholdMet};
use crate::go_format::go_quote;
use crate::quantity::QuantityValue;
use crate::status::{DISRUPTION_TARGET, FailureCondition, PodFailure, QosClass, pod_qos};

/// The reason of an evicted pod and of a pod refused under pressure (`Reason`).
pub const EVICTED_REASON: &str = "Evicted";
/// The reason of the `DisruptionTarget` condition an evicted pod carries
/// (`PodReasonTerminationByKubelet`).
pub const TERMINATION_BY_KUBELET: &str = "TerminationByKubelet";
/// The reason of the node event when a threshold is met.
pub const EVICTION_THRESHOLD_MET: &str = "EvictionThresholdMet";
/// Annotation of the `Evicted` event: the containers over their request, comma-separated.
pub const OFFENDING_CONTAINERS_KEY: &str = "offending_containers";
/// Annotation of the `Evicted` event: their usage, comma-separated.
pub const OFFENDING_CONTAINERS_USAGE_KEY: &str = "offending_containers_usage";
/// Annotation of the `Evicted` event: the pod over its pod-level request.
pub const OFFENDING_POD_KEY: &str = "offending_pod";
/// Annotation of the `Evicted` event: that pod's usage.
pub const OFFENDING_POD_USAGE_KEY: &str = "offending_pod_usage";
/// Annotation of the `Evicted` event: the starved resource.
pub const STARVED_RESOURCE_KEY: &str = "starved_resource";
/// The taint a BestEffort pod must tolerate to be admitted under memory pressure.
pub const TAINT_NODE_MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";

/// An integer amount as `resource.NewQuantity(n, BinarySI).String()` writes it: the largest
/// binary suffix that divides it (`1Gi`, `80Mi`, `1536Ki`), else decimal (`1023`, `1k`,
/// `1073741825`).
pub fn format_binary_si(n: i64) -> String {
    if n.unsigned_abs() < 1024 || n % 1024 != 0 {
        return format_decimal_si(n);
    }
    let mut amount = n;
    let mut exponent = 0;
    while amount % 1024 == 0 && exponent < 6 && amount != 0 {
        amount /= 1024;
        exponent += 1;
    }
    let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][exponent];
    format!("{amount}{suffix}")
}

/// An integer amount as `resource.NewQuantity(n, DecimalSI).String()` writes it: trailing
/// zeros folded into `k`, `M`, `G`, `T`, `P`, `E` (`5k`, `1500`, `32768`).
pub fn format_decimal_si(n: i64) -> String {
    if n == 0 {
        return "0".into();
    }
    let mut amount = i128::from(n);
    let mut exponent = 0u32;
    while amount % 10 == 0 {
        amount /= 10;
        exponent += 1;
    }
    let extra = exponent % 3;
    amount *= 10i128.pow(extra);
    exponent -= extra;
    let suffix = ["", "k", "M", "G", "T", "P", "E"]
        .get((exponent / 3) as usize)
        .copied()
        .unwrap_or("");
    format!("{amount}{suffix}")
}

/// A threshold's quantity as the kubelet shows it ("Threshold quantity: 100Mi"): a
/// percentage resolved against `capacity` and written with binary suffixes; an absolute
/// amount written with binary suffixes when it is a whole number of KiB, else with decimal
/// ones (the kubelet writes it back in the suffix it was configured with, which this
/// integer no longer carries; the two agree for every usual spelling, `100Mi`, `1Gi`,
/// `500M`).
pub fn format_threshold_quantity(value: ThresholdValue, capacity: i64) -> String {
    match value {
        ThresholdValue::Percentage(_) => format_binary_si(value.resolve_f32(capacity)),
        ThresholdValue::Quantity(q) => format_binary_si(q),
    }
}

/// A quantity from a pod spec as the API writes it back (`Quantity.String()`).
fn spec_quantity(q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity) -> String {
    QuantityValue::parse(&q.0).map_or_else(|_| q.0.clone(), |v| v.canonical())
}

/// An eviction's status message and its event's annotations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EvictionMessage {
    /// The pod's `status.message` and the `Evicted` event's message.
    pub message: String,
    /// The `Evicted` event's annotations ([`OFFENDING_CONTAINERS_KEY`],
    /// [`OFFENDING_CONTAINERS_USAGE_KEY`], [`STARVED_RESOURCE_KEY`], and for a pod with a
    /// pod-level memory request [`OFFENDING_POD_KEY`], [`OFFENDING_POD_USAGE_KEY`]); empty
    /// when the pod has no stats.
    pub annotations: BTreeMap<String, String>,
}

/// The kubelet's `evictionMessage`: "The node was low on resource: memory. Threshold
/// quantity: 100Mi, available: 80Mi. Container app was using 1Gi, request is 500Mi, has
/// larger consumption of memory. "
///
/// The threshold part names the first threshold of `met` that starves `resource`; the
/// container part lists, in the order of the stats, each regular or init container whose
/// usage (working set for memory, writable layer plus logs for ephemeral storage) exceeds
/// its request. Inodes and pids name no container.
pub fn eviction_message(
    resource: StarvedResource,
    pod: &Pod,
    usage: Option<&PodUsage>,
    met: &[ThresholdMet],
) -> EvictionMessage {
    let mut message = format!("The node was low on resource: {resource}. ");
    if let Some(m) = met
        .iter()
        .find(|m| m.threshold.signal.resource() == resource)
    {
        let available = if m.threshold.signal.counts_bytes() {
            format_binary_si(m.available)
        } else {
            format_decimal_si(m.available)
        };
        message.push_str(&format!(
            "Threshold quantity: {}, available: {available}. ",
            format_threshold_quantity(m.threshold.value, m.capacity)
        ));
    }
    let mut annotations = BTreeMap::new();
    let Some(stats) = usage else {
        return EvictionMessage {
            message,
            annotations,
        };
    };
    let spec = pod.spec.as_ref();
    // PodLevelResources (on by default): a pod-level request is reported, whatever the use.
    if resource == StarvedResource::Memory
        && let Some(request) = spec
            .and_then(|s| s.resources.as_ref())
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("memory"))
        && let Some(used) = stats.memory_working_set
    {
        let used = format_binary_si(i64::try_from(used).unwrap_or(i64::MAX));
        let name = pod.metadata.name.clone().unwrap_or_default();
        message.push_str(&format!(
            "Pod {name} was using {used}, request is {}, has larger consumption of {resource}. ",
            spec_quantity(request)
        ));
        annotations.insert(OFFENDING_POD_KEY.to_owned(), name);
        annotations.insert(OFFENDING_POD_USAGE_KEY.to_owned(), used);
    }
    let containers: Vec<_> = spec
        .map(|s| {
            s.containers
                .iter()
                .chain(s.init_containers.iter().flatten())
                .collect()
        })
        .unwrap_or_default();
    let (mut offending, mut offending_usage) = (Vec::new(), Vec::new());
    for c in &stats.containers {
        let Some(container) = containers.iter().find(|spec| spec.name == c.name) else {
            continue;
        };
        let request = container
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get(resource.as_str()));
        let request_value = request
            .and_then(|q| QuantityValue::parse(&q.0).ok())
            .and_then(|v| v.nano_value().ok())
            .unwrap_or(0);
        let used = match resource {
            StarvedResource::Memory => c.memory_working_set,
            StarvedResource::EphemeralStorage => match (c.rootfs_bytes, c.logs_bytes) {
                (Some(r), Some(l)) => Some(r.saturating_add(l)),
                _ => None,
            },
            _ => None,
        };
        let Some(used) = used.map(|u| i64::try_from(u).unwrap_or(i64::MAX)) else {
            continue;
        };
        if i128::from(used) * 1_000_000_000 > request_value {
            let used = format_binary_si(used);
            let request = request.map_or_else(|| "0".to_owned(), spec_quantity);
            message.push_str(&format!(
                "Container {} was using {used}, request is {request}, has larger consumption of {resource}. ",
                c.name
            ));
            offending.push(c.name.clone());
            offending_usage.push(used);
        }
    }
    annotations.insert(OFFENDING_CONTAINERS_KEY.to_owned(), offending.join(","));
    annotations.insert(
        OFFENDING_CONTAINERS_USAGE_KEY.to_owned(),
        offending_usage.join(","),
    );
    annotations.insert(
        STARVED_RESOURCE_KEY.to_owned(),
        resource.as_str().to_owned(),
    );
    EvictionMessage {
        message,
        annotations,
    }
}

/// The `DisruptionTarget` condition of a pod the kubelet evicts: status True, reason
/// `TerminationByKubelet`, the eviction message.
pub fn disruption_target_condition(pod: &Pod, message: &str) -> PodCondition {
    PodCondition {
        type_: DISRUPTION_TARGET.to_owned(),
        status: "True".to_owned(),
        reason: Some(TERMINATION_BY_KUBELET.to_owned()),
        message: Some(message.to_owned()),
        observed_generation: pod.metadata.generation.filter(|g| *g != 0),
        ..Default::default()
    }
}

/// The failure of a pod evicted for a threshold (`evictPod`'s status function): phase
/// Failed, reason `Evicted`, the message, and the `DisruptionTarget` condition.
pub fn evicted_failure(message: &str) -> PodFailure {
    PodFailure {
        condition: Some(FailureCondition {
            type_: DISRUPTION_TARGET.to_owned(),
            reason: TERMINATION_BY_KUBELET.to_owned(),
            message: message.to_owned(),
        }),
        ..PodFailure::new(EVICTED_REASON, message)
    }
}

/// The failure of a pod evicted for its local storage: phase Failed, reason `Evicted`, the
/// message, and no `DisruptionTarget` condition (the kubelet passes none there).
pub fn local_storage_failure(message: &str) -> PodFailure {
    PodFailure::new(EVICTED_REASON, message)
}

/// `"The node had condition: [MemoryPressure DiskPressure]. "` (`nodeConditionMessageFmt`).
pub fn node_condition_message(pressure: NodePressure) -> String {
    let names: Vec<&str> = pressure.conditions().iter().map(|c| c.as_str()).collect();
    format!("The node had condition: [{}]. ", names.join(" "))
}

/// Whether the pod tolerates `node.kubernetes.io/memory-pressure:NoSchedule`
/// (`TolerationsTolerateTaint`).
fn tolerates_memory_pressure(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.tolerations.as_ref())
        .into_iter()
        .flatten()
        .any(|t| {
            let effect_ok = t
                .effect
                .as_deref()
                .is_none_or(|e| e.is_empty() || e == "NoSchedule");
            let key = t.key.as_deref().unwrap_or("");
            let operator = t.operator.as_deref().unwrap_or("Equal");
            let key_ok = if key.is_empty() {
                operator == "Exists"
            } else {
                key == TAINT_NODE_MEMORY_PRESSURE
            };
            let value_ok = match operator {
                "Exists" => true,
                "Equal" | "" => t.value.as_deref().unwrap_or("").is_empty(),
                _ => false,
            };
            effect_ok && key_ok && value_ok
        })
}

/// The eviction manager's admission (`Admit`): under no pressure every pod is admitted,
/// and so is a critical pod under any; under memory pressure alone a pod that is not
/// BestEffort, or a BestEffort pod tolerating `node.kubernetes.io/memory-pressure:
/// NoSchedule`, is admitted; anything else is refused with reason `Evicted` and
/// `"Pod was rejected: The node had condition: [MemoryPressure]. "` (the kubelet's
/// `rejectPod` prefix).
pub fn admission_failure(pod: &Pod, pressure: NodePressure) -> Option<PodFailure> {
    if !pressure.any() || is_critical_pod(pod) {
        return None;
    }
    let memory_only = pressure.memory && !pressure.disk && !pressure.pid;
    if memory_only && (pod_qos(pod) != QosClass::BestEffort || tolerates_memory_pressure(pod)) {
        return None;
    }
    Some(PodFailure::rejected(
        EVICTED_REASON,
        node_condition_message(pressure),
    ))
}

/// The signal label of `kubelet_evictions` for an emptyDir over its `sizeLimit`.
pub const SIGNAL_EMPTY_DIR_FS_LIMIT: &str = "emptydirfs.limit";
/// The signal label for a pod over the sum of its containers' ephemeral-storage limits.
pub const SIGNAL_EPHEMERAL_POD_FS_LIMIT: &str = "ephemeralpodfs.limit";
/// The signal label for a container over its ephemeral-storage limit.
pub const SIGNAL_EPHEMERAL_CONTAINER_FS_LIMIT: &str = "ephemeralcontainerfs.limit";

/// A pod to evict for its local storage (`localStorageEviction`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalStorageEviction {
    /// The pod's UID.
    pub uid: String,
    /// The message (status, and the `Evicted` event).
    pub message: String,
    /// The `eviction_signal` label of `kubelet_evictions`: [`SIGNAL_EMPTY_DIR_FS_LIMIT`],
    /// [`SIGNAL_EPHEMERAL_POD_FS_LIMIT`] or [`SIGNAL_EPHEMERAL_CONTAINER_FS_LIMIT`].
    pub signal: &'static str,
}

fn ephemeral_limit(c: &k8s_openapi::api::core::v1::Container) -> Option<(QuantityValue, i64)> {
    let q = c
        .resources
        .as_ref()
        .and_then(|r| r.limits.as_ref())
        .and_then(|l| l.get("ephemeral-storage"))?;
    let v = QuantityValue::parse(&q.0).ok()?;
    let value = v.value().ok()?;
    Some((v, value))
}

/// The pods over their local storage limits, in the order given, each once, with the first
/// reason found (`localStorageEviction`; pods without stats are skipped):
///
/// 1. an emptyDir's usage over its `sizeLimit`: "Usage of EmptyDir volume \"data\" exceeds
///    the limit \"1Gi\". ";
/// 2. the pod's ephemeral storage over the sum of its containers' limits (only when one
///    sets a limit): "Pod ephemeral local storage usage exceeds the total limit of
///    containers 1Gi. ";
/// 3. a container's logs (plus its writable layer, without a dedicated image filesystem)
///    over its limit (regular containers and sidecars): "Container app exceeded its local
///    ephemeral storage limit \"500Mi\". ".
///
/// Critical pods are included (the caller refuses them, as `evictPod` does).
pub fn local_storage_evictions(
    pods: &[&Pod],
    observations: &Observations,
) -> Vec<LocalStorageEviction> {
    let dedicated = observations.node.dedicated_imagefs;
    let mut out = Vec::new();
    for pod in pods {
        let Some(uid) = pod.metadata.uid.as_deref() else {
            continue;
        };
        let Some(stats) = observations.pods.iter().find(|u| u.uid == uid) else {
            continue;
        };
        let Some(spec) = pod.spec.as_ref() else {
            continue;
        };
        let mut found: Option<(String, &'static str)> = None;
        // 1. emptyDir sizeLimit.
        for v in spec.volumes.iter().flatten() {
            let Some(size) = v.empty_dir.as_ref().and_then(|e| e.size_limit.as_ref()) else {
                continue;
            };
            let Some(used) = stats
                .volumes
                .iter()
                .find(|(n, _)| *n == v.name)
                .map(|(_, b)| *b)
            else {
                continue;
            };
            let Ok(limit) = QuantityValue::parse(&size.0) else {
                continue;
            };
            let Ok(limit_nanos) = limit.nano_value() else {
                continue;
            };
            if limit_nanos > 0 && i128::from(used) * 1_000_000_000 > limit_nanos {
                found = Some((
                    format!(
                        "Usage of EmptyDir volume {} exceeds the limit {}. ",
                        go_quote(&v.name),
                        go_quote(&limit.canonical())
                    ),
                    SIGNAL_EMPTY_DIR_FS_LIMIT,
                ));
                break;
            }
        }
        // 2. The pod's total against the containers' limits (`PodLimits`).
        if found.is_none() {
            let mut limits: Vec<(QuantityValue, i64)> =
                spec.containers.iter().filter_map(ephemeral_limit).collect();
            let mut sidecars = 0i64;
            let mut init_max: Option<i64> = None;
            for c in spec.init_containers.iter().flatten() {
                if let Some((v, value)) = ephemeral_limit(c) {
                    if c.restart_policy.as_deref() == Some("Always") {
                        sidecars = sidecars.saturating_add(value);
                        limits.push((v, value));
                    } else {
                        let need = value.saturating_add(sidecars);
                        init_max = Some(init_max.map_or(need, |m| m.max(need)));
                    }
                }
            }
            if !limits.is_empty() || init_max.is_some() {
                let sum = limits
                    .iter()
                    .map(|(_, v)| *v)
                    .fold(0i64, i64::saturating_add);
                let total = sum.max(init_max.unwrap_or(0));
                let used = stats.ephemeral_storage_bytes.unwrap_or(0);
                if i128::from(used) > i128::from(total) {
                    // A single limit is written back as given; a sum in the suffix family
                    // of the first one.
                    let shown = match limits.as_slice() {
                        [(v, value)] if *value == total => v.canonical(),
                        [(first, _), ..] if first.as_str().ends_with('i') => {
                            format_binary_si(total)
                        }
                        _ => format_decimal_si(total),
                    };
                    found = Some((
                        format!(
                            "Pod ephemeral local storage usage exceeds the total limit of containers {shown}. "
                        ),
                        SIGNAL_EPHEMERAL_POD_FS_LIMIT,
                    ));
                }
            }
        }
        // 3. Each container against its own limit.
        if found.is_none() {
            let limited: Vec<(&str, QuantityValue, i64)> = spec
                .containers
                .iter()
                .chain(
                    spec.init_containers
                        .iter()
                        .flatten()
                        .filter(|c| c.restart_policy.as_deref() == Some("Always")),
                )
                .filter_map(|c| {
                    let (v, value) = ephemeral_limit(c)?;
                    (value != 0).then_some((c.name.as_str(), v, value))
                })
                .collect();
            for c in &stats.containers {
                let mut used = c.logs_bytes.unwrap_or(0);
                if !dedicated {
                    used = used.saturating_add(c.rootfs_bytes.unwrap_or(0));
                }
                if let Some((_, v, value)) = limited.iter().find(|(n, _, _)| *n == c.name)
                    && i128::from(used) > i128::from(*value)
                {
                    found = Some((
                        format!(
                            "Container {} exceeded its local ephemeral storage limit {}. ",
                            c.name,
                            go_quote(&v.canonical())
                        ),
                        SIGNAL_EPHEMERAL_CONTAINER_FS_LIMIT,
                    ));
                    break;
                }
            }
        }
        if let Some((message, signal)) = found {
            out.push(LocalStorageEviction {
                uid: uid.to_owned(),
                message,
                signal,
            });
        }
    }
    out
}
