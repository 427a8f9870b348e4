//! Small readers over the API types, shared by the status modules.
//!
//! Go's API structs use value types where k8s-openapi uses `Option`; these helpers read an
//! absent value as Go's zero value, so the rules read like the kubelet's.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    ContainerStateTerminated, ContainerStatus as ApiContainerStatus, Pod, PodCondition, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// The status of container `name` in `statuses`, if any.
pub(crate) fn find_status<'a>(
    statuses: &'a [ApiContainerStatus],
    name: &str,
) -> Option<&'a ApiContainerStatus> {
    statuses.iter().find(|s| s.name == name)
}

/// Whether the state is `running`.
pub(crate) fn is_running(status: &ApiContainerStatus) -> bool {
    status.state.as_ref().is_some_and(|s| s.running.is_some())
}

/// Whether the state is `waiting`.
pub(crate) fn is_waiting(status: &ApiContainerStatus) -> bool {
    status.state.as_ref().is_some_and(|s| s.waiting.is_some())
}

/// The `terminated` state, if that is the state.
pub(crate) fn terminated(status: &ApiContainerStatus) -> Option<&ContainerStateTerminated> {
    status.state.as_ref().and_then(|s| s.terminated.as_ref())
}

/// The `lastState.terminated`, if any.
pub(crate) fn last_terminated(status: &ApiContainerStatus) -> Option<&ContainerStateTerminated> {
    status
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
}

pub(crate) use crate::is_sidecar;

/// The pod's restart policy, with the API default `Always`.
pub(crate) fn restart_policy(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
}

/// The condition of type `type_`, if present.
pub(crate) fn find_condition<'a>(status: &'a PodStatus, type_: &str) -> Option<&'a PodCondition> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
}

/// An optional string read as Go reads a string: absent is empty.
pub(crate) fn str_of(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or_default()
}

/// A string written as Go's `omitempty` writes it: empty is absent.
pub(crate) fn non_empty(s: impl Into<String>) -> Option<String> {
    let s = s.into();
    (!s.is_empty()).then_some(s)
}

/// A timestamp with second precision, as the API server stores it (RFC 3339 without
/// fractions; the kubelet's `normalizeStatus`).
pub(crate) fn api_time(ts: Timestamp) -> Time {
    Time(truncate(ts))
}

/// Truncate a timestamp to whole seconds.
pub(crate) fn truncate(ts: Timestamp) -> Timestamp {
    Timestamp::from_second(ts.as_second()).unwrap_or(ts)
}
