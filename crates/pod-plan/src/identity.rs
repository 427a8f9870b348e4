//! A pod's identity as error messages and paths use it.
//!
//! One definition for every crate: `namespace/name`, with an unset field shown empty. Pod
//! sources set the name and namespace (and the API defaults) before a pod reaches any rule,
//! as the kubelet's file source does, so nothing is guessed here.

use k8s_openapi::api::core::v1::Pod;

/// `namespace/name` of a pod, the form used in error messages and logs.
///
/// ```
/// # use k8s_openapi::api::core::v1::Pod;
/// let mut pod = Pod::default();
/// pod.metadata.name = Some("web".into());
/// pod.metadata.namespace = Some("prod".into());
/// assert_eq!(pod_plan::pod_full_name(&pod), "prod/web");
/// ```
pub fn pod_full_name(pod: &Pod) -> String {
    format!("{}/{}", pod_namespace(pod), pod_name(pod))
}

/// The pod as the kubelet's `format.Pod` writes it in messages and events:
/// `<name>_<namespace>(<uid>)`, with an unset field shown empty.
///
/// ```
/// # use k8s_openapi::api::core::v1::Pod;
/// let mut pod = Pod::default();
/// pod.metadata.name = Some("web".into());
/// pod.metadata.namespace = Some("prod".into());
/// pod.metadata.uid = Some("u1".into());
/// assert_eq!(pod_plan::format_pod(&pod), "web_prod(u1)");
/// ```
pub fn format_pod(pod: &Pod) -> String {
    format!("{}_{}({})", pod_name(pod), pod_namespace(pod), pod_uid(pod))
}

/// The pod's name; empty when unset.
pub fn pod_name(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or_default()
}

/// The pod's namespace; empty when unset.
pub fn pod_namespace(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or_default()
}

/// The pod's UID; empty when unset.
pub fn pod_uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or_default()
}

/// An init container with `restartPolicy: Always`: a sidecar (a restartable init container).
///
/// Only init containers may carry a container-level restart policy (the API refuses it on
/// regular containers), so the container alone decides.
pub fn is_sidecar(container: &k8s_openapi::api::core::v1::Container) -> bool {
    container.restart_policy.as_deref() == Some("Always")
}
