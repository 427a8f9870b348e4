//! The PLEG against a real containerd 1.6 at `$NODELET_CRI_ENDPOINT` (set by
//! `cargo xtask setup`; `cargo xtask test` runs this with the environment up).
//!
//! containerd 1.6 has no CRI container events, so between relists the PLEG watches each
//! container's init process through a pidfd. These tests check that path on the real
//! runtime: the pid that verbose `ContainerStatus` reports, the pidfd, and the exit reaching
//! the event channel without a relist.
//!
//! The environment comes from the process or from `target/nodelet-env/env` (through
//! `test_env`); without it each test prints how to start it and passes, except with
//! `CI=true`, where it fails: CI must never pass by skipping. While a test runs it holds a
//! shared lock on the runtime.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cri_client::{GrpcRuntime, RuntimeService, v1};
use pod_lifecycle::plan::ContainerState;
use pod_lifecycle::pleg::{
    ExitDetection, Pleg, PlegConfig, PodLifecycleEvent, PodLifecycleEventKind as Kind,
    pod_runtime_status,
};
use test_env::{RuntimeLock, TestSandbox, busybox_image, remove_cgroup_tree, unique_name};
use tokio::sync::mpsc;

/// Every cgroup these tests create is under this parent (removed by `cargo xtask down` if a
/// crashed run leaves one behind).
const CGROUP_ROOT: &str = "nodelet-pleg-test";

/// One test pod: a host-network sandbox with a `cgroup_parent`, removed by `cleanup`.
struct TestPod {
    uid: String,
    sandbox: TestSandbox,
    log_dir: PathBuf,
}

impl TestPod {
    async fn start(rt: &GrpcRuntime, name: &str) -> TestPod {
        let uid = unique_name("pleg");
        let log_dir = std::env::temp_dir()
            .join("nodelet-pleg-test-logs")
            .join(&uid);
        let sandbox = TestSandbox::builder("nodelet-test", name, &uid)
            .host_network()
            .cgroup_parent(&format!("/{CGROUP_ROOT}/pod{uid}"))
            .log_directory(&log_dir)
            .run(rt)
            .await
            .expect("RunPodSandbox");
        TestPod {
            uid,
            sandbox,
            log_dir,
        }
    }

    async fn start_container(&self, rt: &GrpcRuntime, name: &str, script: &str) -> String {
        self.sandbox
            .start_container(rt, name, &busybox_image(), &["sh", "-c", script])
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Stop and remove the sandbox (and so its containers), its log directory and its
    /// cgroups (runc creates them and never removes them; the shared parent stays, as
    /// another run may be creating a pod under it right now: `cargo xtask down` removes it).
    /// Best effort: a failure is printed, not raised, so it never hides the test's own
    /// failure.
    async fn cleanup(&self, rt: &GrpcRuntime) {
        if let Err(e) = self.sandbox.remove(rt).await {
            eprintln!("cleanup: {e}");
        }
        let _ = std::fs::remove_dir_all(&self.log_dir);
        let cgroup = Path::new(CGROUP_ROOT).join(format!("pod{}", self.uid));
        let left = remove_cgroup_tree(&cgroup);
        if !left.is_empty() {
            eprintln!("cleanup: cgroups left: {left:?}");
        }
    }
}

async fn wait_for(
    rx: &mut mpsc::Receiver<PodLifecycleEvent>,
    want: impl Fn(&PodLifecycleEvent) -> bool,
) -> PodLifecycleEvent {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let e = rx.recv().await.expect("event channel open");
            if want(&e) {
                return e;
            }
        }
    })
    .await
    .expect("event within 20 s")
}

#[tokio::test]
async fn containerd_exit_is_reported_by_the_exit_watcher() {
    let Some(rt) = test_env::runtime().await else {
        return;
    };
    let _lock = RuntimeLock::shared().expect("the runtime lock");
    let pod = TestPod::start(&rt, "pleg-exit").await;
    test_env::with_cleanup(exit_watcher_scenario(&rt, &pod), pod.cleanup(&rt)).await;
}

async fn exit_watcher_scenario(rt: &Arc<GrpcRuntime>, pod: &TestPod) {
    // The container exits 3 by itself once /tmp/go exists, so the test decides when.
    let app = pod
        .start_container(
            rt,
            "app",
            "while [ ! -e /tmp/go ]; do sleep 0.05; done; exit 3",
        )
        .await;

    // With a relist period of an hour, only the initial relist runs during the test: an
    // exit can reach the channel through the exit watcher (containerd 1.6 has no CRI
    // events), and by no other path.
    let config = PlegConfig {
        relist_period: Duration::from_secs(3600),
        ..Default::default()
    };
    let (pleg, mut rx) = Pleg::new(rt.clone(), config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn({
        let pleg = pleg.clone();
        async move {
            pleg.run(async {
                let _ = stopped.await;
            })
            .await
        }
    });
    wait_for(&mut rx, |e| e.id == app && e.kind == Kind::ContainerStarted).await;
    assert_eq!(
        pleg.metrics().exit_detection,
        Some(ExitDetection::ExitWatchers),
        "containerd 1.6 should not offer CRI container events"
    );
    // The runtime is shared: other tests' containers may run (and be watched) too.
    test_env::wait_until(
        "the exit watcher has its pidfd",
        Duration::from_secs(20),
        || pleg.is_watching_exit(&app),
    )
    .await;

    rt.exec_sync(v1::ExecSyncRequest {
        container_id: app.clone(),
        cmd: vec!["touch".into(), "/tmp/go".into()],
        timeout: 10,
    })
    .await
    .expect("ExecSync touch /tmp/go");
    wait_for(&mut rx, |e| e.id == app && e.kind == Kind::ContainerDied).await;
    let received = SystemTime::now();

    // Only the initial relist ran (it saw the container running), and nothing asked for a
    // pod relist: the exit came through the exit watcher.
    let metrics = pleg.metrics();
    assert_eq!(metrics.relists, 1, "no relist after the first: {metrics:?}");
    assert_eq!(metrics.died_events.request, 0, "{metrics:?}");
    assert!(metrics.died_events.exit_watcher >= 1, "{metrics:?}");
    let cached = pleg.cache().get(&pod.uid).expect("pod cached");
    let container = cached
        .status
        .containers
        .iter()
        .find(|c| c.id == app)
        .expect("container cached");
    assert_eq!(container.state, ContainerState::Exited);
    assert_eq!(container.exit_code, 3);
    if let Some(finished) = container.finished_at {
        let finished = UNIX_EPOCH + Duration::from_nanos(finished.as_nanosecond() as u64);
        // Informational only; the budget is checked by benches/exit_detection.rs.
        eprintln!(
            "exit reported {:?} after containerd's finished_at",
            received.duration_since(finished).unwrap_or_default()
        );
    }

    // The cached view is what a direct, label-filtered read returns.
    let direct = pod_runtime_status(&**rt, &pod.uid).await.expect("status");
    assert_eq!(direct, cached.status);

    drop(stop);
    task.await.unwrap();
    assert_eq!(
        pleg.metrics().exit_watchers,
        0,
        "watchers stop with the PLEG"
    );
}
