//! Pod workers: one tokio task per pod UID, applying plans through the CRI traits.
//!
//! Like the kubelet's `pod_workers.go`: updates for a pod are serialized (a worker never runs
//! two syncs of one pod at once) and coalesced (the newest spec wins; intermediate specs that
//! arrive during a sync are skipped). A worker syncs when its pod changes, when something
//! wakes it (a PLEG event, a probe result), when a back-off expires, and otherwise every
//! `syncFrequency` (jittered, 60–90 s). A failed sync is retried after 10–15 s.
//!
//! A pod terminates when it is deleted (`deletionTimestamp`), removed from its source
//! ([`PodWorkers::terminate_pod`]) or reaches Succeeded/Failed. Termination runs once, to the
//! end: preStop hooks, SIGTERM with the grace period, SIGKILL, sandboxes stopped, the terminal
//! status written, volumes unmounted, the cgroup removed.

mod adoption;
mod cgroups;
mod hooks;
mod host;
#[cfg(feature = "probes")]
mod probes;
mod sync;
mod volumes;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use pod_plan::PodFailure;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

pub use adoption::runs_containers_of_node;
pub use cgroups::NodeCgroups;
pub use hooks::{
    HookError, HookSuccess, LIFECYCLE_HTTP_FALLBACK, LIFECYCLE_USER_AGENT, LifecycleHook, run_hook,
};
pub use host::{
    ActivePods, AnnotatedEvent, Clock, DirectReader, EventRecorder, EventType, MemoryEvents,
    MemoryStatusSink, MountContext, MountError, NoCgroups, NoObjects, NoObserver, NoProbes,
    NoVolumes, NodeEvent, PodCgroups, PodEvent, PodObjects, PodProbes, PodVolumes, RuntimeReader,
    SeamError, StatusSink, SyncOperation, SystemClock, WorkerObserver,
};
#[cfg(feature = "probes")]
pub use probes::{RecordedProbeEvents, spawn_wake, wake_on_probe_results};
pub use sync::{PodHost, PodState, PodSyncer, SyncOutcome, WorkerConfig};
pub use volumes::{CLUSTER_DOMAIN, SourceObjects};

/// What the worker of a pod should do with it.
#[derive(Debug, Clone)]
enum Desired {
    /// Run the pod (it terminates by itself when it has a deletion timestamp).
    Run(Pod),
    /// Terminate the pod, with an optional shorter grace period, failing it when a node
    /// component decided so (an eviction).
    Terminate {
        pod: Pod,
        grace: Option<i64>,
        failure: Option<PodFailure>,
    },
}

/// Where a pod worker is in the pod's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerPhase {
    /// The pod should run; the worker syncs it.
    Syncing,
    /// The pod's containers are being stopped.
    Terminating,
    /// Every container is stopped and the final status written.
    Terminated,
}

struct Worker {
    desired: watch::Sender<Desired>,
    wake: Arc<Notify>,
    phase: watch::Receiver<WorkerPhase>,
    task: JoinHandle<()>,
}

/// The set of pod workers of one agent.
pub struct PodWorkers {
    syncer: PodSyncer,
    config: Arc<WorkerConfig>,
    workers: Mutex<HashMap<String, Worker>>,
}

impl std::fmt::Debug for PodWorkers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let workers = self
            .workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f.debug_struct("PodWorkers")
            .field("pods", &workers.len())
            .finish()
    }
}

impl PodWorkers {
    /// Workers over these collaborators and settings.
    pub fn new(host: PodHost, config: WorkerConfig) -> Self {
        let config = Arc::new(config);
        PodWorkers {
            syncer: PodSyncer::new(host, config.clone()),
            config,
            workers: Mutex::new(HashMap::new()),
        }
    }

    /// The desired state of a pod: start a worker for a new UID, or hand the newest spec to
    /// the running worker (latest wins). A pod with a `deletionTimestamp` is terminated.
    pub fn update_pod(&self, pod: Pod) {
        self.send(pod, Desired::Run);
    }

    /// Terminate a pod (removed from its source, evicted, rejected), with an optional grace
    /// period shorter than the pod's own.
    pub fn terminate_pod(&self, pod: Pod, grace: Option<i64>) {
        self.send(pod, |pod| Desired::Terminate {
            pod,
            grace,
            failure: None,
        });
    }

    /// Evict a pod (the kubelet's `killPodNow` with a status function): its status becomes
    /// `failure` at once (phase Failed, the failure's reason, message and condition, such as
    /// `pod_plan::eviction::evicted_failure`), then its containers are killed with `grace`
    /// seconds, and the final status the [`StatusSink`] receives is that failed status. The
    /// pod never runs again: later updates of its UID only shorten the grace.
    pub fn evict_pod(&self, pod: Pod, grace: i64, failure: PodFailure) {
        self.send(pod, |pod| Desired::Terminate {
            pod,
            grace: Some(grace),
            failure: Some(failure),
        });
    }

    /// Whether the pod's worker is still running the pod (not terminating or terminated):
    /// the kubelet's active pods, the eviction manager's candidates.
    pub fn is_syncing(&self, uid: &str) -> bool {
        self.workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(uid)
            .is_some_and(|w| {
                *w.phase.borrow() == WorkerPhase::Syncing
                    && !matches!(&*w.desired.borrow(), Desired::Terminate { .. })
            })
    }

    fn send(&self, pod: Pod, desired: impl FnOnce(Pod) -> Desired) {
        let uid = sync::uid(&pod).to_string();
        let desired = desired(pod);
        let mut workers = self
            .workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A terminated worker ignores further updates of its UID, as the kubelet never
        // restarts a terminated pod UID. Only a worker that died abnormally is replaced.
        if let Some(w) = workers.get(&uid)
            && (!w.task.is_finished() || *w.phase.borrow() == WorkerPhase::Terminated)
        {
            // Termination, once asked for, is never undone (the kubelet's pod worker keeps
            // a pod terminating): a newer spec only replaces the pod being terminated, and
            // a later request keeps the earlier failure unless it brings its own.
            let desired = match (&*w.desired.borrow(), desired) {
                (Desired::Terminate { grace, failure, .. }, Desired::Run(pod)) => {
                    Desired::Terminate {
                        pod,
                        grace: *grace,
                        failure: failure.clone(),
                    }
                }
                (
                    Desired::Terminate {
                        failure: Some(old), ..
                    },
                    Desired::Terminate {
                        pod,
                        grace,
                        failure: None,
                    },
                ) => Desired::Terminate {
                    pod,
                    grace,
                    failure: Some(old.clone()),
                },
                (_, desired) => desired,
            };
            let _ = w.desired.send(desired);
            return;
        }
        let (desired_tx, desired_rx) = watch::channel(desired);
        let (phase_tx, phase_rx) = watch::channel(WorkerPhase::Syncing);
        let wake = Arc::new(Notify::new());
        let task = tokio::spawn(run_worker(
            self.syncer.clone(),
            self.config.clone(),
            desired_rx,
            wake.clone(),
            phase_tx,
        ));
        workers.insert(
            uid,
            Worker {
                desired: desired_tx,
                wake,
                phase: phase_rx,
                task,
            },
        );
    }

    /// Wake the worker of a pod now (a PLEG event or a probe result for it).
    pub fn wake(&self, uid: &str) {
        if let Some(w) = self
            .workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(uid)
        {
            w.wake.notify_one();
        }
    }

    /// Where the worker of a pod is, if there is one.
    pub fn phase(&self, uid: &str) -> Option<WorkerPhase> {
        self.workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(uid)
            .map(|w| *w.phase.borrow())
    }

    /// Wait until the pod's worker has terminated the pod.
    pub async fn wait_terminated(&self, uid: &str) {
        let phase = self
            .workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(uid)
            .map(|w| w.phase.clone());
        if let Some(mut phase) = phase {
            let _ = phase.wait_for(|p| *p == WorkerPhase::Terminated).await;
        }
    }

    /// UIDs of every pod with a worker.
    pub fn pods(&self) -> Vec<String> {
        self.workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    /// Drop the worker of a terminated pod (its source no longer has it).
    pub fn forget(&self, uid: &str) {
        let mut workers = self
            .workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if workers
            .get(uid)
            .is_some_and(|w| *w.phase.borrow() == WorkerPhase::Terminated)
            && let Some(w) = workers.remove(uid)
        {
            w.task.abort();
        }
    }

    /// Stop every worker and leave the pods running (an agent restart must not restart a
    /// single container). The workers are aborted where they are; [`PodWorkers::stop`] also
    /// waits for them.
    pub fn shutdown(&self) {
        for (_, w) in self
            .workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain()
        {
            w.task.abort();
        }
    }

    /// [`PodWorkers::shutdown`], then wait until every worker task has ended, so nothing
    /// of the workers runs once this returns. A worker stopped in the middle of a CRI call
    /// leaves the runtime as the call left it; the next agent adopts what runs.
    pub async fn stop(&self) {
        let tasks: Vec<JoinHandle<()>> = self
            .workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain()
            .map(|(_, w)| w.task)
            .collect();
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = task.await;
        }
    }
}

impl Drop for PodWorkers {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn is_deleted(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

async fn run_worker(
    syncer: PodSyncer,
    config: Arc<WorkerConfig>,
    mut desired: watch::Receiver<Desired>,
    wake: Arc<Notify>,
    phase: watch::Sender<WorkerPhase>,
) {
    let mut state = PodState::new(&config);
    let mut last_synced: Option<Pod> = None;
    loop {
        let current = desired.borrow_and_update().clone();
        let (pod, terminate_with) = match current {
            Desired::Run(pod) if is_deleted(&pod) => (pod, Some(None)),
            Desired::Run(pod) => (pod, None),
            Desired::Terminate {
                pod,
                grace,
                failure,
            } => {
                if failure.is_some() {
                    state.failure = failure;
                }
                (pod, Some(grace))
            }
        };
        let wait = match terminate_with {
            None => match observed_sync(&syncer, &pod, &mut state, &mut last_synced).await {
                Ok(SyncOutcome::Continue { next_sync_in }) => {
                    if next_sync_in >= config.sync_frequency {
                        crate::plan::jitter(config.sync_frequency, 0.5, fastrand::f64())
                    } else {
                        next_sync_in
                    }
                }
                Ok(SyncOutcome::Terminal) => {
                    // A pod that finished on its own keeps its containers (and their logs)
                    // until it is removed, as in the kubelet; housekeeping removes them then.
                    terminate(&syncer, &pod, &mut state, None, false, &phase, &mut desired).await;
                    return;
                }
                Err(e) => {
                    tracing::warn!(pod = %sync::full_name(&pod), uid = %sync::uid(&pod), error = %e, "pod sync failed");
                    syncer.host().events.record(PodEvent {
                        pod: sync::full_name(&pod),
                        uid: sync::uid(&pod).to_owned(),
                        field_path: None,
                        kind: EventType::Warning,
                        reason: "FailedSync".into(),
                        message: format!("error syncing pod: {e}"),
                    });
                    crate::plan::jitter(config.error_backoff, 0.5, fastrand::f64())
                }
            },
            Some(grace) => {
                terminate(&syncer, &pod, &mut state, grace, true, &phase, &mut desired).await;
                return;
            }
        };
        tokio::select! {
            changed = desired.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// One sync, timed for `kubelet_pod_worker_duration_seconds` by kind: the worker's first
/// sync is `create`, one after the pod object changed `update`, any other `sync`.
async fn observed_sync(
    syncer: &PodSyncer,
    pod: &Pod,
    state: &mut PodState,
    last_synced: &mut Option<Pod>,
) -> crate::Result<SyncOutcome> {
    let operation = match last_synced {
        None => SyncOperation::Create,
        Some(last) if last != pod => SyncOperation::Update,
        Some(_) => SyncOperation::Sync,
    };
    let started = tokio::time::Instant::now();
    let result = syncer.sync_pod(pod, state).await;
    syncer
        .host()
        .observer
        .pod_synced(pod, operation, started.elapsed());
    *last_synced = Some(pod.clone());
    result
}

/// Terminate the pod, retrying failures every second. A shorter grace period requested
/// while this runs (a second delete, an eviction) restarts the kill with it: grace only
/// shrinks (TM-06, the kubelet's pod worker cancelling `syncTerminatingPod`).
async fn terminate(
    syncer: &PodSyncer,
    pod: &Pod,
    state: &mut PodState,
    grace: Option<i64>,
    remove: bool,
    phase: &watch::Sender<WorkerPhase>,
    desired: &mut watch::Receiver<Desired>,
) {
    let _ = phase.send(WorkerPhase::Terminating);
    let mut grace = grace;
    loop {
        let current = crate::plan::pod_grace_period(pod, grace);
        tokio::select! {
            result = syncer.terminate_pod(pod, state, grace, remove) => match result {
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(pod = %sync::full_name(pod), uid = %sync::uid(pod), error = %e, "pod termination failed, retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            },
            shorter = shorter_grace(desired, current) => {
                tracing::info!(pod = %sync::full_name(pod), uid = %sync::uid(pod), from = current, to = shorter, "grace period shortened while terminating");
                grace = Some(shorter);
            }
        }
    }
    let _ = phase.send(WorkerPhase::Terminated);
}

/// Wait for a request to terminate with a grace shorter than `current`; never returns
/// when none comes.
async fn shorter_grace(desired: &mut watch::Receiver<Desired>, current: i64) -> i64 {
    loop {
        if desired.changed().await.is_err() {
            return std::future::pending().await;
        }
        let requested = match &*desired.borrow_and_update() {
            Desired::Terminate { pod, grace, .. } => crate::plan::pod_grace_period(pod, *grace),
            Desired::Run(pod) if is_deleted(pod) => crate::plan::pod_grace_period(pod, None),
            Desired::Run(_) => continue,
        };
        if crate::plan::shrink_grace(current, requested) < current {
            return requested;
        }
    }
}
