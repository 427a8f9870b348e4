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

#![deny(missing_docs)]

mod cadence;
mod conditions;
mod config;
mod error;
mod facts;
mod host;
mod labels;
mod lease;
mod node;
mod node_watch;
mod patch;
mod quantity;
mod reporter;
mod status_loop;

use std::path::Path;

pub use cadence::{ReportCadence, jittered};
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
pub use patch::node_status_patch;
pub use quantity::quantities_equal;
pub use reporter::NodeStatusReporter;
pub use status_loop::{NODE_STATUS_UPDATE_TRIES, try_register};

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
