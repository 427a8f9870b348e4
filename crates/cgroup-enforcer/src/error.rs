//! The crate's one error type.

use std::path::PathBuf;

use crate::quantity::QuantityError;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong computing or enforcing resources.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A pod's quantity cannot be read (`resources.limits.memory: cannot parse "lots"`).
    #[error("pod {pod}: {field}: {source}")]
    Quantity {
        /// `namespace/name` of the pod.
        pod: String,
        /// The field path (`spec.containers[0].resources.limits.memory`).
        field: String,
        /// What is wrong with the text.
        #[source]
        source: QuantityError,
    },

    /// A pod's field has a value Kubernetes refuses (a negative request, no UID).
    #[error("pod {pod}: {field}: {message}")]
    InvalidPod {
        /// `namespace/name` of the pod.
        pod: String,
        /// The field path.
        field: String,
        /// What is wrong with it.
        message: String,
    },

    /// A node-level setting is invalid (a reservation larger than the capacity, an eviction
    /// threshold that does not parse). The kubelet refuses to start on these.
    #[error("{field}: {message}")]
    InvalidConfig {
        /// The configuration field (`kubeReserved.memory`, `evictionHard`).
        field: String,
        /// What is wrong with it.
        message: String,
    },

    /// A cgroup or host file could not be read, written, created or removed. Carries the
    /// path and, for writes, the value.
    #[error("{op} {path}{}: {source}", value.as_ref().map(|v| format!(" (value {v:?})")).unwrap_or_default())]
    Io {
        /// What was being done (`writing`, `reading`, `creating`, `removing`).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The value written, for writes.
        value: Option<String>,
        /// The system error.
        #[source]
        source: std::io::Error,
    },

    /// A cgroup or host file has content this crate cannot make sense of.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong with its content.
        message: String,
    },

    /// Processes stayed in a cgroup after being killed, so it cannot be removed.
    #[error("{path}: {count} processes still in the cgroup after SIGKILL (first: {first})")]
    ProcessesRemain {
        /// The cgroup directory.
        path: PathBuf,
        /// How many processes remain.
        count: usize,
        /// One of them.
        first: i32,
    },

    /// No cgroup mount could be recognised in the mount table.
    #[error("{path}: no cgroup hierarchy mounted at {mount_point}")]
    NoCgroupMount {
        /// The mount table read.
        path: PathBuf,
        /// Where the hierarchy was expected.
        mount_point: PathBuf,
    },
}

impl Error {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
        value: Option<&str>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            op,
            path: path.into(),
            value: value.map(str::to_owned),
            source,
        }
    }

    /// True when the error is a missing file or directory.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}
