//! The status manager's rules on a pod status, as pure functions of their arguments
//! (`updateStatusInternal`, `normalizeStatus`, `isPodStatusByKubeletEqual`,
//! `checkContainerStateTransition`, `mergePodStatus` and `TerminatePod` in
//! `pkg/kubelet/status/status_manager.go`).
//!
//! Fields that only some Kubernetes versions have (`volumeHealth`,
//! `nodeAllocatableResourceClaimStatuses`, containers' `restartPolicyRules`, ...) are handled
//! through their JSON form, so the rules hold whatever `k8s-openapi` version the agent picks.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateTerminated, ContainerStatus, Pod, PodCondition, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Map, Value};

pub use pod_plan::status::{MAX_POD_TERMINATION_MESSAGE_LENGTH, normalize_pod_status};

use super::is_static_pod;

/// The pod condition types the kubelet owns (`PodConditionsByKubelet`, with
/// `PodReadyToStartContainers` and `AllContainersRestarting`, whose feature gates are on in
/// v1.37). The kubelet replaces these; every other condition type belongs to someone else
/// (readiness gates, the scheduler's, the eviction API's) and is left as the API server has
/// it.
pub const KUBELET_POD_CONDITIONS: [&str; 8] = [
    "PodScheduled",
    "Ready",
    "Initialized",
    "ContainersReady",
    "PodResizeInProgress",
    "PodResizePending",
    "PodReadyToStartContainers",
    "AllContainersRestarting",
];

/// The one condition the kubelet shares with others (`PodConditionSharedByKubelet`): it adds
/// `DisruptionTarget` to a pod it evicts, and keeps one set by the API's eviction or the
/// taint manager.
pub use pod_plan::status::DISRUPTION_TARGET;

/// Conditions whose `lastTransitionTime` the status manager keeps while their status does not
/// change (`updateStatusInternal`).
const TRANSITION_TIMED_CONDITIONS: [&str; 7] = [
    "ContainersReady",
    "Ready",
    "Initialized",
    "PodReadyToStartContainers",
    "PodScheduled",
    DISRUPTION_TARGET,
    "AllContainersRestarting",
];

/// Status fields the kubelet neither owns nor changes: what the API server has is kept, and
/// they are ignored when statuses are compared.
const UNOWNED_STATUS_FIELDS: [&str; 3] = [
    "resourceClaimStatuses",
    "extendedResourceClaimStatus",
    "nodeAllocatableResourceClaimStatuses",
];

/// Integer fields that Go omits when zero (`omitempty`), so `0` and absent are the same value.
const ZERO_OMITTED_FIELDS: [&str; 2] = ["observedGeneration", "signal"];

use pod_plan::status::{
    CONTAINER_STATUS_UNKNOWN, MISSING_AT_TERMINATION, POD_COMPLETED, POD_FAILED, UNKNOWN_EXIT_CODE,
};

/// Whether the kubelet owns pod conditions of type `type_` ([`KUBELET_POD_CONDITIONS`]).
pub fn is_kubelet_pod_condition(type_: &str) -> bool {
    KUBELET_POD_CONDITIONS.contains(&type_)
}

fn is_shared_condition(type_: &str) -> bool {
    type_ == DISRUPTION_TARGET
}

pub(crate) fn is_terminal_phase(phase: Option<&str>) -> bool {
    matches!(phase, Some("Succeeded" | "Failed"))
}

fn condition<'a>(status: &'a PodStatus, type_: &str) -> Option<&'a PodCondition> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
}

fn seconds(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

/// `status` as JSON with what Go's encoding leaves out removed (null, empty strings, lists
/// and objects, zero `observedGeneration`), so two statuses the API server would store alike
/// compare equal, and a patch never sends a value the server would drop again. `None` if it
/// does not serialize (no `PodStatus` fails to).
pub(crate) fn canonical_status(status: &PodStatus) -> Option<Map<String, Value>> {
    match serde_json::to_value(status) {
        Ok(Value::Object(mut map)) => {
            prune_object(&mut map);
            Some(map)
        }
        _ => None,
    }
}

fn prune_object(map: &mut Map<String, Value>) {
    map.retain(|key, value| {
        prune(value);
        let zero_omitted = ZERO_OMITTED_FIELDS.contains(&key.as_str()) && value.as_i64() == Some(0);
        !zero_omitted && !is_empty(value)
    });
}

fn prune(value: &mut Value) {
    match value {
        Value::Object(map) => prune_object(map),
        Value::Array(list) => list.iter_mut().for_each(prune),
        _ => {}
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// `target` with `fields` taken from `source` (a field `source` lacks is removed), through
/// JSON so that fields of any Kubernetes version are carried. With `only_into_empty`, a field
/// `target` already has is kept.
fn with_fields_of(
    target: PodStatus,
    source: &PodStatus,
    fields: &[&str],
    only_into_empty: bool,
) -> PodStatus {
    let (Ok(Value::Object(mut to)), Ok(Value::Object(from))) =
        (serde_json::to_value(&target), serde_json::to_value(source))
    else {
        return target;
    };
    let mut changed = false;
    for field in fields {
        if only_into_empty && to.get(*field).is_some_and(|v| !is_empty(v)) {
            continue;
        }
        match from.get(*field).filter(|v| !is_empty(v)) {
            Some(value) => {
                changed |= to.get(*field) != Some(value);
                to.insert((*field).to_owned(), value.clone());
            }
            None => changed |= to.remove(*field).is_some(),
        }
    }
    if !changed {
        return target;
    }
    serde_json::from_value(Value::Object(to)).unwrap_or(target)
}

/// Whether `new` differs from `old` in what the kubelet writes: the negation of the status
/// manager's `isPodStatusByKubeletEqual`. Conditions are compared by type, status, reason and
/// message, and only those the kubelet owns or shares ([`is_kubelet_pod_condition`],
/// [`DISRUPTION_TARGET`]); resource claim statuses, which the kubelet does not own, are
/// ignored; the rest is compared as the API server would store it. Both statuses should be
/// normalized ([`normalize_pod_status`]).
pub fn pod_status_changed(old: &PodStatus, new: &PodStatus) -> bool {
    let by_kubelet = |status: &PodStatus| {
        status
            .conditions
            .iter()
            .flatten()
            .filter(|c| is_kubelet_pod_condition(&c.type_) || is_shared_condition(&c.type_))
            .map(|c| {
                (
                    c.type_.clone(),
                    (
                        c.status.clone(),
                        c.reason.clone().unwrap_or_default(),
                        c.message.clone().unwrap_or_default(),
                    ),
                )
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    if by_kubelet(old) != by_kubelet(new) {
        return true;
    }
    let (Some(mut old), Some(mut new)) = (canonical_status(old), canonical_status(new)) else {
        return true;
    };
    for field in UNOWNED_STATUS_FIELDS.iter().chain(&["conditions"]) {
        old.remove(*field);
        new.remove(*field);
    }
    old != new
}

/// Sets the `lastTransitionTime` of the condition of `type_` in `status`: kept from `old` when
/// the condition's status did not change, `now` otherwise (`updateLastTransitionTime`).
fn update_last_transition_time(
    status: &mut PodStatus,
    old: &PodStatus,
    type_: &str,
    now: Timestamp,
) {
    let previous =
        condition(old, type_).map(|c| (c.status.clone(), c.last_transition_time.clone()));
    let Some(c) = status
        .conditions
        .iter_mut()
        .flatten()
        .find(|c| c.type_ == type_)
    else {
        return;
    };
    c.last_transition_time = match previous {
        Some((status, time)) if status == c.status => time,
        _ => Some(Time(now)),
    };
}

/// The status manager's bookkeeping on a status it is given (`updateStatusInternal`): the
/// transition times of unchanged conditions and the start time are kept from `old`, volume
/// health the agent does not report is kept, `observedGeneration` never goes back, and the
/// result is normalized.
pub(crate) fn prepare_status(
    pod: &Pod,
    old: &PodStatus,
    mut status: PodStatus,
    now: Timestamp,
) -> PodStatus {
    for type_ in TRANSITION_TIMED_CONDITIONS {
        update_last_transition_time(&mut status, old, type_, now);
    }
    match &old.start_time {
        Some(start) => status.start_time = Some(start.clone()),
        None if status.start_time.is_none() => status.start_time = Some(Time(now)),
        None => {}
    }
    status = with_fields_of(status, old, &["volumeHealth"], true);
    if old.observed_generation.unwrap_or(0) > status.observed_generation.unwrap_or(0) {
        status.observed_generation = old.observed_generation;
    }
    normalize_pod_status(pod, &mut status);
    status
}

fn terminated(s: &ContainerStatus) -> Option<&ContainerStateTerminated> {
    s.state.as_ref().and_then(|st| st.terminated.as_ref())
}

fn last_terminated(s: &ContainerStatus) -> Option<&ContainerStateTerminated> {
    s.last_state.as_ref().and_then(|st| st.terminated.as_ref())
}

fn is_waiting(s: &ContainerStatus) -> bool {
    s.state.as_ref().is_some_and(|st| st.waiting.is_some())
}

fn is_running(s: &ContainerStatus) -> bool {
    s.state.as_ref().is_some_and(|st| st.running.is_some())
}

/// Whether any container of `status` is in the running state.
pub(crate) fn any_container_running(status: &PodStatus) -> bool {
    [
        &status.container_statuses,
        &status.init_container_statuses,
        &status.ephemeral_container_statuses,
    ]
    .into_iter()
    .flatten()
    .flatten()
    .any(is_running)
}

/// A pod's spec as JSON, for fields only some Kubernetes versions have.
fn spec_json(pod: &Pod) -> Value {
    pod.spec
        .as_ref()
        .and_then(|s| serde_json::to_value(s).ok())
        .unwrap_or(Value::Null)
}

fn containers_json<'a>(spec: &'a Value, list: &str) -> impl Iterator<Item = &'a Value> {
    spec.get(list)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn find_container<'a>(spec: &'a Value, list: &str, name: &str) -> Option<&'a Value> {
    containers_json(spec, list).find(|c| c.get("name").and_then(Value::as_str) == Some(name))
}

fn str_field<'a>(value: &'a Value, field: &str) -> Option<&'a str> {
    value.get(field).and_then(Value::as_str)
}

/// `FindMatchingContainerRestartRule`: whether `rule`'s exit codes match `exit_code`.
fn rule_matches(rule: &Value, exit_code: i32) -> bool {
    let Some(codes) = rule.get("exitCodes") else {
        return false;
    };
    let listed = codes
        .get("values")
        .and_then(Value::as_array)
        .is_some_and(|v| v.iter().any(|c| c.as_i64() == Some(i64::from(exit_code))));
    match str_field(codes, "operator") {
        Some("In") => listed,
        Some("NotIn") => !listed,
        _ => false,
    }
}

/// `ContainerShouldRestart`: the container's restart rules, then its own restart policy, then
/// the pod's.
fn container_should_restart(container: Option<&Value>, pod_policy: &str, exit_code: i32) -> bool {
    if let Some(c) = container
        && let Some(policy) = str_field(c, "restartPolicy")
    {
        let rules = c.get("restartPolicyRules").and_then(Value::as_array);
        if let Some(rule) = rules
            .into_iter()
            .flatten()
            .find(|r| rule_matches(r, exit_code))
            && matches!(
                str_field(rule, "action"),
                Some("Restart" | "RestartAllContainers")
            )
        {
            return true;
        }
        match policy {
            "Always" => return true,
            "OnFailure" => return exit_code != 0,
            "Never" => return false,
            _ => {}
        }
    }
    match pod_policy {
        "OnFailure" => exit_code != 0,
        "Never" => false,
        _ => true,
    }
}

/// The status manager's `checkContainerStateTransition`: the name of a container that goes
/// from terminated in `old` to not terminated in `new` although it may not restart, if any.
pub(crate) fn illegal_container_transition(
    pod: &Pod,
    old: &PodStatus,
    new: &PodStatus,
) -> Option<String> {
    let spec = spec_json(pod);
    let pod_policy = str_field(&spec, "restartPolicy").unwrap_or("Always");
    if pod_policy == "Always" {
        return None;
    }
    // `AllContainersCouldRestart`: a rule restarting every container allows any transition.
    let restarts_all = ["initContainers", "containers"].iter().any(|list| {
        containers_json(&spec, list).any(|c| {
            c.get("restartPolicyRules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|r| str_field(r, "action") == Some("RestartAllContainers"))
        })
    });
    if restarts_all {
        return None;
    }
    let lists = [
        (
            "containers",
            &old.container_statuses,
            &new.container_statuses,
        ),
        (
            "initContainers",
            &old.init_container_statuses,
            &new.init_container_statuses,
        ),
    ];
    for (list, old_list, new_list) in lists {
        for old_status in old_list.iter().flatten() {
            let container = find_container(&spec, list, &old_status.name);
            // Sidecars (restartable init containers) may always restart.
            if list == "initContainers"
                && container.and_then(|c| str_field(c, "restartPolicy")) == Some("Always")
            {
                continue;
            }
            let Some(t) = terminated(old_status) else {
                continue;
            };
            if (t.exit_code != 0 && pod_policy == "OnFailure")
                || container_should_restart(container, pod_policy, t.exit_code)
            {
                continue;
            }
            let leaves = new_list
                .iter()
                .flatten()
                .any(|n| n.name == old_status.name && terminated(n).is_none());
            if leaves {
                return Some(old_status.name.clone());
            }
        }
    }
    None
}

/// The condition `Ready` or `ContainersReady` of a pod in terminal `phase`: False, with reason
/// `PodFailed` or `PodCompleted` (`generate*ConditionForTerminalPhase`).
fn terminal_ready_condition(pod: &Pod, type_: &str, phase: Option<&str>) -> PodCondition {
    PodCondition {
        type_: type_.to_owned(),
        status: "False".to_owned(),
        observed_generation: pod.metadata.generation.filter(|g| *g != 0),
        reason: match phase {
            Some("Failed") => Some(POD_FAILED.to_owned()),
            Some("Succeeded") => Some(POD_COMPLETED.to_owned()),
            _ => None,
        },
        ..PodCondition::default()
    }
}

/// `UpdatePodCondition`: replaces or appends `condition`, keeping the transition time of an
/// existing one with the same status.
fn update_pod_condition(status: &mut PodStatus, mut condition: PodCondition, now: Timestamp) {
    condition.last_transition_time = Some(Time(now));
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    match conditions.iter_mut().find(|c| c.type_ == condition.type_) {
        Some(existing) => {
            if existing.status == condition.status {
                condition.last_transition_time = existing.last_transition_time.clone();
            }
            *existing = condition;
        }
        None => conditions.push(condition),
    }
}

/// The status to write over `old` (the API server's) for `new` (the agent's), as the status
/// manager's `mergePodStatus`:
/// - conditions the kubelet does not own are kept from `old`; the kubelet's come from `new`;
///   a `DisruptionTarget` of `new` is added only with the move to a terminal phase, once no
///   container can run;
/// - resource claim statuses are kept from `old`;
/// - a move to a terminal phase waits while containers may still run
///   (`could_have_running_containers`): phase, reason and message stay as in `old`;
/// - in a terminal phase, `Ready` and `ContainersReady` are False (`PodFailed` /
///   `PodCompleted`).
pub fn merge_pod_status(
    pod: &Pod,
    old: &PodStatus,
    mut new: PodStatus,
    could_have_running_containers: bool,
    now: Timestamp,
) -> PodStatus {
    let now = seconds(now);
    let transitioning_to_terminal =
        !is_terminal_phase(old.phase.as_deref()) && is_terminal_phase(new.phase.as_deref());
    let mut conditions: Vec<PodCondition> = old
        .conditions
        .iter()
        .flatten()
        .filter(|c| !is_kubelet_pod_condition(&c.type_))
        .cloned()
        .collect();
    let mut shared = Vec::new();
    for c in new.conditions.iter().flatten() {
        if is_kubelet_pod_condition(&c.type_) {
            conditions.push(c.clone());
        } else if is_shared_condition(&c.type_)
            && transitioning_to_terminal
            && !could_have_running_containers
        {
            shared.push(c.type_.clone());
        }
    }
    for type_ in shared {
        // The transition time set when the status was given is stale: the condition was held
        // back until every container stopped.
        update_last_transition_time(&mut new, old, &type_, now);
        if let Some(c) = condition(&new, &type_).cloned() {
            match conditions
                .iter_mut()
                .find(|existing| existing.type_ == c.type_)
            {
                Some(existing) => *existing = c,
                None => conditions.push(c),
            }
        }
    }
    new.conditions = (!conditions.is_empty()).then_some(conditions);
    new.resource_claim_statuses = old.resource_claim_statuses.clone();
    let mut new = with_fields_of(new, old, &UNOWNED_STATUS_FIELDS[1..], false);

    if transitioning_to_terminal && could_have_running_containers {
        new.phase = old.phase.clone();
        new.reason = old.reason.clone();
        new.message = old.message.clone();
    }
    if is_terminal_phase(new.phase.as_deref()) {
        let is_true = |type_| condition(&new, type_).is_some_and(|c| c.status == "True");
        if is_true("Ready") || is_true("ContainersReady") {
            let phase = new.phase.clone();
            for type_ in ["ContainersReady", "Ready"] {
                let c = terminal_ready_condition(pod, type_, phase.as_deref());
                update_pod_condition(&mut new, c, now);
            }
        }
    }
    new
}

fn unknown_terminated() -> ContainerState {
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: UNKNOWN_EXIT_CODE,
            reason: Some(CONTAINER_STATUS_UNKNOWN.to_owned()),
            message: Some(MISSING_AT_TERMINATION.to_owned()),
            ..ContainerStateTerminated::default()
        }),
        ..ContainerState::default()
    }
}

/// `hasPodInitialized`: no init containers, or a regular container left waiting or ever
/// terminated, or the last init container done (a sidecar started, a plain one exited 0).
fn has_pod_initialized(pod: &Pod, status: &PodStatus) -> bool {
    let spec = spec_json(pod);
    let Some(last_init) = containers_json(&spec, "initContainers").last() else {
        return true;
    };
    let started = status
        .container_statuses
        .iter()
        .flatten()
        .any(|s| last_terminated(s).is_some() || !is_waiting(s));
    if started {
        return true;
    }
    let Some(last) = status
        .init_container_statuses
        .as_ref()
        .and_then(|l| l.last())
    else {
        return false;
    };
    if str_field(last_init, "name") != Some(last.name.as_str()) {
        return false;
    }
    if str_field(last_init, "restartPolicy") == Some("Always") {
        return is_running(last) && last.started == Some(true);
    }
    last_terminated(last).is_some_and(|t| t.exit_code == 0)
        || terminated(last).is_some_and(|t| t.exit_code == 0)
}

/// The final status of a pod whose containers and volumes are gone, as the status manager's
/// `TerminatePod` makes it from the latest `status`:
/// - once the pod has initialized, every container not terminated becomes terminated with
///   reason `ContainerStatusUnknown`, exit code 137 ("The container could not be located when
///   the pod was terminated"); so does every init container up to the last one that ever
///   started;
/// - a pod that is not static and not in a terminal phase becomes `Failed` (static pods keep
///   their phase, as in the kubelet).
///
/// Unlike the kubelet, which reads the API copy's status to decide whether the pod has
/// initialized, this reads `status`, the newest the agent knows.
pub fn terminated_pod_status(pod: &Pod, status: &PodStatus) -> PodStatus {
    let mut status = status.clone();
    if has_pod_initialized(pod, &status) {
        for s in status.container_statuses.iter_mut().flatten() {
            if terminated(s).is_none() {
                s.state = Some(unknown_terminated());
            }
        }
    }
    if let Some(init) = status.init_container_statuses.as_mut() {
        // `initializedContainers`: up to the last one that left waiting (at least the first).
        let attempted = init
            .iter()
            .rposition(|s| !is_waiting(s) || last_terminated(s).is_some())
            .map_or(init.len().min(1), |i| i + 1);
        for s in &mut init[..attempted] {
            if terminated(s).is_none() {
                s.state = Some(unknown_terminated());
            }
        }
    }
    if !is_static_pod(pod) && !is_terminal_phase(status.phase.as_deref()) {
        status.phase = Some("Failed".to_owned());
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u1", "generation": 1},
            "spec": spec,
        }))
        .unwrap()
    }

    fn status(value: Value) -> PodStatus {
        serde_json::from_value(value).unwrap()
    }

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn simple_pod() -> Pod {
        pod(json!({"containers": [{"name": "b"}, {"name": "a"}]}))
    }

    #[test]
    fn empty_and_absent_fields_compare_equal() {
        let a = status(json!({"phase": "Running", "message": "", "podIPs": [],
            "containerStatuses": [{"name": "a", "image": "i", "imageID": "", "ready": false,
                "restartCount": 0, "lastState": {}, "state": {"running": {}}}]}));
        let b = status(json!({"phase": "Running",
            "containerStatuses": [{"name": "a", "image": "i", "imageID": "", "ready": false,
                "restartCount": 0, "state": {"running": {}}}]}));
        assert!(!pod_status_changed(&a, &b));
        let c = status(json!({"phase": "Running", "observedGeneration": 0}));
        let d = status(json!({"phase": "Running"}));
        assert!(!pod_status_changed(&c, &d));
        assert!(pod_status_changed(&d, &status(json!({"phase": "Pending"}))));
    }

    #[test]
    fn conditions_compare_by_type_status_reason_and_message_only() {
        let a = status(json!({"conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"},
            {"type": "example.com/gate", "status": "True"}]}));
        let b = status(json!({"conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:05:00Z"}]}));
        assert!(
            !pod_status_changed(&a, &b),
            "times and others' conditions are ignored"
        );
        let c = status(json!({"conditions": [{"type": "Ready", "status": "False"}]}));
        assert!(pod_status_changed(&a, &c));
        let d = status(json!({"conditions": [{"type": "Ready", "status": "True", "reason": "X"}]}));
        assert!(pod_status_changed(&b, &d));
    }

    #[test]
    fn prepare_keeps_transition_and_start_times() {
        let p = simple_pod();
        let old = status(
            json!({"startTime": "2024-01-01T00:00:00Z", "observedGeneration": 3,
            "conditions": [{"type": "Ready", "status": "False",
                "lastTransitionTime": "2024-01-01T00:00:00Z"},
              {"type": "Initialized", "status": "True",
                "lastTransitionTime": "2024-01-01T00:00:00Z"}]}),
        );
        let new = status(json!({"observedGeneration": 2, "conditions": [
            {"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}]}));
        let now = t("2024-01-01T00:10:00.5Z");
        let s = prepare_status(&p, &old, new, now);
        assert_eq!(s.start_time.unwrap().0, t("2024-01-01T00:00:00Z"));
        assert_eq!(s.observed_generation, Some(3));
        let ltt = |type_| condition_time(s.conditions.as_ref().unwrap(), type_);
        assert_eq!(ltt("Ready"), t("2024-01-01T00:10:00Z"), "changed: now");
        assert_eq!(
            ltt("Initialized"),
            t("2024-01-01T00:00:00Z"),
            "unchanged: kept"
        );
    }

    fn condition_time(conditions: &[PodCondition], type_: &str) -> Timestamp {
        conditions
            .iter()
            .find(|c| c.type_ == type_)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap()
            .0
    }

    #[test]
    fn merge_keeps_others_conditions_and_holds_terminal_phase() {
        let p = simple_pod();
        let old = status(json!({"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "example.com/gate", "status": "True"},
            {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI"}],
            "resourceClaimStatuses": [{"name": "claim", "resourceClaimName": "c1"}]}));
        let new = status(
            json!({"phase": "Succeeded", "message": "done", "conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet"}]}),
        );
        let now = t("2024-01-01T00:00:00Z");

        let held = merge_pod_status(&p, &old, new.clone(), true, now);
        assert_eq!(held.phase.as_deref(), Some("Running"));
        assert_eq!(held.message, None);
        let types: Vec<_> = held
            .conditions
            .iter()
            .flatten()
            .map(|c| c.type_.as_str())
            .collect();
        assert_eq!(types, ["example.com/gate", "DisruptionTarget", "Ready"]);
        let disruption = condition(&held, "DisruptionTarget").unwrap();
        assert_eq!(disruption.reason.as_deref(), Some("EvictionByEvictionAPI"));
        assert_eq!(held.resource_claim_statuses.as_ref().map(Vec::len), Some(1));
        assert_eq!(condition(&held, "Ready").unwrap().status, "True");

        let done = merge_pod_status(&p, &old, new, false, now);
        assert_eq!(done.phase.as_deref(), Some("Succeeded"));
        assert_eq!(done.message.as_deref(), Some("done"));
        let disruption = condition(&done, "DisruptionTarget").unwrap();
        assert_eq!(disruption.reason.as_deref(), Some("TerminationByKubelet"));
        for type_ in ["Ready", "ContainersReady"] {
            let c = condition(&done, type_).unwrap();
            assert_eq!(
                (c.status.as_str(), c.reason.as_deref()),
                ("False", Some("PodCompleted"))
            );
        }
    }

    #[test]
    fn terminated_containers_may_not_run_again_unless_allowed() {
        let never = pod(json!({"restartPolicy": "Never", "containers": [{"name": "a"}]}));
        let old = status(
            json!({"containerStatuses": [{"name": "a", "image": "", "imageID": "",
            "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0}}}]}),
        );
        let new = status(
            json!({"containerStatuses": [{"name": "a", "image": "", "imageID": "",
            "ready": true, "restartCount": 1, "state": {"running": {}}}]}),
        );
        assert_eq!(
            illegal_container_transition(&never, &old, &new).as_deref(),
            Some("a")
        );
        let always = pod(json!({"containers": [{"name": "a"}]}));
        assert_eq!(illegal_container_transition(&always, &old, &new), None);
        let rule = pod(
            json!({"restartPolicy": "Never", "containers": [{"name": "a",
            "restartPolicy": "Never", "restartPolicyRules": [{"action": "Restart",
                "exitCodes": {"operator": "In", "values": [0]}}]}]}),
        );
        assert_eq!(illegal_container_transition(&rule, &old, &new), None);
    }

    #[test]
    fn terminate_marks_missing_containers_and_fails_the_pod() {
        let p = pod(json!({"containers": [{"name": "a"}, {"name": "b"}]}));
        let s = status(json!({"phase": "Running", "containerStatuses": [
            {"name": "a", "image": "", "imageID": "", "ready": true, "restartCount": 0,
             "state": {"running": {}}},
            {"name": "b", "image": "", "imageID": "", "ready": false, "restartCount": 0,
             "state": {"terminated": {"exitCode": 0}}}]}));
        let done = terminated_pod_status(&p, &s);
        assert_eq!(done.phase.as_deref(), Some("Failed"));
        let a = done.container_statuses.as_ref().unwrap()[0].clone();
        let t = a.state.unwrap().terminated.unwrap();
        assert_eq!(
            (t.exit_code, t.reason.as_deref()),
            (137, Some("ContainerStatusUnknown"))
        );
        assert!(!any_container_running(&done));

        let mut static_pod = p.clone();
        static_pod.metadata.annotations =
            Some([("kubernetes.io/config.source".to_owned(), "file".to_owned())].into());
        let done = terminated_pod_status(&static_pod, &s);
        assert_eq!(
            done.phase.as_deref(),
            Some("Running"),
            "static pods keep their phase"
        );
    }
}
