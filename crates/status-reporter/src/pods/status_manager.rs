//! [`PodStatusManager`]: the kubelet's status manager (`pkg/kubelet/status/status_manager.go`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Pod, PodStatus};
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::{Api, Client};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use super::patch::pod_status_patch;
use super::source::NodePods;
use super::status::{
    any_container_running, illegal_container_transition, is_terminal_phase, merge_pod_status,
    normalize_pod_status, pod_status_changed, prepare_status, terminated_pod_status,
};
use super::{
    config_hash, is_mirror_pod, is_static_pod, mirror_hash, pod_api_source, pod_namespace, pod_ref,
    pod_request, pod_uid, read_node_pod,
};
use crate::error::{Error, Result, is_conflict, is_not_found};

/// How often every status is compared with the API server's and written again if they differ
/// (the status manager's `syncPeriod`, 10 s).
pub const DEFAULT_POD_STATUS_RESYNC_PERIOD: Duration = Duration::from_secs(10);

/// Settings of a [`PodStatusManager`].
#[derive(Debug, Clone)]
pub struct PodStatusManagerConfig {
    /// The node whose pods are reported (pods are read with `spec.nodeName=<node>`).
    pub node_name: String,
    /// How often statuses are reconciled with the API server's
    /// ([`DEFAULT_POD_STATUS_RESYNC_PERIOD`]); at least 100 ms.
    pub resync_period: Duration,
}

impl PodStatusManagerConfig {
    /// The defaults for node `node_name`.
    pub fn new(node_name: impl Into<String>) -> PodStatusManagerConfig {
        PodStatusManagerConfig {
            node_name: node_name.into(),
            resync_period: DEFAULT_POD_STATUS_RESYNC_PERIOD,
        }
    }
}

/// What the manager sent to the API server since it started (counted by the manager as it
/// sends, like the kubelet's request metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PodStatusStats {
    /// Pod reads (one before each status write).
    pub reads: u64,
    /// Status patches that the API server applied.
    pub patches: u64,
    /// Final deletions (grace period 0) that the API server carried out.
    pub deletes: u64,
    /// Patches refused because the pod now has another UID (it was replaced by another of the
    /// same name): each is followed by a new read.
    pub conflicts: u64,
}

#[derive(Debug, Default)]
struct Counters {
    reads: AtomicU64,
    patches: AtomicU64,
    deletes: AtomicU64,
    conflicts: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A pod's status as the manager keeps it (`versionedPodStatus`).
#[derive(Debug, Clone)]
struct Versioned {
    /// Increases by one with every change.
    version: u64,
    namespace: String,
    name: String,
    status: PodStatus,
    /// The agent declared the pod's termination complete (`podIsFinished`).
    finished: bool,
    /// For a static pod, its configuration hash, which its mirror pod carries.
    static_hash: Option<String>,
}

#[derive(Debug)]
struct Shared {
    statuses: Mutex<HashMap<String, Versioned>>,
    pods: NodePods,
    wake: Notify,
    counters: Counters,
}

impl Shared {
    fn statuses(&self) -> MutexGuard<'_, HashMap<String, Versioned>> {
        self.statuses.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn forget(&self, uid: &str) {
        self.statuses().remove(uid);
    }
}

/// Keeps each pod's status and writes it to the API server, with the kubelet's rules.
///
/// The agent hands it each pod's newest status ([`PodStatusManager::set_status`]); it keeps a
/// versioned copy per pod UID and one task writes them to the API server:
/// - at once when a status changed (a channel of one wake-up, as the kubelet's
///   `podStatusChannel`), which is what makes readiness changes visible without waiting for
///   the resync;
/// - every [`DEFAULT_POD_STATUS_RESYNC_PERIOD`], every status not yet written, every pod
///   ready for deletion, and every pod whose API status differs from the manager's (someone
///   else changed it: `needsReconcile`), compared with the copy the [`NodePods`] view holds,
///   so that a pod at rest costs no request at all;
/// - when the [`NodePods`] view changes, statuses still waiting for their pod (a pod or a
///   mirror pod that had not reached the API server) are written.
///
/// Writing one status (`syncPod`): read the pod (with a list scoped by `metadata.name` and
/// `spec.nodeName`, which the Node authorizer always allows, where the kubelet GETs it and may
/// be refused while the authorizer's graph has not linked a new pod to the node); drop the
/// status if the pod of that name now has another UID (deleted and created again); merge
/// ([`merge_pod_status`]); patch only what differs ([`pod_status_patch`], with the UID as a
/// precondition; a refusal for another UID re-reads the pod once, where the kubelet waits for
/// its next resync); then, for a pod being deleted whose termination the agent declared
/// complete ([`PodStatusManager::terminate_pod`]) and whose API phase is terminal, DELETE it
/// with `gracePeriodSeconds: 0` and the UID as a precondition. Mirror pods are never deleted
/// that way.
///
/// A move to a terminal phase is held back while containers may still run: until no
/// container of the status is running, or [`PodStatusManager::terminate_pod`] was called (the
/// kubelet asks its pod workers instead; this manager knows only what the agent tells it).
///
/// A static pod's status is written to its mirror pod: the pod of the same name whose
/// `kubernetes.io/config.mirror` annotation equals the static pod's
/// `kubernetes.io/config.hash` (the kubelet takes any mirror pod of that name, even one about
/// to be replaced), as soon as that mirror pod appears in the view (the kubelet waits for its
/// next resync).
///
/// One tokio task, in a `tracing` span naming the node; each write is in a span naming the
/// pod (`namespace/name`) and its UID. [`PodStatusManager::shutdown`] cancels the task and
/// waits for it; dropping the manager, or cancelling the parent token of
/// [`PodStatusManager::start_with_cancellation`], cancels it too. Request errors are logged
/// and the write is tried again at the next resync, as in the kubelet.
///
/// ```no_run
/// # async fn run(client: kube::Client, pod: k8s_openapi::api::core::v1::Pod,
/// #     status: k8s_openapi::api::core::v1::PodStatus) -> status_reporter::Result<()> {
/// use status_reporter::{ApiPodSource, PodStatusManager, PodStatusManagerConfig};
///
/// let (source, mut updates) = ApiPodSource::start(client.clone(), "worker-1")?;
/// let manager = PodStatusManager::start(
///     client,
///     PodStatusManagerConfig::new("worker-1"),
///     source.pods(),
/// )?;
/// // The agent's pod workers report what they see; only changes reach the API server.
/// manager.set_status(&pod, status);
/// // Once the pod's containers are stopped and its volumes unmounted: its final status,
/// // and, for a pod being deleted, its removal from the API server.
/// manager.terminate_pod(&pod);
/// # drop(updates.recv().await);
/// manager.shutdown().await;
/// source.shutdown().await;
/// # Ok(()) }
/// ```
///
/// Clones share the one sync task (a cheap handle for each sink that sets statuses).
#[derive(Debug, Clone)]
pub struct PodStatusManager {
    node_name: String,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl PodStatusManager {
    /// Starts the sync task on the current tokio runtime. `pods` is the API view of the
    /// node's pods ([`ApiPodSource::pods`](super::ApiPodSource::pods)), read to reconcile
    /// without requests and to find mirror pods.
    pub fn start(
        client: Client,
        config: PodStatusManagerConfig,
        pods: NodePods,
    ) -> Result<PodStatusManager> {
        PodStatusManager::start_with_cancellation(client, config, pods, &CancellationToken::new())
    }

    /// [`PodStatusManager::start`], with a task that also stops when `parent` is cancelled.
    pub fn start_with_cancellation(
        client: Client,
        config: PodStatusManagerConfig,
        pods: NodePods,
        parent: &CancellationToken,
    ) -> Result<PodStatusManager> {
        let node = config.node_name.clone();
        if node.is_empty() {
            return Err(Error::InvalidConfig {
                node,
                field: "nodeName",
                problem: "the pod status manager needs a node name".into(),
            });
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NeedsRuntime {
            node: node.clone(),
            component: "pod status manager",
        })?;
        let shared = Arc::new(Shared {
            statuses: Mutex::new(HashMap::new()),
            pods,
            wake: Notify::new(),
            counters: Counters::default(),
        });
        let cancel = parent.child_token();
        let tracker = TaskTracker::new();
        let sync = SyncLoop {
            shared: shared.clone(),
            client,
            node_name: node.clone(),
            resync_period: config.resync_period.max(Duration::from_millis(100)),
            api_versions: HashMap::new(),
        };
        let span = tracing::info_span!("pod_status_manager", node = %node);
        tracker.spawn_on(sync.run(cancel.clone()).instrument(span), &runtime);
        tracker.close();
        Ok(PodStatusManager {
            node_name: node,
            shared,
            cancel,
            tracker,
        })
    }

    /// The node whose pods are reported.
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// Records `status` as the newest status of `pod` and, if it changed, wakes the sync task
    /// (`SetPodStatus`). Returns whether it changed.
    ///
    /// `pod` is the pod as the agent has it: from the API source, or a static pod (whose
    /// status goes to its mirror pod). The status is completed as the kubelet's
    /// `updateStatusInternal` does: `observedGeneration` is the pod's generation (and never
    /// goes back), conditions whose status did not change keep their `lastTransitionTime`,
    /// the start time is set once, the status is normalized, and `qosClass` is kept when the
    /// status has none (as the API server keeps it). A status that would move a terminated
    /// container back to running when it may not restart is refused (logged, `false`). A pod
    /// being deleted is always written again, changed or not.
    pub fn set_status(&self, pod: &Pod, mut status: PodStatus) -> bool {
        status.observed_generation = pod.metadata.generation.filter(|g| *g != 0);
        let force = pod.metadata.deletion_timestamp.is_some();
        self.update(pod, status, force, false)
    }

    /// Declares the pod's termination complete: its containers are stopped and its volumes
    /// unmounted (`TerminatePod`, called by the kubelet at the end of `SyncTerminatedPod`).
    ///
    /// The newest status is completed ([`terminated_pod_status`]: containers not seen
    /// terminated are reported `ContainerStatusUnknown`, a non-static pod not in a terminal
    /// phase becomes `Failed`) and written; then, if the pod is being deleted, it is deleted
    /// from the API server with `gracePeriodSeconds: 0` and its UID as a precondition, once
    /// the API server shows the terminal phase. A mirror pod is never deleted this way.
    pub fn terminate_pod(&self, pod: &Pod) {
        let old = {
            let statuses = self.shared.statuses();
            statuses
                .get(pod_uid(pod))
                .map(|v| v.status.clone())
                .or_else(|| pod.status.clone())
                .unwrap_or_default()
        };
        let status = terminated_pod_status(pod, &old);
        self.update(pod, status, true, true);
    }

    /// The newest status of the pod with `uid` (`GetPodStatus`).
    pub fn status(&self, uid: &str) -> Option<PodStatus> {
        self.shared.statuses().get(uid).map(|v| v.status.clone())
    }

    /// Forgets the status of the pod with `uid`, which no source has any more and whose
    /// worker is done: [`remove_orphaned_statuses`](Self::remove_orphaned_statuses) for one
    /// pod, at the moment the agent drops it. A status not yet written goes with it, as in
    /// the kubelet. Without it a node that runs pods for months keeps every status it ever
    /// set (issue 19's churn: about 25 KiB per pod).
    pub fn forget_pod(&self, uid: &str) {
        self.shared.forget(uid);
    }

    /// Forgets the statuses of every pod whose UID is not in `known`
    /// (`RemoveOrphanedStatuses`, called by the kubelet's housekeeping).
    pub fn remove_orphaned_statuses<'a>(&self, known: impl IntoIterator<Item = &'a str>) {
        let known: HashSet<&str> = known.into_iter().collect();
        self.shared.statuses().retain(|uid, _| {
            let keep = known.contains(uid.as_str());
            if !keep {
                tracing::debug!(%uid, "removing pod from status map");
            }
            keep
        });
    }

    /// What has been sent to the API server so far.
    pub fn stats(&self) -> PodStatusStats {
        let c = &self.shared.counters;
        PodStatusStats {
            reads: c.reads.load(Ordering::Relaxed),
            patches: c.patches.load(Ordering::Relaxed),
            deletes: c.deletes.load(Ordering::Relaxed),
            conflicts: c.conflicts.load(Ordering::Relaxed),
        }
    }

    /// Stops the sync task and waits for it to end. Statuses not yet written are not written.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        self.tracker.wait().await;
        tracing::debug!(node = %self.node_name, "pod status manager stopped");
    }

    /// `updateStatusInternal`: completes `status` against the previous one and stores it as a
    /// new version when it changed (or `force`).
    fn update(&self, pod: &Pod, status: PodStatus, force: bool, finished: bool) -> bool {
        let uid = pod_uid(pod);
        let span = tracing::debug_span!("pod_status", pod = %pod_ref(pod), %uid);
        let _entered = span.enter();
        if uid.is_empty() {
            tracing::warn!("a status for a pod without a UID is ignored");
            return false;
        }
        let static_hash =
            is_static_pod(pod).then(|| config_hash(pod).unwrap_or_default().to_owned());
        let mut statuses = self.shared.statuses();
        let cached = statuses.get(uid);
        let old = match cached {
            Some(v) => v.status.clone(),
            None if static_hash.is_some() => self
                .shared
                .pods
                .mirror_pod_of(pod)
                .and_then(|m| m.status.clone())
                .unwrap_or_default(),
            None => pod.status.clone().unwrap_or_default(),
        };
        let mut finished = finished;
        if cached.is_some_and(|v| v.finished) && !finished && static_hash.is_none() {
            tracing::info!("got podIsFinished=false after true; keeping it finished");
            finished = true;
        }
        if let Some(container) = illegal_container_transition(pod, &old, &status) {
            tracing::error!(
                %container,
                "status update on pod aborted: terminated container attempted illegal \
                 transition to non-terminated state"
            );
            return false;
        }
        let mut status = prepare_status(pod, &old, status, Timestamp::now());
        if status.qos_class.is_none() {
            status.qos_class = old.qos_class.clone();
        }
        if let Some(v) = cached
            && !force
            && !pod_status_changed(&v.status, &status)
        {
            tracing::trace!("ignoring same status for pod");
            return false;
        }
        let version = cached.map_or(0, |v| v.version) + 1;
        statuses.insert(
            uid.to_owned(),
            Versioned {
                version,
                namespace: pod_namespace(pod).to_owned(),
                name: pod.metadata.name.clone().unwrap_or_default(),
                status,
                finished,
                static_hash,
            },
        );
        drop(statuses);
        tracing::debug!(version, finished, "pod status changed");
        self.shared.wake.notify_one();
        true
    }
}

impl Drop for PodStatusManager {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// How a status patch ended.
enum Patched {
    /// Written, or nothing to write: the pod as the API server has it.
    Written(Box<Pod>),
    /// Refused: the pod now has another UID.
    Replaced,
    /// Refused or unanswered otherwise (logged; tried again at the next resync).
    Failed,
}

/// Which statuses a round of syncing looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Batch {
    /// Statuses newer than what was written (a status changed).
    Updated,
    /// Statuses newer than what was written whose pod is in the view (the view changed).
    Observed,
    /// Everything, reconciling with the view (the resync).
    All,
}

struct SyncLoop {
    shared: Arc<Shared>,
    client: Client,
    node_name: String,
    resync_period: Duration,
    /// The version last written, by the UID of the pod written to (the mirror pod's for a
    /// static pod): `apiStatusVersions`, only touched by this task.
    api_versions: HashMap<String, u64>,
}

impl SyncLoop {
    async fn run(mut self, cancel: CancellationToken) {
        let mut changes = self.shared.pods.subscribe();
        let mut changes_open = true;
        let start = tokio::time::Instant::now() + self.resync_period;
        let mut resync = tokio::time::interval_at(start, self.resync_period);
        resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let batch = tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                () = self.shared.wake.notified() => Batch::Updated,
                _ = resync.tick() => Batch::All,
                changed = changes.changed(), if changes_open => match changed {
                    Ok(()) => Batch::Observed,
                    Err(_) => {
                        changes_open = false;
                        continue;
                    }
                },
            };
            tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                () = self.sync_batch(batch) => {}
            }
        }
    }

    /// `syncBatch`: picks the statuses to write, then writes them one by one.
    async fn sync_batch(&mut self, batch: Batch) {
        let mut todo = Vec::new();
        {
            let statuses = self.shared.statuses();
            let mut targets = HashSet::new();
            for (uid, v) in statuses.iter() {
                let (target, api_pod) = match &v.static_hash {
                    Some(hash) => {
                        let mirror = self
                            .shared
                            .pods
                            .get_by_name(&v.namespace, &v.name)
                            .filter(|p| mirror_hash(p) == Some(hash.as_str()));
                        let Some(mirror) = mirror else {
                            tracing::trace!(
                                pod = %format!("{}/{}", v.namespace, v.name),
                                %uid,
                                "static pod does not have a corresponding mirror pod; skipping"
                            );
                            continue;
                        };
                        (pod_uid(&mirror).to_owned(), Some(mirror))
                    }
                    None => (uid.clone(), self.shared.pods.get(uid)),
                };
                let pending = self
                    .api_versions
                    .get(&target)
                    .is_none_or(|written| *written < v.version);
                let sync = match batch {
                    Batch::Updated => pending,
                    Batch::Observed => pending && api_pod.is_some(),
                    Batch::All => {
                        if pending || api_pod.as_ref().is_some_and(|p| can_be_deleted(p, v)) {
                            true
                        } else if needs_reconcile(api_pod.as_deref(), v) {
                            tracing::debug!(
                                pod = %format!("{}/{}", v.namespace, v.name),
                                %uid,
                                "pod status is inconsistent with the API server's; reconciling"
                            );
                            self.api_versions.remove(&target);
                            true
                        } else {
                            false
                        }
                    }
                };
                targets.insert(target);
                if sync {
                    todo.push((uid.clone(), v.clone()));
                }
            }
            if batch == Batch::All {
                self.api_versions.retain(|uid, _| targets.contains(uid));
            }
        }
        for (uid, v) in todo {
            let span = tracing::info_span!(
                "pod_status_sync",
                pod = %format!("{}/{}", v.namespace, v.name),
                %uid,
                version = v.version,
            );
            self.sync_pod(&uid, &v).instrument(span).await;
        }
    }

    /// `syncPod`: writes one status, and deletes the pod when its time has come.
    async fn sync_pod(&mut self, uid: &str, v: &Versioned) {
        let pod_name = format!("{}/{}", v.namespace, v.name);
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &v.namespace);
        let counters = &self.shared.counters;
        // A refusal for another UID means the pod was replaced between the read and the patch:
        // read again.
        for _ in 0..2 {
            Counters::bump(&counters.reads);
            let read = read_node_pod(&api, &v.name, &self.node_name);
            let pod = match pod_request(&pod_name, uid, "reading the pod", read).await {
                Ok(Some(pod)) => pod,
                Ok(None) => {
                    tracing::debug!("pod does not exist on the server (or not on this node)");
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "failed to get status for pod");
                    return;
                }
            };
            let api_uid = pod_uid(&pod).to_owned();
            match &v.static_hash {
                Some(hash) if mirror_hash(&pod) != Some(hash.as_str()) => {
                    tracing::debug!(%api_uid, "the pod is not the static pod's mirror; skipping");
                    return;
                }
                Some(_) => {}
                None if api_uid != uid => {
                    tracing::info!(
                        new_uid = %api_uid,
                        "pod was deleted and then recreated, skipping status update"
                    );
                    self.shared.forget(uid);
                    self.api_versions.remove(uid);
                    return;
                }
                None => {}
            }
            let pod = match self.patch(&api, &pod_name, pod, v).await {
                Patched::Written(pod) => *pod,
                Patched::Replaced => continue,
                Patched::Failed => return,
            };
            self.api_versions.insert(api_uid.clone(), v.version);
            if can_be_deleted(&pod, v) {
                self.delete(&api, &pod_name, uid, &api_uid, &v.name).await;
            }
            return;
        }
    }

    /// Merges the status into the pod's and patches what differs (nothing when nothing does).
    async fn patch(&self, api: &Api<Pod>, pod_name: &str, pod: Pod, v: &Versioned) -> Patched {
        let counters = &self.shared.counters;
        let api_uid = pod_uid(&pod).to_owned();
        let old = pod.status.clone().unwrap_or_default();
        let could_run = !v.finished && any_container_running(&v.status);
        let merged = merge_pod_status(&pod, &old, v.status.clone(), could_run, Timestamp::now());
        let Some(patch) = pod_status_patch(&api_uid, &old, &merged) else {
            tracing::debug!("status for pod is up-to-date");
            return Patched::Written(Box::new(pod));
        };
        tracing::trace!(%patch, "patching the pod status");
        let (params, patch) = (PatchParams::default(), Patch::Strategic(patch));
        let request = api.patch_status(&v.name, &params, &patch);
        match pod_request(pod_name, &api_uid, "patching the pod status", request).await {
            Ok(patched) => {
                Counters::bump(&counters.patches);
                tracing::debug!("status for pod updated successfully");
                Patched::Written(Box::new(patched))
            }
            Err(e) if pod_api_source(&e).is_some_and(is_uid_mismatch) => {
                Counters::bump(&counters.conflicts);
                tracing::info!(error = %e, "the pod changed under the patch; reading it again");
                Patched::Replaced
            }
            Err(e) => {
                tracing::warn!(error = %e, "failed to update status for pod");
                Patched::Failed
            }
        }
    }

    /// The final DELETE of a terminated pod: grace period 0, the UID as a precondition.
    async fn delete(
        &mut self,
        api: &Api<Pod>,
        pod_name: &str,
        uid: &str,
        api_uid: &str,
        name: &str,
    ) {
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(api_uid.to_owned()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        let request = api.delete(name, &params);
        match pod_request(pod_name, api_uid, "deleting the terminated pod", request).await {
            Ok(_) => {
                Counters::bump(&self.shared.counters.deletes);
                tracing::info!("pod fully terminated and removed from the API server");
            }
            Err(e) if pod_api_source(&e).is_some_and(|s| is_not_found(s) || is_conflict(s)) => {
                tracing::debug!(error = %e, "the terminated pod was already gone");
            }
            Err(e) => {
                tracing::warn!(error = %e, "failed to delete the terminated pod");
                return;
            }
        }
        self.shared.forget(uid);
        self.api_versions.remove(api_uid);
    }
}

/// Whether a status patch was refused because the pod has another UID than the patch's
/// `metadata.uid`: the pod was replaced. The API server (v1.37) answers such a patch with
/// 422 Invalid on `metadata.uid` ("field is immutable"), a Conflict in other paths.
fn is_uid_mismatch(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(status) if status.code == 422 => {
            status
                .details
                .as_ref()
                .is_some_and(|d| d.causes.iter().any(|c| c.field == "metadata.uid"))
                || status.message.contains("metadata.uid")
        }
        _ => is_conflict(e),
    }
}

/// `canBeDeleted`: the pod is being deleted, is not a mirror pod, its API phase is terminal,
/// and the agent declared its termination complete.
fn can_be_deleted(pod: &Pod, v: &Versioned) -> bool {
    pod.metadata.deletion_timestamp.is_some()
        && !is_mirror_pod(pod)
        && is_terminal_phase(pod.status.as_ref().and_then(|s| s.phase.as_deref()))
        && v.finished
}

/// `needsReconcile`: the API server's status (from the view) differs from the manager's in
/// what the kubelet writes.
fn needs_reconcile(api_pod: Option<&Pod>, v: &Versioned) -> bool {
    let Some(pod) = api_pod else {
        return false;
    };
    let mut api_status = pod.status.clone().unwrap_or_default();
    normalize_pod_status(pod, &mut api_status);
    pod_status_changed(&api_status, &v.status)
}
