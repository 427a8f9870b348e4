//! One pod's sync and termination: the plan applied through the CRI traits (the kubelet's
//! `SyncPod`, `SyncTerminatingPod`, `SyncTerminatedPod` and kuberuntime's `SyncPod` /
//! `killPodWithSyncResult`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use volume_manager::layout::RootDir;

use cri_client::{ImageService, RuntimeService, v1};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, Pod, PodStatus};
use tracing::Instrument;

use crate::cri_config::{self, ContainerEnvironment, ContainerOptions, SandboxOptions};
use crate::plan::{
    self, Backoff, ContainerKind, ContainerState, ContainerToStart, ImagePullDecision, KillCause,
    PodRuntimeStatus, ReasonCache, StatusInput, WaitingReason,
};
use crate::validation;
use crate::worker::hooks::{HookSuccess, LIFECYCLE_HTTP_FALLBACK, LifecycleHook, run_hook};
use crate::worker::host::{
    Clock, EventRecorder, EventType, MountContext, PodCgroups, PodEvent, PodObjects, PodProbes,
    PodVolumes, SeamError, StatusSink, WorkerObserver,
};

/// Settings of the pod workers. The defaults are the kubelet's.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Resync period of a pod with no events (`syncFrequency`, 1 min, jittered up to +50 %).
    pub sync_frequency: Duration,
    /// Retry delay after a failed sync (10 s, jittered up to +50 %).
    pub error_backoff: Duration,
    /// Where container logs go (`podLogsDir`, `/var/log/pods`).
    pub pod_logs_dir: PathBuf,
    /// This node's name (for `spec.nodeName` env and static pods).
    pub node_name: String,
    /// This node's IPs (`status.hostIPs`, host-network pod IPs).
    pub host_ips: Vec<String>,
    /// The runtime's name, for `containerID` (`containerd://<id>`).
    pub runtime_name: String,
    /// The node's resource settings for container CRI resources (`cpuCFSQuota`,
    /// `cpuCFSQuotaPeriod`, the memory capacity for the Burstable `oom_score_adj`, cgroup v2
    /// or not). An agent with a `cgroup_enforcer::PodCgroupManager` passes its
    /// `config().resources`, so containers and pod cgroups use the same numbers.
    pub resources: cgroup_enforcer::ResourceOptions,
    /// Remove a terminated pod's containers and sandboxes right away instead of leaving them
    /// to garbage collection.
    pub remove_terminated: bool,
    /// The agent's state directory (`rootDir`, the kubelet's `/var/lib/kubelet`): container
    /// termination-message files go to `pods/<uid>/containers/<name>/<random>`. `None` (the
    /// default, for tests and embedders without a state directory) mounts no termination
    /// message file.
    pub root_dir: Option<PathBuf>,
    /// Pull one image at a time on the node (`serializeImagePulls`, default true).
    pub serialize_image_pulls: bool,
    /// With parallel pulls, at most this many at once (`maxParallelImagePulls`, unset:
    /// no limit).
    pub max_parallel_image_pulls: Option<usize>,
    /// The node's allocatable CPU, memory and ephemeral storage (`node.status.allocatable`):
    /// what a `resourceFieldRef` to `limits.cpu`, `limits.memory` or
    /// `limits.ephemeral-storage` gives for a container without that limit (the kubelet's
    /// `containerResourceRuntimeValue` with `MergeContainerResourceLimits`,
    /// `kubelet_resources.go`). The default (all `None`) gives 0, as for a node without the
    /// resource; an agent passes its node allocatable.
    pub allocatable: cri_config::NodeAllocatable,
    /// The container restart back-off (CrashLoopBackOff, RP-10): the kubelet's 10s doubling
    /// to 300s by default; an agent passes what its configuration says
    /// (`crashLoopBackOff.maxContainerRestartPeriod`, the `KubeletCrashLoopBackOffMax` and
    /// `ReduceDefaultCrashLoopBackOffDecay` gates). Each pod worker's back-off starts from it.
    pub crash_loop_backoff: plan::CrashLoopBackOffConfig,
}

/// The text of a failed `PullImage` as the kubelet shows it (`ErrImagePull`, the `Failed`
/// event): grpc-go's `rpc error: code = NotFound desc = ...`, or the status message alone
/// when the code is `Unknown` (its CRI client's `pullImageV1`, `remote_image.go`; then
/// `evalCRIPullErr`, `image_manager.go`). An error that did not come from the runtime keeps
/// this crate's text.
fn pull_error_text(e: &cri_client::Error) -> String {
    match e.grpc_text() {
        Some(text) if text.starts_with("rpc error: code = Unknown desc = ") => {
            e.status_message().map_or(text.clone(), str::to_string)
        }
        Some(text) => text,
        None => e.to_string(),
    }
}

/// The message of a failed `CreateContainer` or `StartContainer` as the kubelet shows it
/// (`CreateContainerError`, `RunContainerError`, the `Failed` event): the gRPC status message
/// alone (`s.Message()` in `startContainer`, `kuberuntime_container.go`).
fn runtime_error_message(e: &cri_client::Error) -> String {
    e.status_message()
        .map_or_else(|| e.to_string(), str::to_string)
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            sync_frequency: Duration::from_secs(60),
            error_backoff: Duration::from_secs(10),
            pod_logs_dir: PathBuf::from("/var/log/pods"),
            node_name: "localhost".into(),
            host_ips: Vec::new(),
            runtime_name: "containerd".into(),
            resources: cgroup_enforcer::ResourceOptions::default(),
            remove_terminated: true,
            root_dir: None,
            serialize_image_pulls: true,
            max_parallel_image_pulls: None,
            allocatable: cri_config::NodeAllocatable::default(),
            crash_loop_backoff: plan::CrashLoopBackOffConfig::default(),
        }
    }
}

/// Everything a pod worker talks to. Cloned into every worker (all fields are shared).
#[derive(Clone)]
pub struct PodHost {
    /// The container runtime.
    pub runtime: Arc<dyn RuntimeService>,
    /// The image service (usually the same runtime).
    pub images: Arc<dyn ImageService>,
    /// Pod volumes.
    pub volumes: Arc<dyn PodVolumes>,
    /// Pod cgroups.
    pub cgroups: Arc<dyn PodCgroups>,
    /// Probes.
    pub probes: Arc<dyn PodProbes>,
    /// ConfigMaps and Secrets for container environments.
    pub objects: Arc<dyn PodObjects>,
    /// Where statuses go.
    pub status: Arc<dyn StatusSink>,
    /// Where events go.
    pub events: Arc<dyn EventRecorder>,
    /// Wall-clock time.
    pub clock: Arc<dyn Clock>,
    /// Told how long syncs and pod start-ups take (metrics).
    pub observer: Arc<dyn WorkerObserver>,
    /// Container logs: the legacy `/var/log/containers` symlink made after each start, log
    /// files and symlink removed with each container. `None`: neither.
    pub logs: Option<Arc<crate::logs::ContainerLogManager>>,
    /// Called with the pod UID after a container of that pod started, so the PLEG can look
    /// at the pod at once (and start its exit watcher) instead of at the next relist:
    /// `Arc::new(move |uid| pleg.notify_pod(uid))`.
    pub container_started: Arc<dyn Fn(&str) + Send + Sync>,
    /// How the worker reads the runtime's view of its pod: [`DirectReader`](super::DirectReader)
    /// over `runtime` by default; the agent's [`Pleg`](crate::pleg::Pleg), whose cache spares
    /// the CRI list calls of every sync that follows a relist.
    pub runtime_reader: Arc<dyn super::RuntimeReader>,
}

impl PodHost {
    /// A host over a runtime with nothing else attached: no volumes, no cgroups, no probes,
    /// statuses and events kept in memory, the system clock. Replace what you have with
    /// struct update syntax: `PodHost { clock: my_clock, ..PodHost::new(rt.clone(), rt) }`.
    pub fn new(runtime: Arc<dyn RuntimeService>, images: Arc<dyn ImageService>) -> Self {
        PodHost {
            runtime_reader: Arc::new(super::DirectReader(runtime.clone())),
            runtime,
            images,
            volumes: Arc::new(crate::worker::NoVolumes),
            cgroups: Arc::new(crate::worker::NoCgroups),
            probes: Arc::new(crate::worker::NoProbes),
            objects: Arc::new(crate::worker::NoObjects),
            status: Arc::new(crate::worker::MemoryStatusSink::new()),
            events: Arc::new(crate::worker::MemoryEvents::new()),
            clock: Arc::new(crate::worker::SystemClock),
            observer: Arc::new(crate::worker::NoObserver),
            logs: None,
            container_started: Arc::new(|_| {}),
        }
    }
}

impl std::fmt::Debug for PodHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodHost").finish_non_exhaustive()
    }
}

/// What a worker remembers about its pod between syncs. Nothing here is needed to recover
/// after an agent restart: the runtime holds the containers, their hashes and restart counts.
#[derive(Debug, Clone)]
pub struct PodState {
    /// Container restart back-off (CrashLoopBackOff).
    pub backoff: Backoff,
    /// Image pull back-off.
    pub image_backoff: Backoff,
    /// The last failed pull's error per image back-off key, for the back-off message (the
    /// kubelet's `prevPullErrMsg`): forgotten when the image is pulled again.
    pub pull_errors: std::collections::BTreeMap<String, String>,
    /// Why containers are waiting.
    pub reasons: ReasonCache,
    /// The last status generated (for `lastTransitionTime`, `startTime`, terminal phases).
    pub last_status: Option<PodStatus>,
    /// When the worker first synced the pod (the kubelet's `firstSeenTime`).
    pub first_seen: Option<Timestamp>,
    /// Since when the pod's volumes have failed to mount, if they do.
    pub mount_failing_since: Option<Instant>,
    /// Whether the pod was seen Running once (`kubelet_pod_start_duration_seconds` is
    /// observed at the first transition only).
    pub start_observed: bool,
    /// When the worker last changed the runtime for this pod (created, started, killed or
    /// removed something): its next view of the pod must have been read after that.
    pub runtime_changed_at: Option<tokio::time::Instant>,
    /// The failure a node component decided for the pod (an eviction): every status
    /// generated from then on is Failed with its reason, message and condition.
    pub failure: Option<plan::PodFailure>,
    /// Whether termination has removed the pod from the probe manager: no status goes to it
    /// after that, or the manager would hold the pod for good.
    pub probes_removed: bool,
}

impl PodState {
    /// The state of a pod a worker starts with, its container restart back-off as `config`
    /// says ([`WorkerConfig::crash_loop_backoff`]).
    pub fn new(config: &WorkerConfig) -> Self {
        PodState {
            backoff: Backoff::container_with(config.crash_loop_backoff),
            ..PodState::default()
        }
    }
}

impl Default for PodState {
    /// The state with the kubelet's default back-offs.
    fn default() -> Self {
        PodState {
            backoff: Backoff::container(),
            image_backoff: Backoff::image_pull(),
            pull_errors: Default::default(),
            reasons: ReasonCache::new(),
            last_status: None,
            first_seen: None,
            mount_failing_since: None,
            start_observed: false,
            runtime_changed_at: None,
            failure: None,
            probes_removed: false,
        }
    }
}

/// How a sync ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// The pod runs (or waits); sync again at the latest after this long.
    Continue {
        /// When the next sync is due without any event (back-off expiry or resync).
        next_sync_in: Duration,
    },
    /// The pod reached Succeeded or Failed: terminate it.
    Terminal,
}

pub(crate) use cri_config::pod_full_name as full_name;

/// How long a pod's volumes may fail to mount before the kubelet reports the timeout
/// (`WaitForAttachAndMount`'s 2m3s).
pub use volume_manager::MOUNT_TIMEOUT;

/// The API default of `terminationMessagePath`.
pub const DEFAULT_TERMINATION_MESSAGE_PATH: &str = "/dev/termination-log";

/// Eight random hex digits, for file names (the kubelet's `util/rand.String(8)` equivalent).
fn random_hex8() -> String {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("{:08x}", random as u32)
}

pub(crate) fn uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or("")
}

fn spec_container<'a>(pod: &'a Pod, name: &str) -> Option<&'a Container> {
    let spec = pod.spec.as_ref()?;
    spec.init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .find(|c| c.name == name)
}

/// The code that syncs and terminates one pod. Stateless itself: the per-pod state is passed
/// in, so the pod worker task owns it.
#[derive(Debug, Clone)]
pub struct PodSyncer {
    host: PodHost,
    config: Arc<WorkerConfig>,
    /// Image pulls in flight on the node: one permit with `serializeImagePulls`, else
    /// `maxParallelImagePulls` (unbounded when unset). Shared by every clone of the syncer.
    pulls: Arc<tokio::sync::Semaphore>,
}

impl PodSyncer {
    /// A syncer over these collaborators.
    pub fn new(host: PodHost, config: Arc<WorkerConfig>) -> Self {
        let permits = if config.serialize_image_pulls {
            1
        } else {
            config
                .max_parallel_image_pulls
                .unwrap_or(tokio::sync::Semaphore::MAX_PERMITS)
        };
        PodSyncer {
            host,
            config,
            pulls: Arc::new(tokio::sync::Semaphore::new(permits.max(1))),
        }
    }

    /// The collaborators.
    pub fn host(&self) -> &PodHost {
        &self.host
    }

    fn event(&self, pod: &Pod, kind: EventType, reason: &str, message: String) {
        self.record(pod, None, kind, reason, message);
    }

    /// An event about one container of the pod (its `involvedObject.fieldPath` in the API,
    /// as the kubelet's `ref.GetReference` of a container sets it).
    fn container_event(
        &self,
        pod: &Pod,
        container: &str,
        kind: EventType,
        reason: &str,
        message: String,
    ) {
        self.record(pod, Some(container), kind, reason, message);
    }

    fn record(
        &self,
        pod: &Pod,
        container: Option<&str>,
        kind: EventType,
        reason: &str,
        message: String,
    ) {
        self.host.events.record(PodEvent {
            pod: full_name(pod),
            uid: uid(pod).to_owned(),
            field_path: container.map(|name| container_field_path(pod, name)),
            kind,
            reason: reason.to_string(),
            message,
        });
    }

    /// The pod's view of the runtime, read after the worker's last change to it
    /// ([`RuntimeReader`](super::RuntimeReader)).
    async fn runtime_view(&self, pod: &Pod, state: &PodState) -> crate::Result<PodRuntimeStatus> {
        self.host
            .runtime_reader
            .pod_status(uid(pod), state.runtime_changed_at)
            .await
            .map_err(|source| crate::Error::Runtime {
                pod: full_name(pod),
                source,
            })
    }

    fn generate_status(
        &self,
        pod: &Pod,
        state: &PodState,
        view: &PodRuntimeStatus,
        terminal: bool,
        now: Timestamp,
    ) -> PodStatus {
        let probes = self.host.probes.results(uid(pod));
        let input = StatusInput {
            pod,
            runtime: view,
            probes: &probes,
            reasons: &state.reasons,
            previous: state.last_status.as_ref(),
            pod_is_terminal: terminal,
            host_ips: &self.config.host_ips,
            runtime_name: &self.config.runtime_name,
            now,
        };
        match &state.failure {
            Some(failure) => plan::generate_failed_pod_status(&input, failure),
            None => plan::generate_pod_status(&input),
        }
    }

    /// Send `status` to the sink if it differs from the last one sent.
    fn publish(&self, pod: &Pod, state: &mut PodState, status: PodStatus) {
        let changed = match &state.last_status {
            Some(old) => plan::status_changed(old, &status),
            None => true,
        };
        if changed {
            self.host.status.set_pod_status(pod, &status);
            if !state.probes_removed {
                self.host.probes.pod_status(pod, &status);
            }
        }
        if !state.start_observed && status.phase.as_deref() == Some("Running") {
            state.start_observed = true;
            if let Some(first_seen) = state.first_seen {
                let took = self.host.clock.now().duration_since(first_seen);
                let took = Duration::try_from(took).unwrap_or_default();
                self.host.observer.pod_started(pod, took);
            }
        }
        state.last_status = Some(status);
    }

    /// One sync of a pod that should run: status, cgroup, volumes, then the plan applied.
    pub async fn sync_pod(&self, pod: &Pod, state: &mut PodState) -> crate::Result<SyncOutcome> {
        let span = tracing::info_span!("sync_pod", pod = %full_name(pod), uid = %uid(pod));
        self.sync_pod_inner(pod, state).instrument(span).await
    }

    async fn sync_pod_inner(&self, pod: &Pod, state: &mut PodState) -> crate::Result<SyncOutcome> {
        let now = self.host.clock.now();
        state.first_seen.get_or_insert(now);
        let view = self.runtime_view(pod, state).await?;
        if state.last_status.is_none() && !view.sandboxes.is_empty() {
            state.last_status = self.recorded_start(pod).await;
        }
        let status = self.generate_status(pod, state, &view, false, now);
        let terminal = matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"));
        self.publish(pod, state, status);
        if terminal {
            return Ok(SyncOutcome::Terminal);
        }

        let cgroup_error = |source: SeamError| {
            self.event(
                pod,
                EventType::Warning,
                "FailedToCreatePodContainer",
                source.to_string(),
            );
            crate::Error::Cgroup {
                pod: full_name(pod),
                source,
            }
        };
        // QS-19, the kubelet's SyncPod: a pod with a running container whose cgroup is gone
        // (removed behind the agent's back) is killed, then recreated below in a new pod
        // cgroup; a `restartPolicy: Never` pod is not given a cgroup again. Not on a pod's
        // first sync (nothing runs yet), so a new pod is never killed for this.
        let running = view
            .containers
            .iter()
            .any(|c| c.state == ContainerState::Running);
        let mut cgroup_killed = false;
        let view = if running && !self.host.cgroups.exists(pod).await.map_err(cgroup_error)? {
            tracing::warn!("the pod cgroup is missing: killing the pod to recreate it");
            self.kill_pod(pod, &view, None).await?;
            cgroup_killed = true;
            state.runtime_changed_at = Some(tokio::time::Instant::now());
            self.runtime_view(pod, state).await?
        } else {
            view
        };
        let never = pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()) == Some("Never");
        let cgroup_parent = if cgroup_killed && never {
            None
        } else {
            self.host.cgroups.ensure(pod).await.map_err(cgroup_error)?
        };
        match self.host.volumes.mount(pod).await {
            Ok(()) => state.mount_failing_since = None,
            Err(error) => {
                // One event per failing volume at each attempt (the reconciler's), and after
                // 2m3s of failing the kubelet's `WaitForAttachAndMount` timeout event.
                for failure in &error.failures {
                    self.event(pod, EventType::Warning, "FailedMount", failure.clone());
                }
                let since = *state.mount_failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= MOUNT_TIMEOUT {
                    self.event(
                        pod,
                        EventType::Warning,
                        "FailedMount",
                        error.timeout_message(),
                    );
                    state.mount_failing_since = Some(Instant::now());
                }
                return Err(crate::Error::Volumes {
                    pod: full_name(pod),
                    source: error,
                });
            }
        }
        self.host.probes.add_pod(pod);

        let probes = self.host.probes.results(uid(pod));
        let actions = plan::compute_pod_actions(pod, &view, &probes, &state.backoff, now);
        tracing::debug!(?actions, "pod actions");
        let backoff_wait = actions.backoff_expires_in;
        let touches_runtime = !actions.is_noop();

        let result = self.apply(pod, state, &view, actions, cgroup_parent).await;

        // Status after the actions: from a fresh view of the runtime when they changed
        // something there, else from the view already read (the reasons may have changed).
        let now = self.host.clock.now();
        let view = if touches_runtime {
            state.runtime_changed_at = Some(tokio::time::Instant::now());
            self.runtime_view(pod, state).await?
        } else {
            view
        };
        let status = self.generate_status(pod, state, &view, false, now);
        self.publish(pod, state, status);
        if self.remove_dead_containers(&view).await {
            state.runtime_changed_at = Some(tokio::time::Instant::now());
        }
        let all_started = result?;
        // Wake just after the first of: the crash back-off's end, so the restart happens on
        // time (RP-05); the image pull back-off's end, as the kubelet requeues a pod whose
        // pull failed (IM-05); the active deadline, which the kubelet checks every second
        // (PH-09); the error back-off (10-15 s) when a container could not be created or
        // started, as the kubelet's pod worker requeues a pod whose `SyncPod` result has a
        // failed start (`CreateContainerError`, `CreateContainerConfigError`,
        // `RunContainerError`), which nothing else would wake: the failure may be transient
        // (a container name still reserved by a create a killed agent left in flight). Else
        // at the resync.
        let retry = (!all_started)
            .then(|| crate::plan::jitter(self.config.error_backoff, 0.5, fastrand::f64()));
        let waits = [
            retry,
            backoff_wait,
            state.image_backoff.shortest_wait_since_update(now),
            plan::active_deadline_in(pod, state.last_status.as_ref(), now),
        ];
        let next_sync_in = match waits.into_iter().flatten().min() {
            Some(wait) => (wait + Duration::from_millis(10)).min(self.config.sync_frequency),
            None => self.config.sync_frequency,
        };
        Ok(SyncOutcome::Continue { next_sync_in })
    }

    /// The start time a previous agent recorded on the pod's sandboxes
    /// ([`POD_START_TIME`](crate::labels::POD_START_TIME)), as the status it last had, for
    /// the first sync of a pod the runtime already runs: an agent restarted without an API
    /// server keeps the pod's `startTime` (and its active deadline) instead of restarting
    /// them. A pod whose source carries a status (an API pod) keeps that one, as the
    /// kubelet's status manager does. Errors only cost the recorded time: logged, `None`.
    async fn recorded_start(&self, pod: &Pod) -> Option<PodStatus> {
        if pod.status.as_ref().is_some_and(|s| s.start_time.is_some()) {
            return None;
        }
        let listed = self
            .host
            .runtime
            .list_pod_sandbox(v1::ListPodSandboxRequest {
                filter: Some(v1::PodSandboxFilter {
                    label_selector: [(crate::labels::POD_UID.to_string(), uid(pod).to_string())]
                        .into(),
                    ..Default::default()
                }),
            })
            .await;
        let sandboxes = match listed {
            Ok(r) => r.items,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the pod's recorded start time");
                return None;
            }
        };
        let start = sandboxes
            .iter()
            .filter_map(|s| s.annotations.get(crate::labels::POD_START_TIME))
            .filter_map(|t| t.parse::<Timestamp>().ok())
            .min()?;
        Some(PodStatus {
            start_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(start)),
            ..Default::default()
        })
    }

    async fn apply(
        &self,
        pod: &Pod,
        state: &mut PodState,
        view: &PodRuntimeStatus,
        actions: plan::PodActions,
        cgroup_parent: Option<String>,
    ) -> crate::Result<bool> {
        if actions.kill_pod {
            self.kill_pod(pod, view, None).await?;
        } else {
            for kill in &actions.containers_to_kill {
                let Some(spec) = spec_container(pod, &kill.name) else {
                    continue;
                };
                let cause = match kill.reason {
                    plan::KillReason::LivenessFailed => KillCause::LivenessProbe,
                    plan::KillReason::StartupFailed => KillCause::StartupProbe,
                    _ => KillCause::Other,
                };
                let grace = plan::container_grace_period(pod, spec, cause, None);
                self.kill_container(pod, &kill.id, spec, grace, false, &kill.message, view)
                    .await;
            }
        }
        for id in &actions.init_containers_to_remove {
            if let Err(e) = self.remove_container(id).await {
                tracing::warn!(error = %e, "failed to prune an old init container");
            }
        }
        for (name, reason) in &actions.waiting {
            if reason.reason == "CrashLoopBackOff" {
                let pod_name = pod.metadata.name.as_deref().unwrap_or("");
                self.container_event(
                    pod,
                    name,
                    EventType::Warning,
                    "BackOff",
                    format!("Back-off restarting failed container {name} in pod {pod_name}"),
                );
            }
            state.reasons.set(name, reason.clone());
        }

        let nothing_to_start = actions.init_containers_to_start.is_empty()
            && actions.containers_to_start.is_empty()
            && actions.ephemeral_containers_to_start.is_empty();
        let mut sandbox_id = actions.sandbox_id.clone();
        let mut pod_ips: Vec<String> = view
            .latest_sandbox()
            .map(|s| s.ips.clone())
            .unwrap_or_default();
        if nothing_to_start && !actions.create_sandbox {
            return Ok(true);
        }
        // One sandbox config for RunPodSandbox and every CreateContainer of this sync, as the
        // kubelet passes the same podSandboxConfig to both.
        let mut sandbox_config = self.sandbox_config(pod, actions.attempt, cgroup_parent)?;
        if let Some(start) = state
            .last_status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
        {
            sandbox_config.annotations.insert(
                crate::labels::POD_START_TIME.to_string(),
                start.0.to_string(),
            );
        }
        if actions.create_sandbox {
            if view.latest_sandbox().is_some() {
                self.event(
                    pod,
                    EventType::Normal,
                    "SandboxChanged",
                    "Pod sandbox changed, it will be killed and re-created.".into(),
                );
            }
            let (id, ips) = self.create_sandbox(pod, &sandbox_config).await?;
            sandbox_id = Some(id);
            pod_ips = ips;
        }
        if nothing_to_start {
            return Ok(true);
        }
        let Some(sandbox_id) = sandbox_id else {
            return Ok(true);
        };

        let starts = actions
            .ephemeral_containers_to_start
            .iter()
            .chain(actions.init_containers_to_start.iter())
            .chain(actions.containers_to_start.iter());
        let mut all_started = true;
        for start in starts {
            let started = self
                .start_container(pod, state, start, &sandbox_id, &sandbox_config, &pod_ips)
                .await;
            all_started &= started;
            // A regular init container that cannot start ends this sync (kuberuntime SyncPod).
            if !started && start.kind == ContainerKind::Init {
                break;
            }
        }
        Ok(all_started)
    }

    fn sandbox_config(
        &self,
        pod: &Pod,
        attempt: u32,
        cgroup_parent: Option<String>,
    ) -> crate::Result<v1::PodSandboxConfig> {
        let opts = SandboxOptions {
            pod_logs_dir: self.config.pod_logs_dir.clone(),
            cgroup_parent,
            ..SandboxOptions::default()
        };
        let mut config = cri_config::sandbox_config(pod, attempt, &opts)?;
        config.labels.insert(
            crate::labels::NODE_NAME.to_string(),
            self.config.node_name.clone(),
        );
        Ok(config)
    }

    async fn create_sandbox(
        &self,
        pod: &Pod,
        config: &v1::PodSandboxConfig,
    ) -> crate::Result<(String, Vec<String>)> {
        let rt = self.host.runtime.as_ref();
        if let Err(e) = std::fs::create_dir_all(&config.log_directory) {
            tracing::warn!(dir = %config.log_directory, error = %e, "cannot create the pod log directory");
        }
        let id = match rt
            .run_pod_sandbox(v1::RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: String::new(),
            })
            .await
        {
            Ok(r) => r.pod_sandbox_id,
            Err(source) => {
                self.event(
                    pod,
                    EventType::Warning,
                    "FailedCreatePodSandBox",
                    format!("Failed to create pod sandbox: {source}"),
                );
                return Err(crate::Error::Runtime {
                    pod: full_name(pod),
                    source,
                });
            }
        };
        let status = rt
            .pod_sandbox_status(v1::PodSandboxStatusRequest {
                pod_sandbox_id: id.clone(),
                verbose: false,
            })
            .await
            .map_err(|source| crate::Error::Runtime {
                pod: full_name(pod),
                source,
            })?;
        let mut ips = Vec::new();
        if let Some(net) = status.status.and_then(|s| s.network) {
            if !net.ip.is_empty() {
                ips.push(net.ip);
            }
            ips.extend(
                net.additional_ips
                    .into_iter()
                    .map(|i| i.ip)
                    .filter(|i| !i.is_empty()),
            );
        }
        Ok((id, ips))
    }

    /// Start one container; records why it did not start in the reason cache. Returns
    /// whether it started.
    #[allow(clippy::too_many_arguments)]
    async fn start_container(
        &self,
        pod: &Pod,
        state: &mut PodState,
        start: &ContainerToStart,
        sandbox_id: &str,
        sandbox_config: &v1::PodSandboxConfig,
        pod_ips: &[String],
    ) -> bool {
        let Some(container) = spec_container(pod, &start.name).cloned().or_else(|| {
            pod.spec
                .as_ref()
                .and_then(|s| s.ephemeral_containers.as_ref())
                .and_then(|e| e.iter().find(|c| c.name == start.name))
                .map(ephemeral_as_container)
        }) else {
            return false;
        };
        let name = container.name.clone();
        let now = self.host.clock.now();
        // The kubelet advances the crash back-off when it decides to restart, before the
        // image or the config can fail, measured from the previous exit (doBackOff).
        start.advance_backoff(&mut state.backoff, now);

        // 1. The image.
        let image = match self.ensure_image(pod, state, &container, now).await {
            Ok(image) => image,
            Err(reason) => {
                state.reasons.set(&name, reason);
                return false;
            }
        };

        // 2. The config: probes checked, environment resolved (subPathExpr needs it), mounts
        // made, then the CRI config.
        let config_error = |error: crate::Error| {
            let message = error.to_string();
            self.container_event(
                pod,
                &start.name,
                EventType::Warning,
                "Failed",
                format!("Error: {message}"),
            );
            WaitingReason::new("CreateContainerConfigError", message)
        };
        if let Err(source) = self.host.probes.validate(pod, &container) {
            let error = crate::Error::Probes {
                pod: full_name(pod),
                container: name.clone(),
                source,
            };
            state.reasons.set(&name, config_error(error));
            return false;
        }
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
        let objects = self.host.objects.as_ref();
        let config_maps = |n: &str| objects.config_map(namespace, n);
        let secrets = |n: &str| objects.secret(namespace, n);
        // The environment borrows closures that are not Send: keep it out of any await.
        let built = {
            let env = ContainerEnvironment {
                node_name: &self.config.node_name,
                pod_ips,
                host_ips: &self.config.host_ips,
                allocatable: self.config.allocatable,
                config_maps: &config_maps,
                secrets: &secrets,
                ..ContainerEnvironment::default()
            };
            cri_config::container_env(pod, &container, &env)
                .and_then(|vars| {
                    let ctx = MountContext {
                        pod_ips,
                        env: &vars,
                    };
                    let mut mounts = self
                        .host
                        .volumes
                        .container_mounts(pod, &container, &ctx)
                        .map_err(|source| crate::Error::ContainerMounts {
                            pod: full_name(pod),
                            container: name.clone(),
                            source,
                        })?;
                    mounts.extend(self.termination_message_mount(pod, &container)?);
                    Ok((mounts, vars))
                })
                .and_then(|(mounts, vars)| {
                    let opts = ContainerOptions {
                        mounts,
                        env: Some(vars),
                        resources: self.config.resources.clone(),
                        ..ContainerOptions::default()
                    };
                    cri_config::container_config(pod, &container, start.restart_count, &env, &opts)
                })
        };
        let mut config = match built {
            Ok(c) => c,
            Err(error) => {
                state.reasons.set(&name, config_error(error));
                return false;
            }
        };
        if let Some(spec) = config.image.as_mut() {
            spec.image = image;
        }

        // 3. Create and start.
        let log_path = std::path::Path::new(&sandbox_config.log_directory).join(&config.log_path);
        let rt = self.host.runtime.as_ref();
        let id = match rt
            .create_container(v1::CreateContainerRequest {
                pod_sandbox_id: sandbox_id.to_string(),
                config: Some(config),
                sandbox_config: Some(sandbox_config.clone()),
            })
            .await
        {
            Ok(r) => r.container_id,
            Err(e) => {
                let message = runtime_error_message(&e);
                self.container_event(
                    pod,
                    &start.name,
                    EventType::Warning,
                    "Failed",
                    format!("Error: {message}"),
                );
                state
                    .reasons
                    .set(&name, WaitingReason::new("CreateContainerError", message));
                return false;
            }
        };
        self.container_event(
            pod,
            &start.name,
            EventType::Normal,
            "Created",
            format!("Created container: {name}"),
        );
        if let Err(e) = rt
            .start_container(v1::StartContainerRequest {
                container_id: id.clone(),
            })
            .await
        {
            let message = runtime_error_message(&e);
            self.container_event(
                pod,
                &start.name,
                EventType::Warning,
                "Failed",
                format!("Error: {message}"),
            );
            state
                .reasons
                .set(&name, WaitingReason::new("RunContainerError", message));
            return false;
        }
        state.reasons.clear(&name);
        self.container_event(
            pod,
            &start.name,
            EventType::Normal,
            "Started",
            format!("Started container {name}"),
        );
        self.host.observer.container_started(pod, start.kind);
        (self.host.container_started)(uid(pod));
        // 4. The legacy /var/log/containers symlink; a failure does not fail the start.
        if let Some(logs) = &self.host.logs {
            let container = crate::logs::ContainerRef::for_pod(pod, &name, &id);
            if let Err(e) = logs.symlinks().create(&container, &log_path) {
                tracing::warn!(container = %name, error = %e, "cannot create the legacy log symlink");
            }
        }

        // 5. postStart, synchronously: the next container waits for it (LC-16).
        if let Some(post_start) = container
            .lifecycle
            .as_ref()
            .and_then(|l| l.post_start.as_ref())
        {
            let pod_ip = pod_ips.first().map(String::as_str);
            let hook = LifecycleHook::PostStart;
            let result = run_hook(rt, &id, pod, &container, hook, post_start, pod_ip).await;
            if let Ok(success) = &result {
                self.hook_succeeded(pod, &start.name, success);
            }
            if let Err(e) = result {
                self.container_event(
                    pod,
                    &start.name,
                    EventType::Warning,
                    "FailedPostStartHook",
                    e.0.clone(),
                );
                let grace = plan::container_grace_period(pod, &container, KillCause::Other, None);
                let _ = rt
                    .stop_container(v1::StopContainerRequest {
                        container_id: id.clone(),
                        timeout: grace,
                    })
                    .await;
                state
                    .reasons
                    .set(&name, WaitingReason::new("PostStartHookError", e.0));
                return false;
            }
        }
        true
    }

    /// Make sure the container's image is present, pulling it per its policy and back-off.
    /// Returns the image reference to create the container from.
    async fn ensure_image(
        &self,
        pod: &Pod,
        state: &mut PodState,
        container: &Container,
        now: Timestamp,
    ) -> Result<String, WaitingReason> {
        let requested = container.image.clone().unwrap_or_default();
        let image = plan::image_with_default_tag(&requested).map_err(|e| {
            let reason = e.waiting_reason();
            self.container_event(
                pod,
                &container.name,
                EventType::Warning,
                "InspectFailed",
                reason.message.clone(),
            );
            reason
        })?;
        let present = match self
            .host
            .images
            .image_status(v1::ImageStatusRequest {
                image: Some(v1::ImageSpec {
                    image: image.clone(),
                    ..Default::default()
                }),
                verbose: false,
            })
            .await
        {
            Ok(r) => r.image.is_some_and(|i| !i.id.is_empty()),
            Err(e) => {
                let reason = plan::inspect_failed_reason(&requested, &e.to_string());
                self.container_event(
                    pod,
                    &container.name,
                    EventType::Warning,
                    "InspectFailed",
                    reason.message.clone(),
                );
                return Err(reason);
            }
        };
        let key = plan::image_backoff_key(uid(pod), &requested);
        let policy = container.image_pull_policy.clone();
        match plan::pull_decision(
            policy.as_deref(),
            &requested,
            present,
            &state.image_backoff,
            &key,
            state.pull_errors.get(&key).map(String::as_str),
            now,
        ) {
            ImagePullDecision::UsePresent => {
                self.container_event(
                    pod,
                    &container.name,
                    EventType::Normal,
                    "Pulled",
                    plan::already_present_message(&requested),
                );
                Ok(image)
            }
            ImagePullDecision::NeverPull(reason) => {
                self.container_event(
                    pod,
                    &container.name,
                    EventType::Warning,
                    "ErrImageNeverPull",
                    reason.message.clone(),
                );
                Err(reason)
            }
            ImagePullDecision::BackOff(reason) => {
                let message = plan::back_off_pulling_message(&requested);
                self.container_event(pod, &container.name, EventType::Normal, "BackOff", message);
                Err(reason)
            }
            ImagePullDecision::Pull => {
                state.pull_errors.remove(&key);
                self.container_event(
                    pod,
                    &container.name,
                    EventType::Normal,
                    "Pulling",
                    plan::pulling_message(&requested),
                );
                // One pull at a time on the node with serializeImagePulls (the kubelet's
                // serial puller); the wait shows in the Pulled event's "including waiting".
                let requested_at = Instant::now();
                let permit = self.pulls.acquire().await;
                let started = Instant::now();
                let pulled = self
                    .host
                    .images
                    .pull_image(v1::PullImageRequest {
                        image: Some(v1::ImageSpec {
                            image: image.clone(),
                            ..Default::default()
                        }),
                        auth: None,
                        sandbox_config: None,
                    })
                    .await;
                match pulled {
                    Ok(_) => {
                        let (took, total) = (started.elapsed(), requested_at.elapsed());
                        drop(permit);
                        let size = self.image_size(&image).await;
                        self.container_event(
                            pod,
                            &container.name,
                            EventType::Normal,
                            "Pulled",
                            plan::pulled_message(&requested, took, total, size),
                        );
                        Ok(image)
                    }
                    Err(e) => {
                        state.image_backoff.next(&key, now);
                        let error = pull_error_text(&e);
                        self.container_event(
                            pod,
                            &container.name,
                            EventType::Warning,
                            "Failed",
                            plan::pull_failed_message(&requested, &error),
                        );
                        let reason = plan::pull_failed_reason(&requested, &error);
                        state
                            .pull_errors
                            .insert(key, plan::previous_pull_error(&reason));
                        Err(reason)
                    }
                }
            }
        }
    }

    async fn image_size(&self, image: &str) -> u64 {
        self.host
            .images
            .image_status(v1::ImageStatusRequest {
                image: Some(v1::ImageSpec {
                    image: image.to_string(),
                    ..Default::default()
                }),
                verbose: false,
            })
            .await
            .ok()
            .and_then(|r| r.image)
            .map(|i| i.size)
            .unwrap_or(0)
    }

    /// What a hook that succeeded reports: the kubelet's Warning event
    /// `LifecycleHTTPFallback` when an HTTPS hook was answered in plain HTTP and its retry
    /// over HTTP succeeded.
    fn hook_succeeded(&self, pod: &Pod, container: &str, success: &HookSuccess) {
        if let Some(message) = &success.http_fallback {
            // The kubelet records it on the pod, not on a container.
            tracing::debug!(container, "{message}");
            self.event(
                pod,
                EventType::Warning,
                LIFECYCLE_HTTP_FALLBACK,
                message.clone(),
            );
        }
    }

    /// Stop one container: event `Killing`, the preStop hook within the grace, then
    /// `StopContainer` with what is left of the grace (at least 2 s), or with exactly
    /// `grace` when it is an eviction's override (kuberuntime's `killContainer`: a grace
    /// period override wins over the 2 s minimum, so a hard eviction kills after 1 s).
    /// NotFound is success.
    #[allow(clippy::too_many_arguments)]
    async fn kill_container(
        &self,
        pod: &Pod,
        id: &str,
        container: &Container,
        grace: i64,
        exact: bool,
        message: &str,
        view: &PodRuntimeStatus,
    ) {
        let rt = self.host.runtime.as_ref();
        let message = if message.is_empty() {
            format!("Stopping container {}", container.name)
        } else {
            message.to_string()
        };
        self.container_event(pod, &container.name, EventType::Normal, "Killing", message);
        // tokio's clock, so the hook's time is also right in virtual time.
        let started = Instant::now();
        let pre_stop = container
            .lifecycle
            .as_ref()
            .and_then(|l| l.pre_stop.as_ref());
        if let Some(pre_stop) = pre_stop.filter(|_| grace > 0) {
            let pod_ip = view
                .latest_sandbox()
                .and_then(|s| s.ips.first())
                .map(String::as_str);
            let hook = run_hook(
                rt,
                id,
                pod,
                container,
                LifecycleHook::PreStop,
                pre_stop,
                pod_ip,
            );
            match tokio::time::timeout(Duration::from_secs(grace as u64), hook).await {
                Ok(Ok(success)) => self.hook_succeeded(pod, &container.name, &success),
                Ok(Err(e)) => self.container_event(
                    pod,
                    &container.name,
                    EventType::Warning,
                    "FailedPreStopHook",
                    e.0,
                ),
                Err(_) => {
                    tracing::info!(container = %container.name, "preStop hook used the whole grace period")
                }
            }
        }
        let timeout = if exact {
            grace
        } else {
            plan::stop_timeout_after_pre_stop(grace, started.elapsed())
        };
        match rt
            .stop_container(v1::StopContainerRequest {
                container_id: id.to_string(),
                timeout,
            })
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                tracing::warn!(container = %container.name, error = %e, "StopContainer failed")
            }
        }
    }

    /// Kill every running container of the pod (regular ones in parallel, then sidecars in
    /// reverse order), then stop every sandbox (TM-09).
    pub async fn kill_pod(
        &self,
        pod: &Pod,
        view: &PodRuntimeStatus,
        grace_override: Option<i64>,
    ) -> crate::Result<()> {
        self.kill_pod_with(pod, view, grace_override, false).await
    }

    /// [`kill_pod`](Self::kill_pod); with `exact`, every container is stopped with exactly
    /// the override (an eviction).
    async fn kill_pod_with(
        &self,
        pod: &Pod,
        view: &PodRuntimeStatus,
        grace_override: Option<i64>,
        exact: bool,
    ) -> crate::Result<()> {
        let running: Vec<&plan::ContainerStatus> = view
            .containers
            .iter()
            .filter(|c| {
                matches!(
                    c.state,
                    ContainerState::Running | ContainerState::Created | ContainerState::Unknown
                )
            })
            .collect();
        let names: Vec<&str> = running.iter().map(|c| c.name.as_str()).collect();
        let (parallel, sequential) = plan::stop_order(pod, &names);
        let kill = |name: &str| {
            let instances: Vec<&plan::ContainerStatus> =
                running.iter().copied().filter(|c| c.name == name).collect();
            let spec = spec_container(pod, name)
                .cloned()
                .unwrap_or_else(|| Container {
                    name: name.to_string(),
                    ..Default::default()
                });
            async move {
                for instance in instances {
                    let grace = plan::container_grace_period(
                        pod,
                        &spec,
                        KillCause::PodTermination,
                        grace_override,
                    );
                    let exact = exact && grace_override.is_some();
                    self.kill_container(pod, &instance.id, &spec, grace, exact, "", view)
                        .await;
                }
            }
        };
        futures::future::join_all(parallel.iter().map(|n| kill(n))).await;
        for name in sequential {
            kill(name).await;
        }
        for sandbox in &view.sandboxes {
            match self
                .host
                .runtime
                .stop_pod_sandbox(v1::StopPodSandboxRequest {
                    pod_sandbox_id: sandbox.id.clone(),
                })
                .await
            {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(source) => {
                    return Err(crate::Error::Runtime {
                        pod: full_name(pod),
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    /// Terminate a pod: stop liveness/startup probes, kill it with `grace_override` (or the
    /// pod's own grace), write the terminal status, unmount volumes, remove the cgroup and,
    /// when configured and `remove` (the pod is being removed, not merely finished), the
    /// runtime objects and the pod's logs. Returns the final status.
    pub async fn terminate_pod(
        &self,
        pod: &Pod,
        state: &mut PodState,
        grace_override: Option<i64>,
        remove: bool,
    ) -> crate::Result<PodStatus> {
        let span = tracing::info_span!("terminate_pod", pod = %full_name(pod), uid = %uid(pod));
        async {
            if !state.probes_removed {
                self.host.probes.terminating(uid(pod));
            }
            let view = self.runtime_view(pod, state).await?;
            if state.failure.is_some() {
                // An evicted pod shows its failure before its containers are killed, as the
                // kubelet's `syncTerminatingPod` applies the status function first.
                let status = self.generate_status(pod, state, &view, true, self.host.clock.now());
                self.publish(pod, state, status);
            }
            let grace = plan::pod_grace_period(pod, grace_override);
            let override_grace = (pod.metadata.deletion_grace_period_seconds.is_some()
                || grace_override.is_some())
            .then_some(grace);
            let evicted = state.failure.is_some();
            self.kill_pod_with(pod, &view, override_grace, evicted).await?;
            state.runtime_changed_at = Some(tokio::time::Instant::now());
            self.host.probes.remove_pod(uid(pod));
            state.probes_removed = true;

            let now = self.host.clock.now();
            let view = self.runtime_view(pod, state).await?;
            let status = self.generate_status(pod, state, &view, true, now);
            let status = plan::terminal_status(pod, &status, now);
            self.publish(pod, state, status.clone());

            if let Err(e) = self.host.volumes.unmount(pod).await {
                tracing::warn!(error = %e, "failed to unmount the pod's volumes");
            }
            self.remove_pod_dir(pod);
            if self.config.remove_terminated && remove {
                self.remove_runtime_objects(&view).await;
                // The pod's log directory goes with its containers (the kubelet's GC). Built
                // from checked components, and removed only when inside podLogsDir.
                let logs_dir = &self.config.pod_logs_dir;
                match cri_config::pod_log_dir(logs_dir, pod) {
                    Ok(logs) => {
                        if let Err(e) = validation::remove_dir_all_within(logs_dir, &logs)
                            && e.kind() != std::io::ErrorKind::NotFound
                        {
                            tracing::warn!(dir = %logs.display(), error = %e, "cannot remove the pod's logs");
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "not removing the pod's logs: no safe log directory")
                    }
                }
            }
            if let Err(e) = self.host.cgroups.remove(pod).await {
                tracing::warn!(error = %e, "failed to remove the pod cgroup");
            }
            // Containers stopped, volumes unmounted: in cluster mode the API object of a
            // deleted pod may go now (the kubelet's `TerminatePod`).
            self.host.status.pod_terminated(pod, &status);
            Ok(status)
        }
        .instrument(span)
        .await
    }

    /// The termination-message file of a new container instance (kuberuntime's
    /// `startContainer`): an empty file, mode 0666, at
    /// `<rootDir>/pods/<uid>/containers/<name>/<8 hex>`, bind-mounted at the container's
    /// `terminationMessagePath` (default `/dev/termination-log`). The PLEG reads it back after
    /// the container exits ([`crate::pleg::termination_message`]).
    fn termination_message_mount(
        &self,
        pod: &Pod,
        container: &Container,
    ) -> crate::Result<Option<v1::Mount>> {
        let Some(root) = &self.config.root_dir else {
            return Ok(None);
        };
        let path = container
            .termination_message_path
            .as_deref()
            .unwrap_or(DEFAULT_TERMINATION_MESSAGE_PATH);
        if path.is_empty() {
            return Ok(None);
        }
        // Both names are checked to be one path component: never a file outside the pod's
        // directory.
        let dir = RootDir::new(root)
            .pod(uid(pod))
            .and_then(|dirs| dirs.container_dir(&container.name))
            .map_err(|source| crate::Error::TerminationMessageDir {
                pod: full_name(pod),
                container: container.name.clone(),
                source: Box::new(source),
            })?;
        let file = dir.join(random_hex8());
        let created = std::fs::create_dir_all(&dir).and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::File::create(&file)?;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666))
        });
        created.map_err(|source| crate::Error::TerminationMessageFile {
            pod: full_name(pod),
            container: container.name.clone(),
            path: file.clone(),
            source,
        })?;
        Ok(Some(v1::Mount {
            container_path: path.to_string(),
            host_path: file.to_string_lossy().into_owned(),
            ..Default::default()
        }))
    }

    /// Remove what the worker keeps under `<rootDir>/pods/<uid>` (termination-message
    /// files), and the pod directory itself once nothing else (volumes) is left in it.
    fn remove_pod_dir(&self, pod: &Pod) {
        let Some(root) = &self.config.root_dir else {
            return;
        };
        let pod_dirs = match RootDir::new(root).pod(uid(pod)) {
            Ok(dirs) => dirs,
            Err(e) => {
                tracing::warn!(error = %e, "not removing the pod's directory: its UID names none");
                return;
            }
        };
        let dir = pod_dirs.dir();
        if let Err(e) = validation::remove_dir_all_within(dir, &pod_dirs.containers_dir())
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot remove the pod's container files");
        }
        // Fails while the volume manager still has something there; it removes the rest.
        let _ = std::fs::remove_dir(dir);
    }

    /// Container GC: keep one dead instance per container (for `lastState`), remove older
    /// ones, so a crash-looping container does not pile up in the runtime (IM-10).
    /// Container GC of the pod (keep one dead instance per container); whether anything
    /// was removed.
    async fn remove_dead_containers(&self, view: &PodRuntimeStatus) -> bool {
        let mut removed = false;
        for id in plan::dead_containers_to_remove(view) {
            match self.remove_container(&id).await {
                Ok(()) => removed = true,
                Err(e) => tracing::debug!(error = %e, "container GC: remove failed"),
            }
        }
        removed
    }

    /// Remove a container with its log files and legacy symlink first (kuberuntime's
    /// `removeContainer` / `removeContainerLog`).
    async fn remove_container(&self, id: &str) -> Result<(), cri_client::Error> {
        if let Some(logs) = &self.host.logs
            && let Err(e) = logs.remove_container_logs(id).await
        {
            tracing::debug!(container = %id, error = %e, "cannot remove the container's logs");
        }
        self.host
            .runtime
            .remove_container(v1::RemoveContainerRequest {
                container_id: id.to_string(),
            })
            .await
            .map(|_| ())
    }

    async fn remove_runtime_objects(&self, view: &PodRuntimeStatus) {
        let rt = self.host.runtime.as_ref();
        for c in &view.containers {
            let _ = self.remove_container(&c.id).await;
        }
        for s in &view.sandboxes {
            let _ = rt
                .remove_pod_sandbox(v1::RemovePodSandboxRequest {
                    pod_sandbox_id: s.id.clone(),
                })
                .await;
        }
    }
}

fn ephemeral_as_container(e: &k8s_openapi::api::core::v1::EphemeralContainer) -> Container {
    Container {
        name: e.name.clone(),
        image: e.image.clone(),
        command: e.command.clone(),
        args: e.args.clone(),
        env: e.env.clone(),
        env_from: e.env_from.clone(),
        image_pull_policy: e.image_pull_policy.clone(),
        security_context: e.security_context.clone(),
        stdin: e.stdin,
        tty: e.tty,
        working_dir: e.working_dir.clone(),
        termination_message_path: e.termination_message_path.clone(),
        termination_message_policy: e.termination_message_policy.clone(),
        volume_mounts: e.volume_mounts.clone(),
        ..Default::default()
    }
}

/// `spec.initContainers{name}` for an init container (sidecars too), else
/// `spec.containers{name}`.
fn container_field_path(pod: &Pod, name: &str) -> String {
    let init = pod
        .spec
        .iter()
        .flat_map(|s| s.init_containers.iter().flatten())
        .any(|c| c.name == name);
    if init {
        format!("spec.initContainers{{{name}}}")
    } else {
        format!("spec.containers{{{name}}}")
    }
}
