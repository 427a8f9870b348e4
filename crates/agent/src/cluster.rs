//! Cluster mode (`--kubeconfig`): the node's bridge to the API server, from status-reporter,
//! wired into the node.
//!
//! Wiring only. What the pieces do is status-reporter's business: the Node, its status and
//! lease ([`NodeStatusReporter`]), the pods bound to the node ([`ApiPodSource`]), their
//! statuses and final deletion ([`PodStatusManager`]), mirror pods ([`MirrorPods`]),
//! ConfigMaps and Secrets ([`ApiObjects`]), service-account tokens ([`TokenManager`]) and
//! events ([`EventRecorder`]). This module adapts them to pod-lifecycle's seams
//! ([`StatusSink`], [`EventRecorder`](pod_lifecycle::worker::EventRecorder)) and to
//! volume-manager's [`ObjectSource`], and feeds the Node its facts (capacity, the runtime's
//! health every 5 s, the images).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cgroup_enforcer::allocatable::{NodeAllocatable, NodeResources as CgroupResources};
use cri_client::{ImageService, RuntimeService, v1};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, PodStatus, Secret};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use pod_lifecycle::pleg::Pleg;
use pod_lifecycle::pod_manager::PodManager;
use pod_lifecycle::worker::{MemoryEvents, MemoryStatusSink, NodeEvent, PodEvent, StatusSink};
use status_reporter::{
    ApiObjects, ApiPodSource, ApiPodSourceConfig, EventRecorder, EventRecorderConfig, HostInfo,
    MirrorPods, NetworkHealth, NodeConfig, NodeFacts, NodeImage, NodePods, NodeReadiness,
    NodeResources, NodeStatusReporter, PodSourceUpdate, PodStatusManager, PodStatusManagerConfig,
    RuntimeCondition, RuntimeHealth, RuntimeSync, TokenManager,
};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use volume_manager::objects::{InMemoryObjects, ObjectSource};
use volume_manager::tokens::TokenSource;

use crate::config::AgentConfig;
use crate::{Error, Result};

/// The version the node reports as `nodeInfo.kubeletVersion`: the Kubernetes release whose
/// kubelet nodelet follows, with nodelet's own version as build metadata (ignored by
/// version comparisons, shown by `kubectl get nodes`).
pub const KUBELET_VERSION: &str = concat!("v1.37.2+nodelet.", env!("CARGO_PKG_VERSION"));

/// The source name of API pods in the pod manager (the kubelet's `api`).
pub const API_SOURCE: &str = "api";

/// How often the runtime's health is read into the node's readiness (the kubelet's
/// `updateRuntimeUp`, 5 s).
pub const RUNTIME_STATUS_PERIOD: Duration = Duration::from_secs(5);

/// How long a new API pod waits for the first list of the objects it references.
pub const OBJECT_SYNC_WAIT: Duration = Duration::from_secs(1);

/// How often the facts are read while the node is not ready.
pub const FAST_STATUS_PERIOD: Duration = Duration::from_millis(200);

/// After this long without a successful CRI `Status`, the runtime is "down" (CRI-10).
pub const RUNTIME_DOWN_AFTER: Duration = Duration::from_secs(30);

/// Every cluster-mode part of a node, started.
pub struct ClusterMode {
    client: kube::Client,
    node_name: String,
    facts: watch::Sender<NodeFacts>,
    reporter: NodeStatusReporter,
    source: ApiPodSource,
    updates: Option<mpsc::Receiver<PodSourceUpdate>>,
    statuses: PodStatusManager,
    mirrors: MirrorPods,
    objects: ApiObjects,
    events: EventRecorder,
    tokens: TokenManager,
}

impl std::fmt::Debug for ClusterMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterMode")
            .field("node_name", &self.node_name)
            .finish_non_exhaustive()
    }
}

impl ClusterMode {
    /// Connects with the kubeconfig and starts every part under `stop`: the Node is
    /// registered (or adopted) at once with `facts`, which the node then keeps current.
    pub async fn start(
        config: &AgentConfig,
        kubeconfig: &std::path::Path,
        facts: NodeFacts,
        stop: &CancellationToken,
    ) -> Result<ClusterMode> {
        let client = status_reporter::client_from_kubeconfig(kubeconfig)
            .await
            .map_err(Error::Cluster)?;
        let node = config.node_name.clone();
        let (facts_tx, facts_rx) = watch::channel(facts);
        let host = HostInfo::read().map_err(Error::Cluster)?;
        let events = EventRecorder::start_with_cancellation(
            client.clone(),
            EventRecorderConfig::kubelet(node.clone()),
            stop,
        )
        .map_err(Error::Cluster)?;
        let reporter = NodeStatusReporter::start_with_events(
            client.clone(),
            node_config(config),
            host,
            facts_rx,
            stop,
            events.clone(),
        )
        .map_err(Error::Cluster)?;
        events.record_starting(&status_reporter::node_reference(&node, None));
        let (source, updates) = ApiPodSource::start_with_cancellation(
            client.clone(),
            ApiPodSourceConfig::new(node.clone()),
            stop,
        )
        .map_err(Error::Cluster)?;
        let statuses = PodStatusManager::start_with_cancellation(
            client.clone(),
            PodStatusManagerConfig::new(node.clone()),
            source.pods(),
            stop,
        )
        .map_err(Error::Cluster)?;
        let mirrors = MirrorPods::new(client.clone(), node.clone(), source.pods());
        let objects = ApiObjects::start_with_cancellation(client.clone(), node.clone(), stop)
            .map_err(Error::Cluster)?;
        tracing::info!(node = %node, kubeconfig = %kubeconfig.display(), "cluster mode: registering the node");
        Ok(ClusterMode {
            client: client.clone(),
            node_name: node,
            facts: facts_tx,
            reporter,
            source,
            updates: Some(updates),
            statuses,
            mirrors,
            objects,
            events,
            tokens: TokenManager::new(client),
        })
    }

    /// The reviewers of the kubelet API's webhook authentication and authorization:
    /// TokenReview and SubjectAccessReview through the API server.
    pub fn kubelet_api_reviewers(&self) -> kubelet_server::auth::Reviewers {
        kubelet_server::auth::Reviewers::api_server(self.client.clone())
    }

    /// The status sink of the pod workers: statuses kept in `memory` (for `/pods`) and
    /// written to the API server.
    pub fn status_sink(&self, memory: MemoryStatusSink) -> Arc<dyn StatusSink> {
        Arc::new(ApiStatusSink {
            memory,
            api: self.statuses.clone(),
        })
    }

    /// The event recorder of the pod workers: events logged and kept in `memory`, and sent
    /// to the API server.
    pub fn event_recorder(
        &self,
        memory: MemoryEvents,
    ) -> Arc<dyn pod_lifecycle::worker::EventRecorder> {
        Arc::new(ApiEvents {
            memory,
            api: self.events.clone(),
        })
    }

    /// ConfigMaps and Secrets: those of API pods from the API server, those beside static
    /// manifests from `local`.
    pub fn objects(&self, local: InMemoryObjects) -> Arc<dyn ObjectSource> {
        Arc::new(ClusterObjects {
            api: self.objects.clone(),
            local,
        })
    }

    /// Service-account tokens for projected volumes, through the TokenRequest API (the
    /// volume manager calls it on its blocking threads).
    pub fn token_source(&self) -> Arc<dyn TokenSource> {
        Arc::new(ApiTokens {
            manager: self.tokens.clone(),
            runtime: tokio::runtime::Handle::current(),
        })
    }

    /// The facts the Node is reported with; the node loop updates them.
    pub fn facts(&self) -> watch::Sender<NodeFacts> {
        self.facts.clone()
    }

    /// The loop that hands the API pods to the pod manager (source `api`), registering
    /// the objects each pod references first, and keeps the mirror pods of `static_pods`.
    /// Runs until the source ends; call once.
    pub fn feed_pods(
        &mut self,
        manager: Arc<PodManager>,
        static_pods: watch::Receiver<Option<Vec<Pod>>>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let updates = self.updates.take();
        let (objects, mirrors, node_pods) = (
            self.objects.clone(),
            self.mirrors.clone(),
            self.source.pods(),
        );
        async move {
            let Some(updates) = updates else {
                return;
            };
            tokio::join!(
                api_pods(updates, manager, objects),
                keep_mirror_pods(mirrors, node_pods, static_pods),
            );
        }
    }

    /// The node's events of its first registration (NS-12): once the Node is reported
    /// Ready, `NodeHasSufficientMemory`, `NodeHasNoDiskPressure`, `NodeHasSufficientPID` and
    /// `NodeReady` from its conditions (the `Starting` event was sent at start).
    pub fn announce_node(&self) -> impl Future<Output = ()> + Send + 'static {
        let nodes: kube::Api<k8s_openapi::api::core::v1::Node> =
            kube::Api::all(self.client.clone());
        let (name, events) = (self.node_name.clone(), self.events.clone());
        async move {
            for _ in 0..600 {
                if let Ok(node) = nodes.get(&name).await {
                    let ready = node
                        .status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|c| {
                            c.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                        });
                    if ready {
                        events.record_node_conditions(&node);
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            tracing::warn!(node = %name, "the node did not turn Ready within 2 minutes: no registration events");
        }
    }

    /// Spawns cluster mode's loops on the node's supervisor: the API pods and mirror pods
    /// ([`ClusterMode::feed_pods`]), the registration events, and the runtime's facts.
    pub fn spawn(
        &mut self,
        tasks: &crate::supervisor::Supervisor,
        manager: Arc<PodManager>,
        static_pods: watch::Receiver<Option<Vec<Pod>>>,
        runtime: Arc<cri_client::Instrumented>,
        pleg: Pleg,
    ) {
        tasks.spawn_until_stopped(self.feed_pods(manager, static_pods));
        tasks.spawn_until_stopped(self.announce_node());
        let facts = self.facts();
        tasks.spawn(|stop| report_runtime(runtime.clone(), runtime, pleg, facts, stop));
    }

    /// Stop every part and wait for it.
    pub async fn shutdown(self) {
        self.events.flush().await;
        self.reporter.shutdown().await;
        self.source.shutdown().await;
        self.statuses.shutdown().await;
        self.objects.shutdown().await;
        self.events.shutdown().await;
    }
}

/// The Node's settings from the configuration and flags.
fn node_config(config: &AgentConfig) -> NodeConfig {
    let kubelet = &config.kubelet;
    let mut node = NodeConfig::new(config.node_name.clone());
    node.node_ips = config.node_ips.clone();
    node.node_labels = config.node_labels.clone();
    node.register_with_taints = kubelet.register_with_taints.clone();
    node.register_node = kubelet.register_node;
    node.kubelet_port = kubelet.port;
    node.kubelet_version = KUBELET_VERSION.to_owned();
    node.node_status_update_frequency = kubelet.node_status_update_frequency.as_duration();
    node.node_status_report_frequency = kubelet.node_status_report_frequency.as_duration();
    node.node_lease_duration_seconds = kubelet.node_lease_duration_seconds;
    node
}

/// Capacity and allocatable as the Node reports them: CPU in cores (or millicores), memory
/// and ephemeral storage in bytes (`Ki` when whole), pods, and the hugepage sizes at 0.
pub fn node_resources(
    capacity: &CgroupResources,
    allocatable: &NodeAllocatable,
) -> [NodeResources; 2] {
    let cpu = |milli: i64| {
        if milli % 1000 == 0 {
            Quantity((milli / 1000).to_string())
        } else {
            Quantity(format!("{milli}m"))
        }
    };
    let bytes = |n: i64| {
        if n % 1024 == 0 {
            Quantity(format!("{}Ki", n / 1024))
        } else {
            Quantity(n.to_string())
        }
    };
    let hugepages: BTreeMap<String, Quantity> = ["hugepages-1Gi", "hugepages-2Mi"]
        .into_iter()
        .map(|k| (k.to_owned(), Quantity("0".into())))
        .collect();
    let resources = |r: &CgroupResources| NodeResources {
        cpu: Some(cpu(r.cpu_milli.max(0))),
        memory: Some(bytes(r.memory.max(0))),
        ephemeral_storage: Some(bytes(r.ephemeral_storage.max(0))),
        pods: Some(Quantity(allocatable.pods.to_string())),
        hugepages: hugepages.clone(),
        ..NodeResources::default()
    };
    [resources(capacity), resources(&allocatable.resources)]
}

/// The node's facts every [`RUNTIME_STATUS_PERIOD`] until `stop`: the runtime's health
/// (CRI `Status`, CRI-07..10), the PLEG's health, and the images. Until the node is ready
/// (for at most the first 30 s) they are read every [`FAST_STATUS_PERIOD`] instead, so that a node turns Ready as soon as
/// its runtime and PLEG are (the kubelet's `fastStatusUpdateOnce` polls every 100 ms).
pub async fn report_runtime(
    runtime: Arc<dyn RuntimeService>,
    images: Arc<dyn ImageService>,
    pleg: Pleg,
    facts: watch::Sender<NodeFacts>,
    stop: CancellationToken,
) {
    let mut last_ok: Option<Instant> = None;
    let mut wait = Duration::ZERO;
    let started = Instant::now();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let status = runtime.status(v1::StatusRequest { verbose: false }).await;
        if let Err(e) = &status {
            tracing::warn!(error = %e, "container runtime status check failed");
        }
        let (runtime_health, network, ok) = runtime_readiness(status.as_ref().ok());
        if ok {
            last_ok = Some(Instant::now());
        }
        let runtime_sync = runtime_sync(last_ok.map(|t| t.elapsed()));
        let health_checks = match pleg.healthy(tokio::time::Instant::now()) {
            Ok(()) => Vec::new(),
            Err(e) => vec![format!("PLEG is not healthy: {e}")],
        };
        let node_images: Option<Vec<NodeImage>> = match images
            .list_images(v1::ListImagesRequest { filter: None })
            .await
        {
            Ok(list) => Some(
                list.images
                    .into_iter()
                    .map(|i| NodeImage {
                        id: i.id,
                        repo_digests: i.repo_digests,
                        repo_tags: i.repo_tags,
                        size_bytes: i64::try_from(i.size).unwrap_or(i64::MAX),
                    })
                    .collect(),
            ),
            Err(e) => {
                tracing::debug!(error = %e, "cannot list images for the node status");
                None
            }
        };
        let mut ready = false;
        facts.send_if_modified(|f| {
            let readiness = NodeReadiness {
                runtime_sync,
                runtime: runtime_health.clone(),
                health_checks: health_checks.clone(),
                network: network.clone(),
                ..f.readiness.clone()
            };
            ready = readiness.errors().is_empty();
            let mut changed = f.readiness != readiness;
            f.readiness = readiness;
            if let Some(images) = &node_images
                && &f.images != images
            {
                f.images = images.clone();
                changed = true;
            }
            changed
        });
        wait = if ready || started.elapsed() > RUNTIME_DOWN_AFTER {
            RUNTIME_STATUS_PERIOD
        } else {
            FAST_STATUS_PERIOD
        };
    }
}

/// The runtime's and the network's health from one CRI `Status` reply (`None`: the call
/// failed), and whether the reply counts as a successful status check: it must carry at least
/// the two conditions (CRI-07). `RuntimeReady=false` and `NetworkReady=false` keep their
/// reason and message for the node's Ready condition (CRI-08, CRI-09).
pub fn runtime_readiness(
    reply: Option<&v1::StatusResponse>,
) -> (RuntimeHealth, NetworkHealth, bool) {
    match reply.and_then(|r| r.status.as_ref()) {
        Some(s) if s.conditions.len() >= 2 => {
            let condition = |t: &str| s.conditions.iter().find(|c| c.r#type == t);
            let runtime = match condition("RuntimeReady") {
                Some(c) if c.status => RuntimeHealth::Ready,
                c => RuntimeHealth::NotReady(c.map(runtime_condition)),
            };
            let network = match condition("NetworkReady") {
                Some(c) if c.status => NetworkHealth::Ready,
                c => NetworkHealth::NotReady(c.map(runtime_condition)),
            };
            (runtime, network, true)
        }
        Some(_) => {
            tracing::warn!("runtime status has fewer than 2 conditions");
            (RuntimeHealth::NotReady(None), NetworkHealth::Unknown, false)
        }
        None => (RuntimeHealth::NotReady(None), NetworkHealth::Unknown, false),
    }
}

/// Whether the runtime's status is current, from the time since the last successful check:
/// never checked, recent, or older than [`RUNTIME_DOWN_AFTER`] ("container runtime is down",
/// CRI-10).
pub fn runtime_sync(since_last_ok: Option<Duration>) -> RuntimeSync {
    match since_last_ok {
        None => RuntimeSync::Never,
        Some(d) if d > RUNTIME_DOWN_AFTER => RuntimeSync::Stale,
        Some(_) => RuntimeSync::Recent,
    }
}

fn runtime_condition(c: &v1::RuntimeCondition) -> RuntimeCondition {
    RuntimeCondition {
        type_: c.r#type.clone(),
        status: c.status,
        reason: c.reason.clone(),
        message: c.message.clone(),
    }
}

/// API pods to the pod manager, with their objects registered first.
async fn api_pods(
    mut updates: mpsc::Receiver<PodSourceUpdate>,
    manager: Arc<PodManager>,
    objects: ApiObjects,
) {
    let mut pods: BTreeMap<String, Pod> = BTreeMap::new();
    while let Some(update) = updates.recv().await {
        let before: Vec<String> = pods.keys().cloned().collect();
        update.apply_to(&mut pods);
        for uid in before.iter().filter(|u| !pods.contains_key(*u)) {
            objects.unregister_pod(uid);
        }
        // Mirror pods stand for static pods: they are reported on, never run.
        let runnable: Vec<Pod> = pods
            .values()
            .filter(|p| !status_reporter::is_mirror_pod(p))
            .cloned()
            .collect();
        let mut new_objects = Vec::new();
        for pod in &runnable {
            let uid = pod.metadata.uid.as_deref().unwrap_or_default();
            let known = before.iter().any(|u| u == uid);
            match objects.register_pod(pod) {
                Ok(()) if !known => new_objects.extend(status_reporter::pod_object_refs(pod)),
                Ok(()) => {}
                Err(e) => tracing::warn!(error = %e, "cannot watch the objects of a pod"),
            }
        }
        // A new pod's objects get their first list before its worker looks them up (the
        // kubelet's managers wait up to a second the same way), so its volumes mount at the
        // first sync instead of after a failed one.
        let waits = new_objects
            .iter()
            .map(|object| objects.wait_synced(object, OBJECT_SYNC_WAIT));
        for result in futures::future::join_all(waits).await {
            if let Err(e) = result {
                tracing::debug!(error = %e, "an object of a new pod is not synced yet");
            }
        }
        manager.set_source_pods(API_SOURCE, runnable);
    }
}

/// Each static pod has its mirror pod: created, recreated when deleted, replaced when the
/// manifest changes; mirrors of static pods that are gone are deleted. Checked when the
/// static pods or the node's pods change, and every 10 s; first once both the API pods and
/// the static pods (`None` until the static source has read its directory) are known, so a
/// restarted agent never takes its mirror pods for orphans.
async fn keep_mirror_pods(
    mirrors: MirrorPods,
    node_pods: NodePods,
    mut static_pods: watch::Receiver<Option<Vec<Pod>>>,
) {
    let mut changes = node_pods.subscribe();
    node_pods.wait_synced().await;
    if static_pods.wait_for(Option::is_some).await.is_err() {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        let pods = static_pods.borrow_and_update().clone().unwrap_or_default();
        for pod in &pods {
            if let Err(e) = mirrors.sync(pod).await {
                tracing::warn!(pod = %pod_plan::pod_full_name(pod), error = %e, "cannot sync the mirror pod");
            }
        }
        if let Err(e) = mirrors.delete_orphans(&pods).await {
            tracing::warn!(error = %e, "cannot delete orphaned mirror pods");
        }
        tokio::select! {
            r = static_pods.changed() => if r.is_err() { return },
            r = changes.changed() => if r.is_err() { return },
            _ = tick.tick() => {}
        }
    }
}

/// The volume manager's token source over the TokenRequest API.
struct ApiTokens {
    manager: TokenManager,
    runtime: tokio::runtime::Handle,
}

impl TokenSource for ApiTokens {
    fn service_account_token(
        &self,
        request: &volume_manager::tokens::ServiceAccountTokenRequest,
    ) -> volume_manager::Result<Option<volume_manager::tokens::ServiceAccountToken>> {
        let api = status_reporter::ServiceAccountTokenRequest {
            namespace: request.namespace.clone(),
            service_account: request.service_account_name.clone(),
            audience: request.audience.clone(),
            expiration_seconds: request
                .expiration_seconds
                .unwrap_or(status_reporter::DEFAULT_TOKEN_EXPIRATION_SECONDS),
            pod_name: request.pod_name.clone(),
            pod_uid: request.pod_uid.clone(),
        };
        // Called on the blocking pool (never on a runtime thread), so blocking is allowed.
        match self.runtime.block_on(self.manager.token(&api)) {
            Ok(token) => Ok(Some(volume_manager::tokens::ServiceAccountToken::new(
                token.token().to_owned(),
            ))),
            Err(e) => Err(volume_manager::Error::token_request(request, e.to_string())),
        }
    }

    fn forget_pod(&self, pod_uid: &str) {
        self.manager.forget_pod(pod_uid);
    }
}

/// Statuses to memory (`/pods`) and to the API server.
struct ApiStatusSink {
    memory: MemoryStatusSink,
    api: PodStatusManager,
}

impl StatusSink for ApiStatusSink {
    fn set_pod_status(&self, pod: &Pod, status: &PodStatus) {
        self.memory.set_pod_status(pod, status);
        self.api.set_status(pod, status.clone());
    }

    fn pod_removed(&self, pod: &Pod) {
        self.memory.pod_removed(pod);
        // No source has the pod and its worker is done: its status is an orphan (the
        // kubelet's `RemoveOrphanedStatuses` in housekeeping).
        if let Some(uid) = pod.metadata.uid.as_deref() {
            self.api.forget_pod(uid);
        }
    }

    fn pod_terminated(&self, pod: &Pod, status: &PodStatus) {
        self.memory.pod_terminated(pod, status);
        self.api.terminate_pod(pod);
    }
}

/// Events to memory and the log, and to the API server.
struct ApiEvents {
    memory: MemoryEvents,
    api: EventRecorder,
}

impl pod_lifecycle::worker::EventRecorder for ApiEvents {
    fn record(&self, event: PodEvent) {
        let (namespace, name) = event.pod.split_once('/').unwrap_or(("", &event.pod));
        let mut reference = status_reporter::pod_reference_by_name(namespace, name, &event.uid);
        reference.field_path = event.field_path.clone();
        self.api.event(
            &reference,
            event_type(event.kind),
            &event.reason,
            event.message.clone(),
        );
        self.memory.record(event);
    }

    fn record_annotated(&self, event: PodEvent, annotations: &BTreeMap<String, String>) {
        let (namespace, name) = event.pod.split_once('/').unwrap_or(("", &event.pod));
        let mut reference = status_reporter::pod_reference_by_name(namespace, name, &event.uid);
        reference.field_path = event.field_path.clone();
        self.api.annotated_event(
            &reference,
            event_type(event.kind),
            &event.reason,
            event.message.clone(),
            annotations.clone(),
        );
        self.memory.record_annotated(event, annotations);
    }

    /// Node events (the eviction manager's `EvictionThresholdMet`), about the Node as the
    /// kubelet's `nodeRef` names it (its UID is the node's name).
    fn record_node(&self, event: NodeEvent) {
        let reference = status_reporter::node_reference(&event.node, Some(&event.node));
        self.api.event(
            &reference,
            event_type(event.kind),
            &event.reason,
            event.message.clone(),
        );
        self.memory.record_node(event);
    }
}

/// The status reporter's event type for a pod-lifecycle one.
fn event_type(kind: pod_lifecycle::worker::EventType) -> status_reporter::EventType {
    match kind {
        pod_lifecycle::worker::EventType::Normal => status_reporter::EventType::Normal,
        pod_lifecycle::worker::EventType::Warning => status_reporter::EventType::Warning,
    }
}

/// API objects first; objects defined beside static manifests for what the API does not
/// serve (static pods may not reference API objects: NodeRestriction).
struct ClusterObjects {
    api: ApiObjects,
    local: InMemoryObjects,
}

impl ObjectSource for ClusterObjects {
    fn config_map(&self, namespace: &str, name: &str) -> volume_manager::Result<Option<ConfigMap>> {
        match self.api.config_map(namespace, name) {
            Ok(found) => Ok(found),
            Err(api) => match self.local.config_map(namespace, name)? {
                Some(local) => Ok(Some(local)),
                None => Err(volume_manager::Error::ObjectSource {
                    kind: "configmap",
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    message: api.to_string(),
                }),
            },
        }
    }

    fn secret(&self, namespace: &str, name: &str) -> volume_manager::Result<Option<Secret>> {
        match self.api.secret(namespace, name) {
            Ok(found) => Ok(found),
            Err(api) => match self.local.secret(namespace, name)? {
                Some(local) => Ok(Some(local)),
                None => Err(volume_manager::Error::ObjectSource {
                    kind: "secret",
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    message: api.to_string(),
                }),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(conditions: &[(&str, bool, &str, &str)]) -> v1::StatusResponse {
        v1::StatusResponse {
            status: Some(v1::RuntimeStatus {
                conditions: conditions
                    .iter()
                    .map(|(t, ok, reason, message)| v1::RuntimeCondition {
                        r#type: (*t).into(),
                        status: *ok,
                        reason: (*reason).into(),
                        message: (*message).into(),
                    })
                    .collect(),
            }),
            ..Default::default()
        }
    }

    fn errors(runtime: RuntimeHealth, network: NetworkHealth, sync: RuntimeSync) -> Vec<String> {
        NodeReadiness {
            runtime_sync: sync,
            runtime,
            network,
            ..NodeReadiness::default()
        }
        .errors()
    }

    #[test]
    fn cri_07_a_status_with_fewer_than_two_conditions_is_a_failed_check() {
        let (runtime, network, ok) =
            runtime_readiness(Some(&reply(&[("RuntimeReady", true, "", "")])));
        assert!(!ok);
        assert_eq!(runtime, RuntimeHealth::NotReady(None));
        assert_eq!(network, NetworkHealth::Unknown);
        let (_, _, ok) = runtime_readiness(None);
        assert!(!ok);
        let (runtime, network, ok) = runtime_readiness(Some(&reply(&[
            ("RuntimeReady", true, "", ""),
            ("NetworkReady", true, "", ""),
        ])));
        assert!(ok);
        assert!(errors(runtime, network, RuntimeSync::Recent).is_empty());
        assert_eq!(RUNTIME_STATUS_PERIOD, Duration::from_secs(5));
    }

    #[test]
    fn cri_08_runtime_not_ready_makes_the_node_not_ready() {
        let (runtime, network, ok) = runtime_readiness(Some(&reply(&[
            ("RuntimeReady", false, "Broken", "shim gone"),
            ("NetworkReady", true, "", ""),
        ])));
        assert!(ok);
        let messages = errors(runtime, network, RuntimeSync::Recent);
        assert_eq!(
            messages,
            ["container runtime not ready: RuntimeReady=false reason:Broken message:shim gone"]
        );
    }

    #[test]
    fn cri_09_network_not_ready_makes_the_node_not_ready_with_the_cni_message() {
        let (runtime, network, _) = runtime_readiness(Some(&reply(&[
            ("RuntimeReady", true, "", ""),
            (
                "NetworkReady",
                false,
                "NetworkPluginNotReady",
                "cni plugin not initialized",
            ),
        ])));
        assert_eq!(
            errors(runtime, network, RuntimeSync::Recent),
            [
                "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:cni plugin not initialized"
            ]
        );
    }

    #[test]
    fn cri_10_no_successful_status_for_30s_is_runtime_down() {
        assert_eq!(runtime_sync(None), RuntimeSync::Never);
        assert_eq!(
            runtime_sync(Some(Duration::from_secs(29))),
            RuntimeSync::Recent
        );
        let stale = runtime_sync(Some(Duration::from_secs(31)));
        assert_eq!(stale, RuntimeSync::Stale);
        assert_eq!(
            errors(RuntimeHealth::Ready, NetworkHealth::Ready, stale),
            ["container runtime is down"]
        );
    }

    #[test]
    fn node_resources_are_reported_as_the_kubelet_spells_them() {
        let capacity = CgroupResources {
            cpu_milli: 2000,
            memory: 8 * 1024 * 1024 * 1024,
            ephemeral_storage: 100 * 1024 * 1024 * 1024 + 1,
            pids: 4096,
        };
        let allocatable = NodeAllocatable {
            resources: CgroupResources {
                cpu_milli: 1500,
                ..capacity
            },
            pods: 110,
        };
        let [cap, alloc] = node_resources(&capacity, &allocatable);
        assert_eq!(cap.cpu, Some(Quantity("2".into())));
        assert_eq!(alloc.cpu, Some(Quantity("1500m".into())));
        assert_eq!(cap.memory, Some(Quantity("8388608Ki".into())));
        assert_eq!(cap.ephemeral_storage, Some(Quantity("107374182401".into())));
        assert_eq!(cap.pods, Some(Quantity("110".into())));
        assert!(cap.hugepages.contains_key("hugepages-2Mi"));
    }
}
