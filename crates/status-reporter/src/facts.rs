//! What the agent knows about the node and tells the reporter: resources, the runtime's
//! version and images, readiness, pressure.
//!
//! The reporter does not ask the container runtime or the cgroup tree anything (it depends on
//! neither `cri-client` nor `cgroup-enforcer`). The agent fills a [`NodeFacts`] from them and
//! publishes it on a `tokio::sync::watch` channel whenever something changes; the status loop
//! reads the latest value at each sync, as the kubelet's setters read `runtimeState`, the
//! container manager and the image manager.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::{NodeFeatures, NodeRuntimeHandler};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// Everything about the node that changes while the agent runs. `Default` is a node whose
/// runtime has not been checked yet and whose capacity is unknown: it registers NotReady.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeFacts {
    /// `status.capacity`: what the machine has.
    pub capacity: NodeResources,
    /// `status.allocatable`: what pods may use (capacity less the reservations), as the agent
    /// computes it (cgroup-enforcer's node allocatable). A resource of the capacity without an
    /// allocatable value is allocatable in full, as in the kubelet with no reservation.
    pub allocatable: NodeResources,
    /// `nodeInfo.containerRuntimeVersion`: `<runtime name>://<runtime version>` from CRI
    /// `Version` (`containerd://1.6.20`); see [`NodeFacts::container_runtime_version`]. Empty
    /// leaves the reported value as it is.
    pub container_runtime_version: String,
    /// The images the runtime holds (CRI `ListImages`), in any order: the reporter sorts them
    /// and keeps the `nodeStatusMaxImages` largest.
    pub images: Vec<NodeImage>,
    /// What makes the node Ready or not.
    pub readiness: NodeReadiness,
    /// Whether the eviction manager sees memory, disk or PID pressure.
    pub pressure: NodePressure,
    /// `status.runtimeHandlers` from CRI `Status` (sorted by name, as the kubelet keeps them);
    /// `None` leaves the reported value as it is.
    pub runtime_handlers: Option<Vec<NodeRuntimeHandler>>,
    /// `status.features` from CRI `Status` (`supplementalGroupsPolicy`); `None` leaves the
    /// reported value as it is.
    pub runtime_features: Option<NodeFeatures>,
}

impl NodeFacts {
    /// The `nodeInfo.containerRuntimeVersion` text the kubelet reports:
    /// `<runtime name>://<runtime version>`, the name and version CRI `Version` returns.
    ///
    /// ```
    /// assert_eq!(
    ///     status_reporter::NodeFacts::container_runtime_version("containerd", "1.6.20"),
    ///     "containerd://1.6.20",
    /// );
    /// ```
    pub fn container_runtime_version(runtime_name: &str, runtime_version: &str) -> String {
        format!("{runtime_name}://{runtime_version}")
    }
}

/// A set of node resources: the plain struct the agent fills for capacity and for allocatable.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeResources {
    /// `cpu` (cores, `4` or `3500m`).
    pub cpu: Option<Quantity>,
    /// `memory` (bytes, `16Gi`).
    pub memory: Option<Quantity>,
    /// `pods` (`maxPods`, 110 by default).
    pub pods: Option<Quantity>,
    /// `ephemeral-storage` (bytes of the kubelet's root file system).
    pub ephemeral_storage: Option<Quantity>,
    /// `hugepages-<size>`, keyed by page size as Kubernetes writes it (`2Mi`, `1Gi`).
    pub hugepages: BTreeMap<String, Quantity>,
    /// Any other resource, keyed by its full name (extended resources of device plugins,
    /// `example.com/gpu`).
    pub other: BTreeMap<String, Quantity>,
}

impl NodeResources {
    /// The resources as a Node's `capacity` / `allocatable` map.
    pub fn to_resource_list(&self) -> BTreeMap<String, Quantity> {
        let mut list = BTreeMap::new();
        for (name, value) in [
            ("cpu", &self.cpu),
            ("memory", &self.memory),
            ("pods", &self.pods),
            ("ephemeral-storage", &self.ephemeral_storage),
        ] {
            if let Some(value) = value {
                list.insert(name.to_owned(), value.clone());
            }
        }
        for (size, value) in &self.hugepages {
            list.insert(format!("hugepages-{size}"), value.clone());
        }
        for (name, value) in &self.other {
            list.insert(name.clone(), value.clone());
        }
        list
    }
}

/// One image the runtime holds, as CRI `Image` describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeImage {
    /// The image id (`sha256:...`); it breaks ties between images of the same size.
    pub id: String,
    /// Its repo digests (`registry/busybox@sha256:...`), reported before the tags.
    pub repo_digests: Vec<String>,
    /// Its tags (`registry/busybox:1`).
    pub repo_tags: Vec<String>,
    /// Its size in bytes.
    pub size_bytes: i64,
}

/// Eviction pressure, one flag per pressure condition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodePressure {
    /// MemoryPressure.
    pub memory: bool,
    /// DiskPressure.
    pub disk: bool,
    /// PIDPressure.
    pub pid: bool,
}

/// A CRI runtime condition (`RuntimeReady`, `NetworkReady`) as CRI `Status` returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeCondition {
    /// `RuntimeReady` or `NetworkReady`.
    pub type_: String,
    /// Whether the condition holds.
    pub status: bool,
    /// A brief reason.
    pub reason: String,
    /// A human-readable message.
    pub message: String,
}

impl fmt::Display for RuntimeCondition {
    /// The kubelet's `RuntimeCondition.String()`: `NetworkReady=false reason:R message:M`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={} reason:{} message:{}",
            self.type_, self.status, self.reason, self.message
        )
    }
}

/// When the container runtime last answered CRI `Status` with `RuntimeReady` true: the
/// kubelet's `lastBaseRuntimeSync` against its runtime sync threshold (30 s).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RuntimeSync {
    /// Never yet.
    #[default]
    Never,
    /// Within the threshold.
    Recent,
    /// Longer ago than the threshold: the runtime is down.
    Stale,
}

/// The container runtime's `RuntimeReady` condition in the last CRI `Status` answer (the
/// kubelet's `runtimeState.runtimeError`, set by `updateRuntimeUp`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RuntimeHealth {
    /// No answer yet, or the last call failed (the kubelet keeps the previous error then).
    #[default]
    Unknown,
    /// `RuntimeReady` is false or absent (`None`).
    NotReady(Option<RuntimeCondition>),
    /// `RuntimeReady` is true.
    Ready,
}

/// The pod network's health, from the runtime's `NetworkReady` condition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NetworkHealth {
    /// Not known yet (the kubelet's initial `ErrNetworkUnknown`).
    #[default]
    Unknown,
    /// `NetworkReady` is false or absent (`None`).
    NotReady(Option<RuntimeCondition>),
    /// `NetworkReady` is true.
    Ready,
}

/// What decides the Ready condition, besides missing capacity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeReadiness {
    /// When the runtime was last seen ready.
    pub runtime_sync: RuntimeSync,
    /// The runtime's `RuntimeReady` condition.
    pub runtime: RuntimeHealth,
    /// Failed runtime health checks, each as `<name> is not healthy: <error>` (the PLEG's
    /// `PLEG is not healthy: pleg was last seen active 3m0s ago; threshold is 3m0s`).
    pub health_checks: Vec<String>,
    /// The pod network.
    pub network: NetworkHealth,
    /// Storage errors, reported after the network's.
    pub storage_errors: Vec<String>,
    /// Node shutdown errors, reported last.
    pub shutdown_errors: Vec<String>,
    /// The container manager's unmet soft requirements; appended to the Ready message as
    /// `. WARNING: <text>` whether or not the node is ready.
    pub soft_requirements: Option<String>,
}

impl NodeReadiness {
    /// Runtime and network ready, nothing failing.
    pub fn ready() -> NodeReadiness {
        NodeReadiness {
            runtime_sync: RuntimeSync::Recent,
            runtime: RuntimeHealth::Ready,
            network: NetworkHealth::Ready,
            ..NodeReadiness::default()
        }
    }

    /// The errors that keep the node NotReady, in the kubelet's order and words
    /// (`runtimeState.runtimeErrors`, `networkErrors`, `storageErrors`, then the shutdown
    /// manager's).
    ///
    /// ```
    /// use status_reporter::{NetworkHealth, NodeReadiness, RuntimeHealth};
    ///
    /// assert_eq!(
    ///     NodeReadiness::default().errors(),
    ///     ["container runtime status check may not have completed yet", "network state unknown"],
    /// );
    /// assert!(NodeReadiness::ready().errors().is_empty());
    /// ```
    pub fn errors(&self) -> Vec<String> {
        let mut errors = Vec::new();
        match self.runtime_sync {
            RuntimeSync::Never => {
                errors.push("container runtime status check may not have completed yet".into());
            }
            RuntimeSync::Stale => errors.push("container runtime is down".into()),
            RuntimeSync::Recent => {}
        }
        errors.extend(self.health_checks.iter().cloned());
        if let RuntimeHealth::NotReady(condition) = &self.runtime {
            errors.push(format!(
                "container runtime not ready: {}",
                display_or_nil(condition.as_ref())
            ));
        }
        match &self.network {
            NetworkHealth::Unknown => errors.push("network state unknown".into()),
            NetworkHealth::NotReady(condition) => errors.push(format!(
                "container runtime network not ready: {}",
                display_or_nil(condition.as_ref())
            )),
            NetworkHealth::Ready => {}
        }
        errors.extend(self.storage_errors.iter().cloned());
        errors.extend(self.shutdown_errors.iter().cloned());
        errors
    }
}

/// Go's `%v` of a possibly nil pointer.
fn display_or_nil(condition: Option<&RuntimeCondition>) -> String {
    condition.map_or_else(|| "<nil>".to_owned(), ToString::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_and_network_messages_are_the_kubelets() {
        let readiness = NodeReadiness {
            runtime_sync: RuntimeSync::Recent,
            runtime: RuntimeHealth::NotReady(None),
            health_checks: vec!["PLEG is not healthy: pleg has yet to be successful".into()],
            network: NetworkHealth::NotReady(Some(RuntimeCondition {
                type_: "NetworkReady".into(),
                status: false,
                reason: "NetworkPluginNotReady".into(),
                message: "Network plugin returns error: cni plugin not initialized".into(),
            })),
            storage_errors: vec!["storage".into()],
            shutdown_errors: vec!["shutdown".into()],
            soft_requirements: None,
        };
        assert_eq!(
            readiness.errors(),
            [
                "PLEG is not healthy: pleg has yet to be successful",
                "container runtime not ready: <nil>",
                "container runtime network not ready: NetworkReady=false \
                 reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin \
                 not initialized",
                "storage",
                "shutdown",
            ]
        );
        let down = NodeReadiness {
            runtime_sync: RuntimeSync::Stale,
            ..NodeReadiness::ready()
        };
        assert_eq!(down.errors(), ["container runtime is down"]);
        // At start-up with a runtime that answers not ready, both are reported.
        let starting = NodeReadiness {
            runtime: RuntimeHealth::NotReady(None),
            ..NodeReadiness::default()
        };
        assert_eq!(
            starting.errors(),
            [
                "container runtime status check may not have completed yet",
                "container runtime not ready: <nil>",
                "network state unknown",
            ]
        );
    }

    #[test]
    fn resources_become_a_resource_list() {
        let resources = NodeResources {
            cpu: Some(Quantity("4".into())),
            memory: Some(Quantity("8Gi".into())),
            pods: Some(Quantity("110".into())),
            ephemeral_storage: None,
            hugepages: BTreeMap::from([("2Mi".to_owned(), Quantity("0".into()))]),
            other: BTreeMap::from([("example.com/gpu".to_owned(), Quantity("1".into()))]),
        };
        let list = resources.to_resource_list();
        assert_eq!(
            list.keys().map(String::as_str).collect::<Vec<_>>(),
            ["cpu", "example.com/gpu", "hugepages-2Mi", "memory", "pods"]
        );
    }
}
