//! The crate's one error type.

use std::path::PathBuf;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong setting up, using or tearing down a pod's volumes.
///
/// Messages name the pod as `namespace/name`, the field path and the problem. They never
/// carry the content of a secret: only object names, keys and paths.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// One volume could not be set up (the kubelet's `MountVolume.SetUp failed`, reported
    /// as a `FailedMount` event; the pod stays `ContainerCreating`).
    #[error("pod {pod}: {field}: MountVolume.SetUp failed for volume {volume:?} : {message}")]
    SetUp {
        /// `namespace/name` of the pod.
        pod: String,
        /// The volume's name.
        volume: String,
        /// The field path in the pod spec (`spec.volumes[1].configMap.items[0].key`).
        field: String,
        /// The kubelet's message (`configmap "x" not found`).
        message: String,
    },

    /// Some volumes of a pod are not mounted after [`crate::VolumeManager::mount_pod`]:
    /// every failure, in spec order.
    #[error("pod {pod}: unmounted volumes={unmounted:?}: {}", first_failure(.failures))]
    PodNotMounted {
        /// `namespace/name` of the pod.
        pod: String,
        /// The names of the volumes not mounted, sorted (the kubelet's `unmounted volumes`).
        unmounted: Vec<String>,
        /// Each failure ([`Error::SetUp`] or [`Error::Io`]).
        failures: Vec<Error>,
    },

    /// The kubelet's wait for the pod's volumes (`WaitForAttachAndMount`, 2m3s) ran out: the
    /// message is the kubelet's (`unmounted volumes=[…], unattached volumes=[], failed to
    /// process volumes=[]: context deadline exceeded`).
    #[error("pod {pod}: {}", crate::failed_mount_message(.unmounted))]
    MountTimeout {
        /// `namespace/name` of the pod.
        pod: String,
        /// The names of the volumes not mounted, sorted.
        unmounted: Vec<String>,
        /// The failures of the last attempt.
        failures: Vec<Error>,
    },

    /// The pod cannot have volumes at all (no UID).
    #[error("pod {pod}: {field}: {message}")]
    InvalidPod {
        /// `namespace/name` of the pod.
        pod: String,
        /// The field path.
        field: String,
        /// What is wrong with it.
        message: String,
    },

    /// The mounts of a container cannot be made (the kubelet's `CreateContainerConfigError`):
    /// a subPath that escapes its volume, a missing volume, an invalid propagation.
    #[error("pod {pod}: container {container}: {field}: {message}")]
    ContainerMount {
        /// `namespace/name` of the pod.
        pod: String,
        /// The container's name.
        container: String,
        /// The field path in the container spec (`volumeMounts[2].subPath`).
        field: String,
        /// What is wrong, in the kubelet's words.
        message: String,
    },

    /// A file system or mount operation failed.
    #[error("pod {pod}: {action} {}: {source}", path.display())]
    Io {
        /// `namespace/name` of the pod (or the pod UID when only that is known).
        pod: String,
        /// What was being done (`mount tmpfs on`, `remove`).
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The system error.
        #[source]
        source: std::io::Error,
    },

    /// A name from a pod (its UID, a volume's or a container's name) or found on disk
    /// cannot be used in a path: it is not exactly one normal path component (empty, `.`,
    /// `..`, or with `/` or NUL). Nothing is created, mounted or removed for it.
    #[error("pod {pod}: {field}: Invalid value: {value}: {message}")]
    UnsafePathComponent {
        /// The pod's UID (as given, quoted when it is itself the bad value).
        pod: String,
        /// What the value is (`metadata.uid`, `volume name`, `container name`).
        field: &'static str,
        /// The value, quoted with escapes and cut to 64 characters.
        value: String,
        /// What is wrong with it.
        message: &'static str,
    },

    /// A path given to the atomic writer (an `items[].path` or a key) is not a safe
    /// relative path inside the volume.
    #[error("pod {pod}: {message}")]
    InvalidPath {
        /// `namespace/name` of the pod.
        pod: String,
        /// The kubelet's message (`invalid path: must not contain '..': a/../b`).
        message: String,
    },

    /// Something is still mounted below a pod directory that should be removed.
    #[error("pod {pod}: orphaned pod found, but volume paths are still present on disk: {paths:?}")]
    StillMounted {
        /// The pod UID.
        pod: String,
        /// The mount points that remain.
        paths: Vec<PathBuf>,
    },

    /// A `Secret` document does not decode ([`objects::decode_secret`](crate::objects::decode_secret)):
    /// the message names the Secret, the field and the key, never a value.
    #[error("invalid Secret {name}: {field}: {message}")]
    InvalidSecret {
        /// `namespace/name` of the Secret, as far as the document says.
        name: String,
        /// The field path (`data.token`, `stringData.pin`, `metadata.labels`).
        field: String,
        /// What is wrong, without the value (`invalid value: not valid base64`).
        message: String,
    },

    /// An object source could not answer for a ConfigMap or Secret (not yet synced from the
    /// API server, refused by the Node authorizer): the message names the object and why,
    /// never a value.
    #[error("{kind} {namespace}/{name}: {message}")]
    ObjectSource {
        /// `configmap` or `secret`.
        kind: &'static str,
        /// The object's namespace.
        namespace: String,
        /// The object's name.
        name: String,
        /// Why it could not be read.
        message: String,
    },

    /// A [`TokenSource`](crate::tokens::TokenSource) could not get a service account token
    /// (the TokenRequest failed). The message says why and never carries a token.
    #[error("service account {service_account}: {message}")]
    TokenRequest {
        /// `namespace/name` of the service account.
        service_account: String,
        /// What went wrong (`serviceaccounts "build" not found`).
        message: String,
    },
}

fn first_failure(failures: &[Error]) -> String {
    match failures {
        [] => String::from("no failure recorded"),
        [one] => one.to_string(),
        [first, rest @ ..] => format!("{first} (and {} more)", rest.len()),
    }
}

impl Error {
    /// The names of the volumes not mounted, sorted, when this is [`Error::PodNotMounted`].
    pub fn unmounted_volumes(&self) -> &[String] {
        match self {
            Error::PodNotMounted { unmounted, .. } | Error::MountTimeout { unmounted, .. } => {
                unmounted
            }
            _ => &[],
        }
    }

    /// An [`Error::TokenRequest`] for this request, for [`TokenSource`] implementations.
    ///
    /// [`TokenSource`]: crate::tokens::TokenSource
    pub fn token_request(
        request: &crate::tokens::ServiceAccountTokenRequest,
        message: impl Into<String>,
    ) -> Self {
        Error::TokenRequest {
            service_account: request.service_account(),
            message: message.into(),
        }
    }

    pub(crate) fn io(
        pod: impl Into<String>,
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            pod: pod.into(),
            action,
            path: path.into(),
            source,
        }
    }
}
