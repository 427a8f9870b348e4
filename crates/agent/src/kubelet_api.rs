//! How the node finds what the kubelet API names: a pod by namespace and name, its
//! container for logs (the kubelet's `validateContainerLogStatus` rules) or for exec,
//! and its sandbox for port-forward.

use cri_client::{RuntimeService, v1};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use kubelet_server::{ContainerTarget, Error, FoundContainer};

/// The pod `namespace/name` among `pods` (with `uid` when given): 404 "pod "x" does not
/// exist" otherwise, as the kubelet answers.
pub(crate) fn find_pod<'a>(
    pods: &'a [Pod],
    namespace: &str,
    name: &str,
    uid: Option<&str>,
) -> Result<&'a Pod, Error> {
    pods.iter()
        .filter(|pod| {
            pod.metadata.namespace.as_deref() == Some(namespace)
                && pod.metadata.name.as_deref() == Some(name)
        })
        .find(|pod| uid.is_none_or(|uid| pod.metadata.uid.as_deref() == Some(uid)))
        .ok_or_else(|| Error::NotFound(format!("pod {name:?} does not exist")))
}

/// The runtime's ID in a status's `containerID` (`containerd://<id>`).
fn runtime_id(container_id: &str) -> &str {
    container_id
        .split_once("://")
        .map_or(container_id, |(_, id)| id)
}

/// The container whose log `target` asks for, by the kubelet's rules: with `previous` the
/// last terminated instance; otherwise the running one, else the terminated one (or the
/// one before it when the newest never started). A container that has not run yet, or a
/// previous instance that does not exist, is a 400 with the kubelet's message.
pub(crate) fn container_for_logs(
    pods: &[Pod],
    target: &ContainerTarget,
    previous: bool,
) -> Result<(String, bool), Error> {
    let pod = find_pod(pods, &target.namespace, &target.pod, target.uid.as_deref())?;
    let spec = pod.spec.as_ref();
    let declared = spec.is_some_and(|spec| {
        spec.containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .any(|c| c.name == target.container)
            || spec
                .ephemeral_containers
                .iter()
                .flatten()
                .any(|c| c.name == target.container)
    });
    if !declared {
        return Err(Error::NotFound(format!(
            "container {:?} not found in pod {:?}",
            target.container, target.pod
        )));
    }
    let (name, pod_name) = (&target.container, &target.pod);
    let status = pod.status.as_ref();
    let found: Option<&ContainerStatus> = status.and_then(|s| {
        s.container_statuses
            .iter()
            .flatten()
            .chain(s.init_container_statuses.iter().flatten())
            .chain(s.ephemeral_container_statuses.iter().flatten())
            .find(|c| &c.name == name)
    });
    let Some(found) = found else {
        return Err(Error::BadRequest(format!(
            "container {name:?} in pod {pod_name:?} is not available"
        )));
    };
    let state = found.state.clone().unwrap_or_default();
    let last = found
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .and_then(|t| t.container_id.as_deref())
        .filter(|id| !id.is_empty());
    let current = found.container_id.as_deref().filter(|id| !id.is_empty());
    let terminated = || {
        Error::BadRequest(format!(
            "container {name:?} in pod {pod_name:?} is terminated"
        ))
    };
    let id = if previous {
        last.ok_or_else(|| {
            Error::BadRequest(format!(
                "previous terminated container {name:?} in pod {pod_name:?} not found"
            ))
        })?
    } else if state.running.is_some() {
        current.ok_or_else(terminated)?
    } else if let Some(t) = &state.terminated {
        t.container_id
            .as_deref()
            .filter(|id| !id.is_empty())
            .or(last)
            .ok_or_else(terminated)?
    } else if found
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .is_some()
    {
        last.ok_or_else(terminated)?
    } else if let Some(waiting) = &state.waiting {
        let reason = waiting.reason.as_deref().unwrap_or_default();
        let why = match reason {
            "ErrImagePull" => "image can't be pulled".to_owned(),
            "ImagePullBackOff" => "trying and failing to pull image".to_owned(),
            other => other.to_owned(),
        };
        return Err(Error::BadRequest(format!(
            "container {name:?} in pod {pod_name:?} is waiting to start: {why}"
        )));
    } else {
        return Err(Error::BadRequest(format!(
            "container {name:?} in pod {pod_name:?} is waiting to start - no logs yet"
        )));
    };
    let running = !previous && state.running.is_some();
    Ok((runtime_id(id).to_owned(), running))
}

/// The log file of container `id`, from the runtime.
pub(crate) async fn found_container(
    runtime: &dyn RuntimeService,
    id: String,
    running: bool,
) -> Result<FoundContainer, Error> {
    let status = runtime
        .container_status(v1::ContainerStatusRequest {
            container_id: id.clone(),
            verbose: false,
        })
        .await
        .map_err(|e| Error::Runtime(format!("failed to get the status of container {id}: {e}")))?
        .status
        .ok_or_else(|| Error::Runtime(format!("the runtime has no status for container {id}")))?;
    Ok(FoundContainer {
        container_id: id,
        log_path: status.log_path.into(),
        running,
    })
}

/// The ready sandbox of the pod `namespace/name`, from the runtime (by the pod's UID
/// label).
pub(crate) async fn ready_sandbox(
    runtime: &dyn RuntimeService,
    pods: &[Pod],
    namespace: &str,
    name: &str,
    uid: Option<&str>,
) -> Result<String, Error> {
    let pod = find_pod(pods, namespace, name, uid)?;
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let sandboxes = runtime
        .list_pod_sandbox(v1::ListPodSandboxRequest {
            filter: Some(v1::PodSandboxFilter {
                state: Some(v1::PodSandboxStateValue {
                    state: v1::PodSandboxState::SandboxReady as i32,
                }),
                label_selector: [(pod_plan::labels::POD_UID.to_owned(), uid)].into(),
                ..Default::default()
            }),
        })
        .await
        .map_err(|e| Error::Runtime(format!("failed to list pod sandboxes: {e}")))?
        .items;
    sandboxes
        .into_iter()
        .max_by_key(|s| s.created_at)
        .map(|s| s.id)
        .ok_or_else(|| Error::NotFound(format!("pod {name:?} has no running sandbox")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
        ContainerStateWaiting, PodSpec, PodStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod(status: ContainerStatus) -> Vec<Pod> {
        vec![Pod {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                uid: Some("u1".into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "app".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: Some(PodStatus {
                container_statuses: Some(vec![status]),
                ..Default::default()
            }),
        }]
    }

    fn target(container: &str) -> ContainerTarget {
        ContainerTarget {
            namespace: "default".into(),
            pod: "web".into(),
            uid: None,
            container: container.into(),
        }
    }

    fn terminated(id: &str) -> ContainerState {
        ContainerState {
            terminated: Some(ContainerStateTerminated {
                container_id: Some(id.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn ht_05_logs_pick_the_kubelets_instance() {
        let running = ContainerStatus {
            name: "app".into(),
            container_id: Some("containerd://new".into()),
            state: Some(ContainerState {
                running: Some(ContainerStateRunning::default()),
                ..Default::default()
            }),
            last_state: Some(terminated("containerd://old")),
            ..Default::default()
        };
        let pods = pod(running);
        assert_eq!(
            container_for_logs(&pods, &target("app"), false).unwrap(),
            ("new".into(), true)
        );
        assert_eq!(
            container_for_logs(&pods, &target("app"), true).unwrap(),
            ("old".into(), false)
        );
        let err = container_for_logs(&pods, &target("nope"), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"container "nope" not found in pod "web""#
        );
        assert_eq!(err.status(), 404);
        let mut other = target("app");
        other.pod = "db".into();
        let err = container_for_logs(&pods, &other, false).unwrap_err();
        assert_eq!(err.to_string(), r#"pod "db" does not exist"#);

        let waiting = ContainerStatus {
            name: "app".into(),
            state: Some(ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some("ImagePullBackOff".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let err = container_for_logs(&pod(waiting.clone()), &target("app"), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"container "app" in pod "web" is waiting to start: trying and failing to pull image"#
        );
        let err = container_for_logs(&pod(waiting), &target("app"), true).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"previous terminated container "app" in pod "web" not found"#
        );
    }
}
