//! Pod workers driven against `FakeRuntime` in virtual time: tokio's clock is paused and the
//! test moves it and the fake runtime's clock together, so minutes of back-off take
//! milliseconds and every delay is exact.

use std::sync::Arc;
use std::time::Duration;

use cri_client::fake::{Call, FakeRuntime};
use cri_client::{RuntimeService, v1};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container, ExecAction, Lifecycle, LifecycleHandler, Pod, PodSpec, SleepAction,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use pod_lifecycle::fake::FakeRuntimeClock;
use pod_lifecycle::plan::ContainerKind;
use pod_lifecycle::pleg::{Pleg, PlegConfig};
use pod_lifecycle::pod_manager::{PodManager, PodManagerConfig};
use pod_lifecycle::worker::{
    MemoryEvents, MemoryStatusSink, PodHost, PodWorkers, SyncOperation, WorkerConfig,
    WorkerObserver, WorkerPhase,
};

mod common;

use common::fake::{FakeNode, containers, idle_for, sandboxes, settle};

fn pod(uid: &str, restart_policy: &str, containers: Vec<Container>) -> Pod {
    common::fake::pod(
        uid,
        PodSpec {
            restart_policy: Some(restart_policy.into()),
            containers,
            ..Default::default()
        },
    )
}

fn container(name: &str, script: &str) -> Container {
    Container {
        name: name.into(),
        image: Some("localhost/busybox:1".into()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(vec!["sh".into(), "-c".into(), script.into()]),
        ..Default::default()
    }
}

/// Start times (ns) and finish times (ns) of every instance of `name`, oldest first.
async fn instances(fake: &FakeRuntime, name: &str) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    for c in containers(fake).await {
        if c.metadata.as_ref().is_some_and(|m| m.name == name) {
            let s = fake
                .container_status(v1::ContainerStatusRequest {
                    container_id: c.id,
                    verbose: false,
                })
                .await
                .unwrap()
                .status
                .unwrap();
            out.push((s.started_at, s.finished_at));
        }
    }
    out.sort();
    out
}

#[tokio::test(start_paused = true)]
async fn rp_05_worker_crash_loop_delays_0_10_20_40_80_160_300_300() {
    let h = FakeNode::new();
    let p = pod("crash", "Always", vec![container("app", "exit 1")]);
    h.workers.update_pod(p);
    settle().await;
    h.run_for(
        "crash",
        Duration::from_secs(1300),
        Duration::from_millis(100),
    )
    .await;

    // Container GC keeps only the newest dead instance in the runtime, so read every
    // instance's start and finish from the statuses the worker sent over time.
    let mut seen = std::collections::BTreeMap::new();
    for status in h.statuses.history("crash") {
        for c in status.container_statuses.iter().flatten() {
            for state in [c.state.as_ref(), c.last_state.as_ref()]
                .into_iter()
                .flatten()
            {
                if let Some(t) = &state.terminated
                    && let (Some(s), Some(f)) = (&t.started_at, &t.finished_at)
                {
                    seen.insert(t.container_id.clone(), (s.0.as_second(), f.0.as_second()));
                }
            }
        }
    }
    let mut runs: Vec<(i64, i64)> = seen.into_values().collect();
    runs.sort();
    let runs: Vec<(i64, i64)> = runs
        .into_iter()
        .map(|(s, f)| (s * 1_000_000_000, f * 1_000_000_000))
        .collect();
    assert!(runs.len() >= 9, "only {} runs", runs.len());
    let gaps: Vec<f64> = runs
        .windows(2)
        .map(|w| (w[1].0 - w[0].1) as f64 / 1e9)
        .take(8)
        .collect();
    let expected = [0.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0];
    eprintln!("crash loop gaps: {gaps:?}");
    for (gap, want) in gaps.iter().zip(expected) {
        // One relist period (here 0.1 s steps) of granularity, never early.
        assert!(
            *gap >= want && *gap <= want + 0.25,
            "gaps {gaps:?}, want {expected:?}"
        );
    }

    let status = h.status("crash");
    let app = &status.container_statuses.as_ref().unwrap()[0];
    assert_eq!(
        status.phase.as_deref(),
        Some("Running"),
        "PH-04: Always keeps Running"
    );
    assert!(app.restart_count >= 8, "{app:?}");
    let waiting = app.state.as_ref().unwrap().waiting.as_ref();
    assert_eq!(
        waiting.and_then(|w| w.reason.as_deref()),
        Some("CrashLoopBackOff"),
        "{app:?}"
    );
    let last = app
        .last_state
        .as_ref()
        .unwrap()
        .terminated
        .as_ref()
        .unwrap();
    assert_eq!(last.exit_code, 1);
    assert!(!h.events.with_reason("BackOff").is_empty());
}

#[tokio::test(start_paused = true)]
async fn lc_21_new_workers_adopt_running_containers_without_restart() {
    let fake = FakeRuntime::with_busybox();
    let first = FakeNode::with_runtime(fake.clone());
    let p = pod("adopt", "Always", vec![container("app", "sleep infinity")]);
    first.workers.update_pod(p.clone());
    first
        .run_for("adopt", Duration::from_secs(3), Duration::from_secs(1))
        .await;
    let before = containers(&fake).await;
    assert_eq!(before.len(), 1);
    assert_eq!(first.status("adopt").phase.as_deref(), Some("Running"));

    // The agent stops (workers gone, pods left running) and a new one starts.
    first.workers.shutdown();
    fake.clear_calls();
    let second = FakeNode::with_runtime(fake.clone());
    second.workers.update_pod(p);
    second
        .run_for("adopt", Duration::from_secs(5), Duration::from_secs(1))
        .await;

    assert!(
        fake.calls_to("CreateContainer").is_empty(),
        "{:?}",
        fake.calls()
    );
    assert!(
        fake.calls_to("RunPodSandbox").is_empty(),
        "{:?}",
        fake.calls()
    );
    assert!(
        fake.calls_to("StopContainer").is_empty(),
        "{:?}",
        fake.calls()
    );
    let after = containers(&fake).await;
    assert_eq!(before[0].id, after[0].id);
    let status = second.status("adopt");
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert_eq!(status.container_statuses.unwrap()[0].restart_count, 0);
}

/// Issue 19 (FT-01): an agent restarted without an API server reports the `startTime` the
/// pod had, read from its sandbox (`pod_lifecycle::labels::POD_START_TIME`), not the time it adopted
/// the pod.
#[tokio::test(start_paused = true)]
async fn ph_17_ft_01_adopted_pod_keeps_its_start_time() {
    let fake = FakeRuntime::with_busybox();
    let first = FakeNode::with_runtime(fake.clone());
    let p = pod(
        "started",
        "Always",
        vec![container("app", "sleep infinity")],
    );
    first.workers.update_pod(p.clone());
    first
        .run_for("started", Duration::from_secs(3), Duration::from_secs(1))
        .await;
    let before = first.status("started").start_time.expect("a start time");

    first.workers.shutdown();
    idle_for(&fake, 5).await;
    let second = FakeNode::with_runtime(fake.clone());
    second.workers.update_pod(p);
    second
        .run_for("started", Duration::from_secs(3), Duration::from_secs(1))
        .await;

    let status = second.status("started");
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert_eq!(status.start_time, Some(before));
}

/// Issue 19 (FT-01): a container that could not be created (here a name the runtime still
/// reserves for a create that a killed agent left in flight) is tried again after the error
/// back-off (10-15 s), as the kubelet's pod worker requeues a sync with a failed start, not
/// at the next resync a minute later: nothing else wakes the worker.
#[tokio::test(start_paused = true)]
async fn ft_01_failed_create_is_retried_after_the_error_back_off() {
    let fake = FakeRuntime::with_busybox();
    fake.fail_next(
        "CreateContainer",
        1,
        tonic::Status::unknown("failed to reserve container name \"app_p_default_u_0\""),
    );
    let node = FakeNode::with_runtime(fake.clone());
    node.workers.update_pod(pod(
        "retried",
        "Always",
        vec![container("app", "sleep infinity")],
    ));
    settle().await;
    assert_eq!(
        node.waiting("retried").reason.as_deref(),
        Some("CreateContainerError")
    );
    // No PLEG event, no probe: only the worker's own timer can bring the retry.
    idle_for(&fake, 16).await;
    settle().await;
    assert_eq!(
        fake.calls_to("CreateContainer").len(),
        2,
        "{:?}",
        fake.calls()
    );
    assert_eq!(node.status("retried").phase.as_deref(), Some("Running"));
}

#[tokio::test(start_paused = true)]
async fn lc_14_spec_change_restarts_only_the_changed_container() {
    let h = FakeNode::new();
    let p = pod(
        "change",
        "Always",
        vec![
            container("a", "sleep infinity"),
            container("b", "sleep infinity"),
        ],
    );
    h.workers.update_pod(p.clone());
    h.run_for("change", Duration::from_secs(3), Duration::from_secs(1))
        .await;
    let before = containers(&h.fake).await;
    assert_eq!(before.len(), 2);

    let mut changed = p.clone();
    changed.spec.as_mut().unwrap().containers[1].command =
        Some(vec!["sleep".into(), "3600".into()]);
    h.fake.clear_calls();
    h.workers.update_pod(changed);
    h.run_for("change", Duration::from_secs(3), Duration::from_secs(1))
        .await;

    let stops = h.fake.calls_to("StopContainer");
    assert_eq!(stops.len(), 1, "{stops:?}");
    let b_old = before
        .iter()
        .find(|c| c.metadata.as_ref().unwrap().name == "b")
        .unwrap();
    assert_eq!(stops[0].id.as_deref(), Some(b_old.id.as_str()));
    assert_eq!(h.fake.calls_to("CreateContainer").len(), 1);
    let killing = h.events.with_reason("Killing");
    assert!(
        killing[0].message.contains("definition changed"),
        "{killing:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn lc_08_failed_init_container_under_never_fails_the_pod() {
    let h = FakeNode::new();
    let mut p = pod("init", "Never", vec![container("app", "sleep infinity")]);
    p.spec.as_mut().unwrap().init_containers = Some(vec![container("prepare", "exit 1")]);
    h.workers.update_pod(p);
    h.run_for("init", Duration::from_secs(5), Duration::from_secs(1))
        .await;

    let status = h.status("init");
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    assert!(
        instances(&h.fake, "app").await.is_empty(),
        "the app container never starts"
    );
    assert_eq!(h.workers.phase("init"), Some(WorkerPhase::Terminated));
}

#[tokio::test(start_paused = true)]
async fn lc_09_init_container_success_then_app_starts() {
    let h = FakeNode::new();
    let mut p = pod(
        "init-ok",
        "Always",
        vec![container("app", "sleep infinity")],
    );
    p.spec.as_mut().unwrap().init_containers =
        Some(vec![container("one", "exit 0"), container("two", "exit 0")]);
    h.workers.update_pod(p);
    h.run_for("init-ok", Duration::from_secs(5), Duration::from_secs(1))
        .await;

    let status = h.status("init-ok");
    assert_eq!(status.phase.as_deref(), Some("Running"), "{status:?}");
    let creates: Vec<String> = h
        .fake
        .calls_to("CreateContainer")
        .into_iter()
        .filter_map(|c| c.id)
        .collect();
    assert_eq!(creates.len(), 3, "one, two, app: {creates:?}");
    let init = status.init_container_statuses.unwrap();
    assert!(init.iter().all(|s| s.ready), "{init:?}");
}

#[tokio::test(start_paused = true)]
async fn tm_02_graceful_deletion_runs_pre_stop_then_stops_with_the_grace() {
    let h = FakeNode::new();
    let mut c = container("app", "trap 'exit 0' TERM; sleep 3600 & wait");
    c.lifecycle = Some(Lifecycle {
        pre_stop: Some(LifecycleHandler {
            exec: Some(ExecAction {
                command: Some(vec!["echo".into(), "bye".into()]),
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    let mut p = pod("delete", "Always", vec![c]);
    h.workers.update_pod(p.clone());
    h.run_for("delete", Duration::from_secs(2), Duration::from_secs(1))
        .await;
    assert_eq!(h.status("delete").phase.as_deref(), Some("Running"));

    p.metadata.deletion_timestamp = Some(Time(Timestamp::from_second(1_800_000_000).unwrap()));
    p.metadata.deletion_grace_period_seconds = Some(20);
    h.workers.update_pod(p);
    h.run_for("delete", Duration::from_secs(2), Duration::from_secs(1))
        .await;

    let execs = h.fake.calls_to("ExecSync");
    assert_eq!(execs.len(), 1, "the preStop hook ran: {execs:?}");
    let stops = h.fake.calls_to("StopContainer");
    assert_eq!(stops.len(), 1, "{stops:?}");
    assert_eq!(
        stops[0].timeout,
        Some(20),
        "grace from the deletion, minus the hook's ~0 s"
    );
    assert!(!h.fake.calls_to("StopPodSandbox").is_empty());
    assert_eq!(h.workers.phase("delete"), Some(WorkerPhase::Terminated));
    let status = h.status("delete");
    assert_eq!(
        status.phase.as_deref(),
        Some("Succeeded"),
        "PH-06: exit 0 on TERM: {status:?}"
    );
    assert!(!h.events.with_reason("Killing").is_empty());
}

/// A container whose stop takes `seconds`: its `sleep` preStop hook holds the kill that long
/// (TM-12), so the time a pod kill takes shows whether the stops ran one after the other.
fn slow_to_stop(name: &str, seconds: i64) -> Container {
    let mut c = container(name, "sleep infinity");
    c.lifecycle = Some(Lifecycle {
        pre_stop: Some(LifecycleHandler {
            sleep: Some(SleepAction { seconds }),
            ..Default::default()
        }),
        ..Default::default()
    });
    c
}

/// The ids of the pod's sandboxes in the runtime, sorted.
async fn sandbox_ids(fake: &FakeRuntime, uid: &str) -> Vec<String> {
    let mut ids: Vec<String> = sandboxes(fake)
        .await
        .into_iter()
        .filter(|s| s.metadata.as_ref().is_some_and(|m| m.uid == uid))
        .map(|s| s.id)
        .collect();
    ids.sort();
    ids
}

/// Index in the call log of the first call to `method` about `id`.
fn call_index(calls: &[Call], method: &str, id: &str) -> Option<usize> {
    calls
        .iter()
        .position(|c| c.method == method && c.id.as_deref() == Some(id))
}

/// The kubelet's container GC removes a sandbox only once it is inactive: stopped, and with
/// no container left in it (`evictSandboxes`, `kuberuntime_gc.go`). Checks that every
/// `RemovePodSandbox` in `calls` comes after the `StopPodSandbox` of that sandbox and after
/// the `RemoveContainer` of each container that ran in it (`containers`).
fn assert_removed_only_when_inactive(calls: &[Call], containers: &[v1::Container]) {
    let methods: Vec<&str> = calls.iter().map(|c| c.method).collect();
    for (i, remove) in calls.iter().enumerate() {
        if remove.method != "RemovePodSandbox" {
            continue;
        }
        let sandbox = remove.id.as_deref().unwrap();
        let stopped = call_index(calls, "StopPodSandbox", sandbox);
        assert!(
            stopped.is_some_and(|s| s < i),
            "sandbox {sandbox} removed before it was stopped: {methods:?}"
        );
        for c in containers.iter().filter(|c| c.pod_sandbox_id == sandbox) {
            let gone = call_index(calls, "RemoveContainer", &c.id);
            assert!(
                gone.is_some_and(|g| g < i),
                "sandbox {sandbox} removed before its container {}: {methods:?}",
                c.id
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn tm_09_pod_kill_stops_containers_in_parallel_then_every_sandbox() {
    let h = FakeNode::new();
    // Stops taking 4, 6 and 8 s: 8 s in parallel, 18 s one after the other.
    let p = pod(
        "kill",
        "Always",
        vec![
            slow_to_stop("a", 4),
            slow_to_stop("b", 6),
            slow_to_stop("c", 8),
        ],
    );
    h.workers.update_pod(p.clone());
    h.run_for("kill", Duration::from_secs(2), Duration::from_secs(1))
        .await;
    // A second sandbox: the first one dies, the worker kills the pod and makes attempt 1
    // (LC-02). The old one stays in the runtime, NOTREADY.
    let first = sandbox_ids(&h.fake, "kill").await;
    assert_eq!(first.len(), 1);
    h.fake.set_sandbox_not_ready(&first[0]);
    h.run_for("kill", Duration::from_secs(12), Duration::from_secs(1))
        .await;
    let sandboxes = sandbox_ids(&h.fake, "kill").await;
    assert_eq!(sandboxes.len(), 2, "the dead sandbox and its replacement");
    let running = common::fake::running_containers(&h.fake).await;
    assert_eq!(running.len(), 3, "{running:?}");
    let all_containers = containers(&h.fake).await;
    let name_of = |id: &str| {
        all_containers
            .iter()
            .find(|c| c.id == id)
            .and_then(|c| c.metadata.as_ref())
            .map(|m| m.name.clone())
            .unwrap_or_else(|| panic!("no container {id}"))
    };

    h.fake.clear_calls();
    let killing_before = h.events.with_reason("Killing").len();
    h.workers.terminate_pod(p, None);
    settle().await;
    // Every kill begins at once: three Killing events, no stop yet (the hooks hold them).
    assert_eq!(h.events.with_reason("Killing").len() - killing_before, 3);
    assert!(h.fake.calls_to("StopContainer").is_empty());

    // Second by second (virtual time, no wake-ups: only the workers' own timers run), when
    // each call came.
    let mut stopped_at: Vec<(String, u64)> = Vec::new();
    let mut sandboxes_stopped_at: Vec<(String, u64)> = Vec::new();
    let mut terminated_at = None;
    for second in 1..=20 {
        idle_for(&h.fake, 1).await;
        for stop in h.fake.calls_to("StopContainer") {
            let name = name_of(stop.id.as_deref().unwrap());
            if !stopped_at.iter().any(|(n, _)| *n == name) {
                stopped_at.push((name, second));
            }
        }
        for stop in h.fake.calls_to("StopPodSandbox") {
            let id = stop.id.unwrap();
            if !sandboxes_stopped_at.iter().any(|(s, _)| *s == id) {
                sandboxes_stopped_at.push((id, second));
            }
        }
        if terminated_at.is_none() && h.workers.phase("kill") == Some(WorkerPhase::Terminated) {
            terminated_at = Some(second);
        }
    }
    stopped_at.sort();
    assert_eq!(
        stopped_at,
        [("a".into(), 4), ("b".into(), 6), ("c".into(), 8)],
        "each container stopped when its own hook ended, all counted from the kill: in \
         parallel (one after the other would be 4, 10, 18)"
    );
    assert_eq!(
        terminated_at,
        Some(8),
        "the kill takes the longest stop (8 s), not the sum (18 s)"
    );
    // Each container's grace counts from the kill: 30 s less its own hook.
    let mut timeouts: Vec<(String, Option<i64>)> = h
        .fake
        .calls_to("StopContainer")
        .into_iter()
        .map(|c| (name_of(c.id.as_deref().unwrap()), c.timeout))
        .collect();
    timeouts.sort();
    assert_eq!(
        timeouts,
        [
            ("a".into(), Some(26)),
            ("b".into(), Some(24)),
            ("c".into(), Some(22))
        ]
    );

    // Every sandbox of the pod is stopped, the dead one too, once every container is.
    let mut stopped: Vec<String> = sandboxes_stopped_at
        .iter()
        .map(|(s, _)| s.clone())
        .collect();
    stopped.sort();
    assert_eq!(stopped, sandboxes);
    let calls = h.fake.calls();
    let methods: Vec<&str> = calls.iter().map(|c| c.method).collect();
    let last_container_stop = methods.iter().rposition(|m| *m == "StopContainer").unwrap();
    let first_sandbox_stop = methods.iter().position(|m| *m == "StopPodSandbox").unwrap();
    assert!(
        last_container_stop < first_sandbox_stop,
        "containers first, then the sandboxes: {methods:?}"
    );
    // No removal during the kill. This pod was removed, so with `remove_terminated` (the
    // default) its worker removes its runtime objects after the kill; like the kubelet's
    // GC, a sandbox only once it is stopped and empty.
    let last_sandbox_stop = methods
        .iter()
        .rposition(|m| *m == "StopPodSandbox")
        .unwrap();
    let first_removal = methods.iter().position(|m| m.starts_with("Remove"));
    assert!(
        first_removal.is_some_and(|r| r > last_sandbox_stop),
        "{methods:?}"
    );
    assert_removed_only_when_inactive(&calls, &all_containers);
    assert!(sandbox_ids(&h.fake, "kill").await.is_empty());
}

/// Pod workers under a pod manager on a fake runtime, in virtual time. The workers label
/// their sandboxes with the manager's node name, so the manager's housekeeping (the GC of
/// what no pod owns) applies to them.
fn managed_node(fake: &FakeRuntime, config: WorkerConfig) -> (PodManager, MemoryStatusSink) {
    let statuses = MemoryStatusSink::with_history();
    let host = common::fake::host(fake, &statuses, &MemoryEvents::new());
    let workers = Arc::new(PodWorkers::new(
        host,
        WorkerConfig {
            node_name: "gc-node".into(),
            runtime_name: "fake".into(),
            ..config
        },
    ));
    let manager = PodManager::new(
        workers,
        Arc::new(fake.clone()),
        Arc::new(statuses.clone()),
        Arc::new(FakeRuntimeClock::new(fake)),
        PodManagerConfig {
            node_name: "gc-node".into(),
            ..Default::default()
        },
    );
    (manager, statuses)
}

/// Moves both clocks by `seconds`, waking the pod's worker each second as the PLEG would.
async fn run_managed(manager: &PodManager, fake: &FakeRuntime, uid: &str, seconds: u64) {
    for _ in 0..seconds {
        fake.advance(Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(1)).await;
        manager.workers().wake(uid);
        settle().await;
    }
}

#[tokio::test(start_paused = true)]
async fn tm_09_sandbox_removal_waits_for_gc() {
    // Two ways a pod ends without its worker removing anything: it finishes on its own (its
    // containers and logs are kept until the pod goes), or it is removed from its source
    // while `remove_terminated` is off. Either way its sandbox is stopped by the worker and
    // removed only by housekeeping's GC, once no source has the pod.
    let cases = [
        ("finished", "Never", "exit 0", WorkerConfig::default()),
        (
            "dropped",
            "Always",
            "sleep infinity",
            WorkerConfig {
                remove_terminated: false,
                ..WorkerConfig::default()
            },
        ),
    ];
    for (uid, policy, script, config) in cases {
        let fake = FakeRuntime::with_busybox();
        let (manager, statuses) = managed_node(&fake, config);
        let p = pod(uid, policy, vec![container("app", script)]);
        manager.set_source_pods("file", vec![p]);
        run_managed(&manager, &fake, uid, 3).await;
        if uid == "dropped" {
            manager.set_source_pods("file", Vec::new());
            run_managed(&manager, &fake, uid, 3).await;
        } else {
            let phase = statuses.get(uid).and_then(|s| s.phase);
            assert_eq!(phase.as_deref(), Some("Succeeded"), "{uid}");
        }
        assert_eq!(
            manager.workers().phase(uid),
            Some(WorkerPhase::Terminated),
            "{uid}"
        );
        let sandbox = sandbox_ids(&fake, uid).await;
        assert_eq!(sandbox.len(), 1, "{uid}: the sandbox stays");
        assert!(call_index(&fake.calls(), "StopPodSandbox", &sandbox[0]).is_some());
        assert!(
            fake.calls_to("RemovePodSandbox").is_empty(),
            "{uid}: {:?}",
            fake.calls()
        );
        let ready = sandboxes(&fake).await[0].state;
        assert_eq!(ready, v1::PodSandboxState::SandboxNotready as i32, "{uid}");

        // The GC keeps the sandbox while a source still has the pod...
        manager.housekeeping().await;
        if uid == "finished" {
            assert!(fake.calls_to("RemovePodSandbox").is_empty(), "{uid}");
            manager.set_source_pods("file", Vec::new());
            manager.housekeeping().await;
        }
        // ...and removes it, after its containers, once none has.
        let all_containers = containers(&fake).await;
        let removed: Vec<String> = fake
            .calls_to("RemovePodSandbox")
            .into_iter()
            .filter_map(|c| c.id)
            .collect();
        assert_eq!(removed, sandbox, "{uid}");
        assert_removed_only_when_inactive(&fake.calls(), &all_containers);
        assert!(sandbox_ids(&fake, uid).await.is_empty(), "{uid}");
    }
}

/// The status of container `name` (regular or init) in `status`.
fn container_status<'a>(
    status: &'a k8s_openapi::api::core::v1::PodStatus,
    name: &str,
) -> &'a k8s_openapi::api::core::v1::ContainerStatus {
    status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten())
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no status for {name}: {status:?}"))
}

fn is_running(c: &k8s_openapi::api::core::v1::ContainerStatus) -> bool {
    c.state.as_ref().is_some_and(|s| s.running.is_some())
}

/// Exit code of a container's current state, when it is terminated.
fn exit_code(c: &k8s_openapi::api::core::v1::ContainerStatus) -> Option<i32> {
    c.state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .map(|t| t.exit_code)
}

#[tokio::test(start_paused = true)]
async fn lc_12_never_pod_done_stops_the_sidecar_and_ends_succeeded() {
    let h = FakeNode::new();
    let mut log = container("log", "sleep infinity");
    log.restart_policy = Some("Always".into());
    let mut p = pod("sidecar", "Never", vec![container("app", "sleep 3")]);
    p.spec.as_mut().unwrap().init_containers = Some(vec![log]);
    h.workers.update_pod(p);
    h.run_for("sidecar", Duration::from_secs(2), Duration::from_secs(1))
        .await;
    let status = h.status("sidecar");
    assert_eq!(status.phase.as_deref(), Some("Running"), "{status:?}");
    assert!(is_running(container_status(&status, "log")));
    assert!(h.fake.calls_to("StopContainer").is_empty());
    let log_id = containers(&h.fake)
        .await
        .into_iter()
        .find(|c| c.metadata.as_ref().is_some_and(|m| m.name == "log"))
        .unwrap()
        .id;

    // The app exits 0 at 3 s: nothing is left to run, so the sidecar is stopped.
    h.run_for("sidecar", Duration::from_secs(5), Duration::from_secs(1))
        .await;
    let stops: Vec<Option<String>> = h
        .fake
        .calls_to("StopContainer")
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(stops, [Some(log_id)], "only the sidecar was left to stop");
    assert_eq!(
        instances(&h.fake, "log").await.len(),
        1,
        "not restarted once stopped"
    );
    let status = h.status("sidecar");
    assert_eq!(
        status.phase.as_deref(),
        Some("Succeeded"),
        "the sidecar's own exit (killed) does not count: {status:?}"
    );
    assert_eq!(exit_code(container_status(&status, "app")), Some(0));
    assert!(exit_code(container_status(&status, "log")).is_some());
    assert_eq!(h.workers.phase("sidecar"), Some(WorkerPhase::Terminated));
    // Terminal only once the sidecar was down: Pending, then Running while it ran, even
    // after the app had exited.
    let mut ran_after_app = false;
    for s in h.statuses.history("sidecar") {
        let sidecar_runs = is_running(container_status(&s, "log"));
        match s.phase.as_deref() {
            Some("Succeeded") => assert!(!sidecar_runs, "{s:?}"),
            Some("Pending" | "Running") => {}
            other => panic!("phase {other:?}: {s:?}"),
        }
        ran_after_app |= sidecar_runs && exit_code(container_status(&s, "app")) == Some(0);
    }
    assert!(
        ran_after_app,
        "a status showed the app done and the sidecar still up"
    );
}

#[tokio::test(start_paused = true)]
async fn rp_03_never_does_not_restart_exit_1_and_the_pod_ends_failed() {
    let h = FakeNode::new();
    let p = pod(
        "nofail",
        "Never",
        vec![container("app", "exit 1"), container("web", "sleep 5")],
    );
    h.workers.update_pod(p);
    h.run_for("nofail", Duration::from_secs(3), Duration::from_secs(1))
        .await;
    // app failed and is not restarted; web still runs, so the pod is Running.
    let status = h.status("nofail");
    assert_eq!(status.phase.as_deref(), Some("Running"), "{status:?}");
    let app = container_status(&status, "app");
    assert_eq!(exit_code(app), Some(1), "{app:?}");
    assert_eq!(app.restart_count, 0);
    assert!(is_running(container_status(&status, "web")));

    // web exits 0 at 5 s: every container is done, one of them failed.
    h.run_for("nofail", Duration::from_secs(5), Duration::from_secs(1))
        .await;
    let status = h.status("nofail");
    assert_eq!(status.phase.as_deref(), Some("Failed"), "{status:?}");
    assert_eq!(exit_code(container_status(&status, "app")), Some(1));
    assert_eq!(exit_code(container_status(&status, "web")), Some(0));
    assert_eq!(
        h.fake.calls_to("CreateContainer").len(),
        2,
        "one instance each, nothing restarted"
    );
    assert!(h.events.with_reason("BackOff").is_empty());
    for s in h.statuses.history("nofail") {
        for c in s.container_statuses.iter().flatten() {
            assert_eq!(c.restart_count, 0, "{c:?}");
        }
    }
    assert_eq!(h.workers.phase("nofail"), Some(WorkerPhase::Terminated));
}

#[tokio::test(start_paused = true)]
async fn pl_01_exit_reaches_the_pod_status_within_one_relist_period() {
    // The agent's wiring on the kubelet's generic PLEG (relist only, every second): the
    // workers read through the PLEG's cache and its events wake them. Three pods whose
    // containers exit at different points of the relist cycle.
    let fake = FakeRuntime::with_busybox();
    let config = PlegConfig {
        container_events: false,
        exit_watchers: false,
        ..Default::default()
    };
    let period = config.relist_period;
    let (pleg, mut pleg_events) = Pleg::new(Arc::new(fake.clone()), config);
    let h = FakeNode::build(fake.clone(), WorkerConfig::default(), |host| PodHost {
        runtime_reader: Arc::new(pleg.clone()),
        container_started: {
            let pleg = pleg.clone();
            Arc::new(move |uid: &str| pleg.notify_pod(uid))
        },
        ..host
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let relists = tokio::spawn({
        let pleg = pleg.clone();
        async move {
            pleg.run(async {
                let _ = stopped.await;
            })
            .await
        }
    });
    let step = Duration::from_millis(100);
    // One step of both clocks; the PLEG's events wake the workers (the agent's forwarder).
    let tick = |h: &FakeNode, events: &mut tokio::sync::mpsc::Receiver<_>| {
        let events: Vec<pod_lifecycle::pleg::PodLifecycleEvent> =
            std::iter::from_fn(|| events.try_recv().ok()).collect();
        for e in &events {
            h.workers.wake(&e.pod_uid);
        }
        !events.is_empty()
    };
    let uids = ["exit0", "exit1", "exit2"];
    for uid in uids {
        h.workers
            .update_pod(pod(uid, "Never", vec![container("app", "sleep infinity")]));
    }
    for _ in 0..20 {
        fake.advance(step);
        tokio::time::advance(step).await;
        settle().await;
        tick(&h, &mut pleg_events);
        settle().await;
    }
    let app_of = |uid: &str, all: &[v1::Container]| {
        all.iter()
            .find(|c| {
                c.labels
                    .get(pod_lifecycle::labels::POD_UID)
                    .map(String::as_str)
                    == Some(uid)
            })
            .unwrap()
            .id
            .clone()
    };
    let all = containers(&fake).await;
    for uid in uids {
        assert!(is_running(container_status(&h.status(uid), "app")), "{uid}");
    }

    // Pod k's container exits 0.3·k s into the window; each status is read every step.
    let mut seen_after: Vec<Option<Duration>> = vec![None; uids.len()];
    for i in 0..40u32 {
        for (k, uid) in uids.iter().enumerate() {
            if i == 3 * k as u32 {
                fake.exit_container(&app_of(uid, &all), 3, "Error");
            }
        }
        fake.advance(step);
        tokio::time::advance(step).await;
        settle().await;
        tick(&h, &mut pleg_events);
        settle().await;
        for (k, uid) in uids.iter().enumerate() {
            let exited_at = 3 * k as u32;
            if i >= exited_at
                && seen_after[k].is_none()
                && exit_code(container_status(&h.status(uid), "app")) == Some(3)
            {
                seen_after[k] = Some(step * (i - exited_at + 1));
            }
        }
    }
    eprintln!("exit to status: {seen_after:?}");
    for (uid, seen) in uids.iter().zip(&seen_after) {
        let seen = seen.unwrap_or_else(|| panic!("{uid}: the exit never reached the status"));
        // The next relist (at most one period away) plus the sync and the status write,
        // which take no virtual time: inside the checklist's ~2 s.
        assert!(seen <= period + step, "{uid}: {seen:?}");
        assert_eq!(h.status(uid).phase.as_deref(), Some("Failed"), "{uid}");
    }
    drop(stop);
    relists.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn im_06_pulling_before_the_pull_then_pulled_with_time_and_size() {
    let fake = FakeRuntime::with_busybox();
    fake.add_registry_image_with(
        cri_client::fake::FakeImage::new("registry.test/app:1").with_size(4_200_000),
    );
    let images = Arc::new(SlowPulls {
        fake: fake.clone(),
        in_flight: Default::default(),
        most: Default::default(),
    });
    let h = FakeNode::build(fake.clone(), WorkerConfig::default(), |host| PodHost {
        images: images.clone(),
        ..host
    });
    let mut c = container("app", "sleep 1000");
    c.image = Some("registry.test/app:1".into());
    h.workers.update_pod(pod("pull", "Always", vec![c]));
    settle().await;
    let app_events = |h: &FakeNode| -> Vec<(String, String)> {
        h.events
            .all()
            .into_iter()
            .filter(|e| e.field_path.as_deref() == Some("spec.containers{app}"))
            .map(|e| (e.reason, e.message))
            .collect()
    };

    // The pull takes 5 s. Halfway, only Pulling has been recorded.
    idle_for(&fake, 2).await;
    assert_eq!(
        app_events(&h),
        [(
            "Pulling".to_string(),
            "Pulling image \"registry.test/app:1\"".to_string()
        )]
    );
    assert!(h.fake.calls_to("CreateContainer").is_empty());

    idle_for(&fake, 4).await;
    let events = app_events(&h);
    let reasons: Vec<&str> = events.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(reasons, ["Pulling", "Pulled", "Created", "Started"]);
    assert_eq!(
        events[1].1,
        "Successfully pulled image \"registry.test/app:1\" in 5s (5s including waiting). \
         Image size: 4200000 bytes."
    );
}

#[tokio::test(start_paused = true)]
async fn im_03_never_policy_with_absent_image_waits_err_image_never_pull() {
    let h = FakeNode::new();
    let mut c = container("app", "sleep infinity");
    c.image = Some("localhost/absent:1".into());
    c.image_pull_policy = Some("Never".into());
    h.workers.update_pod(pod("never", "Always", vec![c]));
    h.run_for("never", Duration::from_secs(3), Duration::from_secs(1))
        .await;

    let status = h.status("never");
    let waiting = status.container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .waiting
        .unwrap();
    assert_eq!(waiting.reason.as_deref(), Some("ErrImageNeverPull"));
    assert!(h.fake.calls_to("PullImage").is_empty());
    assert!(h.fake.calls_to("CreateContainer").is_empty());
}

#[tokio::test(start_paused = true)]
async fn im_04_failed_pull_then_image_pull_back_off() {
    let h = FakeNode::new();
    let mut c = container("app", "sleep infinity");
    c.image = Some("127.0.0.1:5000/missing:1".into());
    h.workers.update_pod(pod("pull", "Always", vec![c]));
    h.run_for("pull", Duration::from_secs(3), Duration::from_secs(1))
        .await;

    let reason = |h: &FakeNode| {
        h.status("pull").container_statuses.unwrap()[0]
            .state
            .clone()
            .unwrap()
            .waiting
            .unwrap()
            .reason
            .unwrap()
    };
    assert_eq!(reason(&h), "ImagePullBackOff");
    assert_eq!(h.fake.calls_to("PullImage").len(), 1);
    assert!(
        h.events.with_reason("Failed")[0]
            .message
            .starts_with("Failed to pull image")
    );
    // Retries follow the pull back-off: 10 s after the first failure, then 20 s.
    h.run_for("pull", Duration::from_secs(10), Duration::from_secs(1))
        .await;
    assert_eq!(h.fake.calls_to("PullImage").len(), 2);
    h.run_for("pull", Duration::from_secs(15), Duration::from_secs(1))
        .await;
    assert_eq!(h.fake.calls_to("PullImage").len(), 2);
    h.run_for("pull", Duration::from_secs(6), Duration::from_secs(1))
        .await;
    assert_eq!(h.fake.calls_to("PullImage").len(), 3);
}

fn exec_handler(args: &[&str]) -> LifecycleHandler {
    LifecycleHandler {
        exec: Some(ExecAction {
            command: Some(args.iter().map(|s| s.to_string()).collect()),
        }),
        ..Default::default()
    }
}

#[tokio::test(start_paused = true)]
async fn rp_07_back_off_event_names_container_and_pod() {
    let h = FakeNode::new();
    h.workers
        .update_pod(pod("bo", "Always", vec![container("app", "exit 1")]));
    h.run_for("bo", Duration::from_secs(3), Duration::from_secs(1))
        .await;
    let backoff = h.events.with_reason("BackOff");
    assert!(!backoff.is_empty());
    assert_eq!(
        backoff[0].message,
        "Back-off restarting failed container app in pod pod-bo"
    );
}

#[tokio::test(start_paused = true)]
async fn tm_05_killing_event_per_stopped_container() {
    let h = FakeNode::new();
    let p = pod(
        "kev",
        "Always",
        vec![
            container("a", "sleep infinity"),
            container("b", "sleep infinity"),
        ],
    );
    h.workers.update_pod(p.clone());
    h.run_for("kev", Duration::from_secs(2), Duration::from_secs(1))
        .await;
    h.workers.terminate_pod(p, None);
    h.run_for("kev", Duration::from_secs(2), Duration::from_secs(1))
        .await;
    let mut messages: Vec<String> = h
        .events
        .with_reason("Killing")
        .into_iter()
        .map(|e| e.message)
        .collect();
    messages.sort();
    assert_eq!(messages, ["Stopping container a", "Stopping container b"]);
}

#[tokio::test(start_paused = true)]
async fn tm_04_failed_pre_stop_hook_is_reported_and_termination_proceeds() {
    let h = FakeNode::new();
    let mut c = container("app", "sleep infinity");
    c.lifecycle = Some(Lifecycle {
        pre_stop: Some(exec_handler(&["sh", "-c", "exit 1"])),
        ..Default::default()
    });
    let p = pod("prestop", "Always", vec![c]);
    h.workers.update_pod(p.clone());
    h.run_for("prestop", Duration::from_secs(2), Duration::from_secs(1))
        .await;
    h.workers.terminate_pod(p, None);
    h.run_for("prestop", Duration::from_secs(2), Duration::from_secs(1))
        .await;
    assert_eq!(h.events.with_reason("FailedPreStopHook").len(), 1);
    assert_eq!(h.fake.calls_to("StopContainer").len(), 1);
    assert_eq!(h.workers.phase("prestop"), Some(WorkerPhase::Terminated));
}

#[tokio::test(start_paused = true)]
async fn lc_16_post_start_runs_before_the_next_container_is_created() {
    let h = FakeNode::new();
    let mut first = container("first", "sleep infinity");
    first.lifecycle = Some(Lifecycle {
        post_start: Some(exec_handler(&["echo", "started"])),
        ..Default::default()
    });
    let p = pod(
        "poststart",
        "Always",
        vec![first, container("second", "sleep infinity")],
    );
    h.workers.update_pod(p);
    h.run_for("poststart", Duration::from_secs(2), Duration::from_secs(1))
        .await;
    let calls: Vec<&str> = h
        .fake
        .calls()
        .iter()
        .map(|c| c.method)
        .filter(|m| matches!(*m, "CreateContainer" | "StartContainer" | "ExecSync"))
        .collect();
    assert_eq!(
        calls[..5],
        [
            "CreateContainer",
            "StartContainer",
            "ExecSync",
            "CreateContainer",
            "StartContainer"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn lc_17_failed_post_start_kills_the_container_and_restarts_it() {
    let h = FakeNode::new();
    let mut c = container("app", "sleep infinity");
    c.lifecycle = Some(Lifecycle {
        post_start: Some(exec_handler(&["sh", "-c", "exit 3"])),
        ..Default::default()
    });
    h.workers.update_pod(pod("postfail", "Always", vec![c]));
    h.run_for("postfail", Duration::from_secs(3), Duration::from_secs(1))
        .await;
    let failed = h.events.with_reason("FailedPostStartHook");
    assert!(!failed.is_empty());
    assert!(failed[0].message.contains("exited with 3"), "{failed:?}");
    assert!(
        !h.fake.calls_to("StopContainer").is_empty(),
        "the container was killed"
    );
    // restartPolicy Always: it is started again (through the crash back-off).
    assert!(h.fake.calls_to("StartContainer").len() >= 2);
}

#[tokio::test(start_paused = true)]
async fn pl_05_failed_sync_is_retried_after_10_to_15_seconds() {
    let fake = FakeRuntime::with_busybox();
    fake.fail_next("RunPodSandbox", 1, tonic::Code::Internal);
    let h = FakeNode::with_runtime(fake);
    let p = pod("retry", "Always", vec![container("app", "sleep infinity")]);
    h.workers.update_pod(p);
    settle().await;
    assert_eq!(
        h.fake.calls_to("RunPodSandbox").len(),
        1,
        "the first attempt failed"
    );
    // No wake-ups from a PLEG here: only the worker's own retry timer can sync again.
    for _ in 0..9 {
        h.fake.advance(Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(1)).await;
        settle().await;
    }
    assert_eq!(
        h.fake.calls_to("RunPodSandbox").len(),
        1,
        "no retry before 10 s"
    );
    for _ in 0..7 {
        h.fake.advance(Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(1)).await;
        settle().await;
    }
    assert_eq!(
        h.fake.calls_to("RunPodSandbox").len(),
        2,
        "retried within 10–15 s"
    );
    assert!(!h.events.with_reason("FailedSync").is_empty());
}

#[tokio::test(start_paused = true)]
async fn tm_12_sleep_pre_stop_delays_the_stop_by_its_seconds() {
    let h = FakeNode::new();
    let mut c = container("app", "sleep infinity");
    c.lifecycle = Some(Lifecycle {
        pre_stop: Some(LifecycleHandler {
            sleep: Some(k8s_openapi::api::core::v1::SleepAction { seconds: 5 }),
            ..Default::default()
        }),
        ..Default::default()
    });
    let p = pod("sleephook", "Always", vec![c]);
    h.workers.update_pod(p.clone());
    h.run_for("sleephook", Duration::from_secs(2), Duration::from_secs(1))
        .await;
    h.workers.terminate_pod(p, None);
    settle().await;
    idle_for(&h.fake, 4).await;
    assert!(
        h.fake.calls_to("StopContainer").is_empty(),
        "SIGTERM waits for the sleep hook"
    );
    idle_for(&h.fake, 2).await;
    let stops = h.fake.calls_to("StopContainer");
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0].timeout, Some(25), "30 s grace minus the 5 s hook");
}

#[tokio::test(start_paused = true)]
async fn pl_04_idle_pod_is_resynced_every_60_to_90_seconds() {
    let h = FakeNode::new();
    h.workers.update_pod(pod(
        "resync",
        "Always",
        vec![container("app", "sleep infinity")],
    ));
    h.run_for("resync", Duration::from_secs(2), Duration::from_secs(1))
        .await;
    h.fake.clear_calls();
    idle_for(&h.fake, 59).await;
    assert!(
        h.fake.calls_to("ListPodSandbox").is_empty(),
        "no sync before 60 s"
    );
    idle_for(&h.fake, 32).await;
    assert!(
        !h.fake.calls_to("ListPodSandbox").is_empty(),
        "a resync within 90 s"
    );
}

/// Records what the workers report for metrics.
#[derive(Default)]
struct Observed {
    syncs: std::sync::Mutex<Vec<(String, SyncOperation)>>,
    starts: std::sync::Mutex<Vec<(String, Duration)>>,
    containers: std::sync::Mutex<Vec<ContainerKind>>,
}

impl WorkerObserver for Observed {
    fn pod_synced(&self, pod: &Pod, operation: SyncOperation, _took: Duration) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        self.syncs.lock().unwrap().push((uid, operation));
    }
    fn pod_started(&self, pod: &Pod, took: Duration) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        self.starts.lock().unwrap().push((uid, took));
    }
    fn container_started(&self, _pod: &Pod, kind: ContainerKind) {
        self.containers.lock().unwrap().push(kind);
    }
}

#[tokio::test(start_paused = true)]
async fn ht_09_workers_report_sync_kinds_and_pod_start_once() {
    let observed = Arc::new(Observed::default());
    let h = FakeNode::build(
        FakeRuntime::with_busybox(),
        WorkerConfig::default(),
        |host| PodHost {
            observer: observed.clone(),
            ..host
        },
    );
    let mut p = pod("observed", "Always", vec![container("app", "sleep 1000")]);
    h.workers.update_pod(p.clone());
    settle().await;
    h.run_for("observed", Duration::from_secs(3), Duration::from_secs(1))
        .await;
    p.metadata.labels = Some([("tier".to_string(), "web".to_string())].into());
    h.workers.update_pod(p);
    settle().await;

    let syncs: Vec<SyncOperation> = observed.syncs.lock().unwrap().iter().map(|s| s.1).collect();
    assert_eq!(syncs.first(), Some(&SyncOperation::Create), "{syncs:?}");
    assert!(
        syncs[1..syncs.len() - 1]
            .iter()
            .all(|s| *s == SyncOperation::Sync),
        "{syncs:?}"
    );
    assert_eq!(syncs.last(), Some(&SyncOperation::Update), "{syncs:?}");
    let starts = observed.starts.lock().unwrap().clone();
    assert_eq!(starts.len(), 1, "observed once: {starts:?}");
    assert!(starts[0].1 < Duration::from_secs(1), "{starts:?}");
    // One container started once (the counter behind `kubelet_started_containers_total`).
    assert_eq!(
        *observed.containers.lock().unwrap(),
        vec![ContainerKind::Regular]
    );
}

/// Images from the fake's registry, each pull taking 5 s of virtual time; counts how many
/// pulls ran at once.
struct SlowPulls {
    fake: FakeRuntime,
    in_flight: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl cri_client::ImageService for SlowPulls {
    async fn list_images(
        &self,
        r: v1::ListImagesRequest,
    ) -> cri_client::Result<v1::ListImagesResponse> {
        self.fake.list_images(r).await
    }
    async fn image_status(
        &self,
        r: v1::ImageStatusRequest,
    ) -> cri_client::Result<v1::ImageStatusResponse> {
        self.fake.image_status(r).await
    }
    async fn pull_image(
        &self,
        r: v1::PullImageRequest,
    ) -> cri_client::Result<v1::PullImageResponse> {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
        tokio::time::sleep(Duration::from_secs(5)).await;
        self.in_flight.fetch_sub(1, SeqCst);
        self.fake.pull_image(r).await
    }
    async fn remove_image(
        &self,
        r: v1::RemoveImageRequest,
    ) -> cri_client::Result<v1::RemoveImageResponse> {
        self.fake.remove_image(r).await
    }
    async fn image_fs_info(
        &self,
        r: v1::ImageFsInfoRequest,
    ) -> cri_client::Result<v1::ImageFsInfoResponse> {
        self.fake.image_fs_info(r).await
    }
}

/// Two pods needing two different images; returns the most pulls seen at once and the
/// `Pulled` events.
async fn two_pulls(serialize: bool) -> (usize, Vec<String>) {
    let fake = FakeRuntime::with_busybox();
    fake.add_registry_image("registry.test/one:1");
    fake.add_registry_image("registry.test/two:1");
    let images = Arc::new(SlowPulls {
        fake: fake.clone(),
        in_flight: Default::default(),
        most: Default::default(),
    });
    let config = WorkerConfig {
        serialize_image_pulls: serialize,
        ..WorkerConfig::default()
    };
    let h = FakeNode::build(fake.clone(), config, |host| PodHost {
        images: images.clone(),
        ..host
    });
    let (workers, events) = (&h.workers, &h.events);
    for (uid, image) in [
        ("one", "registry.test/one:1"),
        ("two", "registry.test/two:1"),
    ] {
        let mut c = container("app", "sleep 1000");
        c.image = Some(image.into());
        workers.update_pod(pod(uid, "Always", vec![c]));
    }
    for _ in 0..30 {
        fake.advance(Duration::from_millis(500));
        tokio::time::advance(Duration::from_millis(500)).await;
        settle().await;
    }
    let pulled = events
        .with_reason("Pulled")
        .into_iter()
        .map(|e| e.message)
        .collect();
    (
        images.most.load(std::sync::atomic::Ordering::SeqCst),
        pulled,
    )
}

#[tokio::test(start_paused = true)]
async fn im_07_serialized_pulls_never_overlap() {
    let (most, pulled) = two_pulls(true).await;
    assert_eq!(most, 1, "serializeImagePulls: one pull at a time");
    assert_eq!(pulled.len(), 2, "{pulled:?}");
    // The second pull waited for the first: 5 s pulling, 10 s including waiting.
    assert!(
        pulled
            .iter()
            .any(|m| m.contains(" in 5s (10s including waiting)")),
        "{pulled:?}"
    );

    let (most, pulled) = two_pulls(false).await;
    assert_eq!(most, 2, "parallel pulls overlap");
    assert_eq!(pulled.len(), 2, "{pulled:?}");
}

#[tokio::test(start_paused = true)]
async fn tm_06_shorter_grace_in_flight_shortens_the_remaining_wait() {
    let h = FakeNode::new();
    let mut c = container("app", "sleep infinity");
    c.lifecycle = Some(Lifecycle {
        pre_stop: Some(LifecycleHandler {
            sleep: Some(k8s_openapi::api::core::v1::SleepAction { seconds: 60 }),
            ..Default::default()
        }),
        ..Default::default()
    });
    let p = pod("shrink", "Always", vec![c]);
    h.workers.update_pod(p.clone());
    h.run_for("shrink", Duration::from_secs(2), Duration::from_secs(1))
        .await;
    // A 30 s delete: the preStop hook would hold the container for all of it...
    h.workers.terminate_pod(p.clone(), None);
    settle().await;
    idle_for(&h.fake, 2).await;
    assert!(h.fake.calls_to("StopContainer").is_empty());
    // ...then a 5 s delete: the kill restarts with 5 s (hook cut at 5 s, then the 2 s
    // minimum stop), long before the 30 s would have run out. A longer one is ignored.
    h.workers.terminate_pod(p.clone(), Some(60));
    settle().await;
    h.workers.terminate_pod(p, Some(5));
    settle().await;
    idle_for(&h.fake, 6).await;
    let stops = h.fake.calls_to("StopContainer");
    assert_eq!(stops.len(), 1, "{stops:?}");
    assert_eq!(
        stops[0].timeout,
        Some(2),
        "5 s grace used up by the hook: the minimum"
    );
    idle_for(&h.fake, 3).await;
    assert_eq!(h.workers.phase("shrink"), Some(WorkerPhase::Terminated));
}

/// Volumes that never mount.
struct FailingVolumes;

#[async_trait::async_trait]
impl pod_lifecycle::worker::PodVolumes for FailingVolumes {
    async fn mount(&self, _pod: &Pod) -> Result<(), pod_lifecycle::worker::MountError> {
        Err(pod_lifecycle::worker::MountError {
            unmounted: vec!["cfg".into()],
            failures: vec![
                "MountVolume.SetUp failed for volume \"cfg\" : configmap \"cfg\" not found".into(),
            ],
        })
    }
    fn container_mounts(
        &self,
        _: &Pod,
        _: &Container,
        _: &pod_lifecycle::worker::MountContext<'_>,
    ) -> Result<Vec<v1::Mount>, pod_lifecycle::worker::SeamError> {
        Ok(Vec::new())
    }
    async fn unmount(&self, _pod: &Pod) -> Result<(), pod_lifecycle::worker::SeamError> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn vo_19_volumes_failing_for_2m3s_give_the_kubelets_failed_mount_event() {
    let h = FakeNode::build(
        FakeRuntime::with_busybox(),
        WorkerConfig::default(),
        |host| PodHost {
            volumes: Arc::new(FailingVolumes),
            ..host
        },
    );
    let (fake, workers, events, statuses) = (&h.fake, &h.workers, &h.events, &h.statuses);
    workers.update_pod(pod(
        "nomount",
        "Always",
        vec![container("app", "sleep 1000")],
    ));
    settle().await;
    let timeout_event = |events: &MemoryEvents| {
        events
            .with_reason("FailedMount")
            .into_iter()
            .filter(|e| e.message.starts_with("Unable to attach or mount volumes"))
            .count()
    };
    h.idle_for(120).await;
    let per_volume = events.with_reason("FailedMount");
    assert!(
        per_volume.iter().all(|e| e
            .message
            .starts_with("MountVolume.SetUp failed for volume \"cfg\"")),
        "{per_volume:?}"
    );
    assert!(!per_volume.is_empty());
    h.idle_for(20).await;
    assert_eq!(
        timeout_event(events),
        1,
        "{:?}",
        events.with_reason("FailedMount")
    );
    let message = events
        .with_reason("FailedMount")
        .into_iter()
        .find(|e| e.message.starts_with("Unable"))
        .unwrap()
        .message;
    assert_eq!(
        message,
        "Unable to attach or mount volumes: unmounted volumes=[cfg], unattached volumes=[], failed to process volumes=[]: context deadline exceeded"
    );
    // The pod waits in ContainerCreating, no sandbox made.
    let status = statuses.get("nomount").unwrap();
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    assert!(fake.calls_to("RunPodSandbox").is_empty());
}
