//! The crate's one error type.

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong with a probe.
///
/// Two families: a probe spec that cannot run ([`Error::InvalidProbe`], which names the pod,
/// the container, the probe and the field path, so it can become the container's
/// `CreateContainerConfigError` as is), and a prober error while running one (the kubelet's
/// "probe errored": the runtime could not exec, a request could not be built). A probe that
/// ran and failed is not an error: it is a [`ProbeOutcome`](crate::ProbeOutcome) with
/// [`ProbeStatus::Failure`](crate::ProbeStatus::Failure).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A probe of a container's spec is invalid (no handler, two handlers, an unknown port
    /// name, a negative period, ...).
    #[error("pod {pod}: container {container:?}: invalid {probe} probe: {field}: {problem}")]
    InvalidProbe {
        /// `namespace/name` of the pod (empty when the probe was checked without a pod).
        pod: String,
        /// The container's name.
        container: String,
        /// The probe: `liveness`, `readiness` or `startup`.
        probe: &'static str,
        /// The field path, as the API server names it
        /// (`spec.containers[0].livenessProbe.periodSeconds`).
        field: String,
        /// What is wrong with it.
        problem: String,
    },

    /// The exec probe's `ExecSync` failed for a reason other than the command's timeout
    /// (container gone, runtime unreachable). The kubelet retries and then discards the run.
    #[error("exec probe in container {container_id} errored: {source}")]
    Exec {
        /// The CRI container id.
        container_id: String,
        /// The runtime's error.
        #[source]
        source: cri_client::Error,
    },

    /// The probe's target could not be turned into a request (no pod IP yet, a path that is
    /// not a URL, a header that is not valid HTTP).
    #[error("{probe} probe target {target:?} is not usable: {problem}")]
    InvalidTarget {
        /// The handler: `http`, `tcp` or `grpc`.
        probe: &'static str,
        /// The target as far as it was built (`http://10.88.0.2:8080/healthz`).
        target: String,
        /// What is wrong with it.
        problem: String,
    },

    /// Probe workers were asked for outside a tokio runtime (they are tokio tasks).
    #[error("pod {pod}: probe workers need a tokio runtime")]
    NoRuntime {
        /// `namespace/name` of the pod.
        pod: String,
    },
}
