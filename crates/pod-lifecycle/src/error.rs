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

    /// The pod's identity (name, namespace, UID, a container's name) breaks the rules of
    /// [`crate::validation`], or cannot be used as one component of a path the node builds
    /// from it (`<podLogsDir>/<namespace>_<name>_<uid>`, `<rootDir>/pods/<uid>`). Nothing is
    /// created, run or removed for such a pod.
    #[error("invalid pod {pod}: {field}: {message}")]
    InvalidPod {
        /// `namespace/name` of the pod.
        pod: String,
        /// The field path (`metadata.uid`, `spec.containers[1].name`).
        field: String,
        /// What is wrong, in the API server's words (`Invalid value: "..": ...`).
        message: String,
    },

    /// A value that becomes one component of a path (a container's name in its log path) is
    /// not exactly one normal path component. Callers that know the pod wrap it in
    /// [`Error::ContainerConfig`] or [`Error::InvalidPod`].
    #[error("{field}: {message}")]
    InvalidPathComponent {
        /// The field the value came from (`name`).
        field: String,
        /// What is wrong (`Invalid value: "..": must not be '.' or '..' ...`).
        message: String,
    },

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
