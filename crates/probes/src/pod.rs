//! The few facts about a pod the probes need, taken once from the `Pod`.

use std::fmt;

use k8s_openapi::api::core::v1::Pod;

/// A pod as the probe workers name it: uid for keys, `namespace/name` for people.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PodRef {
    /// `metadata.uid`.
    pub uid: String,
    /// `metadata.namespace` (`default` when unset).
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
}

impl PodRef {
    /// The pod's uid, namespace and name.
    pub fn of(pod: &Pod) -> Self {
        PodRef {
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            namespace: pod
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".to_string()),
            name: pod.metadata.name.clone().unwrap_or_default(),
        }
    }
}

impl fmt::Display for PodRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The CRI id in a status `containerID` (`containerd://<id>` → `<id>`), the kubelet's
/// `ParseContainerID`. A value without `://` is returned as is.
pub fn cri_container_id(container_id: &str) -> &str {
    container_id
        .split_once("://")
        .map_or(container_id, |(_, id)| id)
}
