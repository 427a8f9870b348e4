//! The crate's one error type.

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong running a pod.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A container's spec cannot be turned into a CRI config (the kubelet's
    /// `CreateContainerConfigError`): names the pod, the container, the field and the problem.
    #[error("pod {pod}: container {container}: {field}: {message}")]
    ContainerConfig {
        /// `namespace/name` of the pod.
        pod: String,
        /// The container's name.
        container: String,
        /// The field path in the container spec (`env[2].valueFrom.fieldRef.fieldPath`).
        field: String,
        /// What is wrong with it.
        message: String,
    },

    /// The pod's spec cannot be turned into a CRI sandbox config.
    #[error("pod {pod}: {field}: {message}")]
    PodConfig {
        /// `namespace/name` of the pod.
        pod: String,
        /// The field path in the pod spec.
        field: String,
        /// What is wrong with it.
        message: String,
    },

    /// The pod breaks a rule of `pod_plan::validation` (its identity, an enumerated spec
    /// field, a value that must be one path component). Nothing is created, run or removed
    /// for such a pod.
    #[error(transparent)]
    Invalid(#[from] pod_plan::Error),

    /// A call to the container runtime failed.
    #[error("pod {pod}: {source}")]
    Runtime {
        /// `namespace/name` of the pod.
        pod: String,
        /// The runtime error (names the CRI call and the object).
        #[source]
        source: cri_client::Error,
    },
}
