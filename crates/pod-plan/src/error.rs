//! The crate's one error type.

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a pod cannot be accepted: the plan itself never fails, only the rules of
/// [`crate::validation`] refuse input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The pod's identity (name, namespace, UID, a container's name) or one of its
    /// enumerated spec fields breaks the rules of [`crate::validation`], or cannot be used as
    /// one component of a path the node builds from it (`<podLogsDir>/<namespace>_<name>_<uid>`,
    /// `<rootDir>/pods/<uid>`). Nothing is created, run or removed for such a pod.
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
    /// not exactly one normal path component. Callers that know the pod wrap it with the pod's
    /// name.
    #[error("{field}: {message}")]
    InvalidPathComponent {
        /// The field the value came from (`name`).
        field: String,
        /// What is wrong (`Invalid value: "..": must not be '.' or '..' ...`).
        message: String,
    },

    /// An eviction setting (`evictionHard`, `evictionSoft`, `evictionSoftGracePeriod`,
    /// `evictionMinimumReclaim`) is refused, as the kubelet refuses it at start-up.
    #[error("{field}: {message}")]
    InvalidEvictionConfig {
        /// The setting and its key (`evictionHard.memory.free`).
        field: String,
        /// What is wrong (`unknown eviction signal "memory.free"`).
        message: String,
    },
}
