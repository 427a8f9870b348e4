//! The status manager's `normalizeStatus` (`pkg/kubelet/status/status_manager.go`): the one
//! normalization every status goes through before it is cached, compared or sent.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::api::truncate;

/// The most bytes of termination messages a pod status carries, shared evenly among the
/// pod's containers (`MaxPodTerminationMessageLogLength`, 12 KiB).
pub const MAX_POD_TERMINATION_MESSAGE_LENGTH: usize = 1024 * 12;

/// The status manager's `normalizeStatus`: timestamps cut to whole seconds (the API keeps no
/// more); each terminated container's message cut to its share of
/// [`MAX_POD_TERMINATION_MESSAGE_LENGTH`] (the budget divided by the number of containers,
/// init and ephemeral ones included; cut on a character boundary); container and ephemeral
/// container statuses sorted by name (`SortedContainerStatuses`); init container statuses in
/// the order of the pod's init containers, statuses of unknown containers left behind
/// (`SortInitContainerStatuses`).
///
/// [`generate_pod_status`](crate::generate_pod_status) and the other status builders of this
/// crate return normalized statuses; a status manager normalizes what it reads back too.
pub fn normalize_pod_status(pod: &Pod, status: &mut PodStatus) {
    let spec = pod.spec.as_ref();
    let containers = spec.map_or(0, |s| {
        s.containers.len()
            + s.init_containers.as_ref().map_or(0, Vec::len)
            + s.ephemeral_containers.as_ref().map_or(0, Vec::len)
    });
    let bytes_per_status = MAX_POD_TERMINATION_MESSAGE_LENGTH / containers.max(1);
    truncate_times(status);
    for s in container_statuses(status) {
        for state in [s.state.as_mut(), s.last_state.as_mut()]
            .into_iter()
            .flatten()
        {
            let message = state.terminated.as_mut().and_then(|t| t.message.as_mut());
            if let Some(message) = message.filter(|m| m.len() > bytes_per_status) {
                let mut end = bytes_per_status;
                while !message.is_char_boundary(end) {
                    end -= 1;
                }
                message.truncate(end);
            }
        }
    }
    for list in [
        status.container_statuses.as_mut(),
        status.ephemeral_container_statuses.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        list.sort_by(|a, b| a.name.cmp(&b.name));
    }
    if let Some(init) = status.init_container_statuses.as_mut() {
        // `SortInitContainerStatuses`: move each init container's status to the front, in
        // the order of the spec; statuses of unknown containers stay behind.
        let mut current = 0;
        for container in spec
            .and_then(|s| s.init_containers.as_ref())
            .into_iter()
            .flatten()
        {
            if let Some(j) = (current..init.len()).find(|j| init[*j].name == container.name) {
                init.swap(current, j);
                current += 1;
            }
        }
    }
}

/// Every timestamp of `status` cut to whole seconds.
pub(super) fn truncate_times(status: &mut PodStatus) {
    truncate_time(&mut status.start_time);
    for c in status.conditions.iter_mut().flatten() {
        truncate_time(&mut c.last_probe_time);
        truncate_time(&mut c.last_transition_time);
    }
    for s in container_statuses(status) {
        for state in [s.state.as_mut(), s.last_state.as_mut()]
            .into_iter()
            .flatten()
        {
            if let Some(running) = state.running.as_mut() {
                truncate_time(&mut running.started_at);
            }
            if let Some(terminated) = state.terminated.as_mut() {
                truncate_time(&mut terminated.started_at);
                truncate_time(&mut terminated.finished_at);
            }
        }
    }
}

/// Every container status: regular, init and ephemeral.
fn container_statuses(status: &mut PodStatus) -> impl Iterator<Item = &mut ContainerStatus> {
    [
        status.container_statuses.as_mut(),
        status.init_container_statuses.as_mut(),
        status.ephemeral_container_statuses.as_mut(),
    ]
    .into_iter()
    .flatten()
    .flatten()
}

fn truncate_time(t: &mut Option<Time>) {
    if let Some(time) = t {
        time.0 = truncate(time.0);
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use serde_json::{Value, json};

    use super::*;

    fn pod(spec: Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    fn status(value: Value) -> PodStatus {
        serde_json::from_value(value).unwrap()
    }

    fn names(list: &Option<Vec<ContainerStatus>>) -> Vec<String> {
        list.iter().flatten().map(|c| c.name.clone()).collect()
    }

    fn message(status: &ContainerStatus) -> String {
        let state = status.state.clone().unwrap();
        state.terminated.unwrap().message.unwrap()
    }

    #[test]
    fn normalize_sorts_cuts_times_and_messages() {
        let p = pod(json!({
            "initContainers": [{"name": "i2"}, {"name": "i1"}],
            "containers": [{"name": "b"}, {"name": "a"}],
        }));
        let long = "x".repeat(MAX_POD_TERMINATION_MESSAGE_LENGTH);
        let mut s = status(json!({
            "startTime": "2024-01-01T00:00:00.750Z",
            "initContainerStatuses": [
                {"name": "i1", "image": "", "imageID": "", "ready": false, "restartCount": 0},
                {"name": "i2", "image": "", "imageID": "", "ready": false, "restartCount": 0}],
            "containerStatuses": [
                {"name": "b", "image": "", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 1, "message": long}}},
                {"name": "a", "image": "", "imageID": "", "ready": false, "restartCount": 0}],
        }));
        normalize_pod_status(&p, &mut s);
        assert_eq!(names(&s.container_statuses), ["a", "b"]);
        assert_eq!(names(&s.init_container_statuses), ["i2", "i1"]);
        let start: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(s.start_time.unwrap().0, start);
        let message = message(&s.container_statuses.unwrap()[1]);
        assert_eq!(message.len(), MAX_POD_TERMINATION_MESSAGE_LENGTH / 4);
    }

    #[test]
    fn ephemeral_containers_share_the_budget_and_are_cut_too() {
        let p = pod(json!({
            "containers": [{"name": "a"}],
            "ephemeralContainers": [{"name": "debug"}],
        }));
        let long = "é".repeat(MAX_POD_TERMINATION_MESSAGE_LENGTH);
        let terminated = json!({"terminated": {"exitCode": 1, "message": long}});
        let cs = |name: &str| {
            json!([{"name": name, "image": "", "imageID": "", "ready": false,
                "restartCount": 0, "state": terminated}])
        };
        let mut s = status(json!({
            "containerStatuses": cs("a"),
            "ephemeralContainerStatuses": cs("debug"),
        }));
        normalize_pod_status(&p, &mut s);
        for list in [&s.container_statuses, &s.ephemeral_container_statuses] {
            let message = message(&list.as_ref().unwrap()[0]);
            // Half the budget each, cut back to a character boundary (é is two bytes).
            assert_eq!(message.len(), MAX_POD_TERMINATION_MESSAGE_LENGTH / 2);
            assert!(message.chars().all(|c| c == 'é'));
        }
    }

    #[test]
    fn unknown_init_container_statuses_stay_behind_in_their_order() {
        let p = pod(json!({
            "initContainers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "app"}],
        }));
        let cs = |name: &str| json!({"name": name, "image": "", "imageID": "", "ready": false, "restartCount": 0});
        let mut s = status(json!({
            "initContainerStatuses": [cs("y"), cs("z"), cs("b"), cs("a")],
        }));
        normalize_pod_status(&p, &mut s);
        // `SortInitContainerStatuses` swaps the known ones to the front (a, b); the others
        // stay where the swaps left them (z, y), not sorted by name.
        assert_eq!(names(&s.init_container_statuses), ["a", "b", "z", "y"]);
    }
}
