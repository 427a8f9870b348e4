//! [`Pleg`]: the relisting pod lifecycle event generator (the kubelet's `GenericPLEG`), with
//! CRI container events and exit watchers as faster paths in front of it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use cri_client::{ContainerEventStream, EventsCapability, RuntimeService, v1};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::Instrument;

use super::cache::RuntimeCache;
use super::events::{PlegContainerState, PodLifecycleEvent, PodLifecycleEventKind, PodStates};
use super::events::{compute_events, states_from_status};
use super::exit_watch::{self, PidfdSupport, Wake, WakeTrigger};
use super::status::{ListedPod, RuntimeListing, pod_runtime_status};
use crate::labels;
use crate::plan::{PodRuntimeStatus, format_go_duration};

/// The kubelet's relist period (`plegRelistPeriod`).
pub const DEFAULT_RELIST_PERIOD: Duration = Duration::from_secs(1);
/// The kubelet's health threshold (`RelistThreshold`): a relist older than this makes the
/// PLEG unhealthy, and the node NotReady.
pub const DEFAULT_RELIST_THRESHOLD: Duration = Duration::from_secs(180);
/// The kubelet's event channel capacity (`plegChannelCapacity`).
pub const DEFAULT_CHANNEL_CAPACITY: usize = 1000;

/// How a [`Pleg`] is run. `PlegConfig::default()` is the kubelet's generic PLEG plus the
/// faster paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlegConfig {
    /// Pause between the end of one relist and the start of the next (kubelet: 1 s).
    pub relist_period: Duration,
    /// [`Pleg::healthy`] fails once the last successful relist began longer ago than this
    /// (kubelet: 3 min).
    pub relist_threshold: Duration,
    /// Capacity of the event channel; when it is full, events are dropped and counted
    /// (kubelet: 1000, `kubelet_pleg_discard_events`).
    pub channel_capacity: usize,
    /// Use CRI `GetContainerEvents` when the runtime supports it.
    pub container_events: bool,
    /// Without CRI events, watch each running container's init process through a pidfd, to
    /// report exits within milliseconds instead of at the next relist.
    pub exit_watchers: bool,
}

impl Default for PlegConfig {
    fn default() -> Self {
        PlegConfig {
            relist_period: DEFAULT_RELIST_PERIOD,
            relist_threshold: DEFAULT_RELIST_THRESHOLD,
            channel_capacity: DEFAULT_CHANNEL_CAPACITY,
            container_events: true,
            exit_watchers: true,
        }
    }
}

/// How a running [`Pleg`] learns of changes between relists, chosen when [`Pleg::run`]
/// starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitDetection {
    /// CRI `GetContainerEvents` (the kubelet's evented PLEG).
    ContainerEvents,
    /// pidfd exit watchers on each running container's init process.
    ExitWatchers,
    /// The relist alone (the kubelet's generic PLEG).
    RelistOnly,
}

/// What made the PLEG look at a pod when it found a container dead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ContainerDiedCounts {
    /// The periodic relist (or [`Pleg::relist`]).
    pub relist: u64,
    /// An exit watcher's pidfd.
    pub exit_watcher: u64,
    /// A CRI container event.
    pub container_event: u64,
    /// [`Pleg::relist_pod`] or [`Pleg::notify_pod`].
    pub request: u64,
}

/// A snapshot of the PLEG's measurements (the kubelet's `kubelet_pleg_*` metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlegMetrics {
    /// When the last successful relist began (`kubelet_pleg_last_seen_seconds`).
    pub last_relist: Option<Instant>,
    /// How long the last relist took (`kubelet_pleg_relist_duration_seconds`).
    pub last_relist_duration: Option<Duration>,
    /// Time between the starts of the last two relists
    /// (`kubelet_pleg_relist_interval_seconds`).
    pub last_relist_interval: Option<Duration>,
    /// Successful relists.
    pub relists: u64,
    /// Relists whose listing failed.
    pub failed_relists: u64,
    /// Single-pod relists (exit watchers, container events, requests).
    pub pod_relists: u64,
    /// Events put on the channel.
    pub sent_events: u64,
    /// Events dropped because the channel was full (`kubelet_pleg_discard_events`).
    pub discarded_events: u64,
    /// `ContainerDied` events sent, by what found them.
    pub died_events: ContainerDiedCounts,
    /// Containers whose init process an exit watcher is waiting on now (pidfd open).
    pub exit_watchers: usize,
    /// The fast path in use, once [`Pleg::run`] has started.
    pub exit_detection: Option<ExitDetection>,
}

/// Why a pod was looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Relist,
    ExitWatcher,
    ContainerEvent,
    Request,
}

impl From<WakeTrigger> for Trigger {
    fn from(t: WakeTrigger) -> Self {
        match t {
            WakeTrigger::ExitWatcher => Trigger::ExitWatcher,
            WakeTrigger::Notify => Trigger::Request,
        }
    }
}

/// What the PLEG last saw of one sandbox or container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    state: PlegContainerState,
    sandbox: bool,
}

/// What the PLEG last saw of one pod (the kubelet's `podRecord`).
type PodRecord = BTreeMap<String, Seen>;

fn states(record: Option<&PodRecord>) -> PodStates {
    record
        .into_iter()
        .flatten()
        .map(|(id, seen)| (id.clone(), seen.state))
        .collect()
}

fn record_from_listing(pod: &ListedPod) -> PodRecord {
    let sandbox_ids: BTreeSet<&str> = pod.sandboxes.iter().map(|s| s.id.as_str()).collect();
    pod.states()
        .into_iter()
        .map(|(id, state)| {
            let sandbox = sandbox_ids.contains(id.as_str());
            (id, Seen { state, sandbox })
        })
        .collect()
}

fn record_from_status(status: &PodRuntimeStatus) -> PodRecord {
    let sandbox_ids: BTreeSet<&str> = status.sandboxes.iter().map(|s| s.id.as_str()).collect();
    states_from_status(status)
        .into_iter()
        .map(|(id, state)| {
            let sandbox = sandbox_ids.contains(id.as_str());
            (id, Seen { state, sandbox })
        })
        .collect()
}

#[derive(Debug, Default)]
struct Records {
    pods: BTreeMap<String, PodRecord>,
    /// Pods whose inspection failed: looked at again by the next relist.
    reinspect: BTreeSet<String>,
}

#[derive(Debug)]
struct Watcher {
    handle: tokio::task::JoinHandle<()>,
    /// True while the task waits on the container's pidfd.
    armed: Arc<AtomicBool>,
}

impl Watcher {
    fn is_armed(&self) -> bool {
        self.armed.load(Ordering::Relaxed) && !self.handle.is_finished()
    }
}

struct Inner {
    runtime: Arc<dyn RuntimeService>,
    cache: Arc<RuntimeCache>,
    config: PlegConfig,
    events: mpsc::Sender<PodLifecycleEvent>,
    /// Held for a whole relist, so relists (full and per pod) never interleave.
    records: tokio::sync::Mutex<Records>,
    metrics: Mutex<PlegMetrics>,
    /// Exit watchers by container id.
    watchers: Mutex<HashMap<String, Watcher>>,
    /// Set while `run` uses exit watchers.
    watching: AtomicBool,
    pidfd: Arc<PidfdSupport>,
    wake_tx: mpsc::UnboundedSender<Wake>,
    /// Taken by `run` while it runs.
    wake_rx: Mutex<Option<mpsc::UnboundedReceiver<Wake>>>,
}

/// The pod lifecycle event generator: keeps the [`RuntimeCache`] fresh and tells pod workers
/// what changed, as [`PodLifecycleEvent`]s on a channel.
///
/// Like the kubelet's generic PLEG it relists every [`relist_period`](PlegConfig::relist_period)
/// (one `ListPodSandbox` + one `ListContainers`), diffs each pod's containers and sandboxes
/// against the previous relist ([`compute_events`]), re-reads the statuses of the pods that
/// changed (or whose last inspection failed) into the cache, moves the cache's global
/// timestamp, and then sends the events. Between relists, [`Pleg::run`] uses CRI container
/// events when the runtime has them, and otherwise exit watchers on each running container's
/// init process, so an exit is reported within milliseconds; the relist stays the safety net.
///
/// Clones share one PLEG. Run it with [`Pleg::run`] on a task of its own; ask it for its
/// health ([`Pleg::healthy`]) and measurements ([`Pleg::metrics`]) from anywhere.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::sync::Arc;
/// use cri_client::fake::FakeRuntime;
/// use pod_lifecycle::pleg::{Pleg, PlegConfig};
///
/// let runtime = Arc::new(FakeRuntime::with_busybox());
/// let (pleg, mut events) = Pleg::new(runtime, PlegConfig::default());
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let task = tokio::spawn({
///     let pleg = pleg.clone();
///     async move { pleg.run(async { let _ = stopped.await; }).await }
/// });
/// // ... pod workers read `pleg.cache()` and wake on `events.recv()` ...
/// # let _ = &mut events;
/// let _ = stop.send(());
/// task.await.unwrap();
/// # }
/// ```
#[derive(Clone)]
pub struct Pleg {
    inner: Arc<Inner>,
}

impl fmt::Debug for Pleg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pleg")
            .field("config", &self.inner.config)
            .field("metrics", &self.metrics())
            .finish_non_exhaustive()
    }
}

/// The pod workers' reads (see [`RuntimeReader`](crate::worker::RuntimeReader)): from the
/// cache when it holds a view read after the worker's last change to the runtime (every
/// periodic resync, and every sync a PLEG event woke), else one read of the pod, stored in
/// the cache for the next reader. Unlike the kubelet's `GetNewerThan`, a miss does not
/// wait for the next relist (up to a second): the worker reads at once, as it would without
/// a PLEG, and the relist still sends the events.
#[async_trait::async_trait]
impl crate::worker::RuntimeReader for Pleg {
    async fn pod_status(
        &self,
        pod_uid: &str,
        after: Option<Instant>,
    ) -> Result<PodRuntimeStatus, cri_client::Error> {
        let cache = &self.inner.cache;
        let cached = match after {
            Some(t) => cache.get_if_newer_than(pod_uid, t),
            None => cache.get_if_known(pod_uid),
        };
        if let Some(status) = cached {
            return Ok(status);
        }
        let read_at = Instant::now();
        let status = pod_runtime_status(&*self.inner.runtime, pod_uid).await?;
        cache.set(pod_uid, status.clone(), read_at);
        Ok(status)
    }
}

impl Pleg {
    /// A PLEG over `runtime`, with a new, empty cache, and the receiving end of its event
    /// channel. Nothing happens until [`Pleg::run`] (or a manual [`Pleg::relist`]).
    pub fn new(
        runtime: Arc<dyn RuntimeService>,
        config: PlegConfig,
    ) -> (Pleg, mpsc::Receiver<PodLifecycleEvent>) {
        let (events, receiver) = mpsc::channel(config.channel_capacity.max(1));
        let (wake_tx, wake_rx) = mpsc::unbounded_channel();
        let inner = Inner {
            runtime,
            cache: Arc::new(RuntimeCache::new()),
            config,
            events,
            records: tokio::sync::Mutex::new(Records::default()),
            metrics: Mutex::new(PlegMetrics::default()),
            watchers: Mutex::new(HashMap::new()),
            watching: AtomicBool::new(false),
            pidfd: Arc::new(PidfdSupport::default()),
            wake_tx,
            wake_rx: Mutex::new(Some(wake_rx)),
        };
        (
            Pleg {
                inner: Arc::new(inner),
            },
            receiver,
        )
    }

    /// The cache this PLEG keeps fresh: what pod workers read, with
    /// [`RuntimeCache::get_newer_than`].
    pub fn cache(&self) -> &Arc<RuntimeCache> {
        &self.inner.cache
    }

    /// The configuration.
    pub fn config(&self) -> &PlegConfig {
        &self.inner.config
    }

    fn metrics_mut(&self) -> MutexGuard<'_, PlegMetrics> {
        self.inner.metrics.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn watchers(&self) -> MutexGuard<'_, HashMap<String, Watcher>> {
        self.inner
            .watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// A snapshot of the measurements.
    pub fn metrics(&self) -> PlegMetrics {
        let mut metrics = self.metrics_mut().clone();
        metrics.exit_watchers = self.watchers().values().filter(|w| w.is_armed()).count();
        metrics
    }

    /// Whether an exit watcher is waiting on this container's init process right now (it
    /// has the pidfd open). For diagnostics and tests.
    pub fn is_watching_exit(&self, container_id: &str) -> bool {
        self.watchers()
            .get(container_id)
            .is_some_and(Watcher::is_armed)
    }

    /// The kubelet's `Healthy()`: an error before the first successful relist ("pleg has yet
    /// to be successful") and when the last one began more than
    /// [`relist_threshold`](PlegConfig::relist_threshold) before `now` ("pleg was last seen
    /// active 3m0.5s ago; threshold is 3m0s"). The node reports either as "PLEG is not
    /// healthy: ...".
    pub fn healthy(&self, now: Instant) -> Result<(), String> {
        let Some(last) = self.metrics_mut().last_relist else {
            return Err("pleg has yet to be successful".to_string());
        };
        let elapsed = now.saturating_duration_since(last);
        let threshold = self.inner.config.relist_threshold;
        if elapsed > threshold {
            return Err(format!(
                "pleg was last seen active {} ago; threshold is {}",
                format_go_duration(elapsed),
                format_go_duration(threshold)
            ));
        }
        Ok(())
    }

    /// Relist once: list everything, diff, refresh the cache for pods that changed or whose
    /// last inspection failed, move the cache's global timestamp, send the events. Fails only
    /// when the listing fails (then nothing changes, and the health clock does not move); a
    /// pod whose inspection fails is logged and retried by the next relist, and its events
    /// are held back until then, as in the kubelet.
    pub async fn relist(&self) -> Result<(), cri_client::Error> {
        let inner = &*self.inner;
        let mut records = inner.records.lock().await;
        let started = Instant::now();
        {
            let mut m = self.metrics_mut();
            if let Some(last) = m.last_relist {
                m.last_relist_interval = Some(started.saturating_duration_since(last));
            }
        }
        let listing = match RuntimeListing::fetch(&*inner.runtime).await {
            Ok(listing) => listing,
            Err(error) => {
                tracing::warn!(%error, "relist: unable to list pods");
                self.metrics_mut().failed_relists += 1;
                return Err(error);
            }
        };
        self.metrics_mut().last_relist = Some(started);

        let fresh: BTreeMap<&str, PodRecord> = listing
            .pod_uids()
            .filter_map(|uid| Some((uid, record_from_listing(listing.pod(uid)?))))
            .collect();
        let uids: BTreeSet<String> = records
            .pods
            .keys()
            .cloned()
            .chain(fresh.keys().map(|u| u.to_string()))
            .collect();
        let mut reinspect = BTreeSet::new();
        for uid in uids {
            let new = fresh.get(uid.as_str());
            let events = compute_events(&uid, &states(records.pods.get(&uid)), &states(new));
            if events.is_empty() && !records.reinspect.contains(&uid) {
                continue;
            }
            match new {
                None => {
                    inner.cache.delete(&uid);
                    records.pods.remove(&uid);
                }
                Some(new) => {
                    let read_at = Instant::now();
                    match listing.inspect(&*inner.runtime, &uid).await {
                        Ok(status) => {
                            inner.cache.set(&uid, status, read_at);
                            records.pods.insert(uid.clone(), new.clone());
                        }
                        Err(error) => {
                            tracing::warn!(
                                pod_uid = %uid,
                                %error,
                                "relist: inspecting the pod failed; retrying at the next relist"
                            );
                            inner.cache.invalidate(&uid);
                            reinspect.insert(uid);
                            continue;
                        }
                    }
                }
            }
            self.send(events, Trigger::Relist);
        }
        records.reinspect = reinspect;
        inner.cache.retain(|uid| fresh.contains_key(uid));
        inner.cache.update_time(started);
        {
            let mut m = self.metrics_mut();
            m.relists += 1;
            m.last_relist_duration = Some(started.elapsed());
        }
        self.sync_watchers(&records);
        Ok(())
    }

    /// Relist one pod now: `ListPodSandbox` and `ListContainers` filtered by its UID, its
    /// statuses into the cache, its events on the channel. Beyond the kubelet: what exit
    /// watchers and container events trigger, and what a worker can call after acting on the
    /// runtime to see the result at once instead of at the next relist.
    pub async fn relist_pod(&self, pod_uid: &str) -> Result<(), cri_client::Error> {
        self.relist_pod_by(pod_uid, Trigger::Request).await
    }

    /// Ask a running [`Pleg::run`] to [relist one pod](Pleg::relist_pod) as soon as it can,
    /// without waiting for it: for a worker that just started a container, so that its exit
    /// watcher starts now rather than at the next relist.
    pub fn notify_pod(&self, pod_uid: &str) {
        let _ = self.inner.wake_tx.send(Wake {
            pod_uid: pod_uid.to_string(),
            trigger: WakeTrigger::Notify,
        });
    }

    async fn relist_pod_by(
        &self,
        pod_uid: &str,
        trigger: Trigger,
    ) -> Result<(), cri_client::Error> {
        let inner = &*self.inner;
        async {
            let mut records = inner.records.lock().await;
            let read_at = Instant::now();
            let status = match pod_runtime_status(&*inner.runtime, pod_uid).await {
                Ok(status) => status,
                Err(error) => {
                    tracing::warn!(%error, ?trigger, "inspecting the pod failed; the relist retries");
                    inner.cache.invalidate(pod_uid);
                    records.reinspect.insert(pod_uid.to_string());
                    return Err(error);
                }
            };
            self.metrics_mut().pod_relists += 1;
            let new = record_from_status(&status);
            let events = compute_events(pod_uid, &states(records.pods.get(pod_uid)), &states(Some(&new)));
            inner.cache.set(pod_uid, status, read_at);
            if new.is_empty() {
                records.pods.remove(pod_uid);
            } else {
                records.pods.insert(pod_uid.to_string(), new);
            }
            records.reinspect.remove(pod_uid);
            self.send(events, trigger);
            self.sync_watchers(&records);
            Ok(())
        }
        .instrument(tracing::debug_span!("relist_pod", pod_uid = %pod_uid))
        .await
    }

    /// Put events on the channel; `ContainerChanged` stays internal, as in the kubelet.
    fn send(&self, events: Vec<PodLifecycleEvent>, trigger: Trigger) {
        for event in events {
            if event.kind == PodLifecycleEventKind::ContainerChanged {
                continue;
            }
            tracing::debug!(pod_uid = %event.pod_uid, kind = ?event.kind, id = %event.id, ?trigger, "pod lifecycle event");
            let died = event.kind == PodLifecycleEventKind::ContainerDied;
            match self.inner.events.try_send(event) {
                Ok(()) => {
                    let mut m = self.metrics_mut();
                    m.sent_events += 1;
                    if died {
                        let counts = &mut m.died_events;
                        match trigger {
                            Trigger::Relist => counts.relist += 1,
                            Trigger::ExitWatcher => counts.exit_watcher += 1,
                            Trigger::ContainerEvent => counts.container_event += 1,
                            Trigger::Request => counts.request += 1,
                        }
                    }
                }
                Err(mpsc::error::TrySendError::Full(event)) => {
                    self.metrics_mut().discarded_events += 1;
                    tracing::error!(pod_uid = %event.pod_uid, kind = ?event.kind, "event channel is full, discarding this event");
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    tracing::debug!("nobody receives pod lifecycle events any more");
                }
            }
        }
    }

    /// Start a watcher for every running container that has none, stop those whose
    /// container no longer runs. A finished watcher stays registered (and is not restarted)
    /// until its container stops running.
    fn sync_watchers(&self, records: &Records) {
        let inner = &*self.inner;
        let mut watchers = self.watchers();
        if !inner.watching.load(Ordering::Relaxed) || !inner.pidfd.available() {
            for (_, w) in watchers.drain() {
                w.handle.abort();
            }
            return;
        }
        let running: HashMap<&str, &str> = records
            .pods
            .iter()
            .flat_map(|(uid, record)| {
                record
                    .iter()
                    .filter(|(_, seen)| !seen.sandbox && seen.state == PlegContainerState::Running)
                    .map(move |(id, _)| (id.as_str(), uid.as_str()))
            })
            .collect();
        watchers.retain(|id, w| {
            let keep = running.contains_key(id.as_str());
            if !keep {
                w.handle.abort();
            }
            keep
        });
        for (id, uid) in running {
            if !watchers.contains_key(id) {
                let armed = Arc::new(AtomicBool::new(false));
                let handle = exit_watch::spawn(
                    inner.runtime.clone(),
                    uid.to_string(),
                    id.to_string(),
                    inner.wake_tx.clone(),
                    inner.pidfd.clone(),
                    armed.clone(),
                );
                watchers.insert(id.to_string(), Watcher { handle, armed });
            }
        }
    }

    fn stop_watchers(&self) {
        self.inner.watching.store(false, Ordering::Relaxed);
        for (_, w) in self.watchers().drain() {
            w.handle.abort();
        }
    }

    /// Which fast path to use: CRI events if configured and the runtime has them, else exit
    /// watchers if configured, else none.
    async fn choose_exit_detection(&self) -> ExitDetection {
        let config = &self.inner.config;
        if config.container_events {
            match self.inner.runtime.container_events_capability().await {
                Ok(EventsCapability::Supported) => return ExitDetection::ContainerEvents,
                Ok(EventsCapability::Unsupported) => {}
                Err(error) => {
                    tracing::warn!(%error, "cannot tell whether the runtime streams container events; not using them");
                }
            }
        }
        if config.exit_watchers {
            ExitDetection::ExitWatchers
        } else {
            ExitDetection::RelistOnly
        }
    }

    async fn open_container_events(&self) -> Option<ContainerEventStream> {
        match self
            .inner
            .runtime
            .get_container_events(v1::GetEventsRequest {})
            .await
        {
            Ok(stream) => Some(stream),
            Err(error) => {
                tracing::warn!(%error, "cannot open the container event stream; relisting until the next try");
                None
            }
        }
    }

    /// The pod a CRI container event is about: the sandbox status's UID, else the labels of
    /// the container status, else the pod the container was last seen in.
    async fn pod_of_event(&self, event: &v1::ContainerEventResponse) -> Option<String> {
        let from_sandbox = event
            .pod_sandbox_status
            .as_ref()
            .and_then(|s| s.metadata.as_ref())
            .map(|m| m.uid.clone());
        let from_labels = || {
            event
                .containers_statuses
                .iter()
                .find_map(|c| c.labels.get(labels::POD_UID).cloned())
        };
        if let Some(uid) = from_sandbox.filter(|u| !u.is_empty()).or_else(from_labels) {
            return Some(uid);
        }
        let records = self.inner.records.lock().await;
        records
            .pods
            .iter()
            .find(|(_, record)| record.contains_key(&event.container_id))
            .map(|(uid, _)| uid.clone())
    }

    /// Run until `shutdown` completes: relist now and then every
    /// [`relist_period`](PlegConfig::relist_period) after the previous relist ended, and in
    /// between follow CRI container events or exit watchers (see [`ExitDetection`]) with
    /// single-pod relists.
    ///
    /// `shutdown` is any future: a `tokio::sync::oneshot::Receiver` mapped to `()`,
    /// `async move { rx.changed().await.ok(); }` on a `watch` channel, or
    /// `tokio_util::sync::CancellationToken::cancelled_owned()`. On shutdown every exit
    /// watcher is stopped; `run` can then be called again. Calling `run` while another call
    /// runs logs an error and returns at once.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let wake_rx = self
            .inner
            .wake_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(mut wake_rx) = wake_rx else {
            tracing::error!("Pleg::run is already running for this PLEG");
            return;
        };
        let detection = self.choose_exit_detection().await;
        tracing::info!(?detection, period = ?self.inner.config.relist_period, "PLEG starts");
        self.metrics_mut().exit_detection = Some(detection);
        let mut stream = match detection {
            ExitDetection::ContainerEvents => self.open_container_events().await,
            _ => None,
        };
        self.inner
            .watching
            .store(detection == ExitDetection::ExitWatchers, Ordering::Relaxed);

        tokio::pin!(shutdown);
        let next_relist = tokio::time::sleep_until(Instant::now());
        tokio::pin!(next_relist);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(wake) = wake_rx.recv() => {
                    let mut pods = BTreeMap::from([(wake.pod_uid, wake.trigger)]);
                    while let Ok(more) = wake_rx.try_recv() {
                        pods.entry(more.pod_uid).or_insert(more.trigger);
                    }
                    for (uid, trigger) in pods {
                        let _ = self.relist_pod_by(&uid, trigger.into()).await;
                    }
                }
                item = next_container_event(&mut stream) => match item {
                    Some(Ok(event)) => match self.pod_of_event(&event).await {
                        Some(uid) => {
                            let _ = self.relist_pod_by(&uid, Trigger::ContainerEvent).await;
                        }
                        None => {
                            next_relist.as_mut().reset(Instant::now());
                        }
                    },
                    Some(Err(error)) => {
                        tracing::warn!(%error, "container event stream failed; relisting until it is reopened");
                        stream = None;
                    }
                    None => {
                        tracing::warn!("container event stream ended; relisting until it is reopened");
                        stream = None;
                    }
                },
                () = &mut next_relist => {
                    let _ = self.relist().await;
                    if detection == ExitDetection::ContainerEvents && stream.is_none() {
                        stream = self.open_container_events().await;
                    }
                    next_relist.as_mut().reset(Instant::now() + self.inner.config.relist_period);
                }
            }
        }
        self.stop_watchers();
        *self.inner.wake_rx.lock().unwrap_or_else(|e| e.into_inner()) = Some(wake_rx);
        tracing::info!("PLEG stopped");
    }
}

async fn next_container_event(
    stream: &mut Option<ContainerEventStream>,
) -> Option<cri_client::Result<v1::ContainerEventResponse>> {
    match stream {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}
