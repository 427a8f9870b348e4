//! A pod whose UID is a path traversal (`../../canary`), handed straight to the pod workers
//! (past every source and the pod manager, as an embedder could), against `FakeRuntime`
//! with a real volume manager: syncing and terminating it must not touch anything outside
//! the root directory and the pod logs directory (issue 11).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cri_client::RuntimeService;
use cri_client::fake::FakeRuntime;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pod_lifecycle::pod_manager::{PodManager, PodManagerConfig};
use pod_lifecycle::worker::{MemoryStatusSink, PodHost, PodWorkers, SystemClock, WorkerConfig};
use volume_manager::objects::NoObjects;
use volume_manager::{VolumeManager, VolumeManagerConfig};

fn traversal_pod(uid: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("trav".into()),
            namespace: Some("default".into()),
            uid: Some(uid.into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                image: Some("localhost/busybox:1".into()),
                command: Some(vec!["sleep".into(), "3600".into()]),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Every file and directory under `dir` with its content (empty for directories).
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                out.insert(path.clone(), Vec::new());
                stack.push(path);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    out
}

/// The layout of the issue: `T/r` the root directory, `T/logs` the pod logs directory,
/// canaries where `../../canary` leads from `T/r/pods` (`T/canary`, with the
/// `containers` directory the worker's clean-up would remove) and from a log directory named
/// `<ns>_<name>_..` (`T/logs/canary`).
struct Layout {
    tmp: tempfile::TempDir,
}

impl Layout {
    fn new() -> Layout {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();
        for dir in [
            "r",
            "logs",
            "canary/containers",
            "logs/default_trav_..",
            "logs/canary",
        ] {
            std::fs::create_dir_all(t.join(dir)).unwrap();
        }
        std::fs::write(t.join("canary/file"), "alive").unwrap();
        std::fs::write(t.join("canary/containers/file"), "alive").unwrap();
        std::fs::write(t.join("logs/canary/file"), "alive").unwrap();
        Layout { tmp }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// Everything outside `T/r` (the root directory, which the volume manager owns).
    fn outside_root(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let root = self.path("r");
        tree(self.tmp.path())
            .into_iter()
            .filter(|(p, _)| !p.starts_with(&root))
            .collect()
    }

    fn workers(&self, fake: &FakeRuntime) -> Arc<PodWorkers> {
        let volumes = VolumeManager::new(
            VolumeManagerConfig::new(self.path("r")),
            Arc::new(NoObjects),
        )
        .unwrap();
        let host = PodHost {
            volumes: Arc::new(volumes),
            clock: Arc::new(SystemClock),
            ..PodHost::new(Arc::new(fake.clone()), Arc::new(fake.clone()))
        };
        let config = WorkerConfig {
            pod_logs_dir: self.path("logs"),
            root_dir: Some(self.path("r")),
            runtime_name: "fake".into(),
            ..WorkerConfig::default()
        };
        Arc::new(PodWorkers::new(host, config))
    }
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Issue 11, at the worker level: a traversal UID gets no sandbox (its log directory cannot
/// be named) and, when terminated, the worker's clean-up (pod directory, container files,
/// log directory) and the volume manager remove nothing outside their own directories.
#[tokio::test]
async fn traversal_uid_worker_sync_and_terminate_touch_nothing_outside_root_and_logs() {
    let layout = Layout::new();
    let before = layout.outside_root();
    let fake = FakeRuntime::with_busybox();
    let workers = layout.workers(&fake);
    let pod = traversal_pod("../../canary");

    workers.update_pod(pod.clone());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sandboxes = fake
        .list_pod_sandbox(Default::default())
        .await
        .unwrap()
        .items;
    assert!(
        sandboxes.is_empty(),
        "no sandbox for a traversal UID: {sandboxes:?}"
    );

    workers.terminate_pod(pod, Some(0));
    wait_until("the pod to terminate", || {
        workers.phase("../../canary") == Some(pod_lifecycle::worker::WorkerPhase::Terminated)
    })
    .await;
    workers.shutdown();

    assert_eq!(
        std::fs::read_to_string(layout.path("canary/containers/file")).unwrap(),
        "alive"
    );
    assert_eq!(
        std::fs::read_to_string(layout.path("logs/canary/file")).unwrap(),
        "alive"
    );
    assert_eq!(
        layout.outside_root(),
        before,
        "something outside the root dir changed"
    );
}

/// The pod manager is the entry every source goes through: it refuses a pod whose identity
/// is invalid before any worker sees it.
#[tokio::test]
async fn pod_manager_refuses_traversal_uids_before_any_worker_exists() {
    let layout = Layout::new();
    let fake = FakeRuntime::with_busybox();
    let workers = layout.workers(&fake);
    let manager = PodManager::new(
        workers.clone(),
        Arc::new(fake.clone()) as Arc<dyn RuntimeService>,
        Arc::new(MemoryStatusSink::new()),
        Arc::new(SystemClock),
        PodManagerConfig::default(),
    );
    for uid in ["../../canary", "..", "a/b", "a\0b", ""] {
        manager.set_source_pods("file", vec![traversal_pod(uid)]);
    }
    manager.set_source_pods("file", Vec::new());
    assert!(workers.pods().is_empty(), "{:?}", workers.pods());
    workers.shutdown();
}
