//! The crate's one error type.

use std::path::PathBuf;
use std::time::Duration;

/// What went wrong with the test environment or a call made to set up or clean up a test.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A variable `cargo xtask setup` writes is neither in the process environment nor in
    /// its env file.
    #[error("{var} is not set, neither in the process environment nor in {}", file.display())]
    Unset {
        /// The variable.
        var: &'static str,
        /// The env file that was read.
        file: PathBuf,
    },
    /// The runtime's endpoint is not one the CRI client accepts.
    #[error("{var}={endpoint}: {source}")]
    Endpoint {
        /// The variable holding the endpoint.
        var: &'static str,
        /// Its value.
        endpoint: String,
        /// Why the client rejects it.
        source: Box<cri_client::Error>,
    },
    /// The runtime did not pass the kubelet's start-up validation (`Version`, then
    /// `ImageFsInfo`).
    #[error("the runtime at {endpoint} does not answer: {source}")]
    NoAnswer {
        /// The endpoint dialled.
        endpoint: String,
        /// The failed call.
        source: Box<cri_client::Error>,
    },
    /// The runtime did not answer within the time given.
    #[error("the runtime at {endpoint} did not answer within {timeout:?}")]
    Timeout {
        /// The endpoint dialled.
        endpoint: String,
        /// How long it was given.
        timeout: Duration,
    },
    /// A CRI call made for a test pod failed.
    #[error("{call} for test pod {pod} (uid {uid}): {source}")]
    Cri {
        /// The CRI call (`RunPodSandbox`, `StopPodSandbox`, ...).
        call: &'static str,
        /// The pod as `namespace/name`.
        pod: String,
        /// The pod's uid.
        uid: String,
        /// The runtime's error.
        source: Box<cri_client::Error>,
    },
    /// A clean-up could not run at all.
    #[error("cleaning up the sandboxes of the pods {uids}: {reason}")]
    Cleanup {
        /// The pods' uids, comma-separated.
        uids: String,
        /// Why.
        reason: String,
    },
    /// A file the environment should hold is not there.
    #[error("{what} is not at {}", path.display())]
    Missing {
        /// What is missing.
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The real kubelet did not start, or did not answer as expected.
    #[error("the kubelet of node {node}: {reason}")]
    Kubelet {
        /// Its node name.
        node: String,
        /// What went wrong.
        reason: String,
    },
    /// A command of the environment (kubectl, say) failed.
    #[error("`{command}`: {reason}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status and stderr, or why it did not start.
        reason: String,
    },
    /// A node identity for the local cluster could not be made.
    #[error("the identity of node {node}: {reason}")]
    NodeIdentity {
        /// The node name.
        node: String,
        /// What went wrong.
        reason: String,
    },
    /// A daemon of the environment (the faults containerd) could not be killed or started.
    #[error("{what}: {problem}")]
    Process {
        /// The daemon, with its pid when known.
        what: String,
        /// What went wrong.
        problem: String,
    },
    /// A file of the environment could not be used.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was done (`opening`, `locking`, `reading`, ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
