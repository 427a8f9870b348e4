//! The composition of a standalone node agent: sources → pod manager → pod workers →
//! runtime, with the PLEG waking the workers and the HTTP endpoints reading their state.
//!
//! Wiring only: every rule about pods lives in `pod-lifecycle`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cgroup_enforcer::allocatable::{
    HostPaths, NodeAllocatable, NodeResources, node_allocatable, read_capacity,
};
use cgroup_enforcer::{Cgroups, PodCgroupManager};
use cri_client::{GrpcRuntime, Instrumented, RuntimeService, v1};
use k8s_openapi::api::core::v1::Pod;
use pod_lifecycle::eviction::{
    EvictionManager, EvictionManagerConfig, RuntimeReclaim, run_eviction_manager,
};
use pod_lifecycle::housekeeping::{HOUSEKEEPING_PERIOD, Housekeeping};
use pod_lifecycle::image_gc::{IMAGE_GC_PERIOD, ImageGc};
use pod_lifecycle::logs::{ContainerLogManager, LogRotationSettings};
use pod_lifecycle::plan::eviction::EvictionConfig;
use pod_lifecycle::plan::{ContainerState, ImageGcPolicy};
use pod_lifecycle::pleg::{Pleg, PlegConfig, PodLifecycleEvent};
use pod_lifecycle::pod_manager::{PodManager, PodManagerConfig};
use pod_lifecycle::worker::{
    EventRecorder, MemoryEvents, MemoryStatusSink, NodeCgroups, PodHost, PodWorkers,
    RecordedProbeEvents, SourceObjects, StatusSink, SystemClock, WorkerConfig,
    runs_containers_of_node, wake_on_probe_results,
};
use probes::ProbeManager;
use status_reporter::{NodeFacts, NodePressure};
use tokio::sync::watch;
use volume_manager::objects::{InMemoryObjects, ObjectSource};
use volume_manager::{VolumeManager, VolumeManagerConfig};

use crate::cluster::{API_SOURCE, ClusterMode, node_resources};
use crate::config::{AgentConfig, KubeletConfiguration, feature_gates};
use crate::http::{HttpServer, HttpState, Security, plan_servers};
use crate::metrics::{AgentRegistry, KubeletMetrics};
use crate::static_pods::{Snapshot, SourceError, StaticPodSource};
use crate::supervisor::Supervisor;
use crate::{Error, Result};
use kubelet_server::{ContainerTarget, FoundContainer, HealthCheck, NodeApi};

/// How long start-up waits for the container runtime (the kubelet's
/// `maxWaitForContainerRuntime`).
pub const MAX_WAIT_FOR_RUNTIME: Duration = Duration::from_secs(30);
/// Container garbage collection period (the kubelet's `ContainerGCPeriod`, 1 min).
pub const CONTAINER_GC_PERIOD: Duration = Duration::from_secs(60);
/// How often the QoS cgroups are re-applied (the kubelet's
/// `periodicQOSCgroupUpdateInterval`, 1 min).
pub const QOS_CGROUP_UPDATE_PERIOD: Duration = Duration::from_secs(60);

/// The `syncloop` health check (the kubelet's `syncLoopHealthCheck`): the agent's loop
/// (housekeeping here) stamps the time as it enters and leaves each iteration; `/healthz`
/// fails once the stamp is older than twice `syncFrequency`, at least 5 minutes, so a loop
/// stuck inside an iteration is caught too.
#[derive(Debug)]
pub struct SyncLoopMonitor {
    stamp: std::sync::Mutex<tokio::time::Instant>,
    limit: Duration,
}

impl SyncLoopMonitor {
    /// The least time without an iteration that fails the check.
    pub const MIN_LIMIT: Duration = Duration::from_secs(5 * 60);

    /// A monitor for this `syncFrequency`, stamped now.
    pub fn new(sync_frequency: Duration) -> Self {
        SyncLoopMonitor {
            stamp: std::sync::Mutex::new(tokio::time::Instant::now()),
            limit: (sync_frequency * 2).max(Self::MIN_LIMIT),
        }
    }

    /// The loop enters or leaves an iteration.
    pub fn stamp(&self) {
        *self
            .stamp
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = tokio::time::Instant::now();
    }

    /// `Err` when the loop has not moved for longer than the limit.
    pub fn check(&self) -> std::result::Result<(), String> {
        let since = self
            .stamp
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .elapsed();
        if since > self.limit {
            Err(format!(
                "sync loop took longer than expected: no iteration for {:?} (limit {:?})",
                since, self.limit
            ))
        } else {
            Ok(())
        }
    }
}

/// What the HTTP endpoints read.
struct NodeState {
    runtime: Arc<dyn RuntimeService>,
    stats: crate::stats::StatsCollector,
    sync_loop: Arc<SyncLoopMonitor>,
    config: KubeletConfiguration,
    statuses: MemoryStatusSink,
    pleg: Pleg,
    metrics: Arc<KubeletMetrics>,
    /// `/metrics` and `/metrics/probes`, filled by `metrics` and the probe manager.
    registry: AgentRegistry,
    errors: watch::Receiver<Snapshot>,
    relists_seen: AtomicU64,
}

#[async_trait::async_trait]
impl NodeApi for NodeState {
    fn pods(&self) -> Vec<Pod> {
        self.statuses.pods()
    }

    fn healthz(&self) -> Vec<HealthCheck> {
        vec![
            HealthCheck::new("pleg", self.pleg.healthy(tokio::time::Instant::now())),
            HealthCheck::new("syncloop", self.sync_loop.check()),
        ]
    }

    fn metrics(&self) -> String {
        self.refresh_metrics();
        self.registry.render_metrics()
    }

    fn probe_metrics(&self) -> String {
        self.registry.render_probes()
    }

    fn configz(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).unwrap_or_default()
    }

    fn runtime(&self) -> Option<Arc<dyn RuntimeService>> {
        Some(self.runtime.clone())
    }

    async fn find_container(
        &self,
        target: &ContainerTarget,
        previous: bool,
    ) -> kubelet_server::Result<FoundContainer> {
        // The kubelet's log rules: with `previous` the last terminated instance, else the
        // running one, else the last one that ran. Exec and attach then need it running.
        let pods = self.statuses.pods();
        let (id, running) = crate::kubelet_api::container_for_logs(&pods, target, previous)?;
        crate::kubelet_api::found_container(self.runtime.as_ref(), id, running).await
    }

    async fn find_sandbox(
        &self,
        namespace: &str,
        name: &str,
        uid: Option<&str>,
    ) -> kubelet_server::Result<String> {
        let pods = self.statuses.pods();
        crate::kubelet_api::ready_sandbox(self.runtime.as_ref(), &pods, namespace, name, uid).await
    }

    async fn stats_summary(
        &self,
        only_cpu_and_memory: bool,
    ) -> kubelet_server::Result<kubelet_server::stats::Summary> {
        Ok(self.stats.summary(only_cpu_and_memory).await?)
    }

    async fn cadvisor_cgroups(
        &self,
    ) -> kubelet_server::Result<Vec<kubelet_server::stats::CgroupInfo>> {
        Ok(self.stats.cadvisor_cgroups().await?)
    }

    fn node_log_dir(&self) -> Option<std::path::PathBuf> {
        Some(std::path::PathBuf::from("/var/log"))
    }
}

impl HttpState for NodeState {
    fn errors(&self) -> Vec<SourceError> {
        self.errors.borrow().errors.clone()
    }
}

impl NodeState {
    /// Gauges are computed from the pods' current statuses at scrape time, so they always
    /// match what the workers last saw in the runtime. Counters are not: observers
    /// increment them as things happen.
    fn refresh_metrics(&self) {
        let pods = self.statuses.pods();
        let running_pods = pods
            .iter()
            .filter_map(|p| p.status.as_ref())
            .filter(|s| {
                s.conditions
                    .iter()
                    .flatten()
                    .any(|c| c.type_ == "PodReadyToStartContainers" && c.status == "True")
            })
            .count();
        self.metrics
            .running_pods
            .set(i64::try_from(running_pods).unwrap_or(i64::MAX));
        // Container states as the runtime reports them (PLEG cache), like the kubelet.
        let cache = self.pleg.cache();
        let mut by_state = std::collections::BTreeMap::<&str, u64>::new();
        for uid in cache.uids() {
            let Some(entry) = cache.get(&uid) else {
                continue;
            };
            for c in &entry.status.containers {
                let state = match c.state {
                    ContainerState::Created => "created",
                    ContainerState::Running => "running",
                    ContainerState::Exited => "exited",
                    ContainerState::Unknown => "unknown",
                };
                *by_state.entry(state).or_default() += 1;
            }
        }
        for state in ["created", "running", "exited", "unknown"] {
            let n = by_state.get(state).copied().unwrap_or(0);
            self.metrics
                .running_containers
                .with_label_values(&[state])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }

        let pleg = self.pleg.metrics();
        let seen = self.relists_seen.swap(pleg.relists, Ordering::SeqCst);
        if pleg.relists > seen
            && let Some(d) = pleg.last_relist_duration
        {
            self.metrics
                .pleg_relist_duration_seconds
                .observe(d.as_secs_f64());
        }
    }
}

/// This node's IPs: the source address of the default route, if there is one.
pub fn detect_host_ips() -> Vec<String> {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("10.255.255.255:9").map(|_| s))
        .and_then(|s| s.local_addr());
    match probe.map(|a| a.ip()) {
        Ok(ip) if !ip.is_unspecified() && !ip.is_loopback() => vec![ip.to_string()],
        _ => vec!["127.0.0.1".to_string()],
    }
}

/// The runtime's sandbox (pause) image, from its verbose `Status` (containerd reports its
/// CRI config there); empty when it does not say.
async fn sandbox_image(runtime: &dyn RuntimeService) -> String {
    let status = runtime
        .status(v1::StatusRequest { verbose: true })
        .await
        .ok();
    let config = status.as_ref().and_then(|s| s.info.get("config"));
    config
        .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
        .and_then(|c| c.get("sandboxImage")?.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The node allocatable as the worker's container environment takes it: what a
/// `resourceFieldRef` to an unset CPU, memory or ephemeral-storage limit gives (the kubelet's
/// `MergeContainerResourceLimits` with `node.status.allocatable`).
fn worker_allocatable(resources: &NodeResources) -> pod_lifecycle::cri_config::NodeAllocatable {
    pod_lifecycle::cri_config::NodeAllocatable {
        cpu_millis: Some(resources.cpu_milli),
        memory_bytes: Some(resources.memory),
        ephemeral_storage_bytes: Some(resources.ephemeral_storage),
    }
}

/// The node allocatable as the volume manager takes it: memory emptyDir sizes and the
/// downwardAPI volume's `resourceFieldRef` limits (the kubelet uses `node.status.allocatable`
/// for both). A negative amount (reservations above capacity) counts as none.
fn volume_allocatable(resources: &NodeResources) -> volume_manager::plugins::NodeAllocatable {
    volume_manager::plugins::NodeAllocatable {
        memory_bytes: u64::try_from(resources.memory).ok(),
        cpu_millis: u64::try_from(resources.cpu_milli).ok(),
        ephemeral_storage_bytes: u64::try_from(resources.ephemeral_storage).ok(),
    }
}

/// The node's pod and QoS cgroups (the kubelet's container manager start-up): the capacity
/// from `/proc` and the root directory's filesystem, the allocatable after `kubeReserved`,
/// `systemReserved` and `evictionHard`, then `kubepods` and the QoS cgroups under
/// `cgroupRoot` on the host's cgroup back end. Blocking.
fn setup_cgroups(
    kubelet: &KubeletConfiguration,
    root_dir: &std::path::Path,
) -> Result<(NodeCgroups, NodeResources, NodeAllocatable)> {
    let reservations = kubelet
        .reservations()
        .map_err(|(field, reason)| Error::InvalidConfig {
            origin: "kubelet configuration".into(),
            field,
            reason,
        })?;
    let capacity = read_capacity(&HostPaths {
        node_fs: Some(root_dir.to_owned()),
        ..HostPaths::default()
    })
    .map_err(Error::Cgroups)?;
    let allocatable = node_allocatable(&capacity, &reservations).map_err(Error::Cgroups)?;
    let config = kubelet.cgroup_config(capacity.memory, allocatable.resources.memory);
    let cgroups = Cgroups::host().map_err(Error::Cgroups)?;
    let manager = PodCgroupManager::new(config, cgroups).map_err(Error::Cgroups)?;
    manager
        .setup_node(&capacity, &reservations)
        .map_err(Error::Cgroups)?;
    tracing::info!(
        root = %manager.root(),
        v2 = manager.cgroups().is_v2(),
        allocatable = ?allocatable,
        "node cgroups set up"
    );
    Ok((NodeCgroups::new(manager), capacity, allocatable))
}

async fn wait_for_runtime(runtime: &GrpcRuntime) -> Result<v1::VersionResponse> {
    let started = Instant::now();
    loop {
        match runtime.validate().await {
            Ok(version) => return Ok(version),
            Err(e) if started.elapsed() < MAX_WAIT_FOR_RUNTIME => {
                tracing::info!(error = %e, "waiting for the container runtime");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(Error::Runtime(e)),
        }
    }
}

/// The container log manager: logs rotated by size, legacy `/var/log/containers`
/// symlinks kept with them.
fn log_manager(
    kubelet: &KubeletConfiguration,
    runtime: Arc<Instrumented>,
) -> Result<ContainerLogManager> {
    ContainerLogManager::new(
        runtime,
        LogRotationSettings {
            max_size: kubelet.container_log_max_size_bytes(),
            max_files: u32::try_from(kubelet.container_log_max_files).unwrap_or(u32::MAX),
            ..LogRotationSettings::default()
        },
    )
    .map_err(|e| Error::InvalidConfig {
        origin: "kubelet configuration".into(),
        field: "containerLogMaxSize / containerLogMaxFiles".into(),
        reason: e.to_string(),
    })
}

/// The volume manager under the root directory, with what an earlier run mounted found
/// again instead of mounted twice.
async fn volumes(
    config: &AgentConfig,
    allocatable: &NodeAllocatable,
    objects: Arc<dyn volume_manager::objects::ObjectSource>,
    tokens: Option<Arc<dyn volume_manager::tokens::TokenSource>>,
) -> Result<VolumeManager> {
    let mut volume_config = VolumeManagerConfig {
        node_allocatable: volume_allocatable(&allocatable.resources),
        // `defaultUser` / `items[].user` own volume files only with this alpha gate on.
        volume_user_fields: config
            .kubelet
            .gates()
            .enabled(feature_gates::ATOMIC_WRITE_VOLUME_USER_FIELDS),
        ..VolumeManagerConfig::new(&config.root_dir)
    };
    if let Some(tokens) = tokens {
        volume_config = volume_config.with_tokens(tokens);
    }
    let volumes = VolumeManager::new(volume_config, objects).map_err(Error::Volumes)?;
    let reconstructed = {
        let volumes = volumes.clone();
        tokio::task::spawn_blocking(move || volumes.reconstruct())
            .await
            .map_err(Error::Task)?
            .map_err(Error::Volumes)?
    };
    if !reconstructed.is_empty() {
        tracing::info!(
            pods = reconstructed.len(),
            "found the volumes of pods mounted by an earlier run"
        );
    }
    Ok(volumes)
}

/// The pod workers' settings from the configuration and what start-up found.
fn worker_config(
    config: &AgentConfig,
    version: &v1::VersionResponse,
    cgroups: &NodeCgroups,
    allocatable: &NodeAllocatable,
) -> WorkerConfig {
    let kubelet = &config.kubelet;
    WorkerConfig {
        sync_frequency: kubelet.sync_frequency.as_duration(),
        pod_logs_dir: kubelet.pod_logs_dir.clone(),
        node_name: config.node_name.clone(),
        host_ips: detect_host_ips(),
        runtime_name: version.runtime_name.clone(),
        resources: cgroups.manager().config().resources.clone(),
        root_dir: Some(config.root_dir.clone()),
        serialize_image_pulls: kubelet.serialize_image_pulls,
        max_parallel_image_pulls: kubelet
            .max_parallel_image_pulls
            .and_then(|n| usize::try_from(n).ok()),
        allocatable: worker_allocatable(&allocatable.resources),
        crash_loop_backoff: kubelet.container_restart_backoff(),
        ..WorkerConfig::default()
    }
}

/// The node's labels as the kubelet sets them on its Node (hostname, OS and architecture,
/// with their beta twins) and `--node-labels`: what pods' node selectors and affinity are
/// admitted against, in standalone and cluster mode alike.
fn node_labels(config: &AgentConfig) -> std::collections::BTreeMap<String, String> {
    let mut labels = config.node_labels.clone();
    let (os, arch) = (status_reporter::go_os(), status_reporter::go_arch());
    for (key, value) in [
        (status_reporter::LABEL_HOSTNAME, config.node_name.as_str()),
        (status_reporter::LABEL_OS, os),
        (status_reporter::LABEL_OS_BETA, os),
        (status_reporter::LABEL_ARCH, arch),
        (status_reporter::LABEL_ARCH_BETA, arch),
    ] {
        labels.insert(key.to_owned(), value.to_owned());
    }
    labels
}

/// The image GC thresholds of the configuration.
fn image_gc_policy(kubelet: &KubeletConfiguration) -> ImageGcPolicy {
    ImageGcPolicy {
        high_threshold_percent: kubelet.image_gc_high_threshold_percent.clamp(0, 100) as u8,
        low_threshold_percent: kubelet.image_gc_low_threshold_percent.clamp(0, 100) as u8,
        min_age: kubelet.image_minimum_gc_age.as_duration(),
        ..Default::default()
    }
}

/// Hands each static pod snapshot to the pod manager (the objects first, so the pods that
/// use them find them); each refused manifest is logged once, not on every snapshot.
async fn feed_pod_manager(
    mut snapshots: watch::Receiver<Snapshot>,
    manager: Arc<PodManager>,
    objects: InMemoryObjects,
    static_pods: watch::Sender<Option<Vec<Pod>>>,
) {
    let mut reported = std::collections::BTreeSet::new();
    while snapshots.changed().await.is_ok() {
        let snapshot = snapshots.borrow_and_update().clone();
        let now: std::collections::BTreeSet<String> =
            snapshot.errors.iter().map(|e| e.to_string()).collect();
        for e in &snapshot.errors {
            if !reported.contains(&e.to_string()) {
                tracing::warn!(file = %e.file.display(), reason = %e.reason, "static pod manifest refused");
            }
        }
        reported = now;
        objects.replace_all(snapshot.config_maps, snapshot.secrets);
        static_pods.send_replace(Some(snapshot.pods.clone()));
        manager.set_source_pods("file", snapshot.pods);
    }
}

/// Container GC's node-wide part, every [`CONTAINER_GC_PERIOD`]: legacy log symlinks whose
/// container is gone.
async fn remove_dangling_symlinks(logs: Arc<ContainerLogManager>, runtime: Arc<Instrumented>) {
    let mut tick = tokio::time::interval(CONTAINER_GC_PERIOD);
    loop {
        tick.tick().await;
        if let Err(e) = logs.symlinks().remove_dangling(runtime.as_ref()).await {
            tracing::warn!(error = %e, "cannot remove dangling log symlinks");
        }
    }
}

/// With a `shutdownGracePeriod`, terminates every pod (regular pods, then critical ones)
/// and waits for them at most that long; without one, pods are left running.
async fn terminate_pods(manager: &PodManager, grace: Duration) {
    if grace.is_zero() {
        return;
    }
    tracing::info!(?grace, "terminating pods before shutdown");
    let all = manager.terminate_all(Some(grace.as_secs() as i64));
    if tokio::time::timeout(grace + Duration::from_secs(2), all)
        .await
        .is_err()
    {
        tracing::warn!("pods did not terminate within shutdownGracePeriod");
    }
}

/// Run the agent until `shutdown` completes: [`Node::build`], then [`Node::run`].
pub async fn run(config: AgentConfig, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
    Node::build(config).await?.run(shutdown).await
}

/// Every part of a standalone node, built and connected but not yet running: the runtime
/// (instrumented), the PLEG, the pod workers and manager, probes, volumes, cgroups, logs,
/// image GC, housekeeping, the static pod source and the bound HTTP servers.
pub struct Node {
    kubelet: KubeletConfiguration,
    node_name: String,
    runtime: Arc<Instrumented>,
    pleg: Pleg,
    pleg_events: tokio::sync::mpsc::Receiver<PodLifecycleEvent>,
    log_manager: Arc<ContainerLogManager>,
    cgroups: NodeCgroups,
    objects: InMemoryObjects,
    probes: ProbeManager,
    workers: Arc<PodWorkers>,
    manager: Arc<PodManager>,
    housekeeping: Housekeeping,
    image_gc: Arc<ImageGc>,
    eviction: Arc<EvictionManager>,
    /// The memory threshold notifications' settings and cgroups, when turned on
    /// (`kernelMemcgNotification`) and the node has v1 memory cgroups.
    memcg: Option<(EvictionConfig, crate::eviction::MemcgDirs)>,
    sync_loop: Arc<SyncLoopMonitor>,
    snapshots: watch::Sender<Snapshot>,
    state: Arc<dyn HttpState>,
    servers: Vec<HttpServer>,
    tasks: Supervisor,
    cluster: Option<ClusterMode>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("node_name", &self.node_name)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Connect to the runtime (waiting up to [`MAX_WAIT_FOR_RUNTIME`]), set up the node's
    /// cgroups, find the volumes an earlier run mounted, build every part and bind the HTTP
    /// endpoints. Nothing runs yet; an error here is a configuration or environment error.
    pub async fn build(config: AgentConfig) -> Result<Node> {
        let kubelet = config.kubelet.clone();
        for warning in kubelet.gates().warnings() {
            tracing::warn!("{warning}");
        }
        let grpc = GrpcRuntime::new(&kubelet.container_runtime_endpoint).map_err(Error::Runtime)?;
        let version = wait_for_runtime(&grpc).await?;
        tracing::info!(
            runtime = %version.runtime_name,
            version = %version.runtime_version,
            node = %config.node_name,
            "connected to the container runtime"
        );
        // Every CRI call is timed into `kubelet_runtime_operations_*`, the PLEG's relists too.
        let metrics = Arc::new(KubeletMetrics::new(&config.node_name));
        let grpc = Arc::new(grpc);
        let runtime = Arc::new(Instrumented::new(grpc.clone(), grpc, metrics.clone()));

        // PLEG: keeps the runtime cache fresh and wakes the worker of every pod with news.
        let (pleg, pleg_events) = Pleg::new(runtime.clone(), PlegConfig::default());
        let log_manager = Arc::new(log_manager(&kubelet, runtime.clone())?);
        // Pod cgroups under cgroupRoot, kubepods sized from the node allocatable (also what
        // the volumes and the workers take as the node allocatable).
        let (cgroups, capacity, allocatable) = {
            let (kubelet, root_dir) = (kubelet.clone(), config.root_dir.clone());
            tokio::task::spawn_blocking(move || setup_cgroups(&kubelet, &root_dir))
                .await
                .map_err(Error::Task)??
        };
        // Volumes under rootDir; ConfigMaps and Secrets come from the manifest directory.
        let tasks = Supervisor::new();
        // Cluster mode: the Node registers now, with what start-up found.
        let cluster = match &config.kubeconfig {
            Some(kubeconfig) => {
                let [capacity, allocatable] = node_resources(&capacity, &allocatable);
                let facts = NodeFacts {
                    capacity,
                    allocatable,
                    container_runtime_version: NodeFacts::container_runtime_version(
                        &version.runtime_name,
                        &version.runtime_version,
                    ),
                    ..NodeFacts::default()
                };
                Some(ClusterMode::start(&config, kubeconfig, facts, &tasks.token()).await?)
            }
            None => None,
        };
        // ConfigMaps and Secrets: beside the static manifests, and from the API server.
        let objects = InMemoryObjects::new();
        let object_source: Arc<dyn ObjectSource> = match &cluster {
            Some(cluster) => cluster.objects(objects.clone()),
            None => Arc::new(objects.clone()),
        };
        let tokens = cluster.as_ref().map(ClusterMode::token_source);
        let volumes = volumes(&config, &allocatable, object_source.clone(), tokens).await?;
        let statuses = MemoryStatusSink::new();
        let events = MemoryEvents::new();
        let (status_sink, event_sink): (Arc<dyn StatusSink>, Arc<dyn EventRecorder>) =
            match &cluster {
                Some(cluster) => (
                    cluster.status_sink(statuses.clone()),
                    cluster.event_recorder(events.clone()),
                ),
                None => (Arc::new(statuses.clone()), Arc::new(events.clone())),
            };
        // Probes: exec probes through the runtime, their events with the pods' events. When
        // the runtime already runs this node's containers the agent restarted, and the first
        // probe of each worker is spread over its period (the kubelet's jitter).
        let agent_restarted = runs_containers_of_node(runtime.as_ref(), &config.node_name)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot list the runtime's containers: probes start without jitter");
                false
            });
        let probes = ProbeManager::builder(runtime.clone())
            .agent_restarted(agent_restarted)
            .events(Arc::new(RecordedProbeEvents::new(event_sink.clone())))
            .build();
        let clock = Arc::new(SystemClock);
        let eviction_events = event_sink.clone();
        let host = PodHost {
            status: status_sink.clone(),
            events: event_sink,
            clock: clock.clone(),
            probes: Arc::new(probes.clone()),
            observer: metrics.clone(),
            logs: Some(log_manager.clone()),
            volumes: Arc::new(volumes.clone()),
            cgroups: Arc::new(cgroups.clone()),
            objects: Arc::new(SourceObjects(object_source)),
            container_started: {
                let pleg = pleg.clone();
                Arc::new(move |uid: &str| pleg.notify_pod(uid))
            },
            // Workers read the runtime through the PLEG's cache.
            runtime_reader: Arc::new(pleg.clone()),
            ..PodHost::new(runtime.clone(), runtime.clone())
        };
        let (volumes_seam, cgroups_seam) = (host.volumes.clone(), host.cgroups.clone());
        let worker_config = worker_config(&config, &version, &cgroups, &allocatable);
        let workers = Arc::new(PodWorkers::new(host, worker_config));
        let manager = Arc::new(PodManager::new(
            workers.clone(),
            runtime.clone() as Arc<dyn RuntimeService>,
            status_sink,
            clock.clone(),
            PodManagerConfig {
                max_pods: kubelet.max_pods.max(0) as usize,
                allocatable: Some(allocatable.resources),
                node_name: config.node_name.clone(),
                node_labels: node_labels(&config),
                pod_logs_dir: Some(kubelet.pod_logs_dir.clone()),
                sources: std::iter::once("file")
                    .chain(cluster.as_ref().map(|_| API_SOURCE))
                    .map(str::to_owned)
                    .collect(),
            },
        ));
        let housekeeping = Housekeeping::new(manager.clone(), volumes_seam, cgroups_seam);
        // Image GC every 5 minutes; the runtime's sandbox image is never removed.
        let sandbox_image = sandbox_image(runtime.as_ref()).await;
        let image_gc = Arc::new(ImageGc::new(
            runtime.clone(),
            runtime.clone(),
            image_gc_policy(&kubelet),
            &sandbox_image,
        ));
        let stats = crate::stats::StatsCollector::new(
            crate::stats::StatsConfig {
                sandbox_image,
                ..crate::stats::StatsConfig::new(
                    &config.node_name,
                    &config.root_dir,
                    &kubelet.pod_logs_dir,
                )
            },
            runtime.clone(),
            runtime.clone(),
            cgroups.clone(),
            {
                let statuses = statuses.clone();
                move || statuses.pods()
            },
        );
        // The eviction manager: stats from the collector, reclaim through the runtime, its
        // pressure conditions to admission (and, in cluster mode, to the Node).
        let eviction_config =
            kubelet
                .eviction_config()
                .map_err(|(field, reason)| Error::InvalidConfig {
                    origin: "the kubelet configuration".to_owned(),
                    field,
                    reason,
                })?;
        let memcg = kubelet
            .kernel_memcg_notification
            .then(|| stats.memcg_dirs())
            .flatten()
            .map(|dirs| (eviction_config.clone(), dirs));
        let eviction = Arc::new(
            EvictionManager::new(
                EvictionManagerConfig {
                    eviction: eviction_config,
                    node_name: config.node_name.clone(),
                    ..EvictionManagerConfig::default()
                },
                Arc::new(crate::eviction::StatsForEviction::new(
                    stats.clone(),
                    runtime.clone(),
                    &config.root_dir,
                )),
                Arc::new(RuntimeReclaim::new(
                    runtime.clone(),
                    Some(log_manager.clone()),
                    Some(image_gc.clone()),
                    &config.node_name,
                )),
                manager.clone(),
                eviction_events,
                clock,
            )
            .map_err(Error::Eviction)?
            .with_eviction_observer({
                let evictions = metrics.evictions.clone();
                move |signal| {
                    evictions.with_label_values(&[signal]).inc();
                }
            }),
        );
        manager.set_node_pressure(eviction.pressure());
        let sync_loop = Arc::new(SyncLoopMonitor::new(kubelet.sync_frequency.as_duration()));
        let (snapshots, snapshot_rx) = watch::channel(Snapshot::default());
        let state: Arc<dyn HttpState> = Arc::new(NodeState {
            runtime: runtime.clone(),
            stats,
            sync_loop: sync_loop.clone(),
            config: kubelet.clone(),
            statuses,
            pleg: pleg.clone(),
            registry: AgentRegistry::new(&metrics, probes.metrics()),
            metrics,
            errors: snapshot_rx,
            relists_seen: AtomicU64::new(0),
        });
        let plans = plan_servers(&kubelet, cluster.is_some());
        let security = if plans.iter().any(|plan| plan.secure) {
            let reviewers = cluster
                .as_ref()
                .map(ClusterMode::kubelet_api_reviewers)
                .unwrap_or_default();
            Some(Security::from_config(
                &kubelet,
                &config.root_dir,
                &config.node_name,
                &config.node_ips,
                reviewers,
            )?)
        } else {
            None
        };
        let mut servers = Vec::new();
        for plan in plans {
            let server = HttpServer::bind(plan, security.as_ref()).await?;
            tracing::info!(addr = %server.local_addr(), endpoints = ?plan.endpoints, "serving HTTP");
            servers.push(server);
        }
        Ok(Node {
            kubelet,
            node_name: config.node_name,
            runtime,
            pleg,
            pleg_events,
            log_manager,
            cgroups,
            objects,
            probes,
            workers,
            manager,
            housekeeping,
            image_gc,
            eviction,
            memcg,
            sync_loop,
            snapshots,
            state,
            servers,
            tasks,
            cluster,
        })
    }

    /// Run every loop of the node until `shutdown` completes, then stop them all and wait
    /// for each (the pod workers too). Pods are left running unless `shutdownGracePeriod`
    /// is set, in which case they are terminated first.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
        let Node {
            mut pleg_events,
            snapshots,
            tasks,
            mut cluster,
            ..
        } = self;
        let snapshot_rx = snapshots.subscribe();
        tasks.spawn_until_stopped(wake_on_probe_results(&self.probes, &self.workers));
        let pleg = self.pleg.clone();
        tasks.spawn(|stop| async move { pleg.run(stop.cancelled_owned()).await });
        let workers = self.workers.clone();
        tasks.spawn_until_stopped(async move {
            while let Some(event) = pleg_events.recv().await {
                workers.wake(&event.pod_uid);
            }
        });
        // `None` until the static source has read its directory once.
        let (static_pods, static_pods_rx) = watch::channel(None);
        match self.kubelet.static_pod_path.clone() {
            Some(path) => {
                let source = StaticPodSource::new(path, self.node_name.clone())
                    .with_check_frequency(self.kubelet.file_check_frequency.as_duration());
                tasks.spawn(|stop| source.run(snapshots, stop.cancelled_owned()));
            }
            // No static pods: the file source is "seen" with an empty set.
            None => {
                self.manager.set_source_pods("file", Vec::new());
                static_pods.send_replace(Some(Vec::new()));
            }
        }
        let (manager, objects) = (self.manager.clone(), self.objects.clone());
        tasks.spawn_until_stopped(feed_pod_manager(snapshot_rx, manager, objects, static_pods));
        if let Some(cluster) = cluster.as_mut() {
            let (manager, runtime) = (self.manager.clone(), self.runtime.clone());
            cluster.spawn(&tasks, manager, static_pods_rx, runtime, self.pleg.clone());
        }
        let logs = self.log_manager.clone();
        tasks.spawn(|stop| async move { logs.run(stop.cancelled_owned()).await });
        let (logs, runtime) = (self.log_manager.clone(), self.runtime.clone());
        tasks.spawn_until_stopped(remove_dangling_symlinks(logs, runtime));
        let gc = self.image_gc;
        tasks.spawn(|stop| async move { gc.run(IMAGE_GC_PERIOD, stop.cancelled_owned()).await });
        let eviction = self.eviction.clone();
        tasks.spawn(|stop| run_eviction_manager(eviction, stop));
        if let Some((config, dirs)) = self.memcg {
            let eviction = self.eviction.clone();
            tasks.spawn(|stop| async move {
                let blocking = tokio::task::spawn_blocking(move || {
                    crate::eviction::watch_memory_thresholds(eviction, config, dirs, stop)
                });
                if let Err(e) = blocking.await {
                    tracing::warn!(error = %e, "the memory threshold notifications stopped");
                }
            });
        }
        if let Some(cluster) = cluster.as_ref() {
            // The eviction manager's conditions on the Node (MemoryPressure, DiskPressure,
            // PIDPressure).
            let (mut pressure, facts) = (self.eviction.pressure(), cluster.facts());
            tasks.spawn_until_stopped(async move {
                loop {
                    let now = *pressure.borrow_and_update();
                    let now = NodePressure {
                        memory: now.memory,
                        disk: now.disk,
                        pid: now.pid,
                    };
                    facts.send_if_modified(|f| {
                        let changed = f.pressure != now;
                        f.pressure = now;
                        changed
                    });
                    if pressure.changed().await.is_err() {
                        return;
                    }
                }
            });
        }
        let cgroups = self.cgroups.clone();
        tasks.spawn(|stop| async move {
            cgroups
                .run_qos_updates(QOS_CGROUP_UPDATE_PERIOD, stop)
                .await
        });
        let (housekeeping, sync_loop) = (self.housekeeping, self.sync_loop.clone());
        tasks.spawn(|stop| async move {
            housekeeping
                .run(HOUSEKEEPING_PERIOD, stop, || sync_loop.stamp())
                .await
        });
        for server in self.servers {
            let state = self.state.clone();
            let debugging = self.kubelet.enable_debugging_handlers;
            tasks.spawn(|stop| async move {
                if let Err(e) = server.serve(state, debugging, stop.cancelled_owned()).await {
                    tracing::error!(error = %e, "HTTP server failed");
                }
            });
        }

        shutdown.await;
        tracing::info!("shutting down");
        terminate_pods(
            &self.manager,
            self.kubelet.shutdown_grace_period.as_duration(),
        )
        .await;
        tasks.stop().await;
        self.workers.stop().await;
        if let Some(cluster) = cluster {
            cluster.shutdown().await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `resource-field-ref-allocatable`: the worker and the volume manager get the node
    /// allocatable the agent computed (after reservations), for `resourceFieldRef` limits a
    /// container leaves unset.
    #[test]
    fn resource_field_ref_allocatable_comes_from_the_node_allocatable() {
        let resources = NodeResources {
            cpu_milli: 2000,
            memory: 24105 * 1024 * 1024,
            ephemeral_storage: 250 << 30,
            pids: 4096,
        };
        assert_eq!(
            worker_allocatable(&resources),
            pod_lifecycle::cri_config::NodeAllocatable {
                cpu_millis: Some(2000),
                memory_bytes: Some(24105 * 1024 * 1024),
                ephemeral_storage_bytes: Some(250 << 30),
            }
        );
        assert_eq!(
            volume_allocatable(&resources),
            volume_manager::plugins::NodeAllocatable {
                memory_bytes: Some(24105 * 1024 * 1024),
                cpu_millis: Some(2000),
                ephemeral_storage_bytes: Some(250 << 30),
            }
        );
        let negative = NodeResources {
            memory: -1,
            ..resources
        };
        assert_eq!(volume_allocatable(&negative).memory_bytes, None);
    }

    #[tokio::test(start_paused = true)]
    async fn pl_06_syncloop_check_fails_after_twice_sync_frequency_at_least_5m() {
        // syncFrequency 1m: the limit is the 5 minute floor.
        let monitor = SyncLoopMonitor::new(Duration::from_secs(60));
        tokio::time::advance(Duration::from_secs(299)).await;
        assert!(monitor.check().is_ok());
        monitor.stamp();
        tokio::time::advance(Duration::from_secs(301)).await;
        let error = monitor.check().unwrap_err();
        assert!(
            error.starts_with("sync loop took longer than expected"),
            "{error}"
        );
        monitor.stamp();
        assert!(
            monitor.check().is_ok(),
            "an iteration makes it healthy again"
        );

        // syncFrequency 10m: twice that.
        let monitor = SyncLoopMonitor::new(Duration::from_secs(600));
        tokio::time::advance(Duration::from_secs(1199)).await;
        assert!(monitor.check().is_ok());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(monitor.check().is_err());
    }
}
