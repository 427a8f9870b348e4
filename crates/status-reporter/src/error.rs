//! The crate's one error type.

use std::path::PathBuf;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while registering a node, reporting its status or renewing its lease.
///
/// Two families. Configuration errors ([`Error::ForbiddenNodeLabels`],
/// [`Error::InvalidNodeLabels`], [`Error::InvalidTaint`], [`Error::InvalidConfig`],
/// [`Error::InvalidNodeIp`]) are found before any request is sent, the way the kubelet
/// refuses bad flags at start-up instead of letting the API server refuse the Node over and
/// over. API errors ([`Error::Api`] and the retry-count errors) come from the loops; the
/// loops log them and retry, and they reach a caller only through the functions that make
/// one attempt.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Node labels that the NodeRestriction admission plugin refuses from a node: unknown
    /// labels in the `kubernetes.io` and `k8s.io` namespaces, and the reserved
    /// `node-restriction.kubernetes.io` namespace (the kubelet's `ValidateKubeletFlags`).
    #[error(
        "node {node}: node labels {labels:?} may not be set by a node: labels in the \
         'kubernetes.io' or 'k8s.io' namespaces must begin with an allowed prefix \
         ({allowed_prefixes}) or be one of {allowed_labels}, and the node-restriction.kubernetes.io \
         namespace is reserved for the cluster's administrators (NodeRestriction admission)"
    )]
    ForbiddenNodeLabels {
        /// The node's name.
        node: String,
        /// The refused label keys, sorted.
        labels: Vec<String>,
        /// The namespaces a node may use, joined with ", ".
        allowed_prefixes: String,
        /// The label keys a node may set, joined with ", ".
        allowed_labels: String,
    },

    /// Node labels whose key is not a qualified name or whose value is not a label value.
    #[error("node {node}: invalid node labels: {}", problems.join("; "))]
    InvalidNodeLabels {
        /// The node's name.
        node: String,
        /// One entry per bad key or value: `'key' - what is wrong`.
        problems: Vec<String>,
    },

    /// A taint of `registerWithTaints` the API server would refuse.
    #[error("node {node}: invalid taint {taint:?}: {problem}")]
    InvalidTaint {
        /// The node's name.
        node: String,
        /// The taint as `key=value:effect`.
        taint: String,
        /// What is wrong with it.
        problem: String,
    },

    /// A setting that cannot work (a zero frequency, a non-positive lease duration, a node
    /// name that is not a DNS subdomain).
    #[error("node {node}: invalid {field}: {problem}")]
    InvalidConfig {
        /// The node's name.
        node: String,
        /// The setting, as the kubelet configuration names it (`nodeLeaseDurationSeconds`).
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },

    /// A configured node IP the node cannot use (loopback, multicast, not on this host...).
    #[error("node {node}: node IP {ip} cannot be used: {problem}")]
    InvalidNodeIp {
        /// The node's name.
        node: String,
        /// The address.
        ip: std::net::IpAddr,
        /// What is wrong with it.
        problem: String,
    },

    /// No address could be found for the node (the kubelet's "can't get ip address of node").
    #[error("node {node}: can't get ip address of node: {problem}")]
    NoNodeAddress {
        /// The node's name.
        node: String,
        /// What was tried.
        problem: String,
    },

    /// A host file could not be read.
    #[error("reading {}: {source}", path.display())]
    Host {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },

    /// A kubeconfig could not be read or used.
    #[error("loading kubeconfig {}: {source}", path.display())]
    Kubeconfig {
        /// The kubeconfig file.
        path: PathBuf,
        /// The error.
        #[source]
        source: kube::config::KubeconfigError,
    },

    /// The API client could not be built from a configuration.
    #[error("building the API client: {0}")]
    Client(#[source] kube::Error),

    /// An API request failed.
    #[error("node {node}: {action}: {source}")]
    Api {
        /// The node's name.
        node: String,
        /// What was being done (`creating the node`, `patching the node status`).
        action: &'static str,
        /// The client's error (for an API refusal, `kube::Error::Api` with the status).
        #[source]
        source: kube::Error,
    },

    /// A heartbeat request (status, lease) got no answer in time: the kubelet's heartbeat client
    /// times out after the smaller of `nodeStatusUpdateFrequency` and
    /// `nodeLeaseDurationSeconds`.
    #[error("node {node}: {action}: no answer within {after:?}")]
    Timeout {
        /// The node's name.
        node: String,
        /// What was being done.
        action: &'static str,
        /// The timeout.
        after: std::time::Duration,
    },

    /// The Node object does not exist (and this reporter does not register it, or has not
    /// yet).
    #[error("node {node}: the Node object does not exist")]
    NodeNotFound {
        /// The node's name.
        node: String,
    },

    /// Every try of one node status update failed (the kubelet's "update node status exceeds
    /// retry count").
    #[error("node {node}: update node status exceeds retry count ({tries} tries)")]
    StatusRetriesExhausted {
        /// The node's name.
        node: String,
        /// How many tries were made.
        tries: u32,
    },

    /// Every try of one lease renewal failed (the lease controller's "failed 5 attempts to
    /// update lease").
    #[error("node {node}: failed {tries} attempts to update lease")]
    LeaseRetriesExhausted {
        /// The node's name.
        node: String,
        /// How many tries were made.
        tries: u32,
    },

    /// A patch could not be built (a Node that does not serialize).
    #[error("node {node}: building the status patch: {source}")]
    Patch {
        /// The node's name.
        node: String,
        /// The error.
        #[source]
        source: serde_json::Error,
    },

    /// The reporter was started outside a tokio runtime (its loops are tokio tasks).
    #[error("node {node}: the status reporter needs a tokio runtime")]
    NoRuntime {
        /// The node's name.
        node: String,
    },

    /// A part of the agent (event recorder, API object cache) was started outside a tokio
    /// runtime (it runs tokio tasks).
    #[error("node {node}: the {component} needs a tokio runtime")]
    NeedsRuntime {
        /// The node's name.
        node: String,
        /// What was started.
        component: &'static str,
    },

    /// A pod that cannot be used as asked (registered without a UID, a token requested for a
    /// pod without a service account).
    #[error("pod {pod}: {problem}")]
    InvalidPod {
        /// The pod as `namespace/name`.
        pod: String,
        /// What is wrong with it.
        problem: &'static str,
    },

    /// A ConfigMap or Secret was looked up that no registered pod references (the kubelet's
    /// "object not registered").
    #[error(
        "{kind} {namespace}/{name}: not registered: no pod registered with the object cache references it"
    )]
    ObjectNotRegistered {
        /// `configmap` or `secret`.
        kind: crate::objects::ObjectKind,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },

    /// A referenced ConfigMap or Secret whose first list has not completed (the kubelet's
    /// "failed to sync configmap cache").
    #[error(
        "{kind} {namespace}/{name}: failed to sync {kind} cache: not listed from the API server yet{}",
        last_error.as_ref().map(|e| format!(" (last attempt: {e})")).unwrap_or_default()
    )]
    ObjectNotSynced {
        /// `configmap` or `secret`.
        kind: crate::objects::ObjectKind,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The last failed list or watch, if any.
        #[source]
        last_error: Option<crate::objects::ObjectWatchError>,
    },

    /// The API server refused to show a ConfigMap or Secret to the node: the Node authorizer
    /// lets a node read only the objects that pods bound to it reference.
    #[error(
        "node {node}: reading {kind} {namespace}/{name} is forbidden: the Node authorizer lets a \
         node read only the secrets and configmaps referenced by pods bound to it: {source}"
    )]
    ObjectForbidden {
        /// The node's name.
        node: String,
        /// `configmap` or `secret`.
        kind: crate::objects::ObjectKind,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The refused list or watch.
        #[source]
        source: crate::objects::ObjectWatchError,
    },

    /// A TokenRequest failed (refused by the API server, or not answered).
    #[error("pod {pod} ({uid}): {action} for service account {service_account}: {source}")]
    TokenRequest {
        /// The pod as `namespace/name`.
        pod: String,
        /// The pod's UID.
        uid: String,
        /// The service account.
        service_account: String,
        /// What was being done (`requesting a service account token`).
        action: &'static str,
        /// The client's error (for an API refusal, `kube::Error::Api` with the status).
        #[source]
        source: Box<kube::Error>,
    },

    /// The answer to a TokenRequest was not a token (never quoting it).
    #[error(
        "pod {pod} ({uid}): the TokenRequest answer for service account {service_account} \
         {problem}"
    )]
    TokenAnswer {
        /// The pod as `namespace/name`.
        pod: String,
        /// The pod's UID.
        uid: String,
        /// The service account.
        service_account: String,
        /// What is wrong with it.
        problem: String,
    },

    /// A cached token expired and could not be refreshed (the kubelet's "token expired and
    /// refresh failed").
    #[error(
        "pod {pod} ({uid}): the token of service account {service_account} expired at \
         {expired} and refresh failed: {source}"
    )]
    TokenExpired {
        /// The pod as `namespace/name`.
        pod: String,
        /// The pod's UID.
        uid: String,
        /// The service account.
        service_account: String,
        /// When the cached token expired.
        expired: jiff::Timestamp,
        /// The failed refresh.
        #[source]
        source: Box<Error>,
    },

    /// A request about a pod failed (the pod status manager, mirror pods).
    #[error("pod {pod} ({uid}): {action}: {source}")]
    PodApi {
        /// The pod as `namespace/name`.
        pod: String,
        /// The pod's UID (for a mirror pod being created, its static pod's).
        uid: String,
        /// What was being done (`patching the pod status`, `creating the mirror pod`).
        action: &'static str,
        /// The client's error (for an API refusal, `kube::Error::Api` with the status).
        #[source]
        source: Box<kube::Error>,
    },

    /// A request about a pod got no answer in time.
    #[error("pod {pod} ({uid}): {action}: no answer within {after:?}")]
    PodTimeout {
        /// The pod as `namespace/name`.
        pod: String,
        /// The pod's UID.
        uid: String,
        /// What was being done.
        action: &'static str,
        /// The timeout.
        after: std::time::Duration,
    },

    /// No mirror pod can be made for a pod: it is not a static pod, or the NodeRestriction
    /// admission plugin would refuse it from the node (bound to another node, referencing
    /// secrets, config maps, service accounts...).
    #[error("pod {pod} ({uid}): cannot create a mirror pod: {problem}")]
    MirrorPod {
        /// The static pod as `namespace/name`.
        pod: String,
        /// The static pod's UID.
        uid: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl Error {
    /// Whether this is an API error with HTTP status `code`.
    pub fn is_api_status(&self, code: u16) -> bool {
        matches!(self, Error::Api { source: kube::Error::Api(status), .. } if status.code == code)
    }
}

/// Runs one heartbeat request with `timeout`; a refusal becomes [`Error::Api`] and no answer
/// [`Error::Timeout`], both naming `action`.
pub(crate) async fn timed<T>(
    node: &str,
    action: &'static str,
    timeout: std::time::Duration,
    request: impl Future<Output = kube::Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(timeout, request).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(source)) => Err(Error::Api {
            node: node.to_owned(),
            action,
            source,
        }),
        Err(_) => Err(Error::Timeout {
            node: node.to_owned(),
            action,
            after: timeout,
        }),
    }
}

/// The client error inside an [`Error::Api`].
pub(crate) fn api_source(e: &Error) -> Option<&kube::Error> {
    match e {
        Error::Api { source, .. } => Some(source),
        _ => None,
    }
}

/// Whether a kube error is the API's NotFound.
pub(crate) fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(status) if status.is_not_found())
}

/// Whether a kube error is the API's Conflict (an optimistic-lock failure).
pub(crate) fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(status) if status.is_conflict())
}

/// Whether a kube error is the API's AlreadyExists.
pub(crate) fn is_already_exists(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(status) if status.is_already_exists())
}

/// Whether a kube error is the API's Forbidden.
pub(crate) fn is_forbidden(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(status) if status.is_forbidden())
}
