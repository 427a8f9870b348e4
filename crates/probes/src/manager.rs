//! The probe manager: the workers of every pod, their status feeds and results (the
//! kubelet's `pkg/kubelet/prober/prober_manager.go`).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use cri_client::RuntimeService;
use k8s_openapi::api::core::v1::{Container, Pod, PodStatus, Probe};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::events::{LogEvents, ProbeEventSink};
use crate::handler::handler_for;
use crate::metrics::ProbeMetrics;
use crate::pod::cri_container_id;
use crate::worker::{PodStatusFeed, WorkerHandle};
use crate::{
    Error, PodRef, ProbeClock, ProbeHandler, ProbeKind, ProbeSettings, ProbeUpdate, ProbeWorker,
    Result, ResultsCache, validate_container_probes,
};

/// Builds the handler of a probe; the default builds the real handlers
/// ([`handler_for`](crate::handler_for)) over the manager's runtime.
pub type HandlerFactory =
    dyn Fn(&Probe, &Container) -> Result<Arc<dyn ProbeHandler>, String> + Send + Sync;

type WorkerKey = (String, String, ProbeKind);

#[derive(Debug, Default)]
struct PodEntry {
    feed: PodStatusFeed,
    terminating: bool,
    /// Containers whose invalid probes were already logged (once per container).
    reported_invalid: std::collections::HashSet<String>,
}

#[derive(Default)]
struct ManagerState {
    pods: HashMap<String, PodEntry>,
    workers: HashMap<WorkerKey, WorkerHandle>,
}

/// Runs the probe workers of every pod on the node and keeps their results.
///
/// The pod worker drives it through four calls, as the kubelet's pod workers drive the
/// prober manager:
///
/// - [`add_pod`](Self::add_pod) at each sync: starts the missing workers (one per container
///   and probe kind; sidecar init containers included) and returns the containers whose
///   probes are invalid, which get no workers;
/// - [`update_pod_status`](Self::update_pod_status) whenever it generates the pod's status:
///   workers read container ids, running state, `startedAt` and the pod IP from it at each
///   period; a running container that is not ready yet gets its readiness probed at once;
/// - [`terminating`](Self::terminating) when the pod starts terminating: liveness and
///   startup stop (their result set to Success), readiness goes on;
/// - [`remove_pod`](Self::remove_pod) when the pod is gone.
///
/// Results are read from [`results`](Self::results) and changes arrive on
/// [`subscribe`](Self::subscribe). Clones share the same workers.
#[derive(Clone)]
pub struct ProbeManager {
    inner: Arc<Inner>,
}

struct Inner {
    handlers: Arc<HandlerFactory>,
    cache: ResultsCache,
    metrics: ProbeMetrics,
    events: Arc<dyn ProbeEventSink>,
    clock: ProbeClock,
    started: Instant,
    agent_restarted: bool,
    state: Mutex<ManagerState>,
}

impl fmt::Debug for ProbeManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("ProbeManager")
            .field("pods", &st.pods.len())
            .field("workers", &st.workers.len())
            .field("agent_restarted", &self.inner.agent_restarted)
            .finish()
    }
}

/// How a [`ProbeManager`] is set up.
pub struct ProbeManagerBuilder {
    handlers: Arc<HandlerFactory>,
    cache: ResultsCache,
    metrics: ProbeMetrics,
    events: Arc<dyn ProbeEventSink>,
    clock: Option<ProbeClock>,
    agent_restarted: bool,
}

impl fmt::Debug for ProbeManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProbeManagerBuilder")
            .field("agent_restarted", &self.agent_restarted)
            .finish_non_exhaustive()
    }
}

impl ProbeManagerBuilder {
    /// Whether the agent restarted (it found containers it did not start). Then workers
    /// created less than one period after the manager delay their first probe by a random
    /// part of the period, so the probes of a full node do not all run at once (the
    /// kubelet's jitter). Off by default: a fresh agent probes at once.
    pub fn agent_restarted(mut self, restarted: bool) -> Self {
        self.agent_restarted = restarted;
        self
    }

    /// Send probe events to `events` (default: the log).
    pub fn events(mut self, events: Arc<dyn ProbeEventSink>) -> Self {
        self.events = events;
        self
    }

    /// Count probes in `metrics` (default: a registry of its own).
    pub fn metrics(mut self, metrics: ProbeMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Keep results in `cache` (default: a cache of its own).
    pub fn cache(mut self, cache: ResultsCache) -> Self {
        self.cache = cache;
        self
    }

    /// Read wall-clock time from `clock` (default: [`ProbeClock::new`] at `build`).
    pub fn clock(mut self, clock: ProbeClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Build handlers with `factory` instead of the real ones (for tests, or for extra
    /// handler kinds).
    pub fn handlers(
        mut self,
        factory: impl Fn(&Probe, &Container) -> Result<Arc<dyn ProbeHandler>, String>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.handlers = Arc::new(factory);
        self
    }

    /// The manager. The time since the agent started counts from here.
    pub fn build(self) -> ProbeManager {
        ProbeManager {
            inner: Arc::new(Inner {
                handlers: self.handlers,
                cache: self.cache,
                metrics: self.metrics,
                events: self.events,
                clock: self.clock.unwrap_or_default(),
                started: Instant::now(),
                agent_restarted: self.agent_restarted,
                state: Mutex::new(ManagerState::default()),
            }),
        }
    }
}

impl ProbeManager {
    /// A manager whose exec probes run through `runtime`.
    pub fn new(runtime: Arc<dyn RuntimeService>) -> Self {
        Self::builder(runtime).build()
    }

    /// A manager to configure; exec probes run through `runtime`.
    pub fn builder(runtime: Arc<dyn RuntimeService>) -> ProbeManagerBuilder {
        ProbeManagerBuilder {
            handlers: Arc::new(move |probe: &Probe, container: &Container| {
                handler_for(probe, container, runtime.clone())
            }),
            cache: ResultsCache::new(),
            metrics: ProbeMetrics::new(),
            events: Arc::new(LogEvents),
            clock: None,
            agent_restarted: false,
        }
    }

    fn lock(&self) -> MutexGuard<'_, ManagerState> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Start the workers the pod lacks (the kubelet's `AddPod`, called at every sync).
    ///
    /// Each container's probes are validated first ([`validate_container_probes`]); a
    /// container with an invalid probe gets no worker at all and its error is returned,
    /// while the other containers are probed as usual. Calling it again is cheap and starts
    /// only workers that are missing or have stopped. A pod with a `deletionTimestamp`
    /// counts as terminating. Must be called within a tokio runtime.
    #[must_use = "the errors name the containers whose probes are invalid"]
    pub fn add_pod(&self, pod: &Pod) -> Vec<Error> {
        let mut errors = Vec::new();
        let pod_ref = PodRef::of(pod);
        let Some(spec) = pod.spec.as_ref() else {
            return errors;
        };
        if tokio::runtime::Handle::try_current().is_err() {
            errors.push(Error::NoRuntime {
                pod: pod_ref.to_string(),
            });
            return errors;
        }
        let sidecars = spec
            .init_containers
            .iter()
            .flatten()
            .filter(|c| c.restart_policy.as_deref() == Some("Always"));
        let containers: Vec<&Container> = sidecars.chain(spec.containers.iter()).collect();

        let mut st = self.lock();
        let entry = st.pods.entry(pod_ref.uid.clone()).or_default();
        entry.terminating |= pod.metadata.deletion_timestamp.is_some();
        let terminating = entry.terminating;
        let feed = entry.feed.clone();
        for container in containers {
            if container.liveness_probe.is_none()
                && container.readiness_probe.is_none()
                && container.startup_probe.is_none()
            {
                continue;
            }
            if let Err(e) = validate_container_probes(pod, container) {
                let first = st
                    .pods
                    .get_mut(&pod_ref.uid)
                    .is_some_and(|p| p.reported_invalid.insert(container.name.clone()));
                if first {
                    tracing::warn!(pod = %pod_ref, pod_uid = %pod_ref.uid, error = %e, "container probes are invalid: not probed");
                }
                errors.push(e);
                continue;
            }
            for kind in ProbeKind::ALL {
                let Some(probe) = kind.probe_of(container) else {
                    continue;
                };
                if terminating && kind.restarts_container() {
                    continue;
                }
                let key = (pod_ref.uid.clone(), container.name.clone(), kind);
                if st.workers.get(&key).is_some_and(|w| !w.is_finished()) {
                    continue;
                }
                let handler = match (self.inner.handlers)(probe, container) {
                    Ok(h) => h,
                    Err(problem) => {
                        errors.push(Error::InvalidProbe {
                            pod: pod_ref.to_string(),
                            container: container.name.clone(),
                            probe: kind.lower(),
                            field: kind.field().to_string(),
                            problem,
                        });
                        continue;
                    }
                };
                let settings = ProbeSettings::from_probe(probe);
                let jitter =
                    self.inner.agent_restarted && self.inner.started.elapsed() < settings.period;
                let worker = ProbeWorker::new(
                    pod,
                    container,
                    kind,
                    handler,
                    &feed,
                    self.inner.cache.clone(),
                )
                .with_metrics(self.inner.metrics.clone())
                .with_events(self.inner.events.clone())
                .with_clock(self.inner.clock)
                .with_initial_jitter(jitter);
                tracing::debug!(pod = %pod_ref, pod_uid = %pod_ref.uid, container = %container.name, probe = kind.as_str(), "probe worker started");
                st.workers.insert(key, worker.spawn());
            }
        }
        errors
    }

    /// The pod's latest status, as the pod worker generated it (the kubelet's workers read
    /// it from the status manager). Workers of a pod not added yet find it when they start.
    /// So this holds the status of any pod until [`remove_pod`](Self::remove_pod): a caller
    /// must not send the status of a pod it has removed (a terminal status, say), or the
    /// manager keeps it for good.
    ///
    /// As the kubelet's `UpdatePodStatus`, a running, started container whose readiness
    /// result is not Success has its readiness probe run at once rather than at the next
    /// period, so a container becomes ready as soon as it can.
    pub fn update_pod_status(&self, pod_uid: &str, status: &PodStatus) {
        let mut st = self.lock();
        let entry = st.pods.entry(pod_uid.to_string()).or_default();
        entry.feed.publish(status.clone());
        let cache = &self.inner.cache;
        for c in status.container_statuses.iter().flatten() {
            let Some(id) = c.container_id.as_deref().filter(|id| !id.is_empty()) else {
                continue;
            };
            let id = cri_container_id(id);
            let running = c.state.as_ref().and_then(|s| s.running.as_ref()).is_some();
            if !running {
                continue;
            }
            let has_startup =
                st.workers
                    .contains_key(&(pod_uid.to_string(), c.name.clone(), ProbeKind::Startup));
            let started = !has_startup
                || cache
                    .get(pod_uid, id, ProbeKind::Startup)
                    .is_some_and(|r| r.is_success());
            if !started {
                continue;
            }
            let ready = cache
                .get(pod_uid, id, ProbeKind::Readiness)
                .is_some_and(|r| r.is_success());
            if !ready
                && let Some(w) =
                    st.workers
                        .get(&(pod_uid.to_string(), c.name.clone(), ProbeKind::Readiness))
            {
                w.trigger();
            }
        }
    }

    /// The pod is terminating: its liveness and startup workers set Success and stop,
    /// readiness goes on until [`remove_pod`](Self::remove_pod). Like
    /// [`update_pod_status`](Self::update_pod_status), it holds the pod until then.
    pub fn terminating(&self, pod_uid: &str) {
        let mut st = self.lock();
        st.pods.entry(pod_uid.to_string()).or_default().terminating = true;
        for ((uid, _, _), worker) in &st.workers {
            if uid == pod_uid {
                worker.terminating();
            }
        }
    }

    /// Stop every worker of the pod and forget its results (the kubelet's `RemovePod`).
    pub fn remove_pod(&self, pod_uid: &str) {
        let mut st = self.lock();
        st.pods.remove(pod_uid);
        st.workers.retain(|(uid, _, _), worker| {
            if uid == pod_uid {
                worker.stop();
                false
            } else {
                true
            }
        });
        self.inner.cache.remove_pod(pod_uid);
    }

    /// The UIDs of the pods the manager holds anything for: added and not removed.
    pub fn pods(&self) -> Vec<String> {
        let st = self.lock();
        let mut uids: Vec<String> = st.pods.keys().cloned().collect();
        uids.extend(st.workers.keys().map(|(uid, _, _)| uid.clone()));
        uids.sort();
        uids.dedup();
        uids
    }

    /// Whether a worker runs for this probe.
    pub fn is_probing(&self, pod_uid: &str, container: &str, kind: ProbeKind) -> bool {
        self.lock()
            .workers
            .get(&(pod_uid.to_string(), container.to_string(), kind))
            .is_some_and(|w| !w.is_finished())
    }

    /// Run a probe now instead of at its next period.
    pub fn trigger(&self, pod_uid: &str, container: &str, kind: ProbeKind) {
        if let Some(w) =
            self.lock()
                .workers
                .get(&(pod_uid.to_string(), container.to_string(), kind))
        {
            w.trigger();
        }
    }

    /// The results cache.
    pub fn results(&self) -> &ResultsCache {
        &self.inner.cache
    }

    /// A feed of every result change from now on.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<ProbeUpdate> {
        self.inner.cache.subscribe()
    }

    /// The probe metrics.
    pub fn metrics(&self) -> &ProbeMetrics {
        &self.inner.metrics
    }

    /// The clock the workers read.
    pub fn clock(&self) -> ProbeClock {
        self.inner.clock
    }
}
