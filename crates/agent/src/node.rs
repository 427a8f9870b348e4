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
use pod_lifecycle::logs::{ContainerLogManager, LogRotationSettings};
use pod_lifecycle::plan::ContainerState;
use pod_lifecycle::pleg::{Pleg, PlegConfig};
use pod_lifecycle::pod_manager::{PodManager, PodManagerConfig};
use pod_lifecycle::worker::NodeCgroups;
use pod_lifecycle::worker::{
    MemoryEvents, MemoryStatusSink, PodHost, PodWorkers, SourceObjects, SystemClock, WorkerConfig,
};
use pod_lifecycle::worker::{RecordedProbeEvents, runs_containers_of_node, spawn_wake};
use probes::ProbeManager;
use tokio::sync::watch;
use volume_manager::objects::InMemoryObjects;
use volume_manager::{VolumeManager, VolumeManagerConfig};

use crate::config::{AgentConfig, KubeletConfiguration};
use crate::http::{HealthCheck, HttpServer, HttpState, plan_servers};
use crate::metrics::{AgentRegistry, KubeletMetrics};
use crate::static_pods::{Snapshot, SourceError, StaticPodSource};
use crate::{Error, Result};

/// How long start-up waits for the container runtime (the kubelet's
/// `maxWaitForContainerRuntime`).
pub const MAX_WAIT_FOR_RUNTIME: Duration = Duration::from_secs(30);
/// Container garbage collection period (the kubelet's `ContainerGCPeriod`, 1 min).
pub const CONTAINER_GC_PERIOD: Duration = Duration::from_secs(60);
/// Housekeeping period (the kubelet's 2 s).
pub const HOUSEKEEPING_PERIOD: Duration = Duration::from_secs(2);
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
        *self.stamp.lock().expect("sync loop stamp") = tokio::time::Instant::now();
    }

    /// `Err` when the loop has not moved for longer than the limit.
    pub fn check(&self) -> std::result::Result<(), String> {
        let since = self.stamp.lock().expect("sync loop stamp").elapsed();
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

impl HttpState for NodeState {
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

    fn errors(&self) -> Vec<SourceError> {
        self.errors.borrow().errors.clone()
    }

    fn kubelet_config(&self) -> KubeletConfiguration {
        self.config.clone()
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

/// Unmount and remove the volumes of pods no worker knows (the kubelet's
/// `cleanupOrphanedPodDirs`): pods deleted while the agent was down.
async fn remove_orphaned_volumes(volumes: &VolumeManager, workers: &PodWorkers) {
    let active = workers.pods();
    let volumes = volumes.clone();
    let removed = tokio::task::spawn_blocking(move || {
        let active: Vec<&str> = active.iter().map(String::as_str).collect();
        let mut errors = Vec::new();
        for uid in volumes.orphaned_pods(&active)? {
            if let Err(e) = volumes.unmount_pod(&uid) {
                errors.push(e);
            }
        }
        Ok::<_, volume_manager::Error>(errors)
    })
    .await;
    match removed {
        Ok(Ok(errors)) => {
            for e in errors {
                tracing::warn!(error = %e, "cannot remove an orphaned pod's volumes");
            }
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot list orphaned pod directories"),
        Err(e) => tracing::warn!(error = %e, "orphaned volume cleanup failed"),
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
) -> Result<(NodeCgroups, NodeAllocatable)> {
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
    Ok((NodeCgroups::new(manager), allocatable))
}

/// Remove the cgroups of pods no worker knows (the kubelet's `cleanupOrphanedPodCgroups`):
/// pods deleted while the agent was down.
async fn remove_orphaned_cgroups(cgroups: &NodeCgroups, workers: &Arc<PodWorkers>) {
    let workers = workers.clone();
    match cgroups
        .remove_orphans(move || workers.pods().into_iter().collect())
        .await
    {
        Ok(removed) if !removed.is_empty() => {
            tracing::info!(pods = ?removed, "removed the cgroups of orphaned pods")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot remove orphaned pod cgroups"),
    }
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

/// Run the agent until `shutdown` completes. On shutdown, pods are left running unless
/// `shutdownGracePeriod` is set, in which case they are terminated first (regular pods, then
/// critical ones).
pub async fn run(config: AgentConfig, shutdown: impl Future<Output = ()> + Send) -> Result<()> {
    let kubelet = config.kubelet.clone();
    let runtime = GrpcRuntime::new(&kubelet.container_runtime_endpoint).map_err(Error::Runtime)?;
    let version = wait_for_runtime(&runtime).await?;
    tracing::info!(
        runtime = %version.runtime_name,
        version = %version.runtime_version,
        node = %config.node_name,
        "connected to the container runtime"
    );
    // Every CRI call is timed into `kubelet_runtime_operations_*`, the PLEG's relists too.
    let metrics = Arc::new(KubeletMetrics::new(&config.node_name));
    let runtime = Arc::new(runtime);
    let runtime = Arc::new(Instrumented::new(runtime.clone(), runtime, metrics.clone()));

    // PLEG: keeps the runtime cache fresh and wakes the worker of every pod with news.
    let (pleg, mut pleg_events) = Pleg::new(runtime.clone(), PlegConfig::default());
    // Container logs rotated by size; legacy /var/log/containers symlinks kept with them.
    let log_manager = Arc::new(
        ContainerLogManager::new(
            runtime.clone(),
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
        })?,
    );
    // Pod cgroups under cgroupRoot, kubepods sized from the node allocatable (also what the volumes and
    // the workers take as the node allocatable).
    let (cgroups, allocatable) = {
        let (kubelet, root_dir) = (kubelet.clone(), config.root_dir.clone());
        tokio::task::spawn_blocking(move || setup_cgroups(&kubelet, &root_dir))
            .await
            .map_err(|e| Error::Logging(e.to_string()))??
    };
    // Volumes under rootDir; ConfigMaps and Secrets come from the manifest directory. What
    // an earlier run mounted is found again instead of mounted twice.
    let objects = InMemoryObjects::new();
    let volumes = VolumeManager::new(
        VolumeManagerConfig {
            node_allocatable: volume_allocatable(&allocatable.resources),
            ..VolumeManagerConfig::new(&config.root_dir)
        },
        Arc::new(objects.clone()),
    )
    .map_err(Error::Volumes)?;
    let reconstructed = {
        let volumes = volumes.clone();
        tokio::task::spawn_blocking(move || volumes.reconstruct())
            .await
            .map_err(|e| Error::Logging(e.to_string()))?
            .map_err(Error::Volumes)?
    };
    if !reconstructed.is_empty() {
        tracing::info!(
            pods = reconstructed.len(),
            "found the volumes of pods mounted by an earlier run"
        );
    }
    let statuses = MemoryStatusSink::new();
    let events = MemoryEvents::new();
    // Probes: exec probes through the runtime, their events with the pods' events. When the
    // runtime already runs this node's containers the agent restarted, and the first probe
    // of each worker is spread over its period (the kubelet's jitter).
    let agent_restarted = runs_containers_of_node(runtime.as_ref(), &config.node_name)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot list the runtime's containers: probes start without jitter");
            false
        });
    let probes = ProbeManager::builder(runtime.clone())
        .agent_restarted(agent_restarted)
        .events(Arc::new(RecordedProbeEvents::new(Arc::new(events.clone()))))
        .build();
    let clock = Arc::new(SystemClock);
    let host = PodHost {
        status: Arc::new(statuses.clone()),
        events: Arc::new(events.clone()),
        clock: clock.clone(),
        probes: Arc::new(probes.clone()),
        observer: metrics.clone(),
        logs: Some(log_manager.clone()),
        volumes: Arc::new(volumes.clone()),
        cgroups: Arc::new(cgroups.clone()),
        objects: Arc::new(SourceObjects(Arc::new(objects.clone()))),
        container_started: {
            let pleg = pleg.clone();
            Arc::new(move |uid: &str| pleg.notify_pod(uid))
        },
        ..PodHost::new(runtime.clone(), runtime.clone())
    };
    let worker_config = WorkerConfig {
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
        ..WorkerConfig::default()
    };
    let workers = Arc::new(PodWorkers::new(host, worker_config));
    // A changed probe result wakes the pod's worker (restart, readiness in the status).
    let probe_wake_task = spawn_wake(&probes, &workers);
    let manager = Arc::new(PodManager::new(
        workers.clone(),
        runtime.clone() as Arc<dyn RuntimeService>,
        Arc::new(statuses.clone()),
        clock,
        PodManagerConfig {
            max_pods: kubelet.max_pods.max(0) as usize,
            allocatable: Some(allocatable.resources),
            ..Default::default()
        },
    ));

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };

    let pleg_task = tokio::spawn({
        let pleg = pleg.clone();
        let stop = stopped(stop_rx.clone());
        async move { pleg.run(stop).await }
    });
    let wake_task = tokio::spawn({
        let workers = workers.clone();
        async move {
            while let Some(event) = pleg_events.recv().await {
                workers.wake(&event.pod_uid);
            }
        }
    });

    // The static pod source feeds the pod manager with full snapshots.
    let (snapshot_tx, snapshot_rx) = watch::channel(Snapshot::default());
    let source_task = match kubelet.static_pod_path.clone() {
        Some(path) => {
            let source = StaticPodSource::new(path, config.node_name.clone())
                .with_check_frequency(kubelet.file_check_frequency.as_duration());
            let stop = stopped(stop_rx.clone());
            Some(tokio::spawn(
                async move { source.run(snapshot_tx, stop).await },
            ))
        }
        None => {
            // No static pods: the file source is "seen" with an empty set.
            manager.set_source_pods("file", Vec::new());
            drop(snapshot_tx);
            None
        }
    };
    let manager_task = tokio::spawn({
        let manager = manager.clone();
        let mut snapshots = snapshot_rx.clone();
        async move {
            let mut reported = std::collections::BTreeSet::new();
            while snapshots.changed().await.is_ok() {
                let snapshot = snapshots.borrow_and_update().clone();
                // Each refused manifest is logged once, not on every snapshot.
                let now: std::collections::BTreeSet<String> =
                    snapshot.errors.iter().map(|e| e.to_string()).collect();
                for e in &snapshot.errors {
                    if !reported.contains(&e.to_string()) {
                        tracing::warn!(file = %e.file.display(), reason = %e.reason, "static pod manifest refused");
                    }
                }
                reported = now;
                // Objects first, so the pods that use them find them.
                objects.replace_all(snapshot.config_maps, snapshot.secrets);
                manager.set_source_pods("file", snapshot.pods);
            }
        }
    });
    let sync_loop = Arc::new(SyncLoopMonitor::new(kubelet.sync_frequency.as_duration()));
    let log_task = tokio::spawn({
        let log_manager = log_manager.clone();
        let stop = stopped(stop_rx.clone());
        async move { log_manager.run(stop).await }
    });
    // Container GC's node-wide part: legacy log symlinks whose container is gone.
    let symlink_gc_task = tokio::spawn({
        let log_manager = log_manager.clone();
        let runtime = runtime.clone();
        async move {
            let mut tick = tokio::time::interval(CONTAINER_GC_PERIOD);
            loop {
                tick.tick().await;
                if let Err(e) = log_manager
                    .symlinks()
                    .remove_dangling(runtime.as_ref())
                    .await
                {
                    tracing::warn!(error = %e, "cannot remove dangling log symlinks");
                }
            }
        }
    });
    // Image GC every 5 minutes; the runtime's sandbox image is never removed.
    let image_gc_task = tokio::spawn({
        let gc = pod_lifecycle::image_gc::ImageGc::new(
            runtime.clone(),
            runtime.clone(),
            pod_lifecycle::plan::ImageGcPolicy {
                high_threshold_percent: kubelet.image_gc_high_threshold_percent.clamp(0, 100) as u8,
                low_threshold_percent: kubelet.image_gc_low_threshold_percent.clamp(0, 100) as u8,
                min_age: kubelet.image_minimum_gc_age.as_duration(),
                ..Default::default()
            },
            &sandbox_image(runtime.as_ref()).await,
        );
        let stop = stopped(stop_rx.clone());
        async move {
            gc.run(pod_lifecycle::image_gc::IMAGE_GC_PERIOD, stop).await;
        }
    });
    let qos_task = tokio::spawn({
        let cgroups = cgroups.clone();
        async move {
            let mut tick = tokio::time::interval(QOS_CGROUP_UPDATE_PERIOD);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = cgroups.update_qos_cgroups().await {
                    tracing::warn!(error = %e, "cannot update the QoS cgroups");
                }
            }
        }
    });
    let housekeeping_task = tokio::spawn({
        let cgroups = cgroups.clone();
        let manager = manager.clone();
        let workers = workers.clone();
        let volumes = volumes.clone();
        let sync_loop = sync_loop.clone();
        async move {
            let mut tick = tokio::time::interval(HOUSEKEEPING_PERIOD);
            loop {
                tick.tick().await;
                sync_loop.stamp();
                manager.housekeeping().await;
                remove_orphaned_volumes(&volumes, &workers).await;
                // Like orphaned sandboxes: only once every source has reported.
                if manager.sources_ready() {
                    remove_orphaned_cgroups(&cgroups, &workers).await;
                }
                sync_loop.stamp();
            }
        }
    });

    // HTTP endpoints.
    let state: Arc<dyn HttpState> = Arc::new(NodeState {
        sync_loop,
        config: kubelet.clone(),
        statuses,
        pleg: pleg.clone(),
        registry: AgentRegistry::new(&metrics, probes.metrics()),
        metrics,
        errors: snapshot_rx,
        relists_seen: AtomicU64::new(0),
    });
    let mut servers = Vec::new();
    for plan in plan_servers(&kubelet) {
        let server = HttpServer::bind(plan.addr, plan.endpoints).await?;
        tracing::info!(addr = %server.local_addr(), endpoints = ?plan.endpoints, "serving HTTP");
        let stop = stopped(stop_rx.clone());
        servers.push(tokio::spawn(server.serve(state.clone(), stop)));
    }

    shutdown.await;
    tracing::info!("shutting down");
    let grace = kubelet.shutdown_grace_period.as_duration();
    if !grace.is_zero() {
        tracing::info!(?grace, "terminating pods before shutdown");
        let all = manager.terminate_all(Some(grace.as_secs() as i64));
        if tokio::time::timeout(grace + Duration::from_secs(2), all)
            .await
            .is_err()
        {
            tracing::warn!("pods did not terminate within shutdownGracePeriod");
        }
    }
    let _ = stop_tx.send(true);
    workers.shutdown();
    housekeeping_task.abort();
    qos_task.abort();
    image_gc_task.abort();
    symlink_gc_task.abort();
    manager_task.abort();
    wake_task.abort();
    probe_wake_task.abort();
    if let Some(t) = source_task {
        t.abort();
    }
    for s in servers {
        let _ = s.await;
    }
    let _ = pleg_task.await;
    let _ = log_task.await;
    Ok(())
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
