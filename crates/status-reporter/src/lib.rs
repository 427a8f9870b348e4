//! Node registration, node lease and node status reporting: the kubelet's node heartbeat as a
//! library over kube-client.
//!
//! [`NodeStatusReporter::start`] registers a Node (with the kubelet's labels, taints,
//! annotation, addresses, capacity, node info, images and conditions), keeps its status
//! current, and renews its `kube-node-lease` Lease, using only what the Node authorizer
//! grants `system:node:<name>` and what NodeRestriction admission accepts from it. The rules
//! are the kubelet's (`pkg/kubelet/kubelet_node_status.go`, `pkg/kubelet/nodestatus`, the
//! lease controller of `component-helpers`); each module names the Go code it follows.
//!
//! # Why the status is computed, compared, and only then sent
//!
//! The kubelet computes the node status every 10 s but sends it only when something other
//! than a heartbeat time changed, or every 5 minutes; liveness is the lease's job, renewed on
//! its own timer. Node agents that patch on every tick, or tie the heartbeat to the status,
//! load the API server and have been bitten by it (a 1-minute status period that let the node
//! go NotReady; patches from a stale copy that never converged). So the status here is a pure
//! function of the Node read back, the agent's facts and the time ([`update_node`]), compared
//! with what the server has ([`node_status_changed`], which treats `1Gi` and `1024Mi` alike),
//! and sent as a strategic merge patch of exactly the difference ([`node_status_patch`]). The
//! copy compared against comes from a watch of the Node, not from what was last sent, so a
//! status changed behind the agent's back (the node lifecycle controller marking it Unknown)
//! is corrected at the next sync.
//!
//! The reporter knows nothing of the container runtime or cgroups: the agent publishes
//! [`NodeFacts`] (capacity and allocatable, the runtime's version, images and readiness,
//! eviction pressure) on a `tokio::sync::watch` channel.
//!
//! # Where this differs from the kubelet
//!
//! - A Node deleted while the reporter runs is registered again at once (the watch sees the
//!   deletion, or a patch answers NotFound). The kubelet of v1.37 registers once per process
//!   (`registrationCompleted`) and needs a restart to come back.
//! - The lease's owner reference is moved to a re-registered Node's new UID, and a lease that
//!   could not be created for want of the Node is created as soon as the Node appears
//!   (the lease controller waits a renew interval and lets the garbage collector remove a
//!   stale lease first).
//! - At start-up the status is recomputed on every change of the facts until the node is
//!   reported Ready (for at most [`NODE_READY_GRACE_PERIOD`]), where `fastStatusUpdateOnce`
//!   polls every 100 ms; the first registration attempt is made at once, not after 100 ms.
//! - The node's address is found once (by the first sync that can), not on every sync.
//! - Events (`NodeReady`, `NodeHasSufficientMemory`, `NodeRebooted`, ...) are logged, not yet
//!   recorded in the API; the kubelet's `Starting` event is not sent.
//! - Not covered: cloud providers, pod CIDRs, `volumesInUse`, device-plugin resources that the
//!   kubelet zeroes on a re-created Node, `declaredFeatures`.
//!
//! # The Node a kubelet registers, without a cluster
//!
//! ```
//! use status_reporter::{
//!     HostInfo, NodeConfig, NodeFacts, NodeInputs, NodeReadiness, NodeResources, initial_node,
//!     node_status_changed, update_node,
//! };
//! use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
//! use jiff::{Timestamp, ToSpan};
//!
//! let config = NodeConfig::new("worker-1");
//! let host = HostInfo { machine_id: "abc".into(), ..HostInfo::default() };
//! let mut capacity = NodeResources::default();
//! capacity.cpu = Some(Quantity("4".into()));
//! capacity.memory = Some(Quantity("8Gi".into()));
//! capacity.pods = Some(Quantity("110".into()));
//! capacity.ephemeral_storage = Some(Quantity("100Gi".into()));
//! let facts = NodeFacts {
//!     capacity,
//!     container_runtime_version: NodeFacts::container_runtime_version("containerd", "1.6.20"),
//!     readiness: NodeReadiness::ready(),
//!     ..NodeFacts::default()
//! };
//! let inputs = NodeInputs { config: &config, host: &host, facts: &facts, addresses: &[] };
//!
//! let t0 = Timestamp::from_second(1_700_000_000)?;
//! let node = initial_node(&inputs, t0);
//! let status = node.status.as_ref().unwrap();
//! let ready = status.conditions.as_ref().unwrap().last().unwrap();
//! assert_eq!(ready.reason.as_deref(), Some("KubeletReady"));
//! assert_eq!(status.allocatable.as_ref().unwrap()["cpu"], Quantity("4".into()));
//!
//! // Ten seconds later nothing changed but the heartbeats: nothing to send.
//! let later = update_node(&node, &inputs, t0 + 10.seconds());
//! assert!(!later.changed);
//! assert!(!node_status_changed(node.status.as_ref(), later.node.status.as_ref()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Reporting a node
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use status_reporter::{HostInfo, NodeConfig, NodeFacts, NodeReadiness, NodeStatusReporter};
//!
//! let client = status_reporter::client_from_kubeconfig("/var/lib/nodelet/kubeconfig".as_ref()).await?;
//! let mut config = NodeConfig::new("worker-1");
//! config.kubelet_version = "v1.37.2".into();
//! config.node_labels.insert("node.kubernetes.io/pool".into(), "blue".into());
//!
//! let (facts, facts_rx) = tokio::sync::watch::channel(NodeFacts::default());
//! let reporter = NodeStatusReporter::start(client, config, HostInfo::read()?, facts_rx)?;
//!
//! // The agent publishes what it learns; the node turns Ready at once.
//! facts.send_modify(|f| f.readiness = NodeReadiness::ready());
//!
//! // ... later, on shutdown: stop the loops and wait for them.
//! reporter.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Events, ConfigMaps and Secrets, service-account tokens
//!
//! Three more API-facing parts a kubelet needs in cluster mode, each usable alone and each
//! limited to what the Node authorizer grants a node:
//! - [`EventRecorder`] (module `events`): core/v1 Events with client-go's correlation
//!   (counting, aggregation, spam filter), written in the background from a bounded queue;
//!   the node events of start-up and registration ([`EventRecorder::record_starting`],
//!   [`EventRecorder::record_node_conditions`]) are recorded by the agent, not by
//!   [`NodeStatusReporter`].
//! - [`ApiObjects`] (module `objects`): the ConfigMaps and Secrets registered pods reference,
//!   one watch per object, looked up without waiting, with change notifications.
//! - [`TokenManager`] (module `tokens`): projected service-account tokens from the
//!   TokenRequest API, bound to the pod, cached and refreshed at 80 % of their lifetime.
//!
//! # Pods: the API source, their status, mirror pods
//!
//! The pod side of the bridge (module `pods`), with the kubelet's rules and the node's own
//! identity:
//! - [`ApiPodSource`]: the pods bound to the node (a watch with `spec.nodeName=<node>`,
//!   relisted on 410 Gone), as a [`PodSourceUpdate`] channel (a snapshot after each list,
//!   then applied and deleted pods) and a shared [`NodePods`] view;
//! - [`PodStatusManager`]: a versioned status per pod, patched to `pods/<name>/status` only
//!   when it differs from the API server's, with the UID as a precondition (a pod recreated
//!   under the same name never gets its predecessor's status), reconciled every 10 s, and
//!   the final `DELETE` (grace period 0, UID precondition) of a pod whose termination is
//!   complete; a static pod's status goes to its mirror pod;
//! - [`MirrorPods`]: the mirror pod of each static pod, owned by the Node, recreated when
//!   deleted through the API and replaced when its static pod changed.
//!
//! Where they differ from the kubelet, the item says so; the main points: a single pod is
//! read with a list scoped by `metadata.name` and `spec.nodeName` (always allowed by the Node
//! authorizer) rather than a GET; a static pod's status goes only to a mirror pod with its
//! current hash, and as soon as that mirror pod appears; and the NodeRestriction rules for
//! mirror pods are checked before anything is sent.

#![deny(missing_docs)]

mod cadence;
mod conditions;
mod config;
mod error;
mod events;
mod facts;
mod host;
mod labels;
mod lease;
mod node;
mod node_watch;
mod objects;
mod patch;
mod pods;
mod quantity;
mod reporter;
mod status_loop;
mod strategic_merge;
mod tokens;

use std::path::Path;

pub use cadence::ReportCadence;
pub use conditions::{
    ConditionEvent, DISK_PRESSURE, FALSE, MEMORY_PRESSURE, PID_PRESSURE, Pressure, READY, TRUE,
    UNKNOWN, aggregate_message, set_pressure_condition, set_ready_condition,
};
pub use config::{
    DEFAULT_KUBELET_PORT, DEFAULT_NODE_LEASE_DURATION_SECONDS, DEFAULT_NODE_STATUS_MAX_IMAGES,
    DEFAULT_NODE_STATUS_REPORT_FREQUENCY, DEFAULT_NODE_STATUS_UPDATE_FREQUENCY,
    NODE_LEASE_NAMESPACE, NODE_LEASE_RENEW_INTERVAL_FRACTION, NODE_READY_GRACE_PERIOD, NodeConfig,
};
pub use error::{Error, Result};
pub use events::{
    DEFAULT_EVENT_BURST, DEFAULT_EVENT_NAMESPACE, DEFAULT_EVENT_RECORD_QPS, EVENT_QUEUE_CAPACITY,
    EVENT_RETRY_INTERVAL, EventRecorder, EventRecorderConfig, EventType, KUBELET_COMPONENT,
    MAX_TRIES_PER_EVENT, REBOOTED_REASON, STARTING_MESSAGE, STARTING_REASON, container_reference,
    node_reference, node_reference_of, pod_reference, pod_reference_by_name,
};
pub use facts::{
    NetworkHealth, NodeFacts, NodeImage, NodePressure, NodeReadiness, NodeResources,
    RuntimeCondition, RuntimeHealth, RuntimeSync,
};
pub use host::{HostInfo, go_arch, go_os, node_addresses, system_hostname, validate_node_ips};
pub use labels::{
    ANNOTATION_CONTROLLER_MANAGED_ATTACH_DETACH, KUBELET_LABEL_NAMESPACES, KUBELET_LABELS,
    LABEL_ARCH, LABEL_ARCH_BETA, LABEL_HOSTNAME, LABEL_OS, LABEL_OS_BETA,
    NODE_RESTRICTION_NAMESPACE, is_forbidden_node_label, is_kubelet_label, validate_node_labels,
    validate_taints,
};
pub use lease::{LEASE_MAX_BACKOFF, LEASE_UPDATE_TRIES};
pub use node::{
    MAX_NAMES_PER_IMAGE, NodeEvent, NodeInputs, NodeUpdate, api_time, initial_node,
    node_status_changed, reconcile_existing_node, set_node_status, update_node,
};
pub use objects::{
    ApiObjects, DEFAULT_SYNC_TIMEOUT, OBJECT_CHANGES_CAPACITY, ObjectChange, ObjectKind, ObjectRef,
    ObjectWatchError, merge_string_data, pod_object_refs,
};
pub use patch::node_status_patch;
pub use pods::{
    API_SOURCE, ApiPodSource, ApiPodSourceConfig, CONFIG_HASH_ANNOTATION, CONFIG_MIRROR_ANNOTATION,
    CONFIG_SOURCE_ANNOTATION, DEFAULT_POD_STATUS_RESYNC_PERIOD, DEFAULT_POD_UPDATE_CAPACITY,
    DEFAULT_POD_WATCH_TIMEOUT, DISRUPTION_TARGET, KUBELET_POD_CONDITIONS,
    MAX_POD_TERMINATION_MESSAGE_LENGTH, MirrorPodSync, MirrorPods, NodePods, POD_REQUEST_TIMEOUT,
    PodSourceUpdate, PodStatusManager, PodStatusManagerConfig, PodStatusStats,
    api_object_reference, config_hash, is_kubelet_pod_condition, is_mirror_pod, is_mirror_pod_of,
    is_static_pod, merge_pod_status, mirror_hash, mirror_pod, normalize_pod_status,
    pod_status_changed, pod_status_patch, terminated_pod_status,
};
pub use quantity::quantities_equal;
pub use reporter::NodeStatusReporter;
pub use status_loop::{NODE_STATUS_UPDATE_TRIES, try_register};
pub use tokens::{
    DEFAULT_TOKEN_EXPIRATION_SECONDS, KUBE_API_ACCESS_TOKEN_EXPIRATION_SECONDS,
    MIN_TOKEN_EXPIRATION_SECONDS, ROOT_CA_CONFIG_MAP, ROOT_CA_KEY, ServiceAccountToken,
    ServiceAccountTokenRequest, TOKEN_GC_PERIOD, TOKEN_MAX_AGE, TOKEN_MAX_JITTER, TokenManager,
    root_ca_certificate, token_requires_refresh,
};

/// The client configuration of a kubeconfig file (its current context).
pub async fn config_from_kubeconfig(path: &Path) -> Result<kube::Config> {
    let kubeconfig_error = |source| Error::Kubeconfig {
        path: path.to_path_buf(),
        source,
    };
    let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(kubeconfig_error)?;
    kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(kubeconfig_error)
}

/// A client for the API server of a kubeconfig file (rustls, its current context).
pub async fn client_from_kubeconfig(path: &Path) -> Result<kube::Client> {
    let config = config_from_kubeconfig(path).await?;
    kube::Client::try_from(config).map_err(Error::Client)
}
