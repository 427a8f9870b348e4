//! One probe worker: a task probing one container's probe of one kind (the kubelet's
//! `pkg/kubelet/prober/worker.go`).

use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod, PodStatus};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::Instrument;

use crate::events::{
    LogEvents, ProbeEvent, ProbeEventSink, REASON_PROBE_WARNING, REASON_UNHEALTHY,
};
use crate::metrics::{MetricResult, ProbeLabels, ProbeMetrics};
use crate::pod::cri_container_id;
use crate::{
    PodRef, ProbeClock, ProbeHandler, ProbeKind, ProbeResult, ProbeSettings, ProbeStatus,
    ProbeTarget, ResultsCache,
};

/// How many times a run that errors is tried before it is given up (the kubelet's
/// `maxProbeRetries`).
pub const MAX_PROBE_RETRIES: usize = 3;

/// The message cached for a probe of a container that is not running.
pub const NOT_RUNNING: &str = "container is not running";

/// The latest status of one pod, as the pod worker publishes it; probe workers read it at
/// each period (the kubelet's workers read the status manager).
///
/// Clones share one feed.
#[derive(Clone)]
pub struct PodStatusFeed {
    tx: Arc<watch::Sender<Option<Arc<PodStatus>>>>,
}

impl fmt::Debug for PodStatusFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PodStatusFeed")
            .field("has_status", &self.tx.borrow().is_some())
            .finish()
    }
}

impl Default for PodStatusFeed {
    fn default() -> Self {
        Self::new()
    }
}

impl PodStatusFeed {
    /// A feed with no status yet (workers wait).
    pub fn new() -> Self {
        PodStatusFeed {
            tx: Arc::new(watch::channel(None).0),
        }
    }

    /// Publish the pod's latest status.
    pub fn publish(&self, status: PodStatus) {
        self.tx.send_replace(Some(Arc::new(status)));
    }

    /// The latest status.
    pub fn latest(&self) -> Option<Arc<PodStatus>> {
        self.tx.borrow().clone()
    }

    fn receiver(&self) -> watch::Receiver<Option<Arc<PodStatus>>> {
        self.tx.subscribe()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Control {
    terminating: bool,
    stopped: bool,
}

/// Control of a running [`ProbeWorker`].
#[derive(Debug)]
pub struct WorkerHandle {
    control: watch::Sender<Control>,
    trigger: Arc<Notify>,
    task: JoinHandle<()>,
}

impl WorkerHandle {
    /// Stop the worker at its next wait; its cached result is removed.
    pub fn stop(&self) {
        self.control.send_modify(|c| c.stopped = true);
    }

    /// The pod is terminating: a liveness or startup worker sets Success and stops; a
    /// readiness worker goes on.
    pub fn terminating(&self) {
        self.control.send_modify(|c| c.terminating = true);
    }

    /// Probe now instead of at the next period (the kubelet's `manualTriggerCh`; several
    /// triggers before the worker wakes count as one).
    pub fn trigger(&self) {
        self.trigger.notify_one();
    }

    /// Whether the worker's task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Wait for the worker's task to end.
    pub async fn join(self) {
        let _ = self.task.await;
    }
}

/// Probes one container's probe of one kind, periodically, and keeps its result in a
/// [`ResultsCache`].
///
/// The rules are the kubelet's `doProbe`, in this order, at each period:
///
/// 1. no pod status yet → wait; pod phase `Succeeded`/`Failed` → stop;
/// 2. container not found or without id → wait;
/// 3. a new container id → the previous instance's result is dropped, the new one starts
///    at the kind's initial value (readiness Failure, liveness Success, startup Unknown) and
///    the run counter restarts;
/// 4. on hold (this instance already failed liveness/startup) → wait for a new instance;
/// 5. container not running → Failure; stop if it terminated under `restartPolicy: Never`;
/// 6. pod terminating and liveness/startup → Success, stop (readiness goes on);
/// 7. less than `initialDelaySeconds` since `startedAt` → wait;
/// 8. startup gating: while the startup probe has not succeeded, liveness and readiness
///    wait; once it succeeded the startup worker never probes that instance again;
/// 9. run the handler (a prober error is tried [`MAX_PROBE_RETRIES`] times, then the run
///    is discarded with an `Unhealthy` event);
/// 10. the cached result changes after `successThreshold` consecutive successes or
///     `failureThreshold` consecutive failures; a liveness or startup Failure puts the
///     worker on hold.
///
/// The first run is at once, then one per `periodSeconds`; with
/// [`with_initial_jitter`](Self::with_initial_jitter) the first run waits a random part of
/// a period first (the kubelet does this for workers created less than a period after it
/// started, to spread probes after a restart).
pub struct ProbeWorker {
    pod: PodRef,
    restart_never: bool,
    container: String,
    has_startup_probe: bool,
    kind: ProbeKind,
    settings: ProbeSettings,
    handler: Arc<dyn ProbeHandler>,
    status: watch::Receiver<Option<Arc<PodStatus>>>,
    cache: ResultsCache,
    metrics: ProbeMetrics,
    events: Arc<dyn ProbeEventSink>,
    clock: ProbeClock,
    jitter: bool,
    labels: ProbeLabels,
    // Run state.
    container_id: Option<String>,
    on_hold: bool,
    last_result: Option<bool>,
    result_run: u32,
    terminating: bool,
}

impl fmt::Debug for ProbeWorker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProbeWorker")
            .field("pod", &self.pod.to_string())
            .field("container", &self.container)
            .field("kind", &self.kind)
            .field("settings", &self.settings)
            .field("handler", &self.handler)
            .field("container_id", &self.container_id)
            .finish_non_exhaustive()
    }
}

impl ProbeWorker {
    /// A worker for `kind` of `container` in `pod`, running `handler` with the timing of
    /// the container's probe of that kind (defaults if it has none), reading the pod's status
    /// from `status` and writing results into `cache`. Events go to the log, metrics to a
    /// private registry, until replaced with the `with_*` methods.
    pub fn new(
        pod: &Pod,
        container: &Container,
        kind: ProbeKind,
        handler: Arc<dyn ProbeHandler>,
        status: &PodStatusFeed,
        cache: ResultsCache,
    ) -> Self {
        let pod_ref = PodRef::of(pod);
        let restart_policy = container
            .restart_policy
            .as_deref()
            .or_else(|| pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()));
        let settings = kind
            .probe_of(container)
            .map(ProbeSettings::from_probe)
            .unwrap_or_default();
        ProbeWorker {
            labels: ProbeLabels::new(&pod_ref, &container.name, kind),
            pod: pod_ref,
            restart_never: restart_policy == Some("Never"),
            container: container.name.clone(),
            has_startup_probe: container.startup_probe.is_some(),
            kind,
            settings,
            handler,
            status: status.receiver(),
            cache,
            metrics: ProbeMetrics::new(),
            events: Arc::new(LogEvents),
            clock: ProbeClock::new(),
            jitter: false,
            container_id: None,
            on_hold: false,
            last_result: None,
            result_run: 0,
            terminating: pod.metadata.deletion_timestamp.is_some(),
        }
    }

    /// Count runs in `metrics`.
    pub fn with_metrics(mut self, metrics: ProbeMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Send events to `events`.
    pub fn with_events(mut self, events: Arc<dyn ProbeEventSink>) -> Self {
        self.events = events;
        self
    }

    /// Read the time from `clock`.
    pub fn with_clock(mut self, clock: ProbeClock) -> Self {
        self.clock = clock;
        self
    }

    /// Wait a random part of one period before the first run.
    pub fn with_initial_jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// Override the timing (by default the container's probe of this kind).
    pub fn with_settings(mut self, settings: ProbeSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Start the worker on the current tokio runtime.
    ///
    /// Must be called within a tokio runtime (it spawns a task).
    pub fn spawn(self) -> WorkerHandle {
        let (control, control_rx) = watch::channel(Control {
            terminating: self.terminating,
            stopped: false,
        });
        let trigger = Arc::new(Notify::new());
        let span = tracing::debug_span!(
            "probe_worker",
            pod = %self.pod,
            pod_uid = %self.pod.uid,
            container = %self.container,
            probe = self.kind.as_str(),
        );
        let task = tokio::spawn(self.run(control_rx, trigger.clone()).instrument(span));
        WorkerHandle {
            control,
            trigger,
            task,
        }
    }

    async fn run(mut self, mut control: watch::Receiver<Control>, trigger: Arc<Notify>) {
        let period = self.settings.period;
        if self.jitter {
            let wait = period.mul_f64(fastrand::f64());
            tracing::debug!(?wait, "agent restarted recently: first probe delayed");
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = wait_stopped(&mut control) => return self.finish(),
            }
        }
        let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            let c = *control.borrow_and_update();
            if c.stopped {
                break;
            }
            self.terminating |= c.terminating;
            if !self.do_probe().await {
                break;
            }
            let stop = loop {
                tokio::select! {
                    _ = ticker.tick() => break false,
                    _ = trigger.notified() => break false,
                    changed = control.changed() => {
                        let c = *control.borrow();
                        if changed.is_err() || c.stopped {
                            break true;
                        }
                        // Liveness and startup stop at once when the pod terminates.
                        if c.terminating && self.kind.restarts_container() {
                            break false;
                        }
                    }
                }
            };
            if stop {
                break;
            }
        }
        self.finish();
    }

    /// The kubelet's deferred clean-up: forget the result and the worker's series.
    fn finish(&self) {
        if let Some(id) = &self.container_id {
            self.cache.remove(&self.pod.uid, id, self.kind);
        }
        self.metrics.remove(&self.labels);
        tracing::debug!("probe worker stopped");
    }

    fn set_result(&self, id: &str, result: ProbeResult) {
        if self.cache.set(
            &self.pod.uid,
            &self.container,
            id,
            self.kind,
            result.clone(),
        ) {
            tracing::debug!(?result, container_id = id, "probe result changed");
        }
    }

    /// One period: returns whether the worker goes on (the kubelet's `doProbe`).
    async fn do_probe(&mut self) -> bool {
        let start = Instant::now();
        let Some(status) = self.status.borrow_and_update().clone() else {
            return true;
        };
        if matches!(status.phase.as_deref(), Some("Failed" | "Succeeded")) {
            tracing::debug!(phase = ?status.phase, "pod is terminated, probe worker exits");
            return false;
        }
        let Some(c) = find_status(&status, &self.container) else {
            return true;
        };
        let Some(raw_id) = c.container_id.as_deref().filter(|id| !id.is_empty()) else {
            return true;
        };
        let id = cri_container_id(raw_id).to_string();
        if self.container_id.as_deref() != Some(id.as_str()) {
            if let Some(old) = self.container_id.take() {
                self.cache.remove(&self.pod.uid, &old, self.kind);
            }
            self.set_result(&id, ProbeResult::initial(self.kind));
            self.container_id = Some(id.clone());
            self.on_hold = false;
            self.last_result = None;
            self.result_run = 0;
        }
        if self.on_hold {
            return true;
        }
        let state = c.state.as_ref();
        let Some(running) = state.and_then(|s| s.running.as_ref()) else {
            self.set_result(&id, ProbeResult::Failure(NOT_RUNNING.to_string()));
            let terminated = state.and_then(|s| s.terminated.as_ref()).is_some();
            return !(terminated && self.restart_never);
        };
        if self.terminating && self.kind.restarts_container() {
            tracing::debug!("pod is terminating: probe result set to success, worker stops");
            self.set_result(&id, ProbeResult::Success);
            return false;
        }
        if let Some(started_at) = &running.started_at {
            let age = self.clock.now().duration_since(started_at.0).as_secs();
            if age < self.settings.initial_delay.as_secs() as i64 {
                return true;
            }
        }
        let started = !self.has_startup_probe
            || self
                .cache
                .get(&self.pod.uid, &id, ProbeKind::Startup)
                .is_some_and(|r| r.is_success());
        let gated = match self.kind {
            // Started: the startup probe never runs again for this instance.
            ProbeKind::Startup => started,
            // Liveness and readiness wait for the startup probe.
            ProbeKind::Liveness | ProbeKind::Readiness => !started,
        };
        if gated {
            return true;
        }

        let target = ProbeTarget {
            pod_ip: pod_ip(&status),
            container_id: id.clone(),
            timeout: self.settings.timeout,
        };
        let Some(success) = self.run_probe(&target).await else {
            return true;
        };
        let (metric, duration) = match &success {
            Ok(()) => (MetricResult::Successful, Some(start.elapsed())),
            Err(_) => (MetricResult::Failed, None),
        };
        self.metrics.record(&self.labels, metric, duration);

        let is_success = success.is_ok();
        if self.last_result == Some(is_success) {
            self.result_run = self.result_run.saturating_add(1);
        } else {
            self.last_result = Some(is_success);
            self.result_run = 1;
        }
        let threshold = if is_success {
            self.settings.success_threshold
        } else {
            self.settings.failure_threshold
        };
        if self.result_run < threshold {
            return true;
        }
        match success {
            Ok(()) => self.set_result(&id, ProbeResult::Success),
            Err(message) => {
                self.set_result(&id, ProbeResult::Failure(message));
                if self.kind.restarts_container() {
                    // Restarting is the pod worker's job; probe again only a new instance.
                    self.on_hold = true;
                    self.result_run = 0;
                }
            }
        }
        true
    }

    /// Run the handler (with retries on prober errors) and record its event: `None` for a
    /// run given up on, `Ok` for success, `Err(message)` for failure (the kubelet's
    /// `prober.probe`).
    async fn run_probe(&self, target: &ProbeTarget) -> Option<Result<(), String>> {
        let mut outcome = self.handler.probe(target).await;
        for _ in 1..MAX_PROBE_RETRIES {
            if outcome.is_ok() {
                break;
            }
            outcome = self.handler.probe(target).await;
        }
        let kind = self.kind.as_str();
        match outcome {
            Err(e) => {
                tracing::debug!(error = %e, "probe errored");
                self.event(
                    REASON_UNHEALTHY,
                    format!("{kind} probe errored and resulted in Failure state: {e}"),
                );
                None
            }
            Ok(o) => match o.status {
                ProbeStatus::Success => Some(Ok(())),
                ProbeStatus::Warning => {
                    self.event(
                        REASON_PROBE_WARNING,
                        format!("{kind} probe warning: {}", o.output),
                    );
                    Some(Ok(()))
                }
                ProbeStatus::Failure => {
                    let message = format!("{kind} probe failed: {}", o.output);
                    self.event(REASON_UNHEALTHY, message.clone());
                    Some(Err(message))
                }
                ProbeStatus::Unknown => {
                    Some(Err(format!("{kind} probe result unknown: {}", o.output)))
                }
            },
        }
    }

    fn event(&self, reason: &'static str, message: String) {
        self.events.record(ProbeEvent {
            pod: self.pod.clone(),
            container: self.container.clone(),
            kind: self.kind,
            reason,
            message,
        });
    }

    /// The settings the worker runs with.
    pub fn settings(&self) -> &ProbeSettings {
        &self.settings
    }
}

async fn wait_stopped(control: &mut watch::Receiver<Control>) {
    loop {
        if control.borrow_and_update().stopped {
            return;
        }
        if control.changed().await.is_err() {
            return;
        }
    }
}

/// The status of container `name`, among app then init containers, if it has an id
/// (the kubelet's `podutil.GetContainerStatus` twice).
fn find_status<'a>(status: &'a PodStatus, name: &str) -> Option<&'a ContainerStatus> {
    let with_id = |list: Option<&'a Vec<ContainerStatus>>| {
        list.into_iter()
            .flatten()
            .find(|c| c.name == name && c.container_id.as_deref().is_some_and(|id| !id.is_empty()))
    };
    with_id(status.container_statuses.as_ref())
        .or_else(|| with_id(status.init_container_statuses.as_ref()))
}

/// `status.podIP`, else the first of `status.podIPs`.
fn pod_ip(status: &PodStatus) -> Option<String> {
    status
        .pod_ip
        .clone()
        .filter(|ip| !ip.is_empty())
        .or_else(|| {
            status
                .pod_ips
                .iter()
                .flatten()
                .map(|p| p.ip.clone())
                .find(|ip| !ip.is_empty())
        })
}
