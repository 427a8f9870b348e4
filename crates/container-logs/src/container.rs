//! The container as its logs know it, in errors, tracing spans and symlink names.

use std::collections::HashMap;
use std::fmt;

use k8s_openapi::api::core::v1::Pod;
use pod_plan::labels;

/// A container as its logs know it: the pod it belongs to and its name and id. Errors and
/// tracing spans name it; the legacy symlink's name is made of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ContainerRef {
    /// The pod's namespace.
    pub pod_namespace: String,
    /// The pod's name.
    pub pod_name: String,
    /// The pod's UID.
    pub pod_uid: String,
    /// The container's name in the pod spec.
    pub container_name: String,
    /// The runtime's container id.
    pub container_id: String,
}

impl ContainerRef {
    /// The container `container_id`, named `container_name`, of `pod` (what the worker
    /// knows right after `StartContainer`).
    pub fn for_pod(pod: &Pod, container_name: &str, container_id: &str) -> Self {
        let field = |v: &Option<String>| v.clone().unwrap_or_default();
        ContainerRef {
            pod_namespace: field(&pod.metadata.namespace),
            pod_name: field(&pod.metadata.name),
            pod_uid: field(&pod.metadata.uid),
            container_name: container_name.to_string(),
            container_id: container_id.to_string(),
        }
    }

    /// The container `container_id` from the kubelet labels it carries in the runtime
    /// ([`labels::POD_NAME`], [`labels::POD_NAMESPACE`], [`labels::POD_UID`],
    /// [`labels::CONTAINER_NAME`]); the CRI metadata name stands in for a missing container
    /// name label. A container no kubelet created has empty pod fields.
    pub fn from_labels(
        container_id: &str,
        container_labels: &HashMap<String, String>,
        metadata_name: Option<&str>,
    ) -> Self {
        let label = |key: &str| container_labels.get(key).cloned().unwrap_or_default();
        let mut container_name = label(labels::CONTAINER_NAME);
        if container_name.is_empty() {
            container_name = metadata_name.unwrap_or_default().to_string();
        }
        ContainerRef {
            pod_namespace: label(labels::POD_NAMESPACE),
            pod_name: label(labels::POD_NAME),
            pod_uid: label(labels::POD_UID),
            container_name,
            container_id: container_id.to_string(),
        }
    }

    /// `namespace/name` of the pod.
    pub fn pod(&self) -> String {
        format!("{}/{}", self.pod_namespace, self.pod_name)
    }

    /// The first 12 characters of the container id, as `crictl ps` shows it.
    pub fn short_id(&self) -> &str {
        let end = self
            .container_id
            .char_indices()
            .nth(12)
            .map_or(self.container_id.len(), |(i, _)| i);
        &self.container_id[..end]
    }

    /// The tracing span for work on this container's logs: pod (namespace/name), pod UID,
    /// container name and id.
    pub fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "container_log",
            pod = %self.pod(),
            uid = %self.pod_uid,
            container = %self.container_name,
            container_id = %self.short_id(),
        )
    }
}

impl fmt::Display for ContainerRef {
    /// `pod default/web: container app (0123456789ab)`; `container 0123456789ab` when
    /// nothing else is known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.pod_name.is_empty() || !self.pod_namespace.is_empty() {
            write!(f, "pod {}: ", self.pod())?;
        }
        if self.container_name.is_empty() {
            write!(f, "container {}", self.short_id())
        } else {
            write!(f, "container {} ({})", self.container_name, self.short_id())
        }
    }
}
