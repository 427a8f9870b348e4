//! What the pod worker needs from the rest of the node, as traits owned here with do-nothing
//! defaults. Volumes, cgroups, probes and status reporting live in their own crates; the
//! worker reaches them only through these seams, so it runs (and is tested) without them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cri_client::v1;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, PodStatus, Secret};

use crate::plan::ProbeResults;

/// A source of wall-clock time. The worker never reads the system clock directly, so tests
/// drive it in virtual time together with the fake runtime's clock.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// What a container's mounts depend on besides the pod spec (the kubelet's `makeMounts`
/// arguments): `/etc/hosts` needs the pod IPs, `subPathExpr` the container's environment.
#[derive(Debug, Clone, Copy)]
pub struct MountContext<'a> {
    /// The pod's IPs (empty for a pod whose sandbox reported none).
    pub pod_ips: &'a [String],
    /// The container's resolved environment, in order.
    pub env: &'a [v1::KeyValue],
}

/// How a pod worker reads what the runtime runs for its pod.
///
/// The worker asks for a view read after `after`, the end of its own last change to the
/// runtime (the kubelet's `podCache.GetNewerThan(uid, lastSyncTime)`), so it never plans
/// from a view that misses what it just did, and never reads the runtime itself when a
/// fresh enough view exists. The agent gives the workers its [`Pleg`](crate::pleg::Pleg),
/// whose cache the relist keeps current; [`DirectReader`] reads the runtime on every call,
/// for workers without a PLEG.
#[async_trait]
pub trait RuntimeReader: Send + Sync {
    /// The pod's runtime view, read after `after` (any current one when `None`).
    async fn pod_status(
        &self,
        pod_uid: &str,
        after: Option<tokio::time::Instant>,
    ) -> Result<crate::plan::PodRuntimeStatus, cri_client::Error>;
}

/// Reads the runtime at every call: `ListPodSandbox` and `ListContainers` filtered by the
/// pod's UID, then the status of each ([`crate::pleg::pod_runtime_status`]).
#[derive(Clone)]
pub struct DirectReader(pub Arc<dyn cri_client::RuntimeService>);

impl std::fmt::Debug for DirectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DirectReader")
    }
}

#[async_trait]
impl RuntimeReader for DirectReader {
    async fn pod_status(
        &self,
        pod_uid: &str,
        _after: Option<tokio::time::Instant>,
    ) -> Result<crate::plan::PodRuntimeStatus, cri_client::Error> {
        crate::pleg::pod_runtime_status(self.0.as_ref(), pod_uid).await
    }
}

/// The pods a node still has: called by a housekeeping pass after it listed what is on
/// disk, so a pod admitted in between is never taken for an orphan.
pub type ActivePods = Box<dyn FnOnce() -> BTreeSet<String> + Send>;

/// A failure behind one of the node's seams (volumes, cgroups, probes), with its source kept.
///
/// The worker shows an implementation's own error as it is: its text is the
/// `FailedToCreatePodContainer` event of a cgroup that cannot be made, the
/// `CreateContainerConfigError` message of a container whose mounts or probes are invalid,
/// as the kubelet shows its volume and cgroup managers' errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeamError {
    /// The implementation's error, shown as it is.
    #[error("{0}")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),

    /// The implementation's error while doing `action` (housekeeping's
    /// `removing orphaned pod cgroups: ...`).
    #[error("{action}: {source}")]
    During {
        /// What was being done (`removing orphaned pod cgroups`).
        action: &'static str,
        /// The implementation's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The blocking task that ran the call panicked or was cancelled
    /// (`cgroup manager task failed: ...`).
    #[error("{task} task failed: {source}")]
    Task {
        /// Whose task it was (`cgroup manager`, `volume manager`).
        task: &'static str,
        /// Why it did not finish.
        #[source]
        source: tokio::task::JoinError,
    },
}

impl SeamError {
    /// The implementation's `source`, shown as it is.
    pub fn failed(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        SeamError::Failed(source.into())
    }

    /// `source` while doing `action`.
    pub fn during(
        action: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        SeamError::During {
            action,
            source: source.into(),
        }
    }

    /// The blocking task of `task` (`cgroup manager`) did not finish.
    pub fn task(task: &'static str, source: tokio::task::JoinError) -> Self {
        SeamError::Task { task, source }
    }
}

/// Why a pod's volumes are not mounted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountError {
    /// The names of the volumes not mounted.
    pub unmounted: Vec<String>,
    /// One message per failure, each a `FailedMount` event (`MountVolume.SetUp failed for
    /// volume "cfg" : configmap "cfg" not found`).
    pub failures: Vec<String>,
}

impl MountError {
    /// A failure that is not about one volume.
    pub fn other(message: impl Into<String>) -> Self {
        MountError {
            unmounted: Vec::new(),
            failures: vec![message.into()],
        }
    }

    /// The `FailedMount` event once the kubelet's 2m3s wait ran out.
    pub fn timeout_message(&self) -> String {
        volume_manager::failed_mount_event_message(&self.unmounted)
    }
}

impl std::fmt::Display for MountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unmounted volumes=[{}]", self.unmounted.join(" "))?;
        for failure in &self.failures {
            write!(f, "; {failure}")?;
        }
        Ok(())
    }
}

/// Its failures are event messages, kept as text for the `FailedMount` events.
impl std::error::Error for MountError {}

/// Pod volumes (the volume-manager crate implements this).
#[async_trait]
pub trait PodVolumes: Send + Sync {
    /// Mount every volume of the pod (and refresh those whose source changed); the worker
    /// calls this on every sync and creates no container before it succeeds (the kubelet's
    /// `WaitForAttachAndMount`).
    async fn mount(&self, pod: &Pod) -> Result<(), MountError>;
    /// The CRI mounts of one container of a mounted pod. An error is the container's
    /// `CreateContainerConfigError` (an escaping `subPath`, a missing volume), its text the
    /// status message.
    fn container_mounts(
        &self,
        pod: &Pod,
        container: &Container,
        ctx: &MountContext<'_>,
    ) -> Result<Vec<v1::Mount>, SeamError>;
    /// Unmount and remove the pod's volumes after every container is gone.
    async fn unmount(&self, pod: &Pod) -> Result<(), SeamError>;
    /// Unmount and remove the volumes of pods that are not `active` (the kubelet's
    /// `cleanupOrphanedPodDirs`: pods deleted while the agent was down). Returns the UIDs
    /// cleaned up, and the pods whose cleanup failed with why. The default, for
    /// implementations without volumes on disk, has nothing to clean.
    async fn remove_orphans(
        &self,
        active: ActivePods,
    ) -> Result<(Vec<String>, Vec<SeamError>), SeamError> {
        let _ = active;
        Ok((Vec::new(), Vec::new()))
    }
}

/// A pod without volume support: nothing to mount.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoVolumes;

#[async_trait]
impl PodVolumes for NoVolumes {
    async fn mount(&self, _pod: &Pod) -> Result<(), MountError> {
        Ok(())
    }
    fn container_mounts(
        &self,
        _: &Pod,
        _: &Container,
        _: &MountContext<'_>,
    ) -> Result<Vec<v1::Mount>, SeamError> {
        Ok(Vec::new())
    }
    async fn unmount(&self, _pod: &Pod) -> Result<(), SeamError> {
        Ok(())
    }
}

/// Pod-level cgroups (the cgroup-enforcer crate implements this).
#[async_trait]
pub trait PodCgroups: Send + Sync {
    /// Create the pod cgroup with its limits; returns the `cgroup_parent` for the sandbox.
    /// An error's text is the pod's `FailedToCreatePodContainer` event.
    async fn ensure(&self, pod: &Pod) -> Result<Option<String>, SeamError>;
    /// Remove the pod cgroup once the pod's processes are gone.
    async fn remove(&self, pod: &Pod) -> Result<(), SeamError>;
    /// Whether the pod's cgroup exists (`PodContainerManager.Exists`). The worker kills and
    /// recreates a running pod whose cgroup disappeared (QS-19). The default, for
    /// implementations without pod cgroups, is that it always exists.
    async fn exists(&self, pod: &Pod) -> Result<bool, SeamError> {
        let _ = pod;
        Ok(true)
    }
    /// Remove the cgroups of pods that are not `active` (the kubelet's
    /// `cleanupOrphanedPodCgroups`). Returns the UIDs removed. The default, for
    /// implementations without pod cgroups, has nothing to remove.
    async fn remove_orphans(&self, active: ActivePods) -> Result<Vec<String>, SeamError> {
        let _ = active;
        Ok(Vec::new())
    }
}

/// No pod cgroups: the runtime picks the sandbox's cgroup.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCgroups;

#[async_trait]
impl PodCgroups for NoCgroups {
    async fn ensure(&self, _pod: &Pod) -> Result<Option<String>, SeamError> {
        Ok(None)
    }
    async fn remove(&self, _pod: &Pod) -> Result<(), SeamError> {
        Ok(())
    }
}

/// Probe workers and their results (the probes crate implements this).
pub trait PodProbes: Send + Sync {
    /// Start (or update) probe workers for the pod's running containers.
    fn add_pod(&self, pod: &Pod);
    /// Stop liveness and startup probes of a terminating pod; readiness keeps running.
    fn terminating(&self, pod_uid: &str);
    /// Stop every probe worker of the pod.
    fn remove_pod(&self, pod_uid: &str);
    /// The latest results for the pod's containers.
    fn results(&self, pod_uid: &str) -> ProbeResults;
    /// The pod's newly generated status (container IDs, start times, pod IP), which probe
    /// workers read as the kubelet's read the status manager.
    fn pod_status(&self, pod: &Pod, status: &PodStatus) {
        let _ = (pod, status);
    }
    /// Check one container's probes before it is created; an error (naming the probe and
    /// the field) is the container's `CreateContainerConfigError`, its text the status
    /// message.
    fn validate(&self, pod: &Pod, container: &Container) -> Result<(), SeamError> {
        let _ = (pod, container);
        Ok(())
    }
}

/// ConfigMaps and Secrets for `envFrom` / `valueFrom` (the volume-manager crate's object
/// sources implement this; cluster mode reads the API server).
pub trait PodObjects: Send + Sync {
    /// A ConfigMap of the namespace, if it exists.
    fn config_map(&self, namespace: &str, name: &str) -> Option<ConfigMap>;
    /// A Secret of the namespace, if it exists.
    fn secret(&self, namespace: &str, name: &str) -> Option<Secret>;
}

/// No objects at all: every reference is missing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObjects;

impl PodObjects for NoObjects {
    fn config_map(&self, _: &str, _: &str) -> Option<ConfigMap> {
        None
    }
    fn secret(&self, _: &str, _: &str) -> Option<Secret> {
        None
    }
}

/// No probes: readiness follows "running", liveness never fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProbes;

impl PodProbes for NoProbes {
    fn add_pod(&self, _pod: &Pod) {}
    fn terminating(&self, _pod_uid: &str) {}
    fn remove_pod(&self, _pod_uid: &str) {}
    fn results(&self, _pod_uid: &str) -> ProbeResults {
        ProbeResults::new()
    }
}

/// Which kind of sync a pod worker ran (the kubelet's `operation_type` label of
/// `kubelet_pod_worker_duration_seconds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncOperation {
    /// The first sync of a pod.
    Create,
    /// A sync after the pod object changed.
    Update,
    /// Any other sync (an event, a resync).
    Sync,
}

impl SyncOperation {
    /// The metric label value: `create`, `update` or `sync`.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncOperation::Create => "create",
            SyncOperation::Update => "update",
            SyncOperation::Sync => "sync",
        }
    }
}

/// Told how long pod work takes and what it started, for metrics
/// (`kubelet_pod_worker_duration_seconds`, `kubelet_pod_start_duration_seconds`,
/// `kubelet_started_containers_total`). Every method defaults to doing nothing.
pub trait WorkerObserver: Send + Sync {
    /// One sync of a pod that should run finished, successfully or not.
    fn pod_synced(&self, pod: &Pod, operation: SyncOperation, took: std::time::Duration) {
        let _ = (pod, operation, took);
    }
    /// Every container of the pod was seen running for the first time, `took` after the
    /// worker first saw the pod.
    fn pod_started(&self, pod: &Pod, took: std::time::Duration) {
        let _ = (pod, took);
    }
    /// A container of `kind` was started (CRI `StartContainer` succeeded), once per start:
    /// the moment the kubelet counts `kubelet_started_containers_total`.
    fn container_started(&self, pod: &Pod, kind: crate::plan::ContainerKind) {
        let _ = (pod, kind);
    }
}

/// Observes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl WorkerObserver for NoObserver {}

/// Where generated pod statuses go (the status-reporter crate implements this for the API
/// server; the agent serves them on `/pods`). The worker calls it only when the status
/// changed.
pub trait StatusSink: Send + Sync {
    /// The pod's new status.
    fn set_pod_status(&self, pod: &Pod, status: &PodStatus);
    /// The pod is gone from this node (terminated and cleaned up).
    fn pod_removed(&self, pod: &Pod) {
        let _ = pod;
    }
    /// The pod's termination is complete: its containers are stopped and its volumes
    /// unmounted, and `status` (terminal) was the last one set. A sink for the API server
    /// deletes a pod being deleted now (the kubelet's `TerminatePod`).
    fn pod_terminated(&self, pod: &Pod, status: &PodStatus) {
        let _ = (pod, status);
    }
}

/// The latest status of every pod, in memory, with the full history for tests.
#[derive(Debug, Clone, Default)]
pub struct MemoryStatusSink {
    inner: Arc<Mutex<MemoryStatuses>>,
}

#[derive(Debug, Default)]
struct MemoryStatuses {
    latest: BTreeMap<String, (Pod, PodStatus)>,
    /// Every status sent, only when asked for ([`MemoryStatusSink::with_history`]): an agent
    /// keeps the latest status only, so its memory does not grow with pod churn.
    history: Option<Vec<(String, PodStatus)>>,
}

impl MemoryStatusSink {
    /// An empty sink that keeps the latest status of each pod.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty sink that also keeps every status sent, for tests and examples
    /// ([`MemoryStatusSink::history`]).
    pub fn with_history() -> Self {
        let sink = Self::default();
        sink.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .history = Some(Vec::new());
        sink
    }

    /// The latest status of a pod by UID.
    pub fn get(&self, uid: &str) -> Option<PodStatus> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .latest
            .get(uid)
            .map(|(_, s)| s.clone())
    }

    /// Every pod with its latest status, ordered by UID.
    pub fn pods(&self) -> Vec<Pod> {
        let inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner
            .latest
            .values()
            .map(|(pod, status)| Pod {
                status: Some(status.clone()),
                ..pod.clone()
            })
            .collect()
    }

    /// Every status sent for a pod, oldest first (empty unless built
    /// [`with_history`](MemoryStatusSink::with_history)).
    pub fn history(&self, uid: &str) -> Vec<PodStatus> {
        let inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner
            .history
            .iter()
            .flatten()
            .filter(|(u, _)| u == uid)
            .map(|(_, s)| s.clone())
            .collect()
    }
}

impl StatusSink for MemoryStatusSink {
    fn set_pod_status(&self, pod: &Pod, status: &PodStatus) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner
            .latest
            .insert(uid.clone(), (pod.clone(), status.clone()));
        if let Some(history) = inner.history.as_mut() {
            history.push((uid.clone(), status.clone()));
        }
    }

    fn pod_removed(&self, pod: &Pod) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .latest
            .remove(&uid);
    }
}

/// Normal or Warning, as in a Kubernetes Event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Routine.
    Normal,
    /// Something went wrong.
    Warning,
}

/// One event about a pod (`Pulled`, `Created`, `Started`, `Killing`, `BackOff`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodEvent {
    /// `namespace/name` of the pod.
    pub pod: String,
    /// The pod's UID (the event's `involvedObject.uid` in cluster mode).
    pub uid: String,
    /// The container the event is about, when it is about one, as the event's
    /// `involvedObject.fieldPath` names it: `spec.containers{app}`, `spec.initContainers{init}`.
    pub field_path: Option<String>,
    /// Normal or Warning.
    pub kind: EventType,
    /// The kubelet's reason (`BackOff`).
    pub reason: String,
    /// The kubelet's message.
    pub message: String,
}

/// One event about the node itself (`EvictionThresholdMet`), whose involved object is the
/// Node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEvent {
    /// The node's name.
    pub node: String,
    /// Normal or Warning.
    pub kind: EventType,
    /// The kubelet's reason (`EvictionThresholdMet`).
    pub reason: String,
    /// The kubelet's message (`Attempting to reclaim memory`).
    pub message: String,
}

/// Where the worker's events go (the agent logs them; cluster mode posts them).
pub trait EventRecorder: Send + Sync {
    /// Record an event about a pod.
    fn record(&self, event: PodEvent);

    /// Record an event about a pod with annotations (the kubelet's `AnnotatedEventf`: the
    /// `Evicted` event carries `offending_containers`, `offending_containers_usage` and
    /// `starved_resource`). The default drops the annotations and records the event.
    fn record_annotated(&self, event: PodEvent, annotations: &BTreeMap<String, String>) {
        let _ = annotations;
        self.record(event);
    }

    /// Record an event about the node. The default logs it with `tracing`; a recorder for
    /// the API server posts it with the Node as the involved object.
    fn record_node(&self, event: NodeEvent) {
        match event.kind {
            EventType::Normal => {
                tracing::info!(node = %event.node, reason = %event.reason, "{}", event.message)
            }
            EventType::Warning => {
                tracing::warn!(node = %event.node, reason = %event.reason, "{}", event.message)
            }
        }
    }
}

/// Events logged with `tracing` and kept in memory (bounded) for tests and `/pods` debugging.
#[derive(Debug, Clone, Default)]
pub struct MemoryEvents {
    events: Arc<Mutex<Vec<PodEvent>>>,
    node_events: Arc<Mutex<Vec<NodeEvent>>>,
    annotations: Arc<Mutex<Vec<AnnotatedEvent>>>,
}

/// A pod event with its annotations, as [`MemoryEvents::annotated`] keeps it.
pub type AnnotatedEvent = (PodEvent, BTreeMap<String, String>);

impl MemoryEvents {
    /// Keep at most this many events.
    pub const CAPACITY: usize = 10_000;

    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every event recorded so far, oldest first.
    pub fn all(&self) -> Vec<PodEvent> {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Events with this reason.
    pub fn with_reason(&self, reason: &str) -> Vec<PodEvent> {
        self.all()
            .into_iter()
            .filter(|e| e.reason == reason)
            .collect()
    }

    /// Every node event recorded so far, oldest first.
    pub fn node_events(&self) -> Vec<NodeEvent> {
        self.node_events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Every annotated pod event recorded so far, with its annotations, oldest first.
    pub fn annotated(&self) -> Vec<AnnotatedEvent> {
        self.annotations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl EventRecorder for MemoryEvents {
    fn record(&self, event: PodEvent) {
        match event.kind {
            EventType::Normal => {
                tracing::info!(pod = %event.pod, reason = %event.reason, "{}", event.message)
            }
            EventType::Warning => {
                tracing::warn!(pod = %event.pod, reason = %event.reason, "{}", event.message)
            }
        }
        let mut events = self
            .events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if events.len() >= Self::CAPACITY {
            events.remove(0);
        }
        events.push(event);
    }

    fn record_annotated(&self, event: PodEvent, annotations: &BTreeMap<String, String>) {
        {
            let mut kept = self
                .annotations
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if kept.len() >= Self::CAPACITY {
                kept.remove(0);
            }
            kept.push((event.clone(), annotations.clone()));
        }
        self.record(event);
    }

    fn record_node(&self, event: NodeEvent) {
        match event.kind {
            EventType::Normal => {
                tracing::info!(node = %event.node, reason = %event.reason, "{}", event.message)
            }
            EventType::Warning => {
                tracing::warn!(node = %event.node, reason = %event.reason, "{}", event.message)
            }
        }
        let mut events = self
            .node_events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if events.len() >= Self::CAPACITY {
            events.remove(0);
        }
        events.push(event);
    }
}
