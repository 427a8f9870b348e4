//! Pod conditions: the kubelet's `pkg/kubelet/status/generate.go`, and the transition-time
//! rule of its status manager.

use k8s_openapi::api::core::v1::{
    ContainerStatus as ApiContainerStatus, Pod, PodCondition, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::api::{find_condition, find_status, is_sidecar, str_of, terminated};
use super::phase::{PodPhase, any_regular_container_started};
use crate::{PodRuntimeStatus, SandboxState};

/// Condition type: a sandbox with networking exists, containers can be started.
pub const POD_READY_TO_START_CONTAINERS: &str = "PodReadyToStartContainers";
/// Condition type: every init container completed (or the pod got past them once).
pub const INITIALIZED: &str = "Initialized";
/// Condition type: the pod can serve (containers ready and readiness gates true).
pub const READY: &str = "Ready";
/// Condition type: every regular container and sidecar is ready.
pub const CONTAINERS_READY: &str = "ContainersReady";
/// Condition type: the pod was scheduled (always True on a node).
pub const POD_SCHEDULED: &str = "PodScheduled";
/// Condition type set by others (eviction, preemption, ...) and kept by the kubelet.
pub const DISRUPTION_TARGET: &str = "DisruptionTarget";

/// Reason: no container status is known at all.
pub const UNKNOWN_CONTAINER_STATUSES: &str = "UnknownContainerStatuses";
/// Reason: the pod succeeded.
pub const POD_COMPLETED: &str = "PodCompleted";
/// Reason: the pod failed.
pub const POD_FAILED: &str = "PodFailed";
/// Reason: some container is not ready (or its status is unknown).
pub const CONTAINERS_NOT_READY: &str = "ContainersNotReady";
/// Reason: some init container has not completed.
pub const CONTAINERS_NOT_INITIALIZED: &str = "ContainersNotInitialized";
/// Reason: a readiness gate's condition is missing or not True.
pub const READINESS_GATES_NOT_READY: &str = "ReadinessGatesNotReady";

/// The kubelet-owned condition types, in the order the kubelet writes them.
pub const KUBELET_CONDITIONS: [&str; 5] = [
    POD_READY_TO_START_CONTAINERS,
    INITIALIZED,
    READY,
    CONTAINERS_READY,
    POD_SCHEDULED,
];

/// Condition types the kubelet regenerates on every sync (`PodConditionByKubelet`): the five
/// it writes plus the in-place resize conditions. Every other condition (readiness gates,
/// `DisruptionTarget`, ...) belongs to someone else and is carried over unchanged.
pub fn is_kubelet_condition(type_: &str) -> bool {
    KUBELET_CONDITIONS.contains(&type_)
        || matches!(type_, "PodResizePending" | "PodResizeInProgress")
}

fn condition(type_: &str, status: bool, reason: &str, message: String) -> PodCondition {
    PodCondition {
        type_: type_.to_string(),
        status: if status { "True" } else { "False" }.to_string(),
        reason: (!reason.is_empty()).then(|| reason.to_string()),
        message: (!message.is_empty()).then_some(message),
        ..Default::default()
    }
}

/// Go's `fmt.Sprintf("%s", []string{...})`: `[a b]`.
fn go_list(names: &[&str]) -> String {
    format!("[{}]", names.join(" "))
}

/// `PodReadyToStartContainers`: True when the pod does not need a new sandbox (the kubelet's
/// `PodSandboxChanged` is false): exactly one READY sandbox, it is the newest, its network
/// namespace mode matches `hostNetwork`, and a pod-network sandbox has an IP. Otherwise False
/// with reason [`POD_SANDBOX_NOT_READY`] and `PodSandboxChanged`'s message for the first rule
/// that failed, while the sandbox is being created or after it
/// died, a terminal pod's stopped sandbox included (PH-11; `GeneratePodReadyToStartContainersCondition`
/// in `pkg/kubelet/status/generate.go` since v1.35).
pub fn pod_ready_to_start_containers_condition(
    pod: &Pod,
    runtime: &PodRuntimeStatus,
) -> PodCondition {
    match sandbox_not_ready_message(pod, runtime) {
        None => condition(POD_READY_TO_START_CONTAINERS, true, "", String::new()),
        Some(message) => condition(
            POD_READY_TO_START_CONTAINERS,
            false,
            POD_SANDBOX_NOT_READY,
            message.to_string(),
        ),
    }
}

/// Reason of a False `PodReadyToStartContainers` (`kubetypes.PodSandboxNotReadyReason`).
pub const POD_SANDBOX_NOT_READY: &str = "PodSandboxNotReady";

/// The kubelet's `PodSandboxChanged` (`pkg/kubelet/kuberuntime/util/util.go`) as the message
/// of why a new sandbox is needed, rule by rule in its order (the `PodSandboxNotReadyMsg*`
/// constants of `pkg/kubelet/types/constants.go`); `None` when the sandbox is fine.
fn sandbox_not_ready_message(pod: &Pod, runtime: &PodRuntimeStatus) -> Option<&'static str> {
    let Some(newest) = super::newest_sandbox(runtime) else {
        return Some("no pod sandbox exists");
    };
    let ready = runtime
        .sandboxes
        .iter()
        .filter(|s| s.state == SandboxState::Ready)
        .count();
    let host_network = pod
        .spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false);
    if ready > 1 {
        Some("multiple pod sandboxes are ready and need to be reconciled")
    } else if newest.state != SandboxState::Ready {
        Some("pod sandbox is not ready")
    } else if newest.host_network != host_network {
        Some("network namespace mode changed and sandbox needs to be recreated")
    } else if !host_network && newest.ips.is_empty() {
        Some("pod sandbox has no IP address")
    } else {
        None
    }
}

/// `Initialized`, from the init containers' statuses (`GeneratePodInitializedCondition`):
/// - no statuses at all while the pod has init containers → False `UnknownContainerStatuses`;
/// - Succeeded with every init status known → True, reason `PodCompleted`;
/// - any regular container started once → True;
/// - otherwise every regular init container must be `ready` (exited 0) and every sidecar
///   `started`, else False `ContainersNotInitialized` "containers with incomplete status:
///   [a b]" (preceded by "containers with unknown status: [...]" for missing ones).
pub fn initialized_condition(
    pod: &Pod,
    init_container_statuses: &[ApiContainerStatus],
    container_statuses: &[ApiContainerStatus],
    phase: PodPhase,
) -> PodCondition {
    let init_containers = pod
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or_default();
    if init_container_statuses.is_empty()
        && container_statuses.is_empty()
        && !init_containers.is_empty()
    {
        return condition(
            INITIALIZED,
            false,
            UNKNOWN_CONTAINER_STATUSES,
            String::new(),
        );
    }
    let mut unknown = Vec::new();
    let mut incomplete = Vec::new();
    for container in init_containers {
        let Some(status) = find_status(init_container_statuses, &container.name) else {
            unknown.push(container.name.as_str());
            continue;
        };
        let done = if is_sidecar(container) {
            status.started == Some(true)
        } else {
            status.ready
        };
        if !done {
            incomplete.push(container.name.as_str());
        }
    }
    if phase == PodPhase::Succeeded && unknown.is_empty() {
        return condition(INITIALIZED, true, POD_COMPLETED, String::new());
    }
    if any_regular_container_started(pod, container_statuses) {
        return condition(INITIALIZED, true, "", String::new());
    }
    let mut messages = Vec::new();
    if !unknown.is_empty() {
        messages.push(format!(
            "containers with unknown status: {}",
            go_list(&unknown)
        ));
    }
    if !incomplete.is_empty() {
        messages.push(format!(
            "containers with incomplete status: {}",
            go_list(&incomplete)
        ));
    }
    if messages.is_empty() {
        condition(INITIALIZED, true, "", String::new())
    } else {
        condition(
            INITIALIZED,
            false,
            CONTAINERS_NOT_INITIALIZED,
            messages.join(", "),
        )
    }
}

/// `ContainersReady`, over regular containers and sidecars (`GenerateContainersReadyCondition`):
/// - no statuses at all → False `UnknownContainerStatuses`;
/// - Succeeded with every status known → False `PodCompleted`; Failed → False `PodFailed`;
/// - any unready or unknown container → False `ContainersNotReady`, message "containers with
///   unknown status: [..]" and/or "containers with unready status: [..]" joined by ", ";
/// - otherwise True.
pub fn containers_ready_condition(
    pod: &Pod,
    init_container_statuses: &[ApiContainerStatus],
    container_statuses: &[ApiContainerStatus],
    phase: PodPhase,
) -> PodCondition {
    if init_container_statuses.is_empty() && container_statuses.is_empty() {
        return condition(
            CONTAINERS_READY,
            false,
            UNKNOWN_CONTAINER_STATUSES,
            String::new(),
        );
    }
    let Some(spec) = pod.spec.as_ref() else {
        return condition(
            CONTAINERS_READY,
            false,
            UNKNOWN_CONTAINER_STATUSES,
            String::new(),
        );
    };
    let mut unknown = Vec::new();
    let mut unready = Vec::new();
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| is_sidecar(c))
        .map(|c| (c, init_container_statuses));
    let regular = spec.containers.iter().map(|c| (c, container_statuses));
    for (container, statuses) in sidecars.chain(regular) {
        match find_status(statuses, &container.name) {
            Some(status) if !status.ready => unready.push(container.name.as_str()),
            Some(_) => {}
            None => unknown.push(container.name.as_str()),
        }
    }
    if phase == PodPhase::Succeeded && unknown.is_empty() {
        return condition(CONTAINERS_READY, false, POD_COMPLETED, String::new());
    }
    if phase == PodPhase::Failed {
        return condition(CONTAINERS_READY, false, POD_FAILED, String::new());
    }
    let mut messages = Vec::new();
    if !unknown.is_empty() {
        messages.push(format!(
            "containers with unknown status: {}",
            go_list(&unknown)
        ));
    }
    if !unready.is_empty() {
        messages.push(format!(
            "containers with unready status: {}",
            go_list(&unready)
        ));
    }
    if messages.is_empty() {
        condition(CONTAINERS_READY, true, "", String::new())
    } else {
        condition(
            CONTAINERS_READY,
            false,
            CONTAINERS_NOT_READY,
            messages.join(", "),
        )
    }
}

/// `Ready` (`GeneratePodReadyCondition`): a copy of `ContainersReady`'s status, reason and
/// message when that is not True (PH-14); otherwise False `ReadinessGatesNotReady` when a
/// `spec.readinessGates` condition is missing from `conditions` ("corresponding condition of
/// pod readiness gate \"x\" does not exist.") or not True ("the status of pod readiness gate
/// \"x\" is not \"True\", but False"), messages joined by ", " (PH-15); otherwise True.
pub fn ready_condition(
    pod: &Pod,
    conditions: &[PodCondition],
    init_container_statuses: &[ApiContainerStatus],
    container_statuses: &[ApiContainerStatus],
    phase: PodPhase,
) -> PodCondition {
    let containers_ready =
        containers_ready_condition(pod, init_container_statuses, container_statuses, phase);
    if containers_ready.status != "True" {
        return PodCondition {
            type_: READY.to_string(),
            ..containers_ready
        };
    }
    let mut messages = Vec::new();
    for gate in pod
        .spec
        .as_ref()
        .and_then(|s| s.readiness_gates.as_deref())
        .unwrap_or_default()
    {
        let gate_type = &gate.condition_type;
        match conditions.iter().find(|c| &c.type_ == gate_type) {
            None => messages.push(format!(
                "corresponding condition of pod readiness gate {gate_type:?} does not exist."
            )),
            Some(c) if c.status != "True" => messages.push(format!(
                "the status of pod readiness gate {gate_type:?} is not \"True\", but {}",
                c.status
            )),
            Some(_) => {}
        }
    }
    if messages.is_empty() {
        condition(READY, true, "", String::new())
    } else {
        condition(READY, false, READINESS_GATES_NOT_READY, messages.join(", "))
    }
}

/// The status manager's `updateLastTransitionTime`, for the kubelet-owned conditions and
/// `DisruptionTarget`: keep the old condition's `lastTransitionTime` when its status did not
/// change, otherwise stamp `now` (PH-17). Other conditions are left as they are.
pub(crate) fn set_transition_times(conditions: &mut [PodCondition], old: &PodStatus, now: &Time) {
    for c in conditions
        .iter_mut()
        .filter(|c| KUBELET_CONDITIONS.contains(&c.type_.as_str()) || c.type_ == DISRUPTION_TARGET)
    {
        c.last_transition_time = match find_condition(old, &c.type_) {
            Some(o) if o.status == c.status => o.last_transition_time.clone(),
            _ => Some(now.clone()),
        };
    }
}

/// The status manager's terminal merge (`mergePodStatus`): once the phase is terminal, Ready
/// and ContainersReady are forced False with reason `PodFailed` / `PodCompleted`, so a
/// terminal pod is never reported ready (kubernetes#108594).
pub(crate) fn force_unready_when_terminal(status: &mut PodStatus, phase: PodPhase, now: &Time) {
    let reason = match phase {
        PodPhase::Failed => POD_FAILED,
        PodPhase::Succeeded => POD_COMPLETED,
        _ => return,
    };
    let any_true = status
        .conditions
        .iter()
        .flatten()
        .any(|c| (c.type_ == READY || c.type_ == CONTAINERS_READY) && c.status == "True");
    if !any_true {
        return;
    }
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    for type_ in [CONTAINERS_READY, READY] {
        let mut new = condition(type_, false, reason, String::new());
        new.last_transition_time = Some(now.clone());
        match conditions.iter_mut().find(|c| c.type_ == type_) {
            Some(old) => {
                if old.status == new.status {
                    new.last_transition_time = old.last_transition_time.clone();
                }
                new.observed_generation = old.observed_generation;
                *old = new;
            }
            None => conditions.push(new),
        }
    }
}

/// Whether two conditions say the same thing (status, reason, message; absent = empty).
pub(crate) fn same_condition(a: &PodCondition, b: &PodCondition) -> bool {
    a.status == b.status
        && str_of(&a.reason) == str_of(&b.reason)
        && str_of(&a.message) == str_of(&b.message)
}

/// Whether a regular init container's status counts as ready: it exited 0.
pub(crate) fn init_container_done(status: &ApiContainerStatus) -> bool {
    terminated(status).is_some_and(|t| t.exit_code == 0)
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use k8s_openapi::api::core::v1::PodSpec;

    use super::*;
    use crate::SandboxStatus;

    fn sandbox(id: &str, created: i64, state: SandboxState, ips: &[&str]) -> SandboxStatus {
        SandboxStatus {
            id: id.to_string(),
            attempt: 0,
            state,
            created_at: Timestamp::from_second(created).unwrap(),
            ips: ips.iter().map(|s| s.to_string()).collect(),
            host_network: false,
        }
    }

    fn runtime(sandboxes: Vec<SandboxStatus>) -> PodRuntimeStatus {
        let mut view = PodRuntimeStatus {
            uid: "uid-1".into(),
            sandboxes,
            containers: vec![],
        };
        view.sort();
        view
    }

    /// PH-11 as the kubelet v1.37 writes it: a False `PodReadyToStartContainers` says why, in
    /// `PodSandboxChanged`'s words and order (seen in the differential suite: a completed
    /// pod's stopped sandbox is "pod sandbox is not ready").
    #[test]
    fn ph_11_not_ready_condition_carries_the_sandbox_changed_reason() {
        let pod = Pod {
            spec: Some(PodSpec::default()),
            ..Default::default()
        };
        let check = |sandboxes: Vec<SandboxStatus>| {
            let c = pod_ready_to_start_containers_condition(&pod, &runtime(sandboxes));
            (c.status, c.reason, c.message)
        };
        let not_ready = |message: &str| {
            (
                "False".to_string(),
                Some(POD_SANDBOX_NOT_READY.to_string()),
                Some(message.to_string()),
            )
        };
        assert_eq!(
            check(vec![sandbox("a", 1, SandboxState::Ready, &["10.1.0.7"])]),
            ("True".to_string(), None, None)
        );
        assert_eq!(check(vec![]), not_ready("no pod sandbox exists"));
        assert_eq!(
            check(vec![sandbox("a", 1, SandboxState::NotReady, &["10.1.0.7"])]),
            not_ready("pod sandbox is not ready")
        );
        // Two ready sandboxes are "multiple", even when the newest is also the one checked
        // next: the count comes first.
        assert_eq!(
            check(vec![
                sandbox("a", 1, SandboxState::Ready, &["10.1.0.7"]),
                sandbox("b", 2, SandboxState::Ready, &["10.1.0.8"]),
            ]),
            not_ready("multiple pod sandboxes are ready and need to be reconciled")
        );
        assert_eq!(
            check(vec![sandbox("a", 1, SandboxState::Ready, &[])]),
            not_ready("pod sandbox has no IP address")
        );
        let mut host = sandbox("a", 1, SandboxState::Ready, &[]);
        host.host_network = true;
        assert_eq!(
            check(vec![host]),
            not_ready("network namespace mode changed and sandbox needs to be recreated")
        );
    }
}
