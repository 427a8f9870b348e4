//! OOM score adjustment (`pkg/kubelet/qos/policy.go` `GetContainerOOMScoreAdjust`).
//!
//! | Process | oom_score_adj |
//! |---|---|
//! | the kubelet itself | −999 ([`KUBELET_OOM_SCORE_ADJ`]) |
//! | kube-proxy | −999 ([`KUBE_PROXY_OOM_SCORE_ADJ`]) |
//! | pod sandbox (pause) | −998 ([`POD_INFRA_OOM_SCORE_ADJ`], set by the runtime) |
//! | Guaranteed containers and node-critical pods | −997 ([`GUARANTEED_OOM_SCORE_ADJ`]) |
//! | BestEffort containers | 1000 ([`BEST_EFFORT_OOM_SCORE_ADJ`]) |
//! | Burstable containers | [`burstable_oom_score_adj`]: 1000 − 1000 × request / capacity, in [3, 999] |
//!
//! A VM without `CAP_SYS_RESOURCE` (such as the project's test machine) cannot lower a
//! score, and containerd's `restrict_oom_score_adj` clamps negative values to its own: the
//! computed values are what the kubelet *asks* for, and that is what is tested.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::qos::{QosClass, pod_qos};
use crate::quantity::QuantityValue;

/// The kubelet's own `oom_score_adj` (`KubeletOOMScoreAdj`, the `oomScoreAdj` config default).
pub const KUBELET_OOM_SCORE_ADJ: i64 = -999;
/// kube-proxy's (`KubeProxyOOMScoreAdj`).
pub const KUBE_PROXY_OOM_SCORE_ADJ: i64 = -999;
/// The pod sandbox's (`PodInfraOOMAdj`); the runtime applies it to the pause process.
pub const POD_INFRA_OOM_SCORE_ADJ: i64 = -998;
/// Guaranteed containers and node-critical pods (`guaranteedOOMScoreAdj`).
pub const GUARANTEED_OOM_SCORE_ADJ: i64 = -997;
/// BestEffort containers (`besteffortOOMScoreAdj`).
pub const BEST_EFFORT_OOM_SCORE_ADJ: i64 = 1000;
/// The priority from which a pod is critical (`scheduling.SystemCriticalPriority`).
pub const SYSTEM_CRITICAL_PRIORITY: i32 = 2_000_000_000;
/// The priority class of pods that must be the last to go (`system-node-critical`).
pub const SYSTEM_NODE_CRITICAL: &str = "system-node-critical";

/// `IsCriticalPod` (`pkg/kubelet/types/pod_update.go`): a static pod, a mirror pod, or a pod
/// whose `spec.priority` is at least [`SYSTEM_CRITICAL_PRIORITY`].
pub fn is_critical_pod(pod: &Pod) -> bool {
    let critical_priority = pod
        .spec
        .as_ref()
        .and_then(|s| s.priority)
        .is_some_and(|p| p >= SYSTEM_CRITICAL_PRIORITY);
    pod_plan::status::is_static_pod(pod)
        || pod_plan::status::is_mirror_pod(pod)
        || critical_priority
}

/// `IsNodeCriticalPod`: critical ([`is_critical_pod`]) and of priority class
/// `system-node-critical`.
pub fn is_node_critical_pod(pod: &Pod) -> bool {
    is_critical_pod(pod)
        && pod
            .spec
            .as_ref()
            .and_then(|s| s.priority_class_name.as_deref())
            == Some(SYSTEM_NODE_CRITICAL)
}

/// The Burstable formula: `1000 − (1000 × memory_request) / memory_capacity` in integer
/// math, then below 3 → 3 (above every Guaranteed container) and 1000 → 999 (below every
/// BestEffort one). A capacity of 0 or less gives 999.
///
/// ```
/// use cgroup_enforcer::oom::burstable_oom_score_adj;
/// let gi = 1i64 << 30;
/// assert_eq!(burstable_oom_score_adj(4 * gi, 8 * gi), 500);
/// assert_eq!(burstable_oom_score_adj(0, 8 * gi), 999);
/// assert_eq!(burstable_oom_score_adj(9 * gi, 8 * gi), 3);
/// ```
pub fn burstable_oom_score_adj(memory_request: i64, memory_capacity: i64) -> i64 {
    if memory_capacity <= 0 {
        return BEST_EFFORT_OOM_SCORE_ADJ - 1;
    }
    let request = i128::from(memory_request.max(0));
    let adjust = 1000 - (1000 * request) / i128::from(memory_capacity);
    let adjust = i64::try_from(adjust).unwrap_or(i64::MIN);
    if adjust < 1000 + GUARANTEED_OOM_SCORE_ADJ {
        1000 + GUARANTEED_OOM_SCORE_ADJ
    } else if adjust == BEST_EFFORT_OOM_SCORE_ADJ {
        BEST_EFFORT_OOM_SCORE_ADJ - 1
    } else {
        adjust
    }
}

/// `GetContainerOOMScoreAdjust`: the `oom_score_adj` the kubelet sends for `container` of
/// `pod` on a node with `memory_capacity` bytes.
///
/// - node-critical pods ([`is_node_critical_pod`]) and Guaranteed pods: −997;
/// - BestEffort pods: 1000;
/// - Burstable: [`burstable_oom_score_adj`] of the container's memory request (a limit
///   without a request counts as the request, as API defaulting makes it); a sidecar
///   (restartable init container) gets at most the score of the regular container with
///   the smallest request, so it is not killed before the app it serves.
///
/// An unparseable memory request counts as none (validation refuses it earlier).
pub fn container_oom_score_adj(pod: &Pod, container: &Container, memory_capacity: i64) -> i64 {
    if is_node_critical_pod(pod) {
        return GUARANTEED_OOM_SCORE_ADJ;
    }
    match pod_qos(pod) {
        QosClass::Guaranteed => return GUARANTEED_OOM_SCORE_ADJ,
        QosClass::BestEffort => return BEST_EFFORT_OOM_SCORE_ADJ,
        QosClass::Burstable => {}
    }
    let mut adjust = burstable_oom_score_adj(memory_request(container), memory_capacity);
    if is_sidecar(pod, container) {
        let smallest_regular = pod
            .spec
            .iter()
            .flat_map(|s| &s.containers)
            .map(memory_request)
            .min();
        if let Some(request) = smallest_regular {
            adjust = adjust.min(burstable_oom_score_adj(request, memory_capacity));
        }
    }
    adjust
}

fn memory_request(container: &Container) -> i64 {
    let resources = container.resources.as_ref();
    let read = |list: Option<&BTreeMap<String, Quantity>>| -> Option<i64> {
        let quantity = list?.get("memory")?;
        QuantityValue::parse(&quantity.0).ok()?.value().ok()
    };
    read(resources.and_then(|r| r.requests.as_ref()))
        .or_else(|| read(resources.and_then(|r| r.limits.as_ref())))
        .unwrap_or(0)
}

/// A restartable init container (`restartPolicy: Always` on an init container of the pod).
fn is_sidecar(pod: &Pod, container: &Container) -> bool {
    pod_plan::is_sidecar(container)
        && pod
            .spec
            .iter()
            .flat_map(|s| s.init_containers.iter().flatten())
            .any(|c| c.name == container.name)
}
