//! The harness of the pod-worker tests against `FakeRuntime` in virtual time: tokio's clock
//! is paused and the test moves it and the fake runtime's clock together
//! ([`FakeNode::run_for`], [`idle_for`]), so minutes of back-off take milliseconds and every
//! delay is exact. The workers read the fake runtime's clock
//! ([`pod_lifecycle::fake::FakeRuntimeClock`]): one source of time for both.

use std::sync::Arc;
use std::time::Duration;

use cri_client::fake::FakeRuntime;
use cri_client::{RuntimeService, v1};
use k8s_openapi::api::core::v1::{ContainerStateWaiting, Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pod_lifecycle::fake::FakeRuntimeClock;
use pod_lifecycle::worker::{MemoryEvents, MemoryStatusSink, PodHost, PodWorkers, WorkerConfig};

/// Pod workers on a [`FakeRuntime`], with every status (history kept) and event in memory.
pub struct FakeNode {
    /// The runtime (and image service) the workers use.
    pub fake: FakeRuntime,
    /// The pod workers.
    pub workers: PodWorkers,
    /// Every status sent, with its history.
    pub statuses: MemoryStatusSink,
    /// Every event recorded.
    pub events: MemoryEvents,
    _logs: tempfile::TempDir,
}

impl FakeNode {
    /// Workers with the default configuration on a fake runtime with busybox.
    pub fn new() -> FakeNode {
        FakeNode::with_runtime(FakeRuntime::with_busybox())
    }

    /// Workers with the default configuration on `fake` (prepared by the test, or shared
    /// with an earlier node as after an agent restart).
    pub fn with_runtime(fake: FakeRuntime) -> FakeNode {
        FakeNode::build(fake, WorkerConfig::default(), |host| host)
    }

    /// Workers taking `config` (its log directory and runtime name replaced) on a fake
    /// runtime with busybox.
    pub fn with_config(config: WorkerConfig) -> FakeNode {
        FakeNode::build(FakeRuntime::with_busybox(), config, |host| host)
    }

    /// Workers on `fake` taking `config` (its log directory and runtime name replaced), their
    /// host as [`host`] makes it, then changed by `customize` (another image service, an
    /// observer, failing volumes).
    pub fn build(
        fake: FakeRuntime,
        config: WorkerConfig,
        customize: impl FnOnce(PodHost) -> PodHost,
    ) -> FakeNode {
        let statuses = MemoryStatusSink::with_history();
        let events = MemoryEvents::new();
        let logs = tempfile::tempdir().expect("a pod logs directory");
        let config = WorkerConfig {
            pod_logs_dir: logs.path().to_owned(),
            runtime_name: "fake".into(),
            ..config
        };
        let workers = PodWorkers::new(customize(host(&fake, &statuses, &events)), config);
        FakeNode {
            fake,
            workers,
            statuses,
            events,
            _logs: logs,
        }
    }

    /// Moves both clocks by `total` in steps of `step`, waking the pod's worker after each
    /// step the way the PLEG relist would (once a second in the kubelet).
    pub async fn run_for(&self, uid: &str, total: Duration, step: Duration) {
        let mut elapsed = Duration::ZERO;
        while elapsed < total {
            self.fake.advance(step);
            tokio::time::advance(step).await;
            self.workers.wake(uid);
            settle().await;
            elapsed += step;
        }
    }

    /// Moves both clocks by `seconds`, waking no worker ([`idle_for`]).
    pub async fn idle_for(&self, seconds: u64) {
        idle_for(&self.fake, seconds).await;
    }

    /// The latest status of pod `uid`.
    pub fn status(&self, uid: &str) -> PodStatus {
        self.statuses.get(uid).expect("a status was sent")
    }

    /// The waiting state of the first container of pod `uid`.
    pub fn waiting(&self, uid: &str) -> ContainerStateWaiting {
        self.status(uid)
            .container_statuses
            .expect("container statuses")[0]
            .state
            .clone()
            .and_then(|s| s.waiting)
            .expect("the container waits")
    }
}

/// The host the fake-runtime tests give their workers: `fake` as runtime and image service,
/// statuses and events in memory, and the fake runtime's clock.
pub fn host(fake: &FakeRuntime, statuses: &MemoryStatusSink, events: &MemoryEvents) -> PodHost {
    PodHost {
        status: Arc::new(statuses.clone()),
        events: Arc::new(events.clone()),
        clock: Arc::new(FakeRuntimeClock::new(fake)),
        ..PodHost::new(Arc::new(fake.clone()), Arc::new(fake.clone()))
    }
}

/// Lets every ready task run until it waits again.
pub async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

/// Moves both clocks by `seconds`, one second at a time, waking no worker: only the workers'
/// own timers fire (there is no PLEG here).
pub async fn idle_for(fake: &FakeRuntime, seconds: u64) {
    for _ in 0..seconds {
        fake.advance(Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(1)).await;
        settle().await;
    }
}

/// Every container of the runtime.
pub async fn containers(runtime: &dyn RuntimeService) -> Vec<v1::Container> {
    runtime
        .list_containers(v1::ListContainersRequest::default())
        .await
        .expect("listing containers")
        .containers
}

/// The running containers of the runtime.
pub async fn running_containers(runtime: &dyn RuntimeService) -> Vec<v1::Container> {
    containers(runtime)
        .await
        .into_iter()
        .filter(|c| c.state == v1::ContainerState::ContainerRunning as i32)
        .collect()
}

/// Every sandbox of the runtime.
pub async fn sandboxes(runtime: &dyn RuntimeService) -> Vec<v1::PodSandbox> {
    runtime
        .list_pod_sandbox(v1::ListPodSandboxRequest::default())
        .await
        .expect("listing sandboxes")
        .items
}

/// Pod `pod-<uid>` in namespace `default`, with UID `uid` and `spec`.
pub fn pod(uid: &str, spec: PodSpec) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(format!("pod-{uid}")),
            namespace: Some("default".into()),
            uid: Some(uid.into()),
            ..Default::default()
        },
        spec: Some(spec),
        ..Default::default()
    }
}
