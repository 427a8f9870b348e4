//! The crate's one error type.

use std::path::PathBuf;

use crate::worker::{MountError, SeamError};

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

    /// The eviction manager could not read its stats (the sync is skipped).
    #[error("eviction manager: failed to get summary stats: {0}")]
    EvictionStats(#[source] SeamError),

    /// The eviction settings are refused (a soft threshold without a grace period).
    #[error("invalid eviction config: {0}")]
    EvictionConfig(#[source] pod_plan::Error),

    /// The pod's cgroup cannot be checked or created (`PodCgroups::ensure` or `exists`
    /// failed): the pod's `FailedToCreatePodContainer` event carries the seam's message, and
    /// nothing more is done for the pod in this sync.
    #[error("pod {pod}: cgroup: {source}")]
    Cgroup {
        /// `namespace/name` of the pod.
        pod: String,
        /// The cgroup seam's error.
        #[source]
        source: SeamError,
    },

    /// Some of the pod's volumes are not mounted (`PodVolumes::mount` failed): no container
    /// is created until they are (the kubelet's `WaitForAttachAndMount`). Each failure is
    /// also a `FailedMount` event.
    #[error("pod {pod}: spec.volumes: {source}")]
    Volumes {
        /// `namespace/name` of the pod.
        pod: String,
        /// The volumes not mounted and why.
        #[source]
        source: MountError,
    },

    /// A container's volume mounts cannot be made (`PodVolumes::container_mounts` failed: an
    /// escaping `subPath`, a missing volume): the container's `CreateContainerConfigError`.
    /// The message is the volume seam's, which names the pod, the container and the field.
    #[error("{source}")]
    ContainerMounts {
        /// `namespace/name` of the pod.
        pod: String,
        /// The container's name.
        container: String,
        /// The volume seam's error.
        #[source]
        source: SeamError,
    },

    /// A container's probes are invalid (`PodProbes::validate` failed): the container's
    /// `CreateContainerConfigError`. The message is the probe seam's, which names the pod,
    /// the container, the probe and the field.
    #[error("{source}")]
    Probes {
        /// `namespace/name` of the pod.
        pod: String,
        /// The container's name.
        container: String,
        /// The probe seam's error.
        #[source]
        source: SeamError,
    },

    /// The pod's UID or the container's name names no directory for the container's
    /// termination-message file (`terminationMessagePath`): the container's
    /// `CreateContainerConfigError`.
    #[error("terminationMessagePath: {source}")]
    TerminationMessageDir {
        /// `namespace/name` of the pod.
        pod: String,
        /// The container's name.
        container: String,
        /// Why the name is refused (boxed: the volume manager's error is large, and this one
        /// is rare).
        #[source]
        source: Box<volume_manager::Error>,
    },

    /// The container's termination-message file cannot be created: the container's
    /// `CreateContainerConfigError`.
    #[error(
        "terminationMessagePath: cannot create the termination message file {}: {source}",
        path.display()
    )]
    TerminationMessageFile {
        /// `namespace/name` of the pod.
        pod: String,
        /// The container's name.
        container: String,
        /// The file.
        path: PathBuf,
        /// The system error.
        #[source]
        source: std::io::Error,
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

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    fn io_error() -> std::io::Error {
        std::io::Error::from(std::io::ErrorKind::PermissionDenied)
    }

    /// The seams' variants read as the `PodConfig` errors they replaced (`FailedSync`
    /// messages are compared with the kubelet's), and keep their source.
    #[test]
    fn seam_variants_keep_the_text_and_the_source() {
        let cgroup = Error::Cgroup {
            pod: "default/web".into(),
            source: SeamError::failed(io_error()),
        };
        assert_eq!(
            cgroup.to_string(),
            format!("pod default/web: cgroup: {}", io_error())
        );
        let seam = cgroup.source().unwrap();
        assert!(seam.source().unwrap().is::<std::io::Error>());

        let volumes = Error::Volumes {
            pod: "default/web".into(),
            source: MountError {
                unmounted: vec!["cfg".into()],
                failures: vec!["configmap \"cfg\" not found".into()],
            },
        };
        assert_eq!(
            volumes.to_string(),
            "pod default/web: spec.volumes: unmounted volumes=[cfg]; configmap \"cfg\" not found"
        );
        assert!(volumes.source().unwrap().is::<MountError>());

        let mounts = Error::ContainerMounts {
            pod: "default/web".into(),
            container: "app".into(),
            source: SeamError::failed("volumeMounts[0].subPath: escapes the volume"),
        };
        assert_eq!(
            mounts.to_string(),
            "volumeMounts[0].subPath: escapes the volume"
        );

        let file = Error::TerminationMessageFile {
            pod: "default/web".into(),
            container: "app".into(),
            path: "/x/y".into(),
            source: io_error(),
        };
        assert_eq!(
            file.to_string(),
            format!(
                "terminationMessagePath: cannot create the termination message file /x/y: {}",
                io_error()
            )
        );
    }

    #[tokio::test]
    async fn a_task_that_did_not_finish_is_named() {
        let join = tokio::spawn(std::future::pending::<()>());
        join.abort();
        let join_error = join.await.unwrap_err();
        let text = join_error.to_string();
        let task = SeamError::task("cgroup manager", join_error);
        assert_eq!(
            task.to_string(),
            format!("cgroup manager task failed: {text}")
        );
        assert!(task.source().unwrap().is::<tokio::task::JoinError>());
        let during = SeamError::during("removing orphaned pod cgroups", task);
        assert_eq!(
            during.to_string(),
            format!("removing orphaned pod cgroups: cgroup manager task failed: {text}")
        );
    }
}
