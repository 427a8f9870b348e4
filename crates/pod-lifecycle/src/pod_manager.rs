//! The pod manager: from the pods the sources want to the pod workers, with the kubelet's
//! rules for admission, static pod replacement and orphans (`HandlePodAdditions`,
//! `HandlePodRemoves`, `HandlePodCleanups`).
//!
//! Admission runs the kubelet's handlers in its order: the eviction manager's first (under
//! node pressure, [`PodManager::set_node_pressure`], a pod is refused with reason
//! `Evicted`, EV-11), then the pod count, resource fit, node affinity, node name and host
//! ports.
//!
//! Sources hand in full snapshots ([`PodManager::set_source_pods`]). A new pod is admitted
//! (or rejected with the kubelet's reason and a terminal status), a changed pod goes to its
//! worker, a pod that disappeared is terminated. Housekeeping
//! ([`PodManager::housekeeping`], every 2 s in the kubelet) starts replacements that waited
//! for their predecessor, drops workers of terminated pods, and kills what the runtime runs
//! for no known pod — but only once every source has reported a first full state, so an agent
//! restart never kills a workload it simply has not read yet.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use cgroup_enforcer::allocatable::NodeResources;
use cri_client::{RuntimeService, v1};
use k8s_openapi::api::core::v1::{Pod, PodStatus};

use crate::defaults;
use crate::labels;
use crate::plan::eviction::NodePressure;
use crate::plan::{self, PodFailure};
use crate::validation;
use crate::worker::{Clock, PodWorkers, StatusSink, WorkerPhase};
use tokio::sync::watch;

/// Settings of the pod manager.
#[derive(Debug, Clone)]
pub struct PodManagerConfig {
    /// The most pods this node runs (`maxPods`, 110).
    pub max_pods: usize,
    /// The sources that must report a first full state before orphans are removed.
    pub sources: Vec<String>,
    /// This node's name: only sandboxes labelled with it ([`labels::NODE_NAME`]) are
    /// candidates for orphan removal.
    pub node_name: String,
    /// The node allocatable (`cgroup_enforcer::allocatable::node_allocatable`) for the
    /// kubelet's resource-fit admission: a pod whose CPU or memory requests do not fit in
    /// what the admitted pods leave is rejected with `OutOfcpu` / `OutOfmemory` (PH-21).
    /// `None` (the default) admits on the pod count alone.
    pub allocatable: Option<NodeResources>,
    /// The node's labels, for the pods' `nodeSelector` and required node affinity
    /// ([`plan::admission`]): `kubernetes.io/hostname`, `kubernetes.io/os`,
    /// `kubernetes.io/arch` and the node's own labels.
    pub node_labels: BTreeMap<String, String>,
    /// The pods' log directory (`podLogsDir`): an orphaned pod's directory
    /// (`<namespace>_<name>_<uid>`) goes with its sandbox. `None` (the default) leaves log
    /// directories alone.
    pub pod_logs_dir: Option<std::path::PathBuf>,
}

impl Default for PodManagerConfig {
    fn default() -> Self {
        PodManagerConfig {
            max_pods: 110,
            sources: vec!["file".into()],
            node_name: "localhost".into(),
            allocatable: None,
            node_labels: BTreeMap::new(),
            pod_logs_dir: None,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// Pods each source wants, by UID.
    desired: BTreeMap<String, BTreeMap<String, Pod>>,
    /// Pods handed to a worker, by UID.
    running: BTreeMap<String, Pod>,
    /// Pods refused at admission, by UID.
    rejected: BTreeMap<String, Rejected>,
    /// Pods waiting for a predecessor with the same full name to terminate.
    waiting: BTreeMap<String, Pod>,
    /// Sources that reported at least once.
    seen: BTreeSet<String>,
}

/// A pod refused at admission: it never gets a worker, so nothing else ends it.
#[derive(Debug)]
struct Rejected {
    pod: Pod,
    /// Its terminal status, as set.
    status: PodStatus,
    /// Whether the sink was told it is terminated (once it is being deleted).
    terminated: bool,
}

/// Hands source pods to pod workers. Cheap to share (`Arc`).
pub struct PodManager {
    workers: Arc<PodWorkers>,
    runtime: Arc<dyn RuntimeService>,
    status: Arc<dyn StatusSink>,
    clock: Arc<dyn Clock>,
    config: PodManagerConfig,
    state: Mutex<State>,
    /// The eviction manager's node conditions, for admission under pressure (EV-11).
    pressure: Mutex<Option<watch::Receiver<NodePressure>>>,
}

impl std::fmt::Debug for PodManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f.debug_struct("PodManager")
            .field("running", &state.running.len())
            .field("rejected", &state.rejected.len())
            .field("waiting", &state.waiting.len())
            .finish()
    }
}

fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

use crate::cri_config::pod_full_name as full_name;

impl PodManager {
    /// A manager over these workers.
    pub fn new(
        workers: Arc<PodWorkers>,
        runtime: Arc<dyn RuntimeService>,
        status: Arc<dyn StatusSink>,
        clock: Arc<dyn Clock>,
        config: PodManagerConfig,
    ) -> Self {
        PodManager {
            workers,
            runtime,
            status,
            clock,
            config,
            state: Mutex::new(State::default()),
            pressure: Mutex::new(None),
        }
    }

    /// Admit new pods under the node's pressure conditions as the eviction manager
    /// publishes them ([`crate::eviction::EvictionManager::pressure`]): under pressure,
    /// pods are refused by [`plan::eviction::admission_failure`] (EV-11).
    pub fn set_node_pressure(&self, pressure: watch::Receiver<NodePressure>) {
        *self
            .pressure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(pressure);
    }

    fn node_pressure(&self) -> NodePressure {
        self.pressure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map(|p| *p.borrow())
            .unwrap_or_default()
    }

    /// The pods handed to workers whose worker still runs them (not terminating, not
    /// terminated): the kubelet's `GetActivePods`, the eviction manager's candidates.
    pub fn active_pods(&self) -> Vec<Pod> {
        let state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state
            .running
            .iter()
            .filter(|(id, _)| self.workers.is_syncing(id))
            .map(|(_, p)| p.clone())
            .collect()
    }

    /// The workers.
    pub fn workers(&self) -> &Arc<PodWorkers> {
        &self.workers
    }

    /// Whether every configured source has reported a full state.
    pub fn sources_ready(&self) -> bool {
        let state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.config.sources.iter().all(|s| state.seen.contains(s))
    }

    /// A full snapshot of what `source` wants. New pods are admitted or rejected, changed
    /// pods updated, pods no longer listed terminated.
    ///
    /// Each pod is first given the API's defaults ([`defaults::default_pod`]: a static pod
    /// never passed an API server; an API pod is unchanged), then validated: a pod that
    /// breaks [`validation::validate_pod`] (a UID such as `../../x`, a name that is not a DNS
    /// subdomain, `restartPolicy: Sometimes`, an unknown `imagePullPolicy`) is left out with
    /// a warning, as if the source had not listed it, as the kubelet refuses what its
    /// validation refuses: sources refuse such pods themselves, and this keeps one that did
    /// not from ever reaching a worker.
    pub fn set_source_pods(&self, source: &str, pods: Vec<Pod>) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.seen.insert(source.to_string());
        let new: BTreeMap<String, Pod> = pods
            .into_iter()
            .map(|mut p| {
                defaults::default_pod(&mut p);
                p
            })
            .filter(|p| match validation::validate_pod(p) {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(source, error = %e, "pod refused: invalid pod");
                    false
                }
            })
            .map(|p| (uid(&p), p))
            .collect();
        let old = state
            .desired
            .insert(source.to_string(), new.clone())
            .unwrap_or_default();

        for (id, pod) in &old {
            if new.contains_key(id) {
                continue;
            }
            state.waiting.remove(id);
            // A refused pod stays until housekeeping, which tells the sink it is gone (or
            // the sink would keep its status for good).
            if state.running.contains_key(id) {
                tracing::info!(pod = %full_name(pod), uid = %id, "pod removed from its source: terminating");
                self.workers.terminate_pod(pod.clone(), None);
            }
        }
        // Oldest first, as the kubelet admits by creation time; ties by name.
        let mut added: Vec<&Pod> = new.values().collect();
        added.sort_by_key(|p| {
            (
                p.metadata.creation_timestamp.as_ref().map(|t| t.0),
                full_name(p),
            )
        });
        for pod in added {
            let id = uid(pod);
            if state.running.contains_key(&id) {
                if state.running.get(&id) != Some(pod) {
                    state.running.insert(id.clone(), pod.clone());
                    self.workers.update_pod(pod.clone());
                }
                continue;
            }
            if let Some(rejected) = state.rejected.get_mut(&id) {
                // A refused pod being deleted is done at once: it never ran, so nothing is
                // left to stop, and its API object may go (the kubelet's status manager
                // deletes a terminal pod whose resources are reclaimed). Without this the
                // object stayed, and with it the pod, on the node for good.
                if pod.metadata.deletion_timestamp.is_some() && !rejected.terminated {
                    rejected.terminated = true;
                    rejected.pod = pod.clone();
                    self.status.pod_terminated(&rejected.pod, &rejected.status);
                }
                continue;
            }
            self.admit(&mut state, pod.clone());
        }
    }

    fn active_pod_count(&self, state: &State) -> usize {
        state
            .running
            .keys()
            .filter(|id| self.workers.phase(id) != Some(WorkerPhase::Terminated))
            .count()
            + state.waiting.len()
    }

    fn admit(&self, state: &mut State, pod: Pod) {
        let id = uid(&pod);
        // The kubelet's admit handlers run the eviction manager's first: under pressure a
        // pod is refused before the resource predicates are asked (EV-11).
        if let Some(failure) = plan::eviction::admission_failure(&pod, self.node_pressure()) {
            self.reject(state, pod, failure);
            return;
        }
        let used = self.active_pod_count(state);
        if used >= self.config.max_pods {
            // PH-22: the kubelet's OutOfpods rejection.
            let failure = PodFailure::rejected(
                "OutOfpods",
                format!(
                    "Node didn't have enough resource: pods, requested: 1, used: {used}, capacity: {}",
                    self.config.max_pods
                ),
            );
            self.reject(state, pod, failure);
            return;
        }
        if let Some(failure) = self.resource_fit(state, &pod) {
            self.reject(state, pod, failure);
            return;
        }
        // The other predicates, in the kubelet's order: node affinity and selector, node
        // name, host ports (against the pods admitted so far).
        let node = plan::admission::NodeView {
            name: &self.config.node_name,
            labels: &self.config.node_labels,
        };
        let admitted: Vec<&Pod> = state.running.values().collect();
        if let Some(failure) = plan::admission::admission_failure(&pod, &node, &admitted) {
            self.reject(state, pod, failure);
            return;
        }
        // Static pods: one pod per full name at a time; a replacement waits until its
        // predecessor has terminated (SP-06).
        let name = full_name(&pod);
        let predecessor_active = state.running.iter().any(|(other, p)| {
            *other != id
                && full_name(p) == name
                && self.workers.phase(other) != Some(WorkerPhase::Terminated)
        });
        if predecessor_active {
            tracing::info!(pod = %name, uid = %id, "waiting for the previous pod of this name to terminate");
            state.waiting.insert(id, pod);
            return;
        }
        state.running.insert(id, pod.clone());
        self.workers.update_pod(pod);
    }

    fn reject(&self, state: &mut State, pod: Pod, failure: PodFailure) {
        let id = uid(&pod);
        let status = plan::rejected_pod_status(&pod, &failure, None, self.clock.now());
        tracing::warn!(pod = %full_name(&pod), uid = %id, reason = %failure.reason, "pod rejected: {}", failure.message);
        self.status.set_pod_status(&pod, &status);
        let terminated = pod.metadata.deletion_timestamp.is_some();
        if terminated {
            self.status.pod_terminated(&pod, &status);
        }
        state.rejected.insert(
            id,
            Rejected {
                pod,
                status,
                terminated,
            },
        );
    }

    /// PH-21, the kubelet's predicate admission (`lifecycle/predicate.go`, the scheduler's
    /// `noderesources.Fits`): the pod's CPU and memory requests (`PodRequests`: init
    /// containers, sidecars and overhead included) must fit in the allocatable minus the
    /// requests of the active pods; the first resource short, CPU before memory, is the
    /// reason (`OutOfcpu`, `OutOfmemory`). A pod that requests none of a resource always
    /// fits it. Ephemeral storage and extended resources are not checked.
    fn resource_fit(&self, state: &State, pod: &Pod) -> Option<PodFailure> {
        let allocatable = self.config.allocatable?;
        let requests = |p: &Pod| match cgroup_enforcer::resources::pod_resources(p) {
            Ok(r) => (r.cpu_request_milli, r.memory_request),
            Err(e) => {
                // The pod's containers fail with the same error at creation.
                tracing::warn!(pod = %full_name(p), error = %e, "cannot read the pod's requests");
                (0, 0)
            }
        };
        let (cpu, memory) = requests(pod);
        let (used_cpu, used_memory) = state
            .running
            .iter()
            .filter(|(id, _)| self.workers.phase(id) != Some(WorkerPhase::Terminated))
            .map(|(_, p)| p)
            .chain(state.waiting.values())
            .filter(|p| uid(p) != uid(pod))
            .map(requests)
            .fold((0i64, 0i64), |(c, m), (pc, pm)| {
                (c.saturating_add(pc), m.saturating_add(pm))
            });
        let short = [
            ("cpu", cpu, used_cpu, allocatable.cpu_milli),
            ("memory", memory, used_memory, allocatable.memory),
        ]
        .into_iter()
        .find(|(_, requested, used, capacity)| {
            *requested > 0 && *requested > capacity.saturating_sub(*used)
        })?;
        let (name, requested, used, capacity) = short;
        Some(PodFailure::rejected(
            format!("OutOf{name}"),
            format!(
                "Node didn't have enough resource: {name}, requested: {requested}, used: {used}, capacity: {capacity}"
            ),
        ))
    }

    /// The kubelet's housekeeping: start replacements whose predecessor terminated, forget
    /// terminated pods no source wants, and, once every source reported, kill and remove
    /// what the runtime runs for no known pod (TM-10).
    pub async fn housekeeping(&self) {
        let desired: BTreeSet<String> = {
            let mut state = self
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let desired: BTreeSet<String> = state
                .desired
                .values()
                .flat_map(|m| m.keys().cloned())
                .collect();
            // Terminated pods that no source wants any more.
            let gone: Vec<String> = state
                .running
                .keys()
                .filter(|id| !desired.contains(*id))
                .filter(|id| self.workers.phase(id) == Some(WorkerPhase::Terminated))
                .cloned()
                .collect();
            for id in gone {
                if let Some(pod) = state.running.remove(&id) {
                    self.workers.forget(&id);
                    self.status.pod_removed(&pod);
                }
            }
            let rejected_gone: Vec<String> = state
                .rejected
                .keys()
                .filter(|id| !desired.contains(*id))
                .cloned()
                .collect();
            for id in rejected_gone {
                if let Some(Rejected { pod, .. }) = state.rejected.remove(&id) {
                    self.status.pod_removed(&pod);
                }
            }
            // Replacements whose predecessor is done.
            let waiting: Vec<Pod> = std::mem::take(&mut state.waiting).into_values().collect();
            for pod in waiting {
                self.admit(&mut state, pod);
            }
            desired
        };
        if self.sources_ready() {
            self.remove_orphans(&desired).await;
        }
    }

    async fn remove_orphans(&self, desired: &BTreeSet<String>) {
        let known: BTreeSet<String> = {
            let state = self
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            desired
                .iter()
                .chain(state.running.keys())
                .cloned()
                .collect()
        };
        let sandboxes = match self
            .runtime
            .list_pod_sandbox(v1::ListPodSandboxRequest::default())
            .await
        {
            Ok(r) => r.items,
            Err(e) => {
                tracing::warn!(error = %e, "housekeeping: cannot list sandboxes");
                return;
            }
        };
        for sandbox in sandboxes {
            if sandbox.labels.get(labels::NODE_NAME) != Some(&self.config.node_name) {
                continue;
            }
            let Some(owner) = sandbox.labels.get(labels::POD_UID) else {
                continue;
            };
            if known.contains(owner) {
                continue;
            }
            let name = sandbox
                .metadata
                .as_ref()
                .map(|m| format!("{}/{}", m.namespace, m.name));
            tracing::info!(pod = ?name, uid = %owner, sandbox = %sandbox.id, "killing an orphaned pod");
            self.remove_sandbox(&sandbox.id).await;
            if let Some(meta) = &sandbox.metadata {
                self.remove_pod_logs(&meta.namespace, &meta.name, owner);
            }
        }
    }

    /// Removes the log directory of a pod that is gone (the kubelet's container GC removes
    /// the log directories of deleted pods). The path is built from checked components and
    /// removed only when inside `podLogsDir`.
    fn remove_pod_logs(&self, namespace: &str, name: &str, uid: &str) {
        let Some(logs_dir) = &self.config.pod_logs_dir else {
            return;
        };
        let pod = Pod {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                namespace: Some(namespace.to_owned()),
                name: Some(name.to_owned()),
                uid: Some(uid.to_owned()),
                ..Default::default()
            },
            ..Default::default()
        };
        match container_logs::pod_log_dir(logs_dir, &pod) {
            Ok(dir) => {
                if let Err(e) = pod_plan::validation::remove_dir_all_within(logs_dir, &dir)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot remove an orphaned pod's logs");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "not removing an orphaned pod's logs: no safe log directory")
            }
        }
    }

    async fn remove_sandbox(&self, sandbox_id: &str) {
        let containers = self
            .runtime
            .list_containers(v1::ListContainersRequest {
                filter: Some(v1::ContainerFilter {
                    pod_sandbox_id: sandbox_id.to_string(),
                    ..Default::default()
                }),
            })
            .await
            .map(|r| r.containers)
            .unwrap_or_default();
        // Orphans are killed with the shortest grace (the kubelet's 1 s, 2 s for a container).
        for c in &containers {
            let _ = self
                .runtime
                .stop_container(v1::StopContainerRequest {
                    container_id: c.id.clone(),
                    timeout: plan::MINIMUM_CONTAINER_GRACE_PERIOD_SECONDS,
                })
                .await;
        }
        for c in &containers {
            let _ = self
                .runtime
                .remove_container(v1::RemoveContainerRequest {
                    container_id: c.id.clone(),
                })
                .await;
        }
        let _ = self
            .runtime
            .stop_pod_sandbox(v1::StopPodSandboxRequest {
                pod_sandbox_id: sandbox_id.to_string(),
            })
            .await;
        let _ = self
            .runtime
            .remove_pod_sandbox(v1::RemovePodSandboxRequest {
                pod_sandbox_id: sandbox_id.to_string(),
            })
            .await;
    }

    /// Terminate every pod (a node shutdown with `shutdownGracePeriod`): regular pods first,
    /// then those with a system-critical priority class, as the kubelet's shutdown manager
    /// orders them; waits until all are terminated.
    pub async fn terminate_all(&self, grace: Option<i64>) {
        let pods: Vec<Pod> = {
            let state = self
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            state.running.values().cloned().collect()
        };
        let critical = |p: &Pod| {
            p.spec
                .as_ref()
                .and_then(|s| s.priority_class_name.as_deref())
                .is_some_and(|c| c == "system-node-critical" || c == "system-cluster-critical")
        };
        for group in [false, true] {
            let batch: Vec<&Pod> = pods.iter().filter(|p| critical(p) == group).collect();
            for pod in &batch {
                self.workers.terminate_pod((*pod).clone(), grace);
            }
            for pod in &batch {
                self.workers.wait_terminated(&uid(pod)).await;
            }
        }
    }
}
