//! The PLEG against a real containerd 1.6 at `$NODELET_CRI_ENDPOINT` (set by
//! `cargo xtask setup`; `cargo xtask test` runs this with the environment up).
//!
//! containerd 1.6 has no CRI container events, so between relists the PLEG watches each
//! container's init process through a pidfd. These tests check that path on the real
//! runtime: the pid that verbose `ContainerStatus` reports, the pidfd, and the exit reaching
//! the event channel without a relist.
//!
//! Without the environment each test prints how to start it and passes, except with
//! `CI=true`, where it fails: CI must never pass by skipping.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cri_client::{GrpcRuntime, RuntimeService, v1};
use futures::FutureExt;
use pod_lifecycle::labels;
use pod_lifecycle::plan::ContainerState;
use pod_lifecycle::pleg::{
    ExitDetection, Pleg, PlegConfig, PodLifecycleEvent, PodLifecycleEventKind as Kind,
    pod_runtime_status,
};
use tokio::sync::mpsc;

const ENDPOINT_VAR: &str = "NODELET_CRI_ENDPOINT";
/// Every cgroup these tests create is under this parent (removed by `cargo xtask down` if a
/// crashed run leaves one behind).
const CGROUP_ROOT: &str = "nodelet-pleg-test";

/// The runtime at `$NODELET_CRI_ENDPOINT`, or `None` (after saying how to get it) when the
/// variable is unset outside CI.
async fn runtime() -> Option<Arc<GrpcRuntime>> {
    let endpoint = match std::env::var(ENDPOINT_VAR) {
        Ok(e) if !e.trim().is_empty() => e,
        _ => {
            let message = format!(
                "{ENDPOINT_VAR} is not set: start the environment with `cargo xtask setup` and \
                 export what it prints (or read target/nodelet-env/env), or run everything with \
                 `cargo xtask test`"
            );
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{message}");
            }
            eprintln!("skipping: {message}");
            return None;
        }
    };
    let runtime = GrpcRuntime::connect(&endpoint)
        .await
        .unwrap_or_else(|e| panic!("{ENDPOINT_VAR}={endpoint}: {e}"));
    Some(Arc::new(runtime))
}

fn busybox() -> String {
    std::env::var("NODELET_BUSYBOX_IMAGE").unwrap_or_else(|_| "localhost/busybox:1".into())
}

/// One test pod: a host-network sandbox with a `cgroup_parent`, removed by `cleanup`.
struct TestPod {
    uid: String,
    config: v1::PodSandboxConfig,
    sandbox: String,
    log_dir: PathBuf,
}

impl TestPod {
    async fn start(rt: &GrpcRuntime, name: &str) -> TestPod {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let uid = format!("pleg-{}-{nanos}", std::process::id());
        let log_dir = std::env::temp_dir()
            .join("nodelet-pleg-test-logs")
            .join(&uid);
        let config = v1::PodSandboxConfig {
            metadata: Some(v1::PodSandboxMetadata {
                name: name.into(),
                namespace: "nodelet-test".into(),
                uid: uid.clone(),
                attempt: 0,
            }),
            log_directory: log_dir.to_string_lossy().into_owned(),
            labels: HashMap::from([(labels::POD_UID.to_string(), uid.clone())]),
            linux: Some(v1::LinuxPodSandboxConfig {
                cgroup_parent: format!("/{CGROUP_ROOT}/pod{uid}"),
                security_context: Some(v1::LinuxSandboxSecurityContext {
                    namespace_options: Some(v1::NamespaceOption {
                        network: v1::NamespaceMode::Node as i32,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let sandbox = rt
            .run_pod_sandbox(v1::RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: String::new(),
            })
            .await
            .expect("RunPodSandbox")
            .pod_sandbox_id;
        TestPod {
            uid,
            config,
            sandbox,
            log_dir,
        }
    }

    async fn start_container(&self, rt: &GrpcRuntime, name: &str, script: &str) -> String {
        let id = rt
            .create_container(v1::CreateContainerRequest {
                pod_sandbox_id: self.sandbox.clone(),
                config: Some(v1::ContainerConfig {
                    metadata: Some(v1::ContainerMetadata {
                        name: name.into(),
                        attempt: 0,
                    }),
                    image: Some(v1::ImageSpec {
                        image: busybox(),
                        ..Default::default()
                    }),
                    command: vec!["sh".into(), "-c".into(), script.into()],
                    log_path: format!("{name}/0.log"),
                    labels: HashMap::from([
                        (labels::POD_UID.to_string(), self.uid.clone()),
                        (labels::CONTAINER_NAME.to_string(), name.to_string()),
                    ]),
                    ..Default::default()
                }),
                sandbox_config: Some(self.config.clone()),
            })
            .await
            .expect("CreateContainer")
            .container_id;
        rt.start_container(v1::StartContainerRequest {
            container_id: id.clone(),
        })
        .await
        .expect("StartContainer");
        id
    }

    /// Stop and remove the sandbox (and so its containers), its log directory and its
    /// cgroups. Best effort: a failure is printed, not raised, so it never hides the test's
    /// own failure.
    async fn cleanup(self, rt: &GrpcRuntime) {
        if let Err(e) = rt
            .stop_pod_sandbox(v1::StopPodSandboxRequest {
                pod_sandbox_id: self.sandbox.clone(),
            })
            .await
        {
            eprintln!("cleanup: StopPodSandbox {}: {e}", self.sandbox);
        }
        if let Err(e) = rt
            .remove_pod_sandbox(v1::RemovePodSandboxRequest {
                pod_sandbox_id: self.sandbox.clone(),
            })
            .await
        {
            eprintln!("cleanup: RemovePodSandbox {}: {e}", self.sandbox);
        }
        let _ = std::fs::remove_dir_all(&self.log_dir);
        remove_pod_cgroups(&self.uid);
    }
}

/// rmdir `/<CGROUP_ROOT>/pod<uid>` (children first) in every cgroup hierarchy; runc creates
/// them and never removes them. The shared parent stays (another run may be creating a pod
/// under it right now); `cargo xtask down` removes it.
fn remove_pod_cgroups(uid: &str) {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for hierarchy in hierarchies.flatten() {
        remove_tree(&hierarchy.path().join(CGROUP_ROOT).join(format!("pod{uid}")));
    }
}

fn remove_tree(dir: &std::path::Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&entry.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
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

async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn containerd_exit_is_reported_by_the_exit_watcher() {
    let Some(rt) = runtime().await else { return };
    let pod = TestPod::start(&rt, "pleg-exit").await;
    let result = AssertUnwindSafe(exit_watcher_scenario(&rt, &pod))
        .catch_unwind()
        .await;
    pod.cleanup(&rt).await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
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
    wait_until("the exit watcher has its pidfd", || {
        pleg.is_watching_exit(&app)
    })
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
