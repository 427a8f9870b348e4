//! The kubelet's CRI labels, as tests look for them (the same values as
//! `pod_lifecycle::labels`, which this crate does not depend on).

/// The pod's name, on sandboxes and containers.
pub const POD_NAME: &str = "io.kubernetes.pod.name";
/// The pod's namespace, on sandboxes and containers.
pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
/// The pod's uid, on sandboxes and containers: how a pod's sandboxes are found.
pub const POD_UID: &str = "io.kubernetes.pod.uid";
/// The container's name in the pod spec, on containers.
pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// The container annotation holding its restart count.
pub const CONTAINER_RESTART_COUNT: &str = "io.kubernetes.container.restartCount";
