//! PLEG scenarios on the fake runtime: the relist's events (PL-02), health (PL-03), the
//! cache's freshness rule, dropped events, inspection errors, the per-pod label filter
//! (CRI-12), CRI container events, and exit watchers on real processes standing in for
//! container init processes. `tests/pleg_containerd.rs` runs the exit watcher against
//! containerd.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use cri_client::fake::FakeRuntime;
use cri_client::{ContainerEventStream, Result, RuntimeService, v1};
use pod_lifecycle::labels;
use pod_lifecycle::plan::ContainerState;
use pod_lifecycle::pleg::{
    ExitDetection, Pleg, PlegConfig, PodLifecycleEvent, PodLifecycleEventKind as Kind,
    pod_runtime_status,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

// ---- a spy around the fake: list filters, and real pids for verbose ContainerStatus ----

#[derive(Default)]
struct SpyState {
    /// (call, label selector) of every list call.
    filters: Vec<(&'static str, HashMap<String, String>)>,
    /// Container id → the pid verbose ContainerStatus reports (the fake reports 0).
    pids: HashMap<String, u32>,
}

/// FakeRuntime, plus what the fake's call log does not keep: the label selector of each
/// list call; and verbose `ContainerStatus` reporting a chosen real pid, as containerd does.
#[derive(Clone)]
struct Spy {
    fake: FakeRuntime,
    state: Arc<Mutex<SpyState>>,
}

impl Spy {
    fn new(fake: &FakeRuntime) -> Self {
        Spy {
            fake: fake.clone(),
            state: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SpyState> {
        self.state.lock().unwrap()
    }

    fn set_pid(&self, container_id: &str, pid: u32) {
        self.lock().pids.insert(container_id.to_string(), pid);
    }

    fn filters(&self) -> Vec<(&'static str, HashMap<String, String>)> {
        self.lock().filters.clone()
    }
}

#[async_trait]
impl RuntimeService for Spy {
    async fn version(&self, req: v1::VersionRequest) -> Result<v1::VersionResponse> {
        self.fake.version(req).await
    }

    async fn run_pod_sandbox(
        &self,
        req: v1::RunPodSandboxRequest,
    ) -> Result<v1::RunPodSandboxResponse> {
        self.fake.run_pod_sandbox(req).await
    }

    async fn stop_pod_sandbox(
        &self,
        req: v1::StopPodSandboxRequest,
    ) -> Result<v1::StopPodSandboxResponse> {
        self.fake.stop_pod_sandbox(req).await
    }

    async fn remove_pod_sandbox(
        &self,
        req: v1::RemovePodSandboxRequest,
    ) -> Result<v1::RemovePodSandboxResponse> {
        self.fake.remove_pod_sandbox(req).await
    }

    async fn pod_sandbox_status(
        &self,
        req: v1::PodSandboxStatusRequest,
    ) -> Result<v1::PodSandboxStatusResponse> {
        self.fake.pod_sandbox_status(req).await
    }

    async fn list_pod_sandbox(
        &self,
        req: v1::ListPodSandboxRequest,
    ) -> Result<v1::ListPodSandboxResponse> {
        let selector = req.filter.as_ref().map(|f| f.label_selector.clone());
        self.lock()
            .filters
            .push(("ListPodSandbox", selector.unwrap_or_default()));
        self.fake.list_pod_sandbox(req).await
    }

    async fn create_container(
        &self,
        req: v1::CreateContainerRequest,
    ) -> Result<v1::CreateContainerResponse> {
        self.fake.create_container(req).await
    }

    async fn start_container(
        &self,
        req: v1::StartContainerRequest,
    ) -> Result<v1::StartContainerResponse> {
        self.fake.start_container(req).await
    }

    async fn stop_container(
        &self,
        req: v1::StopContainerRequest,
    ) -> Result<v1::StopContainerResponse> {
        self.fake.stop_container(req).await
    }

    async fn remove_container(
        &self,
        req: v1::RemoveContainerRequest,
    ) -> Result<v1::RemoveContainerResponse> {
        self.fake.remove_container(req).await
    }

    async fn list_containers(
        &self,
        req: v1::ListContainersRequest,
    ) -> Result<v1::ListContainersResponse> {
        let selector = req.filter.as_ref().map(|f| f.label_selector.clone());
        self.lock()
            .filters
            .push(("ListContainers", selector.unwrap_or_default()));
        self.fake.list_containers(req).await
    }

    async fn container_status(
        &self,
        req: v1::ContainerStatusRequest,
    ) -> Result<v1::ContainerStatusResponse> {
        let verbose = req.verbose;
        let id = req.container_id.clone();
        let mut reply = self.fake.container_status(req).await?;
        if verbose && let Some(pid) = self.lock().pids.get(&id) {
            reply.info.insert(
                "info".into(),
                format!("{{\"pid\":{pid},\"runtimeType\":\"spy\"}}"),
            );
        }
        Ok(reply)
    }

    async fn update_container_resources(
        &self,
        req: v1::UpdateContainerResourcesRequest,
    ) -> Result<v1::UpdateContainerResourcesResponse> {
        self.fake.update_container_resources(req).await
    }

    async fn reopen_container_log(
        &self,
        req: v1::ReopenContainerLogRequest,
    ) -> Result<v1::ReopenContainerLogResponse> {
        self.fake.reopen_container_log(req).await
    }

    async fn exec_sync(&self, req: v1::ExecSyncRequest) -> Result<v1::ExecSyncResponse> {
        self.fake.exec_sync(req).await
    }

    async fn exec(&self, req: v1::ExecRequest) -> Result<v1::ExecResponse> {
        self.fake.exec(req).await
    }

    async fn attach(&self, req: v1::AttachRequest) -> Result<v1::AttachResponse> {
        self.fake.attach(req).await
    }

    async fn port_forward(&self, req: v1::PortForwardRequest) -> Result<v1::PortForwardResponse> {
        self.fake.port_forward(req).await
    }

    async fn container_stats(
        &self,
        req: v1::ContainerStatsRequest,
    ) -> Result<v1::ContainerStatsResponse> {
        self.fake.container_stats(req).await
    }

    async fn list_container_stats(
        &self,
        req: v1::ListContainerStatsRequest,
    ) -> Result<v1::ListContainerStatsResponse> {
        self.fake.list_container_stats(req).await
    }

    async fn pod_sandbox_stats(
        &self,
        req: v1::PodSandboxStatsRequest,
    ) -> Result<v1::PodSandboxStatsResponse> {
        self.fake.pod_sandbox_stats(req).await
    }

    async fn list_pod_sandbox_stats(
        &self,
        req: v1::ListPodSandboxStatsRequest,
    ) -> Result<v1::ListPodSandboxStatsResponse> {
        self.fake.list_pod_sandbox_stats(req).await
    }

    async fn update_runtime_config(
        &self,
        req: v1::UpdateRuntimeConfigRequest,
    ) -> Result<v1::UpdateRuntimeConfigResponse> {
        self.fake.update_runtime_config(req).await
    }

    async fn status(&self, req: v1::StatusRequest) -> Result<v1::StatusResponse> {
        self.fake.status(req).await
    }

    async fn checkpoint_container(
        &self,
        req: v1::CheckpointContainerRequest,
    ) -> Result<v1::CheckpointContainerResponse> {
        self.fake.checkpoint_container(req).await
    }

    async fn get_container_events(
        &self,
        req: v1::GetEventsRequest,
    ) -> Result<ContainerEventStream> {
        self.fake.get_container_events(req).await
    }

    async fn list_metric_descriptors(
        &self,
        req: v1::ListMetricDescriptorsRequest,
    ) -> Result<v1::ListMetricDescriptorsResponse> {
        self.fake.list_metric_descriptors(req).await
    }

    async fn list_pod_sandbox_metrics(
        &self,
        req: v1::ListPodSandboxMetricsRequest,
    ) -> Result<v1::ListPodSandboxMetricsResponse> {
        self.fake.list_pod_sandbox_metrics(req).await
    }

    async fn runtime_config(
        &self,
        req: v1::RuntimeConfigRequest,
    ) -> Result<v1::RuntimeConfigResponse> {
        self.fake.runtime_config(req).await
    }
}

// ---- pods in the fake ----

fn sandbox_config(uid: &str) -> v1::PodSandboxConfig {
    v1::PodSandboxConfig {
        metadata: Some(v1::PodSandboxMetadata {
            name: format!("pod-{uid}"),
            namespace: "default".into(),
            uid: uid.into(),
            attempt: 0,
        }),
        labels: HashMap::from([(labels::POD_UID.to_string(), uid.to_string())]),
        ..Default::default()
    }
}

async fn run_sandbox(rt: &dyn RuntimeService, uid: &str) -> String {
    rt.run_pod_sandbox(v1::RunPodSandboxRequest {
        config: Some(sandbox_config(uid)),
        runtime_handler: String::new(),
    })
    .await
    .unwrap()
    .pod_sandbox_id
}

async fn start_container(
    rt: &dyn RuntimeService,
    uid: &str,
    sandbox: &str,
    name: &str,
    attempt: u32,
    command: &[&str],
) -> String {
    let id = rt
        .create_container(v1::CreateContainerRequest {
            pod_sandbox_id: sandbox.into(),
            config: Some(v1::ContainerConfig {
                metadata: Some(v1::ContainerMetadata {
                    name: name.into(),
                    attempt,
                }),
                image: Some(v1::ImageSpec {
                    image: "localhost/busybox:1".into(),
                    ..Default::default()
                }),
                command: command.iter().map(|s| s.to_string()).collect(),
                labels: HashMap::from([
                    (labels::POD_UID.to_string(), uid.to_string()),
                    (labels::CONTAINER_NAME.to_string(), name.to_string()),
                ]),
                ..Default::default()
            }),
            sandbox_config: Some(sandbox_config(uid)),
        })
        .await
        .unwrap()
        .container_id;
    rt.start_container(v1::StartContainerRequest {
        container_id: id.clone(),
    })
    .await
    .unwrap();
    id
}

fn relist_only() -> PlegConfig {
    PlegConfig {
        container_events: false,
        exit_watchers: false,
        ..Default::default()
    }
}

/// Everything on the channel now, as (kind, id).
fn drain(rx: &mut mpsc::Receiver<PodLifecycleEvent>) -> Vec<(Kind, String)> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        out.push((e.kind, e.id));
    }
    out
}

/// Wait (real time, bounded) for an event matching `want`; earlier events are returned too.
async fn wait_for(
    rx: &mut mpsc::Receiver<PodLifecycleEvent>,
    want: impl Fn(&PodLifecycleEvent) -> bool,
) -> Vec<PodLifecycleEvent> {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(e) = rx.recv().await {
            let done = want(&e);
            seen.push(e);
            if done {
                return;
            }
        }
    })
    .await;
    assert!(found.is_ok(), "event not seen within 10 s; saw {seen:?}");
    seen
}

async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Run the PLEG on a task; dropping the returned sender stops it.
fn spawn_run(
    pleg: &Pleg,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let pleg = pleg.clone();
    let task = tokio::spawn(async move {
        pleg.run(async {
            let _ = stopped.await;
        })
        .await
    });
    (stop, task)
}

// ---- the relist ----

#[tokio::test]
async fn pl_02_relist_emits_started_and_died() {
    let fake = FakeRuntime::with_busybox();
    let sandbox = run_sandbox(&fake, "u1").await;
    let app = start_container(&fake, "u1", &sandbox, "app", 0, &["sleep", "5"]).await;
    let (pleg, mut rx) = Pleg::new(Arc::new(fake.clone()), relist_only());

    pleg.relist().await.unwrap();
    let mut got = drain(&mut rx);
    got.sort();
    let mut want = vec![
        (Kind::ContainerStarted, sandbox.clone()),
        (Kind::ContainerStarted, app.clone()),
    ];
    want.sort();
    assert_eq!(got, want);
    let cached = pleg.cache().get("u1").expect("u1 cached");
    assert_eq!(cached.status.containers[0].state, ContainerState::Running);

    // Nothing changed: no events.
    pleg.relist().await.unwrap();
    assert!(drain(&mut rx).is_empty());

    fake.advance(Duration::from_secs(5));
    pleg.relist().await.unwrap();
    assert_eq!(drain(&mut rx), [(Kind::ContainerDied, app.clone())]);
    let cached = pleg.cache().get("u1").unwrap();
    assert_eq!(cached.status.containers[0].state, ContainerState::Exited);
    assert_eq!(cached.status.containers[0].reason, "Completed");
    let events = pleg.metrics().died_events;
    assert_eq!(events.relist, 1);
}

/// The pod workers read the runtime through the PLEG's cache: a view read after the
/// worker's last change costs no CRI call; an older one costs one read of the pod, which
/// then serves the next reader.
#[tokio::test]
async fn workers_read_the_cache_and_list_only_after_their_own_changes() {
    use pod_lifecycle::worker::RuntimeReader;
    let list_calls = |fake: &FakeRuntime| {
        fake.calls_to("ListPodSandbox").len() + fake.calls_to("ListContainers").len()
    };
    let fake = FakeRuntime::with_busybox();
    let sandbox = run_sandbox(&fake, "u1").await;
    start_container(&fake, "u1", &sandbox, "app", 0, &["sleep", "5"]).await;
    let (pleg, _rx) = Pleg::new(Arc::new(fake.clone()), relist_only());
    pleg.relist().await.unwrap();
    fake.clear_calls();

    // A first sync (no change of its own yet), and a pod the runtime knows nothing of.
    let view = pleg.pod_status("u1", None).await.unwrap();
    assert_eq!(view.containers.len(), 1);
    let none = pleg.pod_status("u2", None).await.unwrap();
    assert!(none.sandboxes.is_empty() && none.containers.is_empty());
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());

    // The worker changed the runtime after the relist: one read, then cached.
    tokio::time::sleep(Duration::from_millis(2)).await;
    let changed = Instant::now();
    pleg.pod_status("u1", Some(changed)).await.unwrap();
    assert_eq!(list_calls(&fake), 2);
    fake.clear_calls();
    pleg.pod_status("u1", Some(changed)).await.unwrap();
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());

    // A relist that began after the change serves every later sync, for any pod.
    tokio::time::sleep(Duration::from_millis(2)).await;
    let changed = Instant::now();
    tokio::time::sleep(Duration::from_millis(2)).await;
    pleg.relist().await.unwrap();
    fake.clear_calls();
    pleg.pod_status("u1", Some(changed)).await.unwrap();
    pleg.pod_status("u2", Some(changed)).await.unwrap();
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
}

#[tokio::test]
async fn relist_emits_removed_after_died_and_both_for_a_running_container_removed() {
    let fake = FakeRuntime::with_busybox();
    let sandbox = run_sandbox(&fake, "u1").await;
    let done = start_container(&fake, "u1", &sandbox, "done", 0, &["sh", "-c", "exit 1"]).await;
    let busy = start_container(&fake, "u1", &sandbox, "busy", 0, &["sleep", "infinity"]).await;
    let (pleg, mut rx) = Pleg::new(Arc::new(fake.clone()), relist_only());
    pleg.relist().await.unwrap();
    let first = drain(&mut rx);
    assert!(
        first.contains(&(Kind::ContainerDied, done.clone())),
        "{first:?}"
    );
    assert!(
        first.contains(&(Kind::ContainerStarted, busy.clone())),
        "{first:?}"
    );

    // Gone after exited: ContainerRemoved only.
    fake.remove_container(v1::RemoveContainerRequest {
        container_id: done.clone(),
    })
    .await
    .unwrap();
    pleg.relist().await.unwrap();
    assert_eq!(drain(&mut rx), [(Kind::ContainerRemoved, done.clone())]);

    // Gone while running (never seen exited): ContainerDied + ContainerRemoved. The same
    // for the sandbox, which is treated as a container.
    fake.remove_pod_sandbox(v1::RemovePodSandboxRequest {
        pod_sandbox_id: sandbox.clone(),
    })
    .await
    .unwrap();
    pleg.relist().await.unwrap();
    let mut got = drain(&mut rx);
    got.sort();
    let mut want = vec![
        (Kind::ContainerDied, busy.clone()),
        (Kind::ContainerRemoved, busy.clone()),
        (Kind::ContainerDied, sandbox.clone()),
        (Kind::ContainerRemoved, sandbox.clone()),
    ];
    want.sort();
    assert_eq!(got, want);
    // The pod is gone from the cache; the global timestamp stands for it (empty status).
    assert!(pleg.cache().get("u1").is_none());
    let t = Instant::now() - Duration::from_secs(1);
    let status = pleg.cache().get_if_newer_than("u1", t).unwrap();
    assert!(status.sandboxes.is_empty() && status.containers.is_empty());
}

#[tokio::test]
async fn unknown_state_refreshes_the_cache_without_an_event() {
    let fake = FakeRuntime::with_busybox();
    let sandbox = run_sandbox(&fake, "u1").await;
    let app = start_container(&fake, "u1", &sandbox, "app", 0, &["sleep", "infinity"]).await;
    let (pleg, mut rx) = Pleg::new(Arc::new(fake.clone()), relist_only());
    pleg.relist().await.unwrap();
    drain(&mut rx);
    fake.set_container_unknown(&app);
    pleg.relist().await.unwrap();
    // ContainerChanged is computed but, as in the kubelet, not sent.
    assert!(drain(&mut rx).is_empty());
    let cached = pleg.cache().get("u1").unwrap();
    assert_eq!(cached.status.containers[0].state, ContainerState::Unknown);
}

#[tokio::test]
async fn relist_lists_once_and_inspects_only_pods_that_changed() {
    let fake = FakeRuntime::with_busybox();
    let sa = run_sandbox(&fake, "a").await;
    let a = start_container(&fake, "a", &sa, "app", 0, &["sleep", "infinity"]).await;
    let sb = run_sandbox(&fake, "b").await;
    let b = start_container(&fake, "b", &sb, "app", 0, &["sleep", "infinity"]).await;
    let (pleg, _rx) = Pleg::new(Arc::new(fake.clone()), relist_only());
    pleg.relist().await.unwrap();

    fake.exit_container(&a, 2, "");
    fake.clear_calls();
    pleg.relist().await.unwrap();
    let calls = fake.calls();
    let count = |m: &str| calls.iter().filter(|c| c.method == m).count();
    assert_eq!(count("ListPodSandbox"), 1, "{calls:?}");
    assert_eq!(count("ListContainers"), 1, "{calls:?}");
    let inspected: Vec<_> = calls
        .iter()
        .filter(|c| c.method == "ContainerStatus" || c.method == "PodSandboxStatus")
        .filter_map(|c| c.id.clone())
        .collect();
    assert_eq!(inspected.len(), 2, "{calls:?}");
    assert!(
        inspected.contains(&a) && inspected.contains(&sa),
        "{inspected:?}"
    );
    assert!(
        !inspected.contains(&b) && !inspected.contains(&sb),
        "{inspected:?}"
    );
}

// ---- health ----

#[tokio::test(start_paused = true)]
async fn pl_03_unhealthy_after_three_minutes() {
    let fake = FakeRuntime::with_busybox();
    let (pleg, _rx) = Pleg::new(Arc::new(fake.clone()), relist_only());
    assert_eq!(
        pleg.healthy(Instant::now()),
        Err("pleg has yet to be successful".to_string())
    );

    // A failed relist does not count.
    fake.fail_next("ListPodSandbox", 1, tonic::Code::Unavailable);
    assert!(pleg.relist().await.is_err());
    assert_eq!(
        pleg.healthy(Instant::now()),
        Err("pleg has yet to be successful".to_string())
    );

    pleg.relist().await.unwrap();
    assert_eq!(pleg.healthy(Instant::now()), Ok(()));
    tokio::time::advance(Duration::from_secs(180)).await;
    assert_eq!(
        pleg.healthy(Instant::now()),
        Ok(()),
        "exactly 3m is still healthy"
    );
    tokio::time::advance(Duration::from_millis(500)).await;
    assert_eq!(
        pleg.healthy(Instant::now()),
        Err("pleg was last seen active 3m0.5s ago; threshold is 3m0s".to_string())
    );
    // Relisting failing all along keeps it unhealthy; one success makes it healthy again.
    fake.fail_next("ListPodSandbox", 1, tonic::Code::Unavailable);
    assert!(pleg.relist().await.is_err());
    assert!(pleg.healthy(Instant::now()).is_err());
    pleg.relist().await.unwrap();
    assert_eq!(pleg.healthy(Instant::now()), Ok(()));
    let m = pleg.metrics();
    assert_eq!((m.relists, m.failed_relists), (2, 2));
}

// ---- the cache ----

#[tokio::test(start_paused = true)]
async fn get_newer_than_waits_for_a_relist_after_the_workers_action() {
    let fake = FakeRuntime::with_busybox();
    let sandbox = run_sandbox(&fake, "u1").await;
    let app = start_container(&fake, "u1", &sandbox, "app", 0, &["sleep", "infinity"]).await;
    let (pleg, mut rx) = Pleg::new(Arc::new(fake.clone()), relist_only());
    let (stop, task) = spawn_run(&pleg);
    // The first relist runs at once.
    let first = rx.recv().await.unwrap();
    assert_eq!(first.kind, Kind::ContainerStarted);

    // A worker acts on the runtime at `acted`: stops the container.
    tokio::time::advance(Duration::from_millis(100)).await;
    let acted = Instant::now();
    fake.stop_container(v1::StopContainerRequest {
        container_id: app.clone(),
        timeout: 0,
    })
    .await
    .unwrap();
    // The cache holds a view from before the action: not good enough.
    assert!(pleg.cache().get_if_newer_than("u1", acted).is_none());
    let status = pleg.cache().get_newer_than("u1", acted).await;
    let waited = Instant::now() - acted;
    assert_eq!(status.containers[0].state, ContainerState::Exited);
    assert!(
        waited <= Duration::from_secs(1),
        "waited {waited:?} for the next relist (period 1 s)"
    );
    assert!(pleg.cache().get("u1").unwrap().read_at > acted);
    drop(stop);
    task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn get_newer_than_wakes_on_the_global_timestamp_for_an_unchanged_pod() {
    let fake = FakeRuntime::with_busybox();
    let sandbox = run_sandbox(&fake, "u1").await;
    start_container(&fake, "u1", &sandbox, "app", 0, &["sleep", "infinity"]).await;
    let (pleg, _rx) = Pleg::new(Arc::new(fake.clone()), relist_only());
    pleg.relist().await.unwrap();
    let read_at = pleg.cache().get("u1").unwrap().read_at;
    tokio::time::advance(Duration::from_millis(10)).await;
    let t = Instant::now();

    let cache = pleg.cache().clone();
    let waiter = tokio::spawn(async move { cache.get_newer_than("u1", t).await });
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished());
    tokio::time::advance(Duration::from_millis(10)).await;
    // Nothing changed in u1: the relist does not re-read it, but its global timestamp says
    // the cached view is still current.
    pleg.relist().await.unwrap();
    let status = waiter.await.unwrap();
    assert_eq!(status.containers.len(), 1);
    assert_eq!(pleg.cache().get("u1").unwrap().read_at, read_at);
}

// ---- dropped events ----

#[tokio::test]
async fn events_are_dropped_and_counted_when_the_channel_is_full() {
    let fake = FakeRuntime::with_busybox();
    let sandbox = run_sandbox(&fake, "u1").await;
    for name in ["a", "b", "c"] {
        start_container(&fake, "u1", &sandbox, name, 0, &["sleep", "infinity"]).await;
    }
    let config = PlegConfig {
        channel_capacity: 2,
        ..relist_only()
    };
    let (pleg, mut rx) = Pleg::new(Arc::new(fake.clone()), config);
    pleg.relist().await.unwrap();
    // Sandbox + 3 containers started: 4 events, room for 2.
    let m = pleg.metrics();
    assert_eq!((m.sent_events, m.discarded_events), (2, 2));
    assert_eq!(drain(&mut rx).len(), 2);
    // The cache is complete regardless: events only wake workers.
    assert_eq!(pleg.cache().get("u1").unwrap().status.containers.len(), 3);
}

// ---- inspection errors ----

#[tokio::test]
async fn not_found_during_inspection_is_skipped() {
    let fake = FakeRuntime::with_busybox();
    let sandbox = run_sandbox(&fake, "u1").await;
    start_container(&fake, "u1", &sandbox, "a", 0, &["sleep", "infinity"]).await;
    start_container(&fake, "u1", &sandbox, "b", 0, &["sleep", "infinity"]).await;

    // One container vanishes between ListContainers and its ContainerStatus.
    fake.fail_next("ContainerStatus", 1, tonic::Code::NotFound);
    let status = pod_runtime_status(&fake, "u1").await.unwrap();
    assert_eq!(status.sandboxes.len(), 1);
    assert_eq!(status.containers.len(), 1);

    // In the relist too: the pod is cached, without the vanished container.
    let (pleg, mut rx) = Pleg::new(Arc::new(fake.clone()), relist_only());
    fake.fail_next("ContainerStatus", 1, tonic::Code::NotFound);
    pleg.relist().await.unwrap();
    assert_eq!(drain(&mut rx).len(), 3);
    assert_eq!(pleg.cache().get("u1").unwrap().status.containers.len(), 1);
}

#[tokio::test]
async fn failed_inspection_holds_events_back_and_is_retried_next_relist() {
    let fake = FakeRuntime::with_busybox();
    let sandbox = run_sandbox(&fake, "u1").await;
    let app = start_container(&fake, "u1", &sandbox, "app", 0, &["sleep", "infinity"]).await;
    let (pleg, mut rx) = Pleg::new(Arc::new(fake.clone()), relist_only());
    pleg.relist().await.unwrap();
    drain(&mut rx);
    let before = Instant::now();

    fake.exit_container(&app, 3, "");
    fake.fail_next("ContainerStatus", 1, tonic::Code::Internal);
    pleg.relist().await.unwrap();
    // Not inspected, so not reported yet; and the cache does not vouch for the pod.
    assert!(drain(&mut rx).is_empty());
    assert!(pleg.cache().get_if_newer_than("u1", before).is_none());

    pleg.relist().await.unwrap();
    assert_eq!(drain(&mut rx), [(Kind::ContainerDied, app.clone())]);
    let cached = pleg.cache().get_if_newer_than("u1", before).unwrap();
    assert_eq!(cached.containers[0].exit_code, 3);
}

// ---- CRI-12 ----

#[tokio::test]
async fn cri_12_pod_status_filtered_by_uid_label() {
    let fake = FakeRuntime::with_busybox();
    let sa = run_sandbox(&fake, "uid-a").await;
    let a = start_container(&fake, "uid-a", &sa, "app", 0, &["sleep", "infinity"]).await;
    let sb = run_sandbox(&fake, "uid-b").await;
    start_container(&fake, "uid-b", &sb, "app", 0, &["sleep", "infinity"]).await;
    let spy = Spy::new(&fake);
    fake.clear_calls();

    let status = pod_runtime_status(&spy, "uid-a").await.unwrap();
    assert_eq!(status.uid, "uid-a");
    let ids: Vec<_> = status.sandboxes.iter().map(|s| s.id.clone()).collect();
    assert_eq!(ids, std::slice::from_ref(&sa));
    let ids: Vec<_> = status.containers.iter().map(|c| c.id.clone()).collect();
    assert_eq!(ids, std::slice::from_ref(&a));

    // Both lists carry the label selector io.kubernetes.pod.uid=uid-a...
    let want = HashMap::from([(labels::POD_UID.to_string(), "uid-a".to_string())]);
    assert_eq!(
        spy.filters(),
        [("ListPodSandbox", want.clone()), ("ListContainers", want)]
    );
    // ...and the fake's call log shows one list of each and status calls for pod a only.
    let calls: Vec<_> = fake.calls().into_iter().map(|c| (c.method, c.id)).collect();
    assert_eq!(
        calls,
        [
            ("ListPodSandbox", None),
            ("ListContainers", None),
            ("PodSandboxStatus", Some(sa)),
            ("ContainerStatus", Some(a)),
        ]
    );
}

// ---- CRI container events ----

#[tokio::test]
async fn container_events_relist_the_pod_between_relists() {
    let fake = FakeRuntime::with_busybox();
    fake.enable_container_events();
    let sandbox = run_sandbox(&fake, "u1").await;
    let config = PlegConfig {
        relist_period: Duration::from_secs(3600),
        ..Default::default()
    };
    let (pleg, mut rx) = Pleg::new(Arc::new(fake.clone()), config);
    let (stop, task) = spawn_run(&pleg);
    wait_for(&mut rx, |e| e.id == sandbox).await;
    assert_eq!(
        pleg.metrics().exit_detection,
        Some(ExitDetection::ContainerEvents)
    );

    // No relist will run for an hour: only the event stream can report these.
    let app = start_container(&fake, "u1", &sandbox, "app", 0, &["sleep", "infinity"]).await;
    wait_for(&mut rx, |e| e.id == app && e.kind == Kind::ContainerStarted).await;
    fake.exit_container(&app, 3, "");
    wait_for(&mut rx, |e| e.id == app && e.kind == Kind::ContainerDied).await;
    assert_eq!(pleg.metrics().died_events.container_event, 1);
    assert_eq!(
        pleg.cache().get("u1").unwrap().status.containers[0].exit_code,
        3
    );
    assert_eq!(pleg.metrics().relists, 1);
    drop(stop);
    task.await.unwrap();
}

// ---- exit watchers (real processes stand in for container init processes) ----

/// A real process to stand for a container's init process.
fn process() -> std::process::Child {
    std::process::Command::new("sleep")
        .arg("600")
        .spawn()
        .expect("spawn sleep")
}

#[tokio::test]
async fn exit_watcher_reports_died_without_waiting_for_a_relist() {
    let fake = FakeRuntime::with_busybox();
    let spy = Spy::new(&fake);
    let sandbox = run_sandbox(&fake, "u1").await;
    let first = start_container(&fake, "u1", &sandbox, "app", 0, &["sleep", "infinity"]).await;
    let mut init = process();
    spy.set_pid(&first, init.id());
    let config = PlegConfig {
        relist_period: Duration::from_secs(3600),
        ..Default::default()
    };
    let (pleg, mut rx) = Pleg::new(Arc::new(spy.clone()), config);
    let (stop, task) = spawn_run(&pleg);
    wait_for(&mut rx, |e| e.id == first).await;
    wait_until("the exit watcher has its pidfd", || {
        pleg.is_watching_exit(&first)
    })
    .await;
    assert_eq!(pleg.metrics().exit_watchers, 1);
    assert_eq!(
        pleg.metrics().exit_detection,
        Some(ExitDetection::ExitWatchers)
    );

    // The process ends; the runtime reports the exit.
    init.kill().unwrap();
    init.wait().unwrap();
    fake.exit_container(&first, 3, "");
    wait_for(&mut rx, |e| e.id == first && e.kind == Kind::ContainerDied).await;
    assert_eq!(pleg.metrics().died_events.exit_watcher, 1);
    assert_eq!(pleg.metrics().relists, 1, "no relist ran after the first");
    assert_eq!(
        pleg.cache().get("u1").unwrap().status.containers[0].exit_code,
        3
    );
    wait_until("the watcher is gone", || pleg.metrics().exit_watchers == 0).await;

    // The container restarts: a new instance, a new process, a new watcher. A worker that
    // started it notifies the PLEG, which relists the pod at once.
    let second = start_container(&fake, "u1", &sandbox, "app", 1, &["sleep", "infinity"]).await;
    let mut init = process();
    spy.set_pid(&second, init.id());
    pleg.notify_pod("u1");
    wait_for(&mut rx, |e| {
        e.id == second && e.kind == Kind::ContainerStarted
    })
    .await;
    wait_until("the new watcher has its pidfd", || {
        pleg.is_watching_exit(&second)
    })
    .await;
    assert!(!pleg.is_watching_exit(&first));
    init.kill().unwrap();
    init.wait().unwrap();
    fake.exit_container(&second, 1, "");
    wait_for(&mut rx, |e| e.id == second && e.kind == Kind::ContainerDied).await;
    assert_eq!(pleg.metrics().died_events.exit_watcher, 2);
    drop(stop);
    task.await.unwrap();
    assert_eq!(
        pleg.metrics().exit_watchers,
        0,
        "watchers stop with the PLEG"
    );
}

#[tokio::test]
async fn exit_watcher_handles_a_pid_already_gone() {
    let fake = FakeRuntime::with_busybox();
    let spy = Spy::new(&fake);
    let sandbox = run_sandbox(&fake, "u1").await;
    let app = start_container(&fake, "u1", &sandbox, "app", 0, &["sleep", "infinity"]).await;
    // The process has already ended (and been reaped) when the watcher opens its pidfd.
    let mut init = process();
    init.kill().unwrap();
    init.wait().unwrap();
    spy.set_pid(&app, init.id());
    let config = PlegConfig {
        relist_period: Duration::from_secs(3600),
        ..Default::default()
    };
    let (pleg, mut rx) = Pleg::new(Arc::new(spy.clone()), config);
    let (stop, task) = spawn_run(&pleg);
    wait_for(&mut rx, |e| e.id == app && e.kind == Kind::ContainerStarted).await;
    // The watcher waits for the runtime to catch up with the kernel, then reports.
    tokio::time::sleep(Duration::from_millis(50)).await;
    fake.exit_container(&app, 137, "");
    wait_for(&mut rx, |e| e.id == app && e.kind == Kind::ContainerDied).await;
    assert_eq!(pleg.metrics().died_events.exit_watcher, 1);
    drop(stop);
    task.await.unwrap();
}

#[tokio::test]
async fn no_pid_from_the_runtime_means_relist_only() {
    // The fake reports pid 0, like a runtime without the verbose pid: the watcher gives up
    // quietly and the relist finds the exit.
    let fake = FakeRuntime::with_busybox();
    let sandbox = run_sandbox(&fake, "u1").await;
    let app = start_container(&fake, "u1", &sandbox, "app", 0, &["sleep", "infinity"]).await;
    let config = PlegConfig {
        relist_period: Duration::from_millis(50),
        ..Default::default()
    };
    let (pleg, mut rx) = Pleg::new(Arc::new(fake.clone()), config);
    let (stop, task) = spawn_run(&pleg);
    wait_for(&mut rx, |e| e.id == app).await;
    // The watcher makes one verbose ContainerStatus call (the relist made the other), finds
    // no pid and gives up; only then does the container exit.
    wait_until("the watcher looked for a pid", || {
        let calls = fake.calls_to("ContainerStatus");
        calls
            .iter()
            .filter(|c| c.id.as_deref() == Some(&app))
            .count()
            >= 2
    })
    .await;
    assert!(!pleg.is_watching_exit(&app));
    fake.exit_container(&app, 0, "");
    wait_for(&mut rx, |e| e.id == app && e.kind == Kind::ContainerDied).await;
    let died = pleg.metrics().died_events;
    assert_eq!((died.relist, died.exit_watcher), (1, 0));
    drop(stop);
    task.await.unwrap();
}
