//! The crate's one error type.

use std::net::SocketAddr;
use std::path::PathBuf;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What stopped the agent from starting or serving.
///
/// Configuration errors name the file (or the flag) and the field, so the one line the
/// agent prints before it exits is enough to fix the problem, as the kubelet's
/// `invalid configuration: maxPods (--max-pods) ...` messages are. Problems with single
/// static pod manifests are not errors of this type: they never stop the agent and are
/// kept as [`SourceError`](crate::static_pods::SourceError)s beside the pods.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `--config` file could not be read.
    #[error("failed to read kubelet config file {path}: {source}")]
    ReadConfig {
        /// The file given with `--config`.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The `--config` file is not a valid `KubeletConfiguration`: bad YAML, an unknown
    /// field, a value of the wrong type, a wrong `apiVersion` or `kind`.
    #[error("failed to load kubelet config file {path}: {field}: {reason}")]
    ParseConfig {
        /// The file given with `--config`.
        path: PathBuf,
        /// The field at fault, as spelled in the file (`maxPods`), `document` when the
        /// document as a whole is wrong, or `invalid YAML` for a syntax error.
        field: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A YAML text could not be read as Kubernetes reads YAML ([`crate::yaml`]): a syntax
    /// error, an alias to an unknown anchor, a null mapping key, a float JSON cannot hold.
    #[error("invalid YAML: line {line} column {column}: {reason}")]
    Yaml {
        /// The line where the problem was found, from 1.
        line: usize,
        /// The column where the problem was found, from 1.
        column: usize,
        /// What is wrong.
        reason: String,
    },

    /// A value is out of range or inconsistent (`maxPods: -1`, `healthzPort: 70000`).
    #[error("invalid configuration in {origin}: {field}: {reason}")]
    InvalidConfig {
        /// Where the value came from: the config file's path, or `command-line flags`.
        origin: String,
        /// The field, as spelled in the file, with its flag when it has one
        /// (`maxPods (--max-pods)`).
        field: String,
        /// What is wrong with the value.
        reason: String,
    },

    /// No node name was given and the host name could not be read.
    #[error("failed to determine the node name: {0}")]
    NodeName(String),

    /// The HTTP server could not bind its address.
    #[error("failed to bind the HTTP server to {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The kubelet API could not be set up: a certificate, a CA bundle, or an
    /// authentication or authorization setting.
    #[error("kubelet API: {0}")]
    KubeletApi(kubelet_server::Error),

    /// The HTTP server stopped with an I/O error.
    #[error("the HTTP server on {addr} failed: {source}")]
    Serve {
        /// The address the server was bound to.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The global tracing subscriber could not be installed (one is already set).
    #[error("failed to install the logger: {0}")]
    Logging(String),

    /// The container runtime could not be reached or validated at start-up.
    #[error("container runtime: {0}")]
    Runtime(#[source] cri_client::Error),

    /// The volume manager could not start (its root directory, the mount table).
    #[error("volume manager: {0}")]
    Volumes(#[source] volume_manager::Error),

    /// The eviction manager could not be built (its settings are refused).
    #[error("eviction manager: {0}")]
    Eviction(#[source] pod_lifecycle::Error),

    /// The node's cgroups could not be set up.
    #[error("cgroups: {0}")]
    Cgroups(#[source] cgroup_enforcer::Error),

    /// Cluster mode could not start (the kubeconfig, the client, a part that needs a
    /// runtime).
    #[error("cluster mode: {0}")]
    Cluster(#[source] status_reporter::Error),

    /// A start-up task on the blocking pool panicked or was cancelled.
    #[error("start-up task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
}
