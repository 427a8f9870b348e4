//! `/runningpods/`: the pods the runtime runs, as the kubelet shows them.

use std::collections::BTreeMap;

use cri_client::{RuntimeService, v1};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pod_plan::labels;

use crate::{Error, Result};

/// The pods with a ready sandbox or a running container, each with its name, namespace
/// and UID and its running containers' names and images (the kubelet's `GetRunningPods`
/// converted to `v1.Pod`). Ordered by namespace, then name.
pub(crate) async fn running_pods(runtime: &dyn RuntimeService) -> Result<Vec<Pod>> {
    let sandboxes = runtime
        .list_pod_sandbox(v1::ListPodSandboxRequest {
            filter: Some(v1::PodSandboxFilter {
                state: Some(v1::PodSandboxStateValue {
                    state: v1::PodSandboxState::SandboxReady as i32,
                }),
                ..Default::default()
            }),
        })
        .await
        .map_err(|e| Error::Runtime(format!("failed to list pod sandboxes: {e}")))?
        .items;
    let containers = runtime
        .list_containers(v1::ListContainersRequest {
            filter: Some(v1::ContainerFilter {
                state: Some(v1::ContainerStateValue {
                    state: v1::ContainerState::ContainerRunning as i32,
                }),
                ..Default::default()
            }),
        })
        .await
        .map_err(|e| Error::Runtime(format!("failed to list containers: {e}")))?
        .containers;

    // Keyed by UID: a pod is its sandboxes and containers with the same UID label.
    let mut pods: BTreeMap<String, Pod> = BTreeMap::new();
    let mut entry = |labels_of: &std::collections::HashMap<String, String>| -> Option<String> {
        let uid = labels_of.get(labels::POD_UID)?.clone();
        pods.entry(uid.clone()).or_insert_with(|| Pod {
            metadata: ObjectMeta {
                name: labels_of.get(labels::POD_NAME).cloned(),
                namespace: labels_of.get(labels::POD_NAMESPACE).cloned(),
                uid: Some(uid.clone()),
                ..Default::default()
            },
            spec: Some(PodSpec::default()),
            status: None,
        });
        Some(uid)
    };
    for sandbox in &sandboxes {
        entry(&sandbox.labels);
    }
    let mut container_entries = Vec::new();
    for container in &containers {
        if let Some(uid) = entry(&container.labels) {
            container_entries.push((uid, container));
        }
    }
    for (uid, container) in container_entries {
        let Some(pod) = pods.get_mut(&uid) else {
            continue;
        };
        let name = container
            .labels
            .get(labels::CONTAINER_NAME)
            .cloned()
            .or_else(|| container.metadata.as_ref().map(|m| m.name.clone()))
            .unwrap_or_default();
        let image = container
            .image
            .as_ref()
            .map(|image| image.image.clone())
            .filter(|image| !image.is_empty())
            .unwrap_or_else(|| container.image_ref.clone());
        if let Some(spec) = pod.spec.as_mut() {
            spec.containers.push(Container {
                name,
                image: Some(image),
                ..Default::default()
            });
        }
    }
    let mut pods: Vec<Pod> = pods.into_values().collect();
    for pod in &mut pods {
        if let Some(spec) = pod.spec.as_mut() {
            spec.containers.sort_by(|a, b| a.name.cmp(&b.name));
        }
    }
    pods.sort_by(|a, b| {
        (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name))
    });
    Ok(pods)
}
