//! The eviction manager's loop (`pkg/kubelet/eviction/eviction_manager.go`): every
//! housekeeping interval (10 s) and whenever it is notified (memory threshold
//! notifications), one [`EvictionManager::synchronize`]:
//!
//! 1. read the node's and the pods' stats through the [`EvictionStats`] seam;
//! 2. step the pure [`EvictionState`] of `pod-plan`,
//!    publish the node's pressure conditions ([`EvictionManager::pressure`], which the
//!    agent forwards to the node status and the pod manager uses for admission);
//! 3. evict the pods over their local storage limits (emptyDir `sizeLimit`,
//!    ephemeral-storage limits), if any, and stop there;
//! 4. for the threshold to act on: a Warning event `EvictionThresholdMet` "Attempting to
//!    reclaim memory" on the node; for disk signals, node-level reclaim first (dead
//!    containers, unused images, through [`NodeReclaim`]), then the stats again: nothing is
//!    evicted when that resolved the pressure (EV-12);
//! 5. rank the active pods and evict the first that is not critical (at most one a sync),
//!    through the pod workers: its status becomes Failed, reason `Evicted`, the kubelet's
//!    message and a `DisruptionTarget` condition, its containers are killed with 1 s for a
//!    hard threshold or `min(evictionMaxPodGracePeriod, terminationGracePeriodSeconds)` for
//!    a soft one, and it never runs again. A Warning event `Evicted` with the message and
//!    the kubelet's annotations goes on the pod; [`EvictionCounter`] counts it by signal
//!    (`kubelet_evictions{eviction_signal}`).
//!
//! After an eviction the loop waits (up to 30 s) for the pod to be cleaned up, then syncs
//! again at once, as the kubelet's `waitForPodsCleanup`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Pod;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::plan::PodFailure;
use crate::plan::eviction::{
    self, EVICTED_REASON, EVICTION_THRESHOLD_MET, EvictionConfig, EvictionState, NodePressure,
    NodeReclaimAction, Observations,
};
use crate::pod_manager::PodManager;
use crate::worker::{Clock, EventRecorder, EventType, NodeEvent, PodEvent, SeamError};

/// The kubelet's default eviction monitoring interval (`evictionMonitoringPeriod`, the
/// housekeeping period of cAdvisor stats: 10 s).
pub const DEFAULT_EVICTION_INTERVAL: Duration = Duration::from_secs(10);
/// How long the loop waits for an evicted pod to be cleaned up (`podCleanupTimeout`).
pub const POD_CLEANUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the eviction manager's stats come from (the kubelet's summary provider): the
/// node's signals and the pods' usage at one moment. The agent converts its stats
/// collector's numbers; tests script them.
#[async_trait]
pub trait EvictionStats: Send + Sync {
    /// The current observations. An error skips the sync (the kubelet logs "failed to get
    /// summary stats" and waits for the next one).
    async fn observe(&self) -> Result<Observations, SeamError>;
}

/// What the node can free by itself before it evicts pods (`ContainerGC` and `ImageGC` of
/// the kubelet). The defaults free nothing.
#[async_trait]
pub trait NodeReclaim: Send + Sync {
    /// Remove every dead container the pods do not need (`DeleteAllUnusedContainers`).
    async fn delete_unused_containers(&self) -> Result<(), SeamError> {
        Ok(())
    }
    /// Remove every image no container uses (`DeleteUnusedImages`).
    async fn delete_unused_images(&self) -> Result<(), SeamError> {
        Ok(())
    }
}

/// Node-level reclaim that frees nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReclaim;

#[async_trait]
impl NodeReclaim for NoReclaim {}

/// Evictions counted by signal: the `eviction_signal` label of `kubelet_evictions`
/// (`memory.available`, `nodefs.available`, ..., and `emptydirfs.limit`,
/// `ephemeralpodfs.limit`, `ephemeralcontainerfs.limit` for local storage). Cheap to
/// clone; every clone reads the same counts.
#[derive(Debug, Clone, Default)]
pub struct EvictionCounter(Arc<Mutex<BTreeMap<String, u64>>>);

impl EvictionCounter {
    fn increment(&self, signal: &str) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(signal.to_owned())
            .or_default() += 1;
    }

    /// The evictions for one signal label.
    pub fn get(&self, signal: &str) -> u64 {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(signal)
            .copied()
            .unwrap_or(0)
    }

    /// Every signal label with its count.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Settings of the eviction manager's loop.
#[derive(Debug, Clone)]
pub struct EvictionManagerConfig {
    /// The thresholds and periods ([`EvictionConfig`]).
    pub eviction: EvictionConfig,
    /// How often a sync runs without being notified (10 s).
    pub interval: Duration,
    /// How long to wait for an evicted pod to be cleaned up before the next sync (30 s).
    pub pod_cleanup_timeout: Duration,
    /// The node's name, the involved object of `EvictionThresholdMet`.
    pub node_name: String,
}

impl Default for EvictionManagerConfig {
    fn default() -> Self {
        EvictionManagerConfig {
            eviction: EvictionConfig::default(),
            interval: DEFAULT_EVICTION_INTERVAL,
            pod_cleanup_timeout: POD_CLEANUP_TIMEOUT,
            node_name: "localhost".into(),
        }
    }
}

/// What [`EvictionManager::with_eviction_observer`] calls with each eviction's signal.
type EvictionObserver = Box<dyn Fn(&str) + Send + Sync>;

/// The eviction manager. Share it in an `Arc`: [`run`](Self::run) in a task,
/// [`notify`](Self::notify) from the memory threshold notifiers.
pub struct EvictionManager {
    config: EvictionManagerConfig,
    stats: Arc<dyn EvictionStats>,
    reclaim: Arc<dyn NodeReclaim>,
    pods: Arc<PodManager>,
    events: Arc<dyn EventRecorder>,
    clock: Arc<dyn Clock>,
    state: Mutex<EvictionState>,
    pressure: watch::Sender<NodePressure>,
    wake: Notify,
    evictions: EvictionCounter,
    on_eviction: Option<EvictionObserver>,
}

impl std::fmt::Debug for EvictionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvictionManager")
            .field("config", &self.config)
            .field("pressure", &*self.pressure.borrow())
            .finish_non_exhaustive()
    }
}

fn full_name(pod: &Pod) -> String {
    crate::plan::pod_full_name(pod)
}

fn uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or_default()
}

impl EvictionManager {
    /// A manager over these stats, node-level reclaim and pods; it evicts through the pod
    /// manager's workers and records events with `events`.
    ///
    /// Errors when the configuration is refused ([`EvictionConfig::validate`]).
    pub fn new(
        config: EvictionManagerConfig,
        stats: Arc<dyn EvictionStats>,
        reclaim: Arc<dyn NodeReclaim>,
        pods: Arc<PodManager>,
        events: Arc<dyn EventRecorder>,
        clock: Arc<dyn Clock>,
    ) -> crate::Result<Self> {
        config
            .eviction
            .validate()
            .map_err(crate::Error::EvictionConfig)?;
        Ok(EvictionManager {
            config,
            stats,
            reclaim,
            pods,
            events,
            clock,
            state: Mutex::new(EvictionState::new()),
            pressure: watch::Sender::new(NodePressure::default()),
            wake: Notify::new(),
            evictions: EvictionCounter::default(),
            on_eviction: None,
        })
    }

    /// The node's pressure conditions, updated every sync: the agent forwards them to the
    /// node status (`MemoryPressure`, `DiskPressure`, `PIDPressure`), and
    /// [`PodManager::set_node_pressure`] admits pods by them.
    pub fn pressure(&self) -> watch::Receiver<NodePressure> {
        self.pressure.subscribe()
    }

    /// Calls `observe` with the signal label (`memory.available`) of every eviction, as it
    /// happens: how an agent counts `kubelet_evictions{eviction_signal}` in its own metrics
    /// registry.
    pub fn with_eviction_observer(
        mut self,
        observe: impl Fn(&str) + Send + Sync + 'static,
    ) -> Self {
        self.on_eviction = Some(Box::new(observe));
        self
    }

    /// The evictions so far, by signal (`kubelet_evictions`).
    pub fn evictions(&self) -> EvictionCounter {
        self.evictions.clone()
    }

    /// Run a sync now (a memory threshold was crossed), without waiting for the interval.
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    /// Sync every interval, and when notified, until `stop` is cancelled.
    pub async fn run(&self, stop: CancellationToken) {
        tracing::info!("eviction manager: starting control loop");
        loop {
            if stop.is_cancelled() {
                return;
            }
            let evicted = tokio::select! {
                _ = stop.cancelled() => return,
                result = self.synchronize() => match result {
                    Ok(evicted) => evicted,
                    Err(e) => {
                        tracing::warn!(error = %e, "eviction manager: failed to synchronize");
                        Vec::new()
                    }
                },
            };
            if !evicted.is_empty() {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = self.wait_for_cleanup(&evicted) => {}
                }
                continue;
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(self.config.interval) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    async fn wait_for_cleanup(&self, uids: &[String]) {
        let workers = self.pods.workers().clone();
        let all = async {
            for uid in uids {
                workers.wait_terminated(uid).await;
            }
        };
        if tokio::time::timeout(self.config.pod_cleanup_timeout, all)
            .await
            .is_err()
        {
            tracing::info!(pods = ?uids, "eviction manager: timed out waiting for pods to be cleaned up");
        }
    }

    /// One sync (`synchronize`). Returns the UIDs of the pods evicted (at most one for a
    /// threshold; every pod over its local storage limits).
    pub async fn synchronize(&self) -> crate::Result<Vec<String>> {
        let config = &self.config.eviction;
        if config.hard.is_empty()
            && config.soft.is_empty()
            && !config.local_storage_capacity_isolation
        {
            return Ok(Vec::new());
        }
        let active = self.pods.active_pods();
        let observations = self
            .stats
            .observe()
            .await
            .map_err(crate::Error::EvictionStats)?;
        let now = self.clock.now();
        let step = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .observe(config, now, &observations);
        self.pressure.send_if_modified(|p| {
            let changed = *p != step.pressure;
            *p = step.pressure;
            changed
        });

        let refs: Vec<&Pod> = active.iter().collect();
        if config.local_storage_capacity_isolation {
            let mut evicted = Vec::new();
            for e in eviction::local_storage_evictions(&refs, &observations) {
                let Some(pod) = active.iter().find(|p| uid(p) == e.uid) else {
                    continue;
                };
                let failure = eviction::local_storage_failure(&e.message);
                let grace = eviction::IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS;
                if self.evict(pod, grace, failure, &e.message, &BTreeMap::new(), e.signal) {
                    evicted.push(e.uid.clone());
                }
            }
            if !evicted.is_empty() {
                return Ok(evicted);
            }
        }

        let Some(reclaim) = step.reclaim else {
            tracing::debug!("eviction manager: no resources are starved");
            return Ok(Vec::new());
        };
        let resource = reclaim.resource;
        tracing::info!(resource = %resource, "eviction manager: attempting to reclaim");
        self.events.record_node(NodeEvent {
            node: self.config.node_name.clone(),
            kind: EventType::Warning,
            reason: EVICTION_THRESHOLD_MET.into(),
            message: format!("Attempting to reclaim {resource}"),
        });

        if !reclaim.node_reclaim.is_empty() {
            for action in &reclaim.node_reclaim {
                let result = match action {
                    NodeReclaimAction::DeleteUnusedContainers => {
                        self.reclaim.delete_unused_containers().await
                    }
                    NodeReclaimAction::DeleteUnusedImages => {
                        self.reclaim.delete_unused_images().await
                    }
                };
                if let Err(e) = result {
                    tracing::info!(resource = %resource, error = %e, "eviction manager: unexpected error when attempting to reduce resource pressure");
                }
            }
            match self.stats.observe().await {
                Ok(after) if eviction::resolved_after_reclaim(config, &after) => {
                    tracing::info!(resource = %resource, "eviction manager: able to reduce resource pressure without evicting pods");
                    return Ok(Vec::new());
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "eviction manager: failed to get summary stats after resource reclaim");
                }
            }
        }

        tracing::info!(resource = %resource, "eviction manager: must evict pod(s) to reclaim");
        if active.is_empty() {
            tracing::warn!(
                "eviction manager: eviction thresholds have been met, but no pods are active to evict"
            );
            return Ok(Vec::new());
        }
        let ranked = eviction::rank_for_eviction(&reclaim, &refs, &observations.pods);
        for pod in ranked {
            let grace = config.eviction_grace_seconds(reclaim.is_hard(), pod);
            let usage = observations.pods.iter().find(|u| u.uid == uid(pod));
            let message = eviction::eviction_message(resource, pod, usage, &step.met);
            let failure = eviction::evicted_failure(&message.message);
            if self.evict(
                pod,
                grace,
                failure,
                &message.message,
                &message.annotations,
                reclaim.signal().as_str(),
            ) {
                return Ok(vec![uid(pod).to_owned()]);
            }
        }
        tracing::info!("eviction manager: unable to evict any pods from the node");
        Ok(Vec::new())
    }

    /// `evictPod`: refuse a critical pod; otherwise record the `Evicted` event, hand the
    /// pod to its worker to fail and kill, and count it.
    fn evict(
        &self,
        pod: &Pod,
        grace: i64,
        failure: PodFailure,
        message: &str,
        annotations: &BTreeMap<String, String>,
        signal: &str,
    ) -> bool {
        let span =
            tracing::info_span!("evict_pod", pod = %full_name(pod), uid = %uid(pod), signal, grace);
        let _entered = span.enter();
        if eviction::is_critical_pod(pod) {
            tracing::error!("eviction manager: cannot evict a critical pod");
            return false;
        }
        self.events.record_annotated(
            PodEvent {
                pod: full_name(pod),
                uid: uid(pod).to_owned(),
                field_path: None,
                kind: EventType::Warning,
                reason: EVICTED_REASON.into(),
                message: message.to_owned(),
            },
            annotations,
        );
        tracing::info!(message, "evicting pod");
        self.pods.workers().evict_pod(pod.clone(), grace, failure);
        self.evictions.increment(signal);
        if let Some(observe) = &self.on_eviction {
            observe(signal);
        }
        true
    }
}

/// Runs [`EvictionManager::run`] in the current span's name, for callers that spawn it.
pub async fn run_eviction_manager(manager: Arc<EvictionManager>, stop: CancellationToken) {
    manager
        .run(stop)
        .instrument(tracing::info_span!("eviction_manager"))
        .await;
}

/// Node-level reclaim through the runtime (the kubelet's `ContainerGC.DeleteAllUnusedContainers`
/// and `ImageGC.DeleteUnusedImages`): the dead containers of this node's terminated pods go,
/// with their log files, and then every image no container uses.
///
/// Only pods whose sandbox is no longer ready count as terminated, and only sandboxes
/// labelled with this node's name ([`crate::labels::NODE_NAME`]) are considered, so a
/// runtime shared with other agents loses nothing of theirs. A running pod's own dead
/// instances are already kept to one per container by its worker (IM-10).
pub struct RuntimeReclaim {
    runtime: Arc<dyn cri_client::RuntimeService>,
    logs: Option<Arc<container_logs::ContainerLogManager>>,
    images: Option<Arc<crate::image_gc::ImageGc>>,
    node_name: String,
}

impl std::fmt::Debug for RuntimeReclaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeReclaim")
            .field("node_name", &self.node_name)
            .finish_non_exhaustive()
    }
}

impl RuntimeReclaim {
    /// Reclaim on `runtime` for node `node_name`; `logs` removes the log files of removed
    /// containers, `images` removes unused images (neither: only containers go).
    pub fn new(
        runtime: Arc<dyn cri_client::RuntimeService>,
        logs: Option<Arc<container_logs::ContainerLogManager>>,
        images: Option<Arc<crate::image_gc::ImageGc>>,
        node_name: &str,
    ) -> Self {
        RuntimeReclaim {
            runtime,
            logs,
            images,
            node_name: node_name.to_owned(),
        }
    }
}

#[async_trait]
impl NodeReclaim for RuntimeReclaim {
    async fn delete_unused_containers(&self) -> Result<(), SeamError> {
        use cri_client::v1;
        let sandboxes = self
            .runtime
            .list_pod_sandbox(v1::ListPodSandboxRequest { filter: None })
            .await
            .map_err(|e| SeamError::during("listing sandboxes", e))?;
        let terminated: std::collections::HashSet<String> = sandboxes
            .items
            .into_iter()
            .filter(|s| {
                s.state != v1::PodSandboxState::SandboxReady as i32
                    && s.labels.get(crate::labels::NODE_NAME) == Some(&self.node_name)
            })
            .map(|s| s.id)
            .collect();
        if terminated.is_empty() {
            return Ok(());
        }
        let containers = self
            .runtime
            .list_containers(v1::ListContainersRequest { filter: None })
            .await
            .map_err(|e| SeamError::during("listing containers", e))?;
        for c in containers.containers {
            if c.state != v1::ContainerState::ContainerExited as i32
                || !terminated.contains(&c.pod_sandbox_id)
            {
                continue;
            }
            if let Some(logs) = &self.logs
                && let Err(e) = logs.remove_container_logs(&c.id).await
            {
                tracing::debug!(container = %c.id, error = %e, "cannot remove the container's logs");
            }
            tracing::info!(container = %c.id, "eviction reclaim: removing a dead container");
            if let Err(e) = self
                .runtime
                .remove_container(v1::RemoveContainerRequest {
                    container_id: c.id.clone(),
                })
                .await
            {
                tracing::warn!(container = %c.id, error = %e, "eviction reclaim: cannot remove a dead container");
            }
        }
        Ok(())
    }

    async fn delete_unused_images(&self) -> Result<(), SeamError> {
        let Some(images) = &self.images else {
            return Ok(());
        };
        let plan = images
            .delete_unused_images(jiff::Timestamp::now())
            .await
            .map_err(|e| SeamError::during("removing unused images", e))?;
        tracing::info!(
            images = plan.remove.len(),
            bytes = plan.bytes_freed,
            "eviction reclaim: unused images removed"
        );
        Ok(())
    }
}
