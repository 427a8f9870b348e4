//! The Node object as the kubelet builds it: the initial Node it registers
//! (`initialNode`), the status setters it runs on every sync (`defaultNodeStatusFuncs`,
//! `pkg/kubelet/nodestatus/setters.go`), the reconciliation of an existing Node at
//! registration (`tryRegisterWithAPIServer`), and the change test that decides whether a
//! status is sent (`nodeStatusHasChanged`).
//!
//! Everything here is pure: inputs and the time go in, a Node comes out.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    ContainerImage, DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints,
    NodeSpec, NodeStatus, NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use crate::conditions::{ConditionEvent, Pressure, set_pressure_condition, set_ready_condition};
use crate::config::NodeConfig;
use crate::facts::{NodeFacts, NodeImage};
use crate::host::{HostInfo, go_arch, go_os};
use crate::labels::{
    ANNOTATION_CONTROLLER_MANAGED_ATTACH_DETACH, DEFAULT_LABELS, LABEL_ARCH, LABEL_ARCH_BETA,
    LABEL_HOSTNAME, LABEL_OS, LABEL_OS_BETA,
};
use crate::quantity::quantities_equal;

/// At most this many names are reported per image (`MaxNamesPerImageInNodeStatus`).
pub const MAX_NAMES_PER_IMAGE: usize = 5;

/// What the Node is built from.
#[derive(Debug, Clone, Copy)]
pub struct NodeInputs<'a> {
    /// The settings.
    pub config: &'a NodeConfig,
    /// The machine's identity and software.
    pub host: &'a HostInfo,
    /// The agent's latest facts.
    pub facts: &'a NodeFacts,
    /// `status.addresses` ([`node_addresses`](crate::node_addresses)); empty leaves the
    /// Node's addresses as they are (the kubelet's setter fails and changes nothing when it
    /// finds no address).
    pub addresses: &'a [NodeAddress],
}

/// Something the kubelet records an event for while it sets the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    /// A condition changed (`NodeReady`, `NodeHasSufficientMemory`, ...; type Normal).
    Condition(ConditionEvent),
    /// The boot id changed (`NodeRebooted`, type Warning,
    /// `Node <name> has been rebooted, boot id: <id>`).
    Rebooted {
        /// The new boot id.
        boot_id: String,
    },
    /// `spec.unschedulable` changed (`kubectl cordon`/`uncordon`): `NodeSchedulable` or
    /// `NodeNotSchedulable`, type Normal, `Node <name> status is now: <reason>`
    /// (`recordNodeSchedulableEvent`).
    Schedulable {
        /// Whether the node is schedulable now.
        schedulable: bool,
    },
}

impl NodeEvent {
    /// The event's reason (`NodeReady`, `Rebooted`, `NodeNotSchedulable`, ...).
    pub fn reason(&self) -> &'static str {
        match self {
            NodeEvent::Condition(c) => c.reason,
            NodeEvent::Rebooted { .. } => "Rebooted",
            NodeEvent::Schedulable { schedulable: true } => "NodeSchedulable",
            NodeEvent::Schedulable { schedulable: false } => "NodeNotSchedulable",
        }
    }
}

/// `now` as the API stores it: whole seconds (`metav1.Time` serializes RFC 3339 seconds), so
/// a condition computed here compares equal to the one read back.
pub fn api_time(now: Timestamp) -> Time {
    Time(Timestamp::from_second(now.as_second()).unwrap_or(now))
}

/// The Node the kubelet registers (`initialNode`): name; the hostname, OS and architecture
/// labels (with the beta OS/arch labels the kubelet still sets) overlaid by the configured
/// labels; `registerWithTaints`; the attach/detach annotation; the provider id; and a full
/// status.
///
/// ```
/// use status_reporter::{HostInfo, NodeConfig, NodeFacts, NodeInputs, initial_node};
///
/// let config = NodeConfig::new("worker-1");
/// let (host, facts) = (HostInfo::default(), NodeFacts::default());
/// let inputs = NodeInputs { config: &config, host: &host, facts: &facts, addresses: &[] };
/// let node = initial_node(&inputs, jiff::Timestamp::UNIX_EPOCH);
/// let labels = node.metadata.labels.unwrap();
/// assert_eq!(labels["kubernetes.io/hostname"], "worker-1");
/// assert_eq!(labels["kubernetes.io/os"], "linux");
/// // Nothing is known yet: the node registers NotReady, Ready last.
/// let ready = node.status.unwrap().conditions.unwrap().pop().unwrap();
/// assert_eq!((ready.type_.as_str(), ready.status.as_str()), ("Ready", "False"));
/// ```
pub fn initial_node(inputs: &NodeInputs<'_>, now: Timestamp) -> Node {
    let config = inputs.config;
    let mut labels = BTreeMap::from([
        (LABEL_HOSTNAME.to_owned(), config.hostname.clone()),
        (LABEL_OS.to_owned(), go_os().to_owned()),
        (LABEL_ARCH.to_owned(), go_arch().to_owned()),
        (LABEL_OS_BETA.to_owned(), go_os().to_owned()),
        (LABEL_ARCH_BETA.to_owned(), go_arch().to_owned()),
    ]);
    // The configured labels win over the defaults (the kubelet logs that they do).
    labels.extend(config.node_labels.clone());
    let annotations = config.enable_controller_attach_detach.then(|| {
        BTreeMap::from([(
            ANNOTATION_CONTROLLER_MANAGED_ATTACH_DETACH.to_owned(),
            "true".to_owned(),
        )])
    });
    let mut node = Node {
        metadata: ObjectMeta {
            name: Some(config.node_name.clone()),
            labels: Some(labels),
            annotations,
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            taints: (!config.register_with_taints.is_empty())
                .then(|| config.register_with_taints.clone()),
            provider_id: config.provider_id.clone(),
            ..NodeSpec::default()
        }),
        status: Some(NodeStatus::default()),
    };
    set_node_status(&mut node, inputs, now);
    node
}

/// Runs the kubelet's status setters on `node` at `now`, in the kubelet's order: addresses,
/// machine info (capacity, allocatable, identity), version info, daemon endpoints, images, Go
/// runtime, runtime handlers and features, then MemoryPressure, DiskPressure, PIDPressure and
/// Ready. Fields the kubelet does not own (other conditions, volumes, capacity keys others
/// added) are left as they are. Returns the events the kubelet would record.
pub fn set_node_status(node: &mut Node, inputs: &NodeInputs<'_>, now: Timestamp) -> Vec<NodeEvent> {
    let NodeInputs {
        config,
        host,
        facts,
        addresses,
    } = *inputs;
    let now = api_time(now);
    let mut events = Vec::new();
    let status = node.status.get_or_insert_with(NodeStatus::default);

    // NodeAddress
    if !addresses.is_empty() {
        status.addresses = Some(addresses.to_vec());
    }

    // MachineInfo: capacity is merged (resources others advertise stay), allocatable follows
    // capacity, less what the agent reserves.
    let capacity = status.capacity.get_or_insert_with(BTreeMap::new);
    for (name, value) in facts.capacity.to_resource_list() {
        set_quantity(capacity, name, value);
    }
    let wanted_allocatable = facts.allocatable.to_resource_list();
    let allocatable = status.allocatable.get_or_insert_with(BTreeMap::new);
    allocatable.retain(|name, _| capacity.contains_key(name) || !is_extended_resource_name(name));
    for (name, value) in capacity.iter() {
        let value = wanted_allocatable.get(name).unwrap_or(value);
        set_quantity(allocatable, name.clone(), value.clone());
    }
    let info = status.node_info.get_or_insert_with(NodeSystemInfo::default);
    info.machine_id.clone_from(&host.machine_id);
    info.system_uuid.clone_from(&host.system_uuid);
    if !info.boot_id.is_empty() && info.boot_id != host.boot_id {
        events.push(NodeEvent::Rebooted {
            boot_id: host.boot_id.clone(),
        });
    }
    info.boot_id.clone_from(&host.boot_id);

    // VersionInfo (kubeProxyVersion is cleared: DisableNodeKubeProxyVersion is on since 1.33)
    info.kernel_version.clone_from(&host.kernel_version);
    info.os_image.clone_from(&host.os_image);
    if !facts.container_runtime_version.is_empty() {
        info.container_runtime_version
            .clone_from(&facts.container_runtime_version);
    }
    info.kubelet_version.clone_from(&config.kubelet_version);
    info.kube_proxy_version.clear();

    // GoRuntime
    info.operating_system = go_os().to_owned();
    info.architecture = go_arch().to_owned();

    // DaemonEndpoints
    status.daemon_endpoints = Some(NodeDaemonEndpoints {
        kubelet_endpoint: Some(DaemonEndpoint {
            port: config.kubelet_port,
        }),
    });

    // Images
    status.images = node_images(&facts.images, config.node_status_max_images);

    // RuntimeHandlers, NodeFeatures
    if let Some(handlers) = &facts.runtime_handlers {
        status.runtime_handlers = Some(handlers.clone());
    }
    if let Some(features) = &facts.runtime_features {
        status.features = Some(features.clone());
    }

    // Conditions
    let mut missing = Vec::new();
    let required: &[&str] = if config.local_storage_capacity_isolation {
        &["cpu", "memory", "pods", "ephemeral-storage"]
    } else {
        &["cpu", "memory", "pods"]
    };
    for name in required {
        if !status
            .capacity
            .as_ref()
            .is_some_and(|c| c.contains_key(*name))
        {
            missing.push(*name);
        }
    }
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    for (pressure, on) in [
        (Pressure::Memory, facts.pressure.memory),
        (Pressure::Disk, facts.pressure.disk),
        (Pressure::Pid, facts.pressure.pid),
    ] {
        events.extend(
            set_pressure_condition(conditions, pressure, on, &now).map(NodeEvent::Condition),
        );
    }
    let mut errors = facts.readiness.errors();
    if !missing.is_empty() {
        errors.push(format!(
            "missing node capacity for resources: {}",
            missing.join(", ")
        ));
    }
    events.extend(
        set_ready_condition(
            conditions,
            &errors,
            facts.readiness.soft_requirements.as_deref(),
            &now,
        )
        .map(NodeEvent::Condition),
    );
    normalize(status);
    events
}

/// The outcome of [`update_node`].
#[derive(Debug, Clone)]
pub struct NodeUpdate {
    /// The Node with the new status.
    pub node: Node,
    /// Whether anything besides heartbeat times changed: the status must be sent.
    pub changed: bool,
    /// The events of the condition transitions.
    pub events: Vec<NodeEvent>,
}

/// Runs the status setters on a copy of `original` (the kubelet's `updateNode`) and says
/// whether anything besides heartbeats changed: the status ([`node_status_changed`]) or the
/// required OS and architecture labels, which are put back when missing.
pub fn update_node(original: &Node, inputs: &NodeInputs<'_>, now: Timestamp) -> NodeUpdate {
    let mut node = original.clone();
    let labels = node.metadata.labels.get_or_insert_with(BTreeMap::new);
    let mut labels_changed = false;
    for (key, value) in [(LABEL_OS, go_os()), (LABEL_ARCH, go_arch())] {
        if labels.get(key).map(String::as_str) != Some(value) {
            labels.insert(key.to_owned(), value.to_owned());
            labels_changed = true;
        }
    }
    let events = set_node_status(&mut node, inputs, now);
    let changed =
        labels_changed || node_status_changed(original.status.as_ref(), node.status.as_ref());
    NodeUpdate {
        node,
        changed,
        events,
    }
}

/// Whether two statuses differ in anything but the conditions' heartbeat times
/// (`nodeStatusHasChanged`): conditions are compared by type, whatever their order.
pub fn node_status_changed(original: Option<&NodeStatus>, status: Option<&NodeStatus>) -> bool {
    let (original, status) = match (original, status) {
        (None, None) => return false,
        (Some(a), Some(b)) => (a, b),
        _ => return true,
    };
    let comparable = |conditions: &Option<Vec<NodeCondition>>| {
        let mut list: Vec<NodeCondition> = conditions.clone().unwrap_or_default();
        list.sort_by(|a, b| a.type_.cmp(&b.type_));
        for condition in &mut list {
            condition.last_heartbeat_time = None;
        }
        list
    };
    if comparable(&original.conditions) != comparable(&status.conditions) {
        return true;
    }
    let mut a = original.clone();
    let mut b = status.clone();
    a.conditions = None;
    b.conditions = None;
    normalize(&mut a);
    normalize(&mut b);
    a != b
}

/// Reconciles an existing Node with the one this node would register
/// (`tryRegisterWithAPIServer`): the attach/detach annotation
/// (`reconcileCMADAnnotationWithExistingNode`), the default labels (`updateDefaultLabels`), a
/// missing capacity or allocatable (`updateDefaultResources`) and the huge page sizes
/// (`reconcileHugePageResource`). Configured labels and taints are not reconciled: the kubelet
/// sets them only when it creates the Node. Returns whether `existing` changed.
pub fn reconcile_existing_node(initial: &Node, existing: &mut Node) -> bool {
    let mut changed = false;

    // The attach/detach annotation.
    let wanted = initial
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_CONTROLLER_MANAGED_ATTACH_DETACH));
    let current = existing
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_CONTROLLER_MANAGED_ATTACH_DETACH));
    if wanted.map_or("", String::as_str) != current.map_or("", String::as_str) {
        let annotations = existing
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new);
        match wanted {
            Some(value) => {
                annotations.insert(
                    ANNOTATION_CONTROLLER_MANAGED_ATTACH_DETACH.to_owned(),
                    value.clone(),
                );
            }
            None => {
                annotations.remove(ANNOTATION_CONTROLLER_MANAGED_ATTACH_DETACH);
            }
        }
        changed = true;
    }

    // The default labels.
    let initial_labels = initial.metadata.labels.clone().unwrap_or_default();
    let labels = existing.metadata.labels.get_or_insert_with(BTreeMap::new);
    for key in DEFAULT_LABELS {
        let Some(value) = initial_labels.get(key) else {
            continue;
        };
        if labels.get(key) != Some(value) {
            labels.insert(key.to_owned(), value.clone());
            changed = true;
        }
        if labels.get(key).is_some_and(String::is_empty) {
            labels.remove(key);
        }
    }

    // Capacity and allocatable when missing, then the huge page sizes.
    let initial_status = initial.status.clone().unwrap_or_default();
    let status = existing.status.get_or_insert_with(NodeStatus::default);
    for (existing_list, initial_list) in [
        (&mut status.capacity, &initial_status.capacity),
        (&mut status.allocatable, &initial_status.allocatable),
    ] {
        if existing_list.is_none()
            && let Some(list) = initial_list
        {
            *existing_list = Some(list.clone());
            changed = true;
        }
    }
    let initial_capacity = initial_status.capacity.unwrap_or_default();
    let initial_allocatable = initial_status.allocatable.unwrap_or_default();
    let capacity = status.capacity.get_or_insert_with(BTreeMap::new);
    let allocatable = status.allocatable.get_or_insert_with(BTreeMap::new);
    for (name, value) in initial_capacity
        .iter()
        .filter(|(name, _)| is_hugepages(name))
    {
        let supported = capacity.contains_key(name);
        if !supported
            || !capacity
                .get(name)
                .is_some_and(|v| quantities_equal(v, value))
        {
            capacity.insert(name.clone(), value.clone());
            changed = true;
        }
        let wanted = initial_allocatable
            .get(name)
            .cloned()
            .unwrap_or_else(|| Quantity("0".into()));
        if !supported
            || !allocatable
                .get(name)
                .is_some_and(|v| quantities_equal(v, &wanted))
        {
            allocatable.insert(name.clone(), wanted);
            changed = true;
        }
    }
    let unsupported: Vec<String> = capacity
        .keys()
        .filter(|name| is_hugepages(name) && !initial_capacity.contains_key(*name))
        .cloned()
        .collect();
    for name in unsupported {
        capacity.remove(&name);
        allocatable.remove(&name);
        changed = true;
    }
    changed
}

/// `status.images`: sorted by size, largest first, ties by id descending (`ByImageSize`),
/// at most `max` (-1: all), each with its digests then tags, at most
/// [`MAX_NAMES_PER_IMAGE`] names.
fn node_images(images: &[NodeImage], max: i32) -> Option<Vec<ContainerImage>> {
    let mut sorted: Vec<&NodeImage> = images.iter().collect();
    sorted.sort_by(|a, b| {
        b.size_bytes
            .cmp(&a.size_bytes)
            .then_with(|| b.id.cmp(&a.id))
    });
    if let Ok(max) = usize::try_from(max) {
        sorted.truncate(max);
    }
    let images: Vec<ContainerImage> = sorted
        .into_iter()
        .map(|image| {
            let names: Vec<String> = image
                .repo_digests
                .iter()
                .chain(&image.repo_tags)
                .take(MAX_NAMES_PER_IMAGE)
                .cloned()
                .collect();
            ContainerImage {
                names: (!names.is_empty()).then_some(names),
                size_bytes: Some(image.size_bytes),
            }
        })
        .collect();
    (!images.is_empty()).then_some(images)
}

/// Sets `list[name] = value`, keeping the present text when it is the same amount (the API
/// server's canonical spelling), so an unchanged resource never looks changed.
fn set_quantity(list: &mut BTreeMap<String, Quantity>, name: String, value: Quantity) {
    match list.get(&name) {
        Some(present) if quantities_equal(present, &value) => {}
        _ => {
            list.insert(name, value);
        }
    }
}

fn is_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

/// `v1helper.IsExtendedResourceName`: a resource outside the `kubernetes.io` namespace, with
/// a prefix, and not a quota `requests.` name.
fn is_extended_resource_name(name: &str) -> bool {
    let native = !name.contains('/') || name.contains("kubernetes.io/");
    !native && !name.starts_with("requests.")
}

/// Empty lists and maps as absent, as the API server returns them (Go's `omitempty`), so a
/// computed status compares equal to the one read back.
fn normalize(status: &mut NodeStatus) {
    fn vec<T>(v: &mut Option<Vec<T>>) {
        if v.as_ref().is_some_and(Vec::is_empty) {
            *v = None;
        }
    }
    fn map<T>(m: &mut Option<BTreeMap<String, T>>) {
        if m.as_ref().is_some_and(BTreeMap::is_empty) {
            *m = None;
        }
    }
    vec(&mut status.addresses);
    vec(&mut status.conditions);
    vec(&mut status.images);
    vec(&mut status.runtime_handlers);
    vec(&mut status.volumes_in_use);
    vec(&mut status.volumes_attached);
    map(&mut status.capacity);
    map(&mut status.allocatable);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{NodeReadiness, NodeResources};

    fn q(s: &str) -> Quantity {
        Quantity(s.to_owned())
    }

    fn ready_facts() -> NodeFacts {
        let resources = NodeResources {
            cpu: Some(q("4")),
            memory: Some(q("8Gi")),
            pods: Some(q("110")),
            ephemeral_storage: Some(q("100Gi")),
            hugepages: BTreeMap::from([("2Mi".to_owned(), q("0"))]),
            other: BTreeMap::new(),
        };
        NodeFacts {
            allocatable: NodeResources {
                memory: Some(q("7Gi")),
                ..resources.clone()
            },
            capacity: resources,
            container_runtime_version: "containerd://1.6.20".into(),
            readiness: NodeReadiness::ready(),
            ..NodeFacts::default()
        }
    }

    fn host() -> HostInfo {
        HostInfo {
            machine_id: "m".into(),
            system_uuid: "u".into(),
            boot_id: "b".into(),
            kernel_version: "6.1".into(),
            os_image: "Debian".into(),
        }
    }

    fn addresses() -> Vec<NodeAddress> {
        vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: "192.0.2.2".into(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: "n1".into(),
            },
        ]
    }

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    #[test]
    fn initial_node_has_the_kubelets_fields() {
        let mut config = NodeConfig::new("n1");
        config.kubelet_version = "v1.37.2".into();
        config
            .node_labels
            .insert("node.kubernetes.io/pool".into(), "a".into());
        config
            .register_with_taints
            .push(k8s_openapi::api::core::v1::Taint {
                key: "dedicated".into(),
                value: Some("x".into()),
                effect: "NoSchedule".into(),
                time_added: None,
            });
        let (host, facts, addresses) = (host(), ready_facts(), addresses());
        let inputs = NodeInputs {
            config: &config,
            host: &host,
            facts: &facts,
            addresses: &addresses,
        };
        let node = initial_node(&inputs, t(0));
        let labels = node.metadata.labels.as_ref().unwrap();
        for key in [
            LABEL_HOSTNAME,
            LABEL_OS,
            LABEL_ARCH,
            LABEL_OS_BETA,
            LABEL_ARCH_BETA,
        ] {
            assert!(labels.contains_key(key), "{key}");
        }
        assert_eq!(labels["node.kubernetes.io/pool"], "a");
        assert_eq!(
            node.metadata.annotations.as_ref().unwrap()
                [ANNOTATION_CONTROLLER_MANAGED_ATTACH_DETACH],
            "true"
        );
        assert_eq!(
            node.spec.as_ref().unwrap().taints.as_ref().unwrap().len(),
            1
        );
        let status = node.status.as_ref().unwrap();
        let info = status.node_info.as_ref().unwrap();
        assert_eq!(info.container_runtime_version, "containerd://1.6.20");
        assert_eq!(info.kubelet_version, "v1.37.2");
        assert_eq!(info.machine_id, "m");
        assert_eq!(info.operating_system, "linux");
        assert_eq!(status.allocatable.as_ref().unwrap()["memory"], q("7Gi"));
        assert_eq!(status.allocatable.as_ref().unwrap()["cpu"], q("4"));
        assert_eq!(
            status
                .daemon_endpoints
                .as_ref()
                .unwrap()
                .kubelet_endpoint
                .as_ref()
                .unwrap()
                .port,
            10250
        );
        let conditions = status.conditions.as_ref().unwrap();
        assert_eq!(conditions.last().unwrap().status, "True");
        assert_eq!(status.addresses.as_ref().unwrap().len(), 2);
        assert_eq!(status.images, None);
    }

    #[test]
    fn missing_capacity_keeps_the_node_not_ready() {
        let config = NodeConfig::new("n1");
        let mut facts = ready_facts();
        facts.capacity.ephemeral_storage = None;
        facts.capacity.pods = None;
        let host = host();
        let inputs = NodeInputs {
            config: &config,
            host: &host,
            facts: &facts,
            addresses: &[],
        };
        let node = initial_node(&inputs, t(0));
        let ready = node.status.unwrap().conditions.unwrap().pop().unwrap();
        assert_eq!(ready.status, "False");
        assert_eq!(
            ready.message.as_deref(),
            Some("missing node capacity for resources: pods, ephemeral-storage")
        );
    }

    #[test]
    fn images_are_sorted_capped_and_named() {
        let image = |id: &str, size: i64, tags: usize| NodeImage {
            id: id.into(),
            repo_digests: vec![format!("{id}@sha256:1")],
            repo_tags: (0..tags).map(|i| format!("{id}:{i}")).collect(),
            size_bytes: size,
        };
        let images: Vec<NodeImage> = (0..60)
            .map(|i| image(&format!("img{i:02}"), i % 7, 1))
            .collect();
        let reported = node_images(&images, 50).unwrap();
        assert_eq!(reported.len(), 50);
        let sizes: Vec<i64> = reported.iter().map(|i| i.size_bytes.unwrap()).collect();
        assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
        // Ties: id descending.
        assert_eq!(reported[0].names.as_ref().unwrap()[0], "img55@sha256:1");
        let many = node_images(&[image("big", 1, 9)], -1).unwrap();
        let names = many[0].names.as_ref().unwrap();
        assert_eq!(names.len(), MAX_NAMES_PER_IMAGE);
        assert_eq!(names[0], "big@sha256:1");
        assert_eq!(node_images(&images, -1).unwrap().len(), 60);
        assert_eq!(node_images(&[], 50), None);
    }

    #[test]
    fn an_unchanged_node_is_unchanged_but_heartbeats() {
        let config = NodeConfig::new("n1");
        let (host, facts, addresses) = (host(), ready_facts(), addresses());
        let inputs = NodeInputs {
            config: &config,
            host: &host,
            facts: &facts,
            addresses: &addresses,
        };
        let mut node = initial_node(&inputs, t(0));
        // The server's canonical spelling of the same amount.
        node.status
            .as_mut()
            .unwrap()
            .capacity
            .as_mut()
            .unwrap()
            .insert("memory".into(), q("8192Mi"));
        let NodeUpdate {
            node: updated,
            changed,
            events,
        } = update_node(&node, &inputs, t(10));
        assert!(!changed);
        assert!(events.is_empty());
        let status = updated.status.as_ref().unwrap();
        assert_eq!(status.capacity.as_ref().unwrap()["memory"], q("8192Mi"));
        let ready = status.conditions.as_ref().unwrap().last().unwrap();
        assert_eq!(ready.last_heartbeat_time, Some(api_time(t(10))));
        assert_eq!(ready.last_transition_time, Some(api_time(t(0))));

        // A runtime going away is a change.
        let mut down = facts.clone();
        down.readiness = NodeReadiness::default();
        let inputs = NodeInputs {
            facts: &down,
            ..inputs
        };
        let update = update_node(&updated, &inputs, t(20));
        assert!(update.changed);
        assert_eq!(
            update.events,
            [NodeEvent::Condition(ConditionEvent {
                reason: "NodeNotReady"
            })]
        );
    }

    #[test]
    fn missing_os_label_is_a_change() {
        let config = NodeConfig::new("n1");
        let (host, facts) = (host(), ready_facts());
        let inputs = NodeInputs {
            config: &config,
            host: &host,
            facts: &facts,
            addresses: &[],
        };
        let mut node = initial_node(&inputs, t(0));
        node.metadata.labels.as_mut().unwrap().remove(LABEL_OS);
        let update = update_node(&node, &inputs, t(1));
        assert!(update.changed);
        assert_eq!(update.node.metadata.labels.unwrap()[LABEL_OS], "linux");
    }

    #[test]
    fn existing_nodes_are_reconciled() {
        let config = NodeConfig::new("n1");
        let (host, facts) = (host(), ready_facts());
        let inputs = NodeInputs {
            config: &config,
            host: &host,
            facts: &facts,
            addresses: &[],
        };
        let initial = initial_node(&inputs, t(0));
        let mut existing = Node {
            metadata: ObjectMeta {
                name: Some("n1".into()),
                labels: Some(BTreeMap::from([
                    (LABEL_HOSTNAME.to_owned(), "old".to_owned()),
                    ("team".to_owned(), "x".to_owned()),
                ])),
                ..ObjectMeta::default()
            },
            spec: None,
            status: Some(NodeStatus {
                capacity: Some(BTreeMap::from([
                    ("hugepages-1Gi".to_owned(), q("1Gi")),
                    ("cpu".to_owned(), q("2")),
                ])),
                allocatable: Some(BTreeMap::from([("hugepages-1Gi".to_owned(), q("1Gi"))])),
                ..NodeStatus::default()
            }),
        };
        assert!(reconcile_existing_node(&initial, &mut existing));
        let labels = existing.metadata.labels.as_ref().unwrap();
        assert_eq!(labels[LABEL_HOSTNAME], "n1");
        assert_eq!(labels["team"], "x");
        assert_eq!(labels[LABEL_OS], "linux");
        assert_eq!(
            existing.metadata.annotations.as_ref().unwrap()
                [ANNOTATION_CONTROLLER_MANAGED_ATTACH_DETACH],
            "true"
        );
        let status = existing.status.as_ref().unwrap();
        let capacity = status.capacity.as_ref().unwrap();
        assert!(!capacity.contains_key("hugepages-1Gi"));
        assert_eq!(capacity["hugepages-2Mi"], q("0"));
        // Not a huge page resource: left to the status sync.
        assert_eq!(capacity["cpu"], q("2"));
        // A second pass has nothing to do.
        assert!(!reconcile_existing_node(&initial, &mut existing));
    }

    #[test]
    fn extended_resource_names() {
        assert!(is_extended_resource_name("example.com/gpu"));
        assert!(!is_extended_resource_name("cpu"));
        assert!(!is_extended_resource_name("kubernetes.io/x"));
        assert!(!is_extended_resource_name("requests.example.com/x"));
    }
}
